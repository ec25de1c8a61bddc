// VRRPv3 (RFC 5798) for IPv4. The state machine follows §6.4.1-6.4.3 line by line, with
// two additions keepalived also makes: a preempt delay, and a master that hears a
// lower-priority master answers with its own advert at once (and a GARP burst), so that
// after a partition heals the loser steps down within one round trip instead of one
// advertisement interval, and the neighbours' ARP caches point at the winner again.
#include "lb/ha/vrrp.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include "lb/log.hpp"
#include "lb/packet/checksum.hpp"
#include "lb/packet/headers.hpp"

namespace lb::ha {

using pkt::Ipv4Hdr;

namespace {

std::string ip_str(uint32_t net_order) { return IpAddr::v4(net_order).str(); }

// The pseudo-header of §5.2.8 (RFC 2460 style for IPv6, RFC 768 style for IPv4): source,
// destination, zero + protocol, VRRP length. Returned as an unfolded sum.
uint32_t pseudo_sum(uint32_t saddr, uint32_t daddr, size_t vrrp_len) {
  uint32_t s = pkt::csum_add_bytes(0, &saddr, 4);
  s = pkt::csum_add_bytes(s, &daddr, 4);
  const uint16_t words[2] = {htons(kVrrpProto), htons(static_cast<uint16_t>(vrrp_len))};
  return pkt::csum_add_bytes(s, words, 4);
}

}  // namespace

MacAddr vrrp_virtual_mac(uint8_t vrid) { return MacAddr{{0x00, 0x00, 0x5e, 0x00, 0x01, vrid}}; }
MacAddr vrrp_multicast_mac() { return MacAddr{{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12}}; }

size_t encode_vrrp_advert(const VrrpAdvert& a, uint32_t src, uint8_t* buf, size_t cap,
                          uint16_t ip_id) {
  if (a.adver_int_cs > kMaxAdverIntCs) return 0;
  const size_t len = vrrp_packet_len(a.count);
  if (cap < len) return 0;
  const size_t vlen = len - sizeof(Ipv4Hdr);

  auto* ip = reinterpret_cast<Ipv4Hdr*>(buf);
  ip->ver_ihl = 0x45;
  ip->tos = kVrrpTos;
  ip->tot_len = htons(static_cast<uint16_t>(len));
  ip->id = htons(ip_id);
  ip->frag_off = 0;  // DF clear, as keepalived: the packet is link-local and small
  ip->ttl = kVrrpTtl;
  ip->protocol = kVrrpProto;
  ip->check = 0;
  ip->saddr = src;
  ip->daddr = htonl(kVrrpGroupHost);
  ip->check = pkt::ipv4_header_checksum(ip, sizeof(Ipv4Hdr));

  uint8_t* v = buf + sizeof(Ipv4Hdr);
  auto* h = reinterpret_cast<VrrpHdr*>(v);
  h->ver_type = static_cast<uint8_t>(kVrrpVersion << 4 | kVrrpTypeAdvert);
  h->vrid = a.vrid;
  h->priority = a.priority;
  h->count = a.count;
  h->rsvd_adver = htons(a.adver_int_cs);  // reserved bits zero: adver_int_cs <= 0x0fff
  h->check = 0;
  std::memcpy(v + sizeof(VrrpHdr), a.addrs.data(), 4u * a.count);
  h->check = pkt::csum_finish(pkt::csum_add_bytes(pseudo_sum(ip->saddr, ip->daddr, vlen), v, vlen));
  return len;
}

const char* to_string(VrrpDrop d) {
  switch (d) {
    case VrrpDrop::none: return "none";
    case VrrpDrop::ip_malformed: return "ip_malformed";
    case VrrpDrop::ip_checksum: return "ip_checksum";
    case VrrpDrop::ttl: return "ttl";
    case VrrpDrop::length: return "length";
    case VrrpDrop::version: return "version";
    case VrrpDrop::type: return "type";
    case VrrpDrop::checksum: return "checksum";
    case VrrpDrop::unknown_vrid: return "unknown_vrid";
    case VrrpDrop::zero_interval: return "zero_interval";
    case VrrpDrop::address_mismatch: return "address_mismatch";
    case VrrpDrop::local_owner: return "local_owner";
    case VrrpDrop::not_running: return "not_running";
    case VrrpDrop::count_: break;
  }
  return "?";
}

VrrpDecoded decode_vrrp_advert(const uint8_t* buf, size_t len, uint8_t served_vrid) {
  VrrpDecoded r;
  const Ipv4Hdr* ip = pkt::view<Ipv4Hdr>(buf, len, 0);
  if (!ip || ip->version() != 4 || ip->header_len() < sizeof(Ipv4Hdr)) {
    r.drop = VrrpDrop::ip_malformed;
    return r;
  }
  const size_t ihl = ip->header_len();
  const size_t tot = ntohs(ip->tot_len);
  if (tot < ihl || tot > len || ip->is_fragment() || ip->protocol != kVrrpProto) {
    r.drop = VrrpDrop::ip_malformed;
    return r;
  }
  r.src = ip->saddr;
  // A correct header sums to 0xffff with its own checksum in it.
  if (pkt::csum_fold(pkt::csum_add_bytes(0, buf, ihl)) != 0xffff) {
    r.drop = VrrpDrop::ip_checksum;
    return r;
  }
  if (ip->ttl != kVrrpTtl) {
    r.drop = VrrpDrop::ttl;
    return r;
  }
  const uint8_t* v = buf + ihl;
  const size_t vlen = tot - ihl;
  const VrrpHdr* h = pkt::view<VrrpHdr>(v, vlen, 0);
  if (!h) {
    r.drop = VrrpDrop::length;
    return r;
  }
  if (h->ver_type >> 4 != kVrrpVersion) {
    r.drop = VrrpDrop::version;
    return r;
  }
  if ((h->ver_type & 0x0f) != kVrrpTypeAdvert) {
    r.drop = VrrpDrop::type;
    return r;
  }
  // Exactly the header and the addresses: anything else means sender and receiver
  // disagree about the format, and the checksum would not tell which part is wrong.
  if (vlen != sizeof(VrrpHdr) + 4u * h->count) {
    r.drop = VrrpDrop::length;
    return r;
  }
  if (pkt::csum_fold(pkt::csum_add_bytes(pseudo_sum(ip->saddr, ip->daddr, vlen), v, vlen)) != 0xffff) {
    r.drop = VrrpDrop::checksum;
    return r;
  }
  if (h->vrid != served_vrid) {
    r.drop = VrrpDrop::unknown_vrid;
    return r;
  }
  const uint16_t interval = ntohs(h->rsvd_adver) & kMaxAdverIntCs;  // reserved bits ignored (§5.2.6)
  if (interval == 0) {
    r.drop = VrrpDrop::zero_interval;
    return r;
  }
  r.advert.vrid = h->vrid;
  r.advert.priority = h->priority;
  r.advert.adver_int_cs = interval;
  r.advert.count = h->count;
  std::memcpy(r.advert.addrs.data(), v + sizeof(VrrpHdr), 4u * h->count);
  return r;
}

// --------------------------------------------------------------- the state machine

const char* to_string(VrrpState s) {
  switch (s) {
    case VrrpState::initialize: return "init";
    case VrrpState::backup: return "backup";
    case VrrpState::master: return "master";
  }
  return "?";
}

const char* to_string(VrrpReason r) {
  switch (r) {
    case VrrpReason::none: return "none";
    case VrrpReason::start: return "start";
    case VrrpReason::owner_start: return "owner_start";
    case VrrpReason::master_down: return "master_down";
    case VrrpReason::priority_zero: return "priority_zero";
    case VrrpReason::preempt: return "preempt";
    case VrrpReason::higher_priority: return "higher_priority";
    case VrrpReason::shutdown: return "shutdown";
  }
  return "?";
}

const char* to_string(VrrpActionType t) {
  switch (t) {
    case VrrpActionType::send_advert: return "send_advert";
    case VrrpActionType::send_garp: return "send_garp";
    case VrrpActionType::become_master: return "become_master";
    case VrrpActionType::become_backup: return "become_backup";
    case VrrpActionType::stop: return "stop";
  }
  return "?";
}

bool VrrpActions::has(VrrpActionType t) const {
  return std::any_of(begin(), end(), [t](const VrrpAction& a) { return a.type == t; });
}

std::string validate(const VrrpConfig& c) {
  if (c.vrid == 0) return "vrid must be 1..255";
  if (c.priority == 0) return "priority must be 1..255 (0 is reserved for shutdown)";
  if (c.adver_int_ms < 10 || c.adver_int_ms > 10u * kMaxAdverIntCs || c.adver_int_ms % 10)
    return "adver_int_ms must be a multiple of 10 in 10..40950";
  if (c.primary_ip == 0) return "primary_ip must be set";
  if (c.vips.empty() || c.vips.size() > kMaxVrrpAddrs) return "vips must hold 1..255 addresses";
  if (c.garp_count > 1 && c.garp_interval_ms == 0) return "garp_interval_ms must be >= 1";
  return "";
}

Vrrp::Vrrp(VrrpConfig cfg)
    : cfg_(std::move(cfg)),
      sorted_vips_(cfg_.vips),
      eff_priority_(cfg_.priority),
      master_adver_int_ms_(cfg_.adver_int_ms) {
  std::sort(sorted_vips_.begin(), sorted_vips_.end());
}

// Rounded down to the millisecond: finer than the RFC's centiseconds, and never late.
// At 100 ms and priority 100: 156 * 100 / 256 = 60.9 -> 60 ms.
uint32_t Vrrp::skew_ms() const {
  return static_cast<uint32_t>((256u - eff_priority_) * uint64_t{master_adver_int_ms_} / 256u);
}

uint32_t Vrrp::master_down_interval_ms() const { return 3u * master_adver_int_ms_ + skew_ms(); }

VrrpAdvert Vrrp::advert(uint8_t priority) const {
  VrrpAdvert a;
  a.vrid = cfg_.vrid;
  a.priority = priority;
  a.adver_int_cs = static_cast<uint16_t>(cfg_.adver_int_ms / 10);
  a.count = static_cast<uint8_t>(std::min(cfg_.vips.size(), kMaxVrrpAddrs));
  std::copy_n(cfg_.vips.begin(), a.count, a.addrs.begin());
  return a;
}

size_t Vrrp::encode(uint8_t priority, uint8_t* buf, size_t cap) {
  return encode_vrrp_advert(advert(priority), cfg_.primary_ip, buf, cap, ip_id_++);
}

void Vrrp::send_advert(VrrpActions& out, uint8_t priority) {
  out.push({VrrpActionType::send_advert, priority});
  ++counters_.adverts_sent;
  if (priority == kPriorityShutdown) ++counters_.priority_zero_sent;
}

void Vrrp::to_master(VrrpActions& out, VrrpReason why, uint64_t now) {
  state_ = VrrpState::master;
  master_adver_int_ms_ = cfg_.adver_int_ms;  // ours is the one in force now
  reason_ = why;
  changed_ms_ = now;
  ++counters_.to_master;
  master_ip_ = cfg_.primary_ip;
  master_priority_ = eff_priority_;
  out.push({VrrpActionType::become_master});
  send_advert(out, eff_priority_);
  adver_at_ = now + cfg_.adver_int_ms;
  refresh_at_ = now + cfg_.garp_refresh_ms;
  start_garp_burst(out, now);
  log_info("vrrp " + std::to_string(cfg_.vrid) + ": master (" + to_string(why) + ", priority " +
           std::to_string(eff_priority_) + ")");
}

void Vrrp::start_garp_burst(VrrpActions& out, uint64_t now) {
  garps_left_ = cfg_.garp_count;
  garp_at_ = now;
  if (garps_left_) {  // the first round goes now, the rest from tick()
    out.push({VrrpActionType::send_garp});
    ++counters_.garp_rounds;
    --garps_left_;
    garp_at_ = now + cfg_.garp_interval_ms;
  }
}

void Vrrp::to_backup(VrrpActions& out, VrrpReason why, uint64_t now) {
  state_ = VrrpState::backup;
  reason_ = why;
  changed_ms_ = now;
  ++counters_.to_backup;
  garps_left_ = 0;
  master_down_at_ = now + master_down_interval_ms();
  pending_reason_ = VrrpReason::master_down;
  out.push({VrrpActionType::become_backup});
  log_info("vrrp " + std::to_string(cfg_.vrid) + ": backup (" + to_string(why) + ")");
}

bool Vrrp::may_preempt(uint64_t now) const {
  return cfg_.preempt && !preempt_held_ && now >= started_ms_ + cfg_.preempt_delay_ms;
}

bool Vrrp::addresses_match(const VrrpAdvert& a) const {
  if (a.count != sorted_vips_.size()) return false;
  std::array<uint32_t, kMaxVrrpAddrs> got;
  std::copy_n(a.addrs.begin(), a.count, got.begin());
  std::sort(got.begin(), got.begin() + a.count);
  return std::equal(got.begin(), got.begin() + a.count, sorted_vips_.begin());
}

VrrpActions Vrrp::start(uint64_t now) {
  VrrpActions out;
  if (state_ != VrrpState::initialize) return out;
  started_ms_ = now;
  master_ip_ = 0;
  master_priority_ = 0;
  if (eff_priority_ == kPriorityOwner) {  // §6.4.1
    to_master(out, VrrpReason::owner_start, now);
  } else {
    master_adver_int_ms_ = cfg_.adver_int_ms;
    to_backup(out, VrrpReason::start, now);
  }
  return out;
}

VrrpActions Vrrp::shutdown(uint64_t now) {
  VrrpActions out;
  if (state_ == VrrpState::initialize) return out;
  // §6.4.3: a leaving master says so, and a backup takes over after its Skew_Time
  // instead of the whole Master_Down_Interval.
  if (state_ == VrrpState::master) send_advert(out, kPriorityShutdown);
  state_ = VrrpState::initialize;
  reason_ = VrrpReason::shutdown;
  changed_ms_ = now;
  ++counters_.to_initialize;
  garps_left_ = 0;
  out.push({VrrpActionType::stop});
  log_info("vrrp " + std::to_string(cfg_.vrid) + ": stopped");
  return out;
}

VrrpActions Vrrp::on_packet(const uint8_t* ip, size_t len, uint64_t now) {
  const VrrpDecoded d = decode_vrrp_advert(ip, len, cfg_.vrid);
  if (!d.ok()) {
    drop(d.drop);
    return {};
  }
  return on_advert(d.advert, d.src, now);
}

VrrpActions Vrrp::on_advert(const VrrpAdvert& a, uint32_t src, uint64_t now) {
  VrrpActions out;
  if (a.vrid != cfg_.vrid) {
    drop(VrrpDrop::unknown_vrid);
    return out;
  }
  if (a.adver_int_cs == 0) {
    drop(VrrpDrop::zero_interval);
    return out;
  }
  if (state_ == VrrpState::initialize) {
    drop(VrrpDrop::not_running);
    return out;
  }
  if (eff_priority_ == kPriorityOwner) {  // §7.1: the owner does not listen
    drop(VrrpDrop::local_owner);
    return out;
  }
  const bool match = addresses_match(a);
  if (!match) {
    ++counters_.address_mismatch_seen;
    if (!last_mismatch_)
      log_warn("vrrp " + std::to_string(cfg_.vrid) + ": advert from " + ip_str(src) +
               " lists other addresses than ours (" + std::to_string(a.count) + " vs " +
               std::to_string(cfg_.vips.size()) + ")");
    if (cfg_.strict_addresses && a.priority != kPriorityOwner) {
      last_mismatch_ = true;
      drop(VrrpDrop::address_mismatch);
      return out;
    }
  }
  last_mismatch_ = !match;
  ++counters_.adverts_received;
  if (a.priority == kPriorityShutdown) ++counters_.priority_zero_received;
  const uint32_t their_int_ms = a.adver_int_cs * 10u;

  if (state_ == VrrpState::backup) {  // §6.4.2
    master_ip_ = src;  // the master as last heard, whether it keeps the job or not
    master_priority_ = a.priority;
    if (a.priority == kPriorityShutdown) {
      master_down_at_ = now + skew_ms();
      pending_reason_ = VrrpReason::priority_zero;
    } else if (!may_preempt(now) || a.priority >= eff_priority_) {
      master_adver_int_ms_ = their_int_ms;
      master_down_at_ = now + master_down_interval_ms();
      pending_reason_ = VrrpReason::master_down;
    } else {
      // A lower-priority master and we may preempt: let the timer run out.
      pending_reason_ = VrrpReason::preempt;
    }
    return out;
  }

  // Master, §6.4.3. Addresses compare as numbers (host order).
  const uint32_t theirs = ntohl(src), ours = ntohl(cfg_.primary_ip);
  if (a.priority == kPriorityShutdown) {
    send_advert(out, eff_priority_);
    adver_at_ = now + cfg_.adver_int_ms;
  } else if (a.priority > eff_priority_ || (a.priority == eff_priority_ && theirs > ours)) {
    // One last advert of ours before stepping down: after a healed partition the winner
    // may never have heard us (its advert reached us first), and hearing a lower master
    // is what makes it announce its addresses again (below), taking back the ARP caches
    // our GARPs took. To any RFC 5798 master it is just a lower-priority advert.
    send_advert(out, eff_priority_);
    master_adver_int_ms_ = their_int_ms;
    master_ip_ = src;
    master_priority_ = a.priority;
    to_backup(out, VrrpReason::higher_priority, now);
  } else if (a.priority < eff_priority_ || theirs < ours) {
    // Another master that should yield (a healed partition): tell it now, and announce
    // our addresses again, since its GARPs may have taken the neighbours' ARP caches while
    // the segment was split (keepalived does the same). A burst already under way is
    // left to run. Equal priority and address is our own advert looped back, ignored.
    send_advert(out, eff_priority_);
    adver_at_ = now + cfg_.adver_int_ms;
    if (!garps_left_) start_garp_burst(out, now);
  }
  return out;
}

VrrpActions Vrrp::tick(uint64_t now) {
  VrrpActions out;
  if (state_ == VrrpState::backup) {
    if (now >= master_down_at_) to_master(out, pending_reason_, now);
    return out;
  }
  if (state_ != VrrpState::master) return out;
  if (now >= adver_at_) {
    send_advert(out, eff_priority_);
    // Keep the cadence when called late by less than an interval, restart it otherwise.
    adver_at_ += cfg_.adver_int_ms;
    if (adver_at_ <= now) adver_at_ = now + cfg_.adver_int_ms;
  }
  bool garp = false;
  if (garps_left_ && now >= garp_at_) {
    garp = true;
    --garps_left_;
    garp_at_ = now + cfg_.garp_interval_ms;
  }
  if (cfg_.garp_refresh_ms && now >= refresh_at_) {
    garp = true;  // one round even if the burst is due at the same time
    refresh_at_ = now + cfg_.garp_refresh_ms;
  }
  if (garp) {
    out.push({VrrpActionType::send_garp});
    ++counters_.garp_rounds;
  }
  return out;
}

VrrpActions Vrrp::set_priority_penalty(uint32_t penalty, uint64_t now) {
  VrrpActions out;
  penalty_ = penalty;
  const auto eff = static_cast<uint8_t>(penalty >= cfg_.priority ? 1u : cfg_.priority - penalty);
  if (eff == eff_priority_) return out;
  log_info("vrrp " + std::to_string(cfg_.vrid) + ": effective priority " +
           std::to_string(eff_priority_) + " -> " + std::to_string(eff));
  eff_priority_ = eff;
  // A backup's Skew_Time follows (next advert restarts its timer with it); a master
  // tells the others now, so a preempting backup with a higher priority stops resetting
  // its Master_Down_Timer on our adverts.
  if (state_ == VrrpState::master) {
    master_priority_ = eff;
    send_advert(out, eff);
    adver_at_ = now + cfg_.adver_int_ms;
  }
  return out;
}

uint64_t Vrrp::next_event_ms() const {
  constexpr uint64_t never = std::numeric_limits<uint64_t>::max();
  if (state_ == VrrpState::backup) return master_down_at_;
  if (state_ != VrrpState::master) return never;
  uint64_t t = adver_at_;
  if (garps_left_) t = std::min(t, garp_at_);
  if (cfg_.garp_refresh_ms) t = std::min(t, refresh_at_);
  return t;
}

VrrpStatus Vrrp::status() const {
  VrrpStatus s;
  s.vrid = cfg_.vrid;
  s.state = state_;
  s.priority = cfg_.priority;
  s.effective_priority = eff_priority_;
  s.penalty = penalty_;
  s.master_ip = master_ip_;
  s.master_priority = master_priority_;
  s.adver_int_ms = cfg_.adver_int_ms;
  s.master_adver_int_ms = master_adver_int_ms_;
  s.master_down_int_ms = master_down_interval_ms();
  s.skew_ms = skew_ms();
  s.changed_ms = changed_ms_;
  s.reason = reason_;
  s.counters = counters_;
  return s;
}

}  // namespace lb::ha
