// High availability in the engine: a VRRPv3 instance (lb/ha/vrrp.hpp) on one port decides
// whether this engine serves the VIPs, and the master streams its connection table to
// its peer (lb/ha/sync.hpp) so that a backup taking over already has every flow.
//
// VRRP. The Vrrp core is fed the advertisements that arrive on the VRRP port (IPv4
// protocol 112 to 224.0.0.18, Ethernet 01:00:5e:00:00:12, the one multicast the engine
// accepts) and the time; the engine performs what it returns. As master the engine
// answers ARP for every VIP address and proxy IP and forwards; as backup (and once
// stopped) it answers ARP for none of them and forwards nothing, counting what it does
// not forward as `vrrp_backup`, while it keeps checking its backends from its own
// addresses. Gratuitous ARPs are requests with sender = target = the address, as
// keepalived sends them. With virtual_mac the master answers ARP and sends its adverts
// and GARPs from 00:00:5e:00:01:{vrid} and accepts frames to it; the frames it forwards
// keep the port's own MAC (the adverts keep the switch's entry for the virtual MAC fresh).
//
// Tracking lowers the priority: track_port_penalty while any data port's link is down
// (PacketIo::link_up: for a TAP, administratively up with carrier), and
// track_backends_penalty while no backend of any VIP is up. Both are looked at in
// housekeeping(), every ~100 ms.
//
// Sync. Only the master sends: a flow record once a new flow has seen its first packet,
// a state record when its TCP state changes or when the deadline the peer has lags the
// real one by more than a quarter of the idle timeout (so the peer's copy does not expire
// under a live connection), a remove record when a flow ends early (RST, reuse,
// eviction; flows that expire expire on both sides by themselves), a persistence record
// for each persistence entry made. Records are batched into one datagram until it is
// full or kSyncFlushMs passed. A backup asks for the whole table when it starts or
// becomes backup, and again every second until a dump ends; the master streams it a
// bounded number of records per loop turn, so the data path never stalls on a big table.
// Only datagrams from the configured peer are read, every field is bounds-checked, and
// anything that does not fit is counted and skipped (SyncCounters).
#include <arpa/inet.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <stdexcept>

#include "lb/engine.hpp"
#include "lb/log.hpp"
#include "lb/packet/checksum.hpp"

namespace lb {

using namespace pkt;

namespace {
constexpr uint64_t kSyncFlushMs = 10;       // a batch waits at most this long
constexpr uint64_t kDumpRetryMs = 1000;     // an unanswered dump request is repeated
constexpr uint64_t kResolveRetryMs = 100;   // the peer's MAC is not known yet: look again
// A started engine with [sync] does not preempt before it has the master's table, for
// at most this long after its start (then the VIP comes back anyway).
constexpr uint64_t kTableWaitMs = 3000;
constexpr size_t kDumpRecordsPerTick = 512; // ~19 datagrams per loop turn
constexpr size_t kDumpScanPerTick = 16384;  // flow slots looked at per loop turn
constexpr size_t kHaBufSize = sizeof(VnetHdr) + sizeof(EthHdr) + 2048;

bool is_dsr(Mode m) { return m == Mode::dsr_l2 || m == Mode::dsr_l3_dscp || m == Mode::dsr_l3_tunnel; }

uint32_t clamp32(uint64_t v) { return v > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(v); }

uint8_t sync_flags(const FlowEntry& e) {
  return static_cast<uint8_t>((e.one_way ? ha::kSyncOneWay : 0) | ((e.fin_seen & 1) ? ha::kSyncFinOriginal : 0) |
                              ((e.fin_seen & 2) ? ha::kSyncFinReply : 0));
}
uint8_t fin_seen_of(uint8_t flags) {
  return static_cast<uint8_t>(((flags & ha::kSyncFinOriginal) ? 1 : 0) | ((flags & ha::kSyncFinReply) ? 2 : 0));
}

size_t port_index(const Config& c, const std::string& name, const char* what) {
  for (size_t i = 0; i < c.ports.size(); ++i)
    if (c.ports[i].name == name) return i;
  throw std::runtime_error(std::string(what) + ": no port named '" + name + "'");
}
}  // namespace

// ---------------------------------------------------------------- VRRP

void Engine::init_ha(uint64_t now) {
  if (!cfg_.vrrp) return;
  const HaVrrpConfig& c = *cfg_.vrrp;
  ha_.port = port_index(cfg_, c.port, "vrrp.port");
  ha_.virtual_mac = c.virtual_mac;
  ha_.vmac = ha::vrrp_virtual_mac(c.vrid);
  ha_.txbuf.assign(kHaBufSize, 0);
  const Prefix& net = ports_[ha_.port].cfg.address;
  ha::VrrpConfig vc;
  vc.vrid = c.vrid;
  vc.priority = c.priority;
  vc.adver_int_ms = c.advert_interval_ms;
  vc.preempt = c.preempt;
  vc.preempt_delay_ms = c.preempt_delay_ms;
  vc.primary_ip = net.addr.v4_net();
  vc.garp_count = c.garp_count;
  vc.garp_interval_ms = c.garp_interval_ms;
  vc.garp_refresh_ms = c.garp_refresh_ms;
  auto add = [&](const IpAddr& a) {
    const uint32_t x = a.v4_net();
    if (!x || std::find(vc.vips.begin(), vc.vips.end(), x) != vc.vips.end()) return;
    vc.vips.push_back(x);
    if (net.contains(a)) ha_.garp_addrs.emplace_back(ha_.port, x);  // announced only where it is answered
  };
  for (const auto& v : cfg_.vips) {
    add(v.address);
    if (v.mode == Mode::proxy) add(v.proxy_ip);
  }
  for (const auto& a : c.addresses) {  // the config checked: on its port's subnet, unique
    const size_t port = port_index(cfg_, a.port, "vrrp.addresses");
    vc.vips.push_back(a.address.v4_net());
    ha_.extra.emplace_back(port, a.address.v4_net());
    ha_.garp_addrs.emplace_back(port, a.address.v4_net());
  }
  if (auto why = ha::validate(vc); !why.empty()) throw std::runtime_error("vrrp: " + why);
  if (cfg_.sync) {
    const HaSyncConfig& s = *cfg_.sync;
    ha_.sync = true;
    ha_.sync_port = port_index(cfg_, s.port, "sync.port");
    ha_.sync_addr = ports_[ha_.sync_port].cfg.address.addr.v4_net();
    ha_.peer = s.peer.v4_net();
    ha_.udp_port = s.udp_port;
    if (!ha_.peer || ha_.peer == ha_.sync_addr) throw std::runtime_error("sync.peer: not a peer address");
    ha_.told.assign(flows_.capacity(), 0);
  }
  ha_.vrrp.emplace(std::move(vc));
  ha_.standby = true;  // until the state machine says master
  ha_.started_ms = now;
  ha_perform(ha_.vrrp->start(now), now);
}

void Engine::ha_perform(const ha::VrrpActions& acts, uint64_t now) {
  for (const auto& a : acts) {
    switch (a.type) {
      case ha::VrrpActionType::send_advert:
        send_vrrp_advert(a.priority);
        break;
      case ha::VrrpActionType::send_garp:
        send_garps();
        break;
      case ha::VrrpActionType::become_master:
        ha_.master = true;
        ha_.standby = false;
        ha_.dump_wanted = false;  // our table is the one in force now
        break;
      case ha::VrrpActionType::become_backup:
        if (ha_.sync) {
          sync_flush(now);  // what we wrote as master still goes out
          ha_.dumping = false;
          ha_.dump_wanted = true;  // the new master's table, whatever we have
          ha_.dump_request_at = now;
        }
        ha_.master = false;
        ha_.standby = true;
        break;
      case ha::VrrpActionType::stop:
        if (ha_.sync) {
          sync_flush(now);
          ha_.dumping = false;
          ha_.dump_wanted = false;
        }
        ha_.master = false;
        ha_.standby = true;
        break;
    }
  }
}

const MacAddr& Engine::vip_mac(size_t port) const {
  return ha_.virtual_mac && port == ha_.port ? ha_.vmac : ports_[port].cfg.mac;
}

void Engine::send_vrrp_advert(uint8_t priority) {
  uint8_t* buf = ha_.txbuf.data();
  constexpr size_t hdr = sizeof(VnetHdr) + sizeof(EthHdr);
  const size_t n = ha_.vrrp->encode(priority, buf + hdr, ha_.txbuf.size() - hdr);
  if (n == 0) return;  // cannot happen with a validated config
  std::memset(buf, 0, hdr);
  auto* eth = reinterpret_cast<EthHdr*>(buf + sizeof(VnetHdr));
  std::memcpy(eth->dst, ha::vrrp_multicast_mac().b.data(), 6);
  const MacAddr& src = ha_.virtual_mac && ha_.master ? ha_.vmac : ports_[ha_.port].cfg.mac;
  std::memcpy(eth->src, src.b.data(), 6);
  eth->type = htons(EthHdr::kIpv4);
  transmit(ha_.port, buf, hdr + n);
}

bool Engine::is_ha_address(size_t port, uint32_t addr) const {
  for (const auto& [p, a] : ha_.extra)
    if (a == addr && p == port) return true;
  return false;
}

void Engine::send_garps() {
  constexpr size_t len = sizeof(VnetHdr) + sizeof(EthHdr) + sizeof(ArpHdr);
  for (const auto& [port, addr] : ha_.garp_addrs) {
    const MacAddr& mac = vip_mac(port);
    uint8_t* buf = ha_.txbuf.data();
    std::memset(buf, 0, len);
    auto* eth = reinterpret_cast<EthHdr*>(buf + sizeof(VnetHdr));
    std::memset(eth->dst, 0xff, 6);
    std::memcpy(eth->src, mac.b.data(), 6);
    eth->type = htons(EthHdr::kArp);
    auto* arp = reinterpret_cast<ArpHdr*>(eth + 1);
    arp->htype = htons(1);
    arp->ptype = htons(EthHdr::kIpv4);
    arp->hlen = 6;
    arp->plen = 4;
    arp->op = htons(ArpHdr::kRequest);
    std::memcpy(arp->sha, mac.b.data(), 6);
    arp->spa = addr;
    arp->tpa = addr;  // the target hardware address stays zero (RFC 5227 announcement)
    transmit(port, buf, len);
  }
}

bool Engine::ha_vrrp_frame(size_t port, Parsed& p, uint64_t now) {
  if (port != ha_.port || std::memcmp(p.eth->dst, ha::vrrp_multicast_mac().b.data(), 6) != 0 ||
      p.eth->type_h() != EthHdr::kIpv4)
    return false;
  const auto* ip = view<Ipv4Hdr>(p.frame, p.len, sizeof(EthHdr));
  if (!ip || ip->protocol != ha::kVrrpProto || ip->daddr != htonl(ha::kVrrpGroupHost)) return false;
  ha_hold_preempt(now);
  ha_perform(ha_.vrrp->on_packet(p.frame + sizeof(EthHdr), p.len - sizeof(EthHdr), now), now);
  return true;
}

void Engine::ha_hold_preempt(uint64_t now) {
  ha_.vrrp->hold_preempt(ha_.sync && ha_.dump_wanted && !ha_.master && now < ha_.started_ms + kTableWaitMs);
}

void Engine::ha_track(uint64_t now) {
  if (!ha_.vrrp) return;
  const HaVrrpConfig& c = *cfg_.vrrp;
  if (c.track_port_penalty) {
    std::string down;
    for (size_t i = 0; i < ports_.size(); ++i)
      if (!io_.link_up(i)) down += (down.empty() ? "" : ", ") + ports_[i].cfg.name;
    if (!down.empty() != ha_.link_down) {
      ha_.link_down = !down.empty();
      log_info("vrrp: " + (ha_.link_down ? "link down on " + down : std::string("every link is up again")));
    }
  }
  if (c.track_backends_penalty) {
    bool any_up = false;
    for (const auto& v : vips_)
      for (const auto& sb : v.sched_in) any_up |= sb.up && !sb.removed;
    if (!any_up != ha_.backends_down) {
      ha_.backends_down = !any_up;
      log_info(std::string("vrrp: ") + (any_up ? "a backend is up again" : "every backend of every VIP is down"));
    }
  }
  const uint32_t penalty = (ha_.link_down ? c.track_port_penalty : 0) + (ha_.backends_down ? c.track_backends_penalty : 0);
  ha_perform(ha_.vrrp->set_priority_penalty(penalty, now), now);
}

void Engine::ha_tick(uint64_t now) {
  if (!ha_.vrrp) return;
  ha_hold_preempt(now);
  if (now >= ha_.vrrp->next_event_ms()) ha_perform(ha_.vrrp->tick(now), now);
  if (ha_.sync) sync_tick(now);
}

uint64_t Engine::ha_next_due(uint64_t now) const {
  if (!ha_.vrrp) return UINT64_MAX;
  uint64_t due = ha_.vrrp->next_event_ms();
  if (ha_.sync) {
    due = std::min(due, ha_.flush_at);
    if (ha_.dump_wanted) due = std::min(due, ha_.dump_request_at);
    if (ha_.dumping) due = std::min(due, now + 1);  // keep streaming, a little at a time
  }
  return due;
}

void Engine::shutdown(uint64_t now) {
  if (!ha_.vrrp) return;
  if (ha_.sync && ha_.master) sync_flush(now);  // the backup gets everything before it takes over
  ha_perform(ha_.vrrp->shutdown(now), now);
}

HaInfo Engine::ha_info() {
  HaInfo i;
  call_in_datapath([&] {
    if (!ha_.vrrp) return;
    const HaVrrpConfig& c = *cfg_.vrrp;
    i.vrrp = true;
    i.status = ha_.vrrp->status();
    i.now_ms = now_ms();
    i.port = ports_[ha_.port].cfg.name;
    i.virtual_mac = ha_.virtual_mac;
    i.vip_mac = vip_mac(ha_.port);
    for (uint32_t a : ha_.vrrp->config().vips) i.addresses.push_back(IpAddr::v4(a));
    for (const auto& [port, a] : ha_.extra) i.extra.emplace_back(ports_[port].cfg.name, IpAddr::v4(a));
    i.link_down = ha_.link_down;
    i.backends_down = ha_.backends_down;
    i.track_port_penalty = c.track_port_penalty;
    i.track_backends_penalty = c.track_backends_penalty;
    i.backup_drops = stats_.drops[static_cast<size_t>(Drop::vrrp_backup)].load(std::memory_order_relaxed);
    if (!ha_.sync) return;
    i.sync = true;
    i.sync_port = ports_[ha_.sync_port].cfg.name;
    i.sync_peer = IpAddr::v4(ha_.peer);
    i.sync_udp_port = ha_.udp_port;
    i.dump_wanted = ha_.dump_wanted;
    i.dumping = ha_.dumping;
    i.sync_counters = ha_.counters;
  });
  return i;
}

// ---------------------------------------------------------------- sync: sending

void Engine::sync_emit(const ha::SyncRecord& r, uint64_t now) {
  if (!ha_.out.add(r)) {
    sync_flush(now);
    ha_.out.add(r);  // always fits an empty datagram
  }
  ++ha_.counters.records_sent;
  if (ha_.flush_at == UINT64_MAX) ha_.flush_at = now + kSyncFlushMs;
}

// One UDP datagram from our sync address to the peer, port udp_port on both sides.
void Engine::sync_flush(uint64_t now) {
  if (ha_.out.empty()) return;
  ha_.flush_at = UINT64_MAX;
  const Neighbor* n = neighbor(ha_.peer);
  if (!n || !n->valid) {
    send_arp_request(ha_.sync_port, ha_.peer, now);
    ha_.counters.send_failed += ha_.out.count();
    ha_.out.clear();
    return;
  }
  const std::span<const uint8_t> payload = ha_.out.finish(ha_.seq);
  const size_t udp_len = sizeof(UdpHdr) + payload.size();
  const size_t len = sizeof(VnetHdr) + sizeof(EthHdr) + sizeof(Ipv4Hdr) + udp_len;
  uint8_t* buf = ha_.txbuf.data();
  std::memset(buf, 0, len - payload.size());
  auto* eth = reinterpret_cast<EthHdr*>(buf + sizeof(VnetHdr));
  eth->type = htons(EthHdr::kIpv4);
  auto* ip = reinterpret_cast<Ipv4Hdr*>(eth + 1);
  ip->ver_ihl = 0x45;
  ip->tot_len = htons(static_cast<uint16_t>(sizeof(Ipv4Hdr) + udp_len));
  ip->id = htons(++ha_.ip_id);
  ip->frag_off = htons(0x4000);  // DF
  ip->ttl = 64;
  ip->protocol = Ipv4Hdr::kUdp;
  ip->saddr = ha_.sync_addr;
  ip->daddr = ha_.peer;
  ip->check = ipv4_header_checksum(ip, sizeof(Ipv4Hdr));
  auto* udp = reinterpret_cast<UdpHdr*>(ip + 1);
  udp->source = htons(ha_.udp_port);
  udp->dest = htons(ha_.udp_port);
  udp->len = htons(static_cast<uint16_t>(udp_len));
  std::memcpy(udp + 1, payload.data(), payload.size());
  uint16_t c = l4_checksum_v4(ip->saddr, ip->daddr, Ipv4Hdr::kUdp, reinterpret_cast<uint8_t*>(udp), udp_len,
                              offsetof(UdpHdr, check));
  udp->check = c == 0 ? 0xffff : c;
  const MacAddr mac = n->mac;
  ha_.out.clear();
  ++ha_.seq;
  ++ha_.counters.datagrams_sent;
  send_to_mac(ha_.sync_port, buf, len, mac);
}

ha::SyncRecord Engine::sync_flow_record(uint32_t id, uint64_t now) const {
  const FlowEntry& e = flows_.at(id);
  const Vip& v = vips_[e.vip];
  const Backend& b = v.backends[e.backend];
  ha::SyncRecord r;
  r.type = ha::SyncType::flow;
  r.vip_addr = v.cfg.address.v4_net();
  r.vip_port = v.cfg.port;
  r.proto = e.key[0].proto;
  r.state = e.state;
  r.flags = sync_flags(e);
  r.original = e.key[0];
  if (!e.one_way) r.reply = e.key[1];
  r.backend_addr = b.cfg.address.v4_net();
  r.backend_port = b.cfg.port;
  r.age_ms = clamp32(e.age_ms(now));
  r.expires_in_ms = clamp32(e.expired(now) ? 0 : e.expires_at(now) - now);
  return r;
}

void Engine::sync_touched(uint32_t id, TcpState before, uint64_t now) {
  if (!ha_.master) return;
  const FlowEntry& e = flows_.at(id);
  uint64_t& told = ha_.told[id];
  if (told == 0) {
    sync_emit(sync_flow_record(id, now), now);
  } else {
    const uint64_t idle = e.expired(now) ? 0 : e.expires_at(now) - now;
    if (e.state == before && e.expires_at(now) <= told + idle / 4) return;  // the peer's deadline is recent enough
    ha::SyncRecord r;
    r.type = ha::SyncType::flow_state;
    r.proto = e.key[0].proto;
    r.state = e.state;
    r.flags = sync_flags(e);
    r.original = e.key[0];
    r.expires_in_ms = clamp32(idle);
    sync_emit(r, now);
  }
  told = e.expires_at(now);
}

void Engine::sync_removed(uint32_t id, uint64_t now) {
  uint64_t& told = ha_.told[id];
  if (!told) return;  // the peer never heard of it
  told = 0;
  if (!ha_.master) return;
  ha::SyncRecord r;
  r.type = ha::SyncType::flow_remove;
  r.proto = flows_.at(id).key[0].proto;
  r.original = flows_.at(id).key[0];
  sync_emit(r, now);
}

void Engine::sync_persist(size_t vi, uint32_t masked, int bi, uint64_t now) {
  if (!ha_.master) return;
  const Vip& v = vips_[vi];
  ha::SyncRecord r;
  r.type = ha::SyncType::persist;
  r.vip_addr = v.cfg.address.v4_net();
  r.vip_port = v.cfg.port;
  r.proto = static_cast<uint8_t>(v.cfg.protocol);
  r.source = masked;
  r.backend_addr = v.backends[bi].cfg.address.v4_net();
  r.backend_port = v.backends[bi].cfg.port;
  r.expires_in_ms = v.persist->timeout_ms();
  sync_emit(r, now);
}

void Engine::sync_tick(uint64_t now) {
  if (ha_.flush_at <= now) sync_flush(now);
  if (ha_.dump_wanted && !ha_.master && now >= ha_.dump_request_at) {
    const Neighbor* n = neighbor(ha_.peer);
    if (!n || !n->valid) {
      send_arp_request(ha_.sync_port, ha_.peer, now);  // a few quick tries, then one a second
      ha_.dump_request_at = now + kResolveRetryMs;
    } else {
      ha::SyncRecord r;
      r.type = ha::SyncType::dump_request;
      r.nonce = ++ha_.nonce;
      sync_emit(r, now);
      sync_flush(now);
      ++ha_.counters.dump_requests_sent;
      ha_.dump_request_at = now + kDumpRetryMs;
    }
  }
  if (!ha_.dumping) return;
  if (!ha_.master) {
    ha_.dumping = false;
    return;
  }
  // Flows by id, then each VIP's persistence records; a bounded share per call.
  const uint32_t cap = flows_.capacity();
  size_t records = 0, scanned = 0;
  while (ha_.dump_cursor < cap && records < kDumpRecordsPerTick && scanned < kDumpScanPerTick) {
    const uint32_t id = ha_.dump_cursor++;
    ++scanned;
    const FlowEntry& e = flows_.at(id);
    if (!e.in_use() || e.expired(now)) continue;
    sync_emit(sync_flow_record(id, now), now);
    ha_.told[id] = e.expires_at(now);
    ++ha_.dump_flows;
    ++records;
  }
  while (ha_.dump_cursor >= cap && ha_.dump_cursor - cap < vips_.size() && records < kDumpRecordsPerTick) {
    const size_t vi = ha_.dump_cursor - cap;
    const Vip& v = vips_[vi];
    if (!v.persist || ha_.dump_persist_pos >= v.persist->size()) {
      ++ha_.dump_cursor;
      ha_.dump_persist_pos = 0;
      continue;
    }
    const PersistTable::Entry pe = v.persist->entry(ha_.dump_persist_pos++);
    if (pe.expires_ms <= now || pe.backend < 0 || static_cast<size_t>(pe.backend) >= v.backends.size()) continue;
    ha::SyncRecord r;
    r.type = ha::SyncType::persist;
    r.vip_addr = v.cfg.address.v4_net();
    r.vip_port = v.cfg.port;
    r.proto = static_cast<uint8_t>(v.cfg.protocol);
    r.source = pe.src;
    r.backend_addr = v.backends[pe.backend].cfg.address.v4_net();
    r.backend_port = v.backends[pe.backend].cfg.port;
    r.expires_in_ms = clamp32(pe.expires_ms - now);
    sync_emit(r, now);
    ++records;
  }
  if (ha_.dump_cursor - cap < vips_.size() || ha_.dump_cursor < cap) return;
  ha::SyncRecord end;
  end.type = ha::SyncType::dump_end;
  end.nonce = ha_.dump_nonce;
  end.flows = ha_.dump_flows;
  sync_emit(end, now);
  sync_flush(now);
  ha_.dumping = false;
  ++ha_.counters.dumps_sent;
  ha_.counters.dump_flows_sent += ha_.dump_flows;
  log_info("sync: sent the table to " + IpAddr::v4(ha_.peer).str() + " (" + std::to_string(ha_.dump_flows) + " flows)");
}

// ---------------------------------------------------------------- sync: receiving

void Engine::sync_receive(Parsed& p, uint64_t now) {
  SyncCounters& c = ha_.counters;
  ++c.datagrams_received;
  if (p.ip->saddr != ha_.peer) {
    ++c.not_from_peer;
    return;
  }
  const size_t udp_len = ntohs(p.udp->len);  // parse_ipv4 checked 8 <= len <= the IP payload
  auto* udp = reinterpret_cast<uint8_t*>(p.udp);
  if (p.udp->check != 0 && !p.l4_csum_partial) {
    uint16_t want = l4_checksum_v4(p.ip->saddr, p.ip->daddr, Ipv4Hdr::kUdp, udp, udp_len, offsetof(UdpHdr, check));
    if (want == 0) want = 0xffff;
    if (want != p.udp->check) {
      ++c.bad_checksum;
      return;
    }
  }
  ha::SyncReader rd(udp + sizeof(UdpHdr), udp_len - sizeof(UdpHdr));
  if (rd.error() != ha::SyncError::none) {
    ++c.malformed[static_cast<size_t>(rd.error())];
    return;
  }
  if (ha_.peer_seq_known) {
    const uint32_t gap = rd.seq() - ha_.peer_seq - 1;
    if (gap && gap < 0x80000000u) c.lost += gap;  // a restarted peer starts again from 0: not a loss
  }
  ha_.peer_seq_known = true;
  ha_.peer_seq = rd.seq();
  ha::SyncRecord r;
  while (rd.next(r)) {
    ++c.records_received;
    sync_apply(r, now);
  }
  if (rd.error() != ha::SyncError::none) ++c.malformed[static_cast<size_t>(rd.error())];
  c.unknown_records += rd.unknown_records();
}

int Engine::sync_backend(size_t vi, uint32_t addr, uint16_t port) const {
  const Vip& v = vips_[vi];
  int removed = -1;
  for (size_t i = 0; i < v.backends.size(); ++i) {
    if (v.backends[i].cfg.address.v4_net() != addr || v.backends[i].cfg.port != port) continue;
    if (!v.sched_in[i].removed) return static_cast<int>(i);
    removed = static_cast<int>(i);
  }
  return removed;  // a removed backend still has flows
}

void Engine::sync_apply(const ha::SyncRecord& r, uint64_t now) {
  SyncCounters& c = ha_.counters;
  if (r.type == ha::SyncType::dump_request) {
    ++c.dump_requests_received;
    if (!ha_.master) {
      ++c.ignored_as_backup;
      return;
    }
    ha_.dumping = true;  // (again from the start if one was under way)
    ha_.dump_cursor = 0;
    ha_.dump_persist_pos = 0;
    ha_.dump_nonce = r.nonce;
    ha_.dump_flows = 0;
    ++c.records_applied;
    return;
  }
  if (ha_.master) {  // our table is the one in force
    ++c.ignored_as_master;
    return;
  }
  switch (r.type) {
    case ha::SyncType::flow:
      return sync_apply_flow(r, now);
    case ha::SyncType::flow_state: {
      const FlowTable::Hit h = flows_.lookup(r.original, now);
      if (h.id == FlowTable::kNone || h.dir != Dir::original) {
        ++c.skipped_unknown_flow;
        return;
      }
      FlowEntry& e = flows_.at(h.id);  // an expired entry not yet swept is revived
      const TcpState before = e.state;
      e.state = r.state;
      count_state(e, before, e.state);
      e.fin_seen = fin_seen_of(r.flags);
      e.set_expires(now + r.expires_in_ms);
      ha_.told[h.id] = now + r.expires_in_ms;
      ++c.records_applied;
      return;
    }
    case ha::SyncType::flow_remove: {
      const FlowTable::Hit h = flows_.lookup(r.original, now);
      if (h.id == FlowTable::kNone || h.dir != Dir::original) {
        ++c.skipped_unknown_flow;
        return;
      }
      release_flow(h.id, now);
      ++c.records_applied;
      return;
    }
    case ha::SyncType::persist: {
      const int vi = find_vip(r.vip_addr, r.proto, htons(r.vip_port));
      if (vi < 0) {
        ++c.skipped_unknown_vip;
        return;
      }
      const int bi = sync_backend(static_cast<size_t>(vi), r.backend_addr, r.backend_port);
      if (bi < 0) {
        ++c.skipped_unknown_backend;
        return;
      }
      Vip& v = vips_[vi];
      if (!v.persist) {
        ++c.skipped_mismatch;
        return;
      }
      v.persist->record_until(r.source & v.persist_mask, bi, now + std::min(r.expires_in_ms, v.persist->timeout_ms()));
      ++c.records_applied;
      return;
    }
    case ha::SyncType::dump_end:
      ++c.dumps_received;
      ha_.dump_wanted = false;
      ++c.records_applied;
      log_info("sync: have the table of " + IpAddr::v4(ha_.peer).str() + " (" + std::to_string(r.flows) + " flows)");
      return;
    case ha::SyncType::dump_request:
      return;  // handled above
  }
}

// A flow the master has: inserted (or updated) with the same keys, VIP and backend, the
// backend's connection counts kept as if this engine had created it.
void Engine::sync_apply_flow(const ha::SyncRecord& r, uint64_t now) {
  SyncCounters& c = ha_.counters;
  const int vi = find_vip(r.vip_addr, r.proto, htons(r.vip_port));
  if (vi < 0) {
    ++c.skipped_unknown_vip;
    return;
  }
  Vip& v = vips_[vi];
  const int bi = sync_backend(static_cast<size_t>(vi), r.backend_addr, r.backend_port);
  if (bi < 0) {
    ++c.skipped_unknown_backend;
    return;
  }
  const bool one_way = r.flags & ha::kSyncOneWay;
  if (one_way != is_dsr(v.cfg.mode) || r.original.daddr != r.vip_addr || r.original.dport != htons(r.vip_port) ||
      (v.cfg.mode == Mode::proxy && r.reply.daddr != v.pip)) {  // (a proxy flow answers our PIP)
    ++c.skipped_mismatch;
    return;
  }
  const FlowTable::Hit h = flows_.lookup(r.original, now);
  if (h.id != FlowTable::kNone) {
    FlowEntry& e = flows_.at(h.id);
    if (h.dir == Dir::original && e.vip == vi && e.backend == bi && e.one_way == one_way &&
        (one_way || e.key[1] == r.reply)) {  // the same flow: its state and deadline
      const TcpState before = e.state;
      e.state = r.state;
      count_state(e, before, e.state);
      e.fin_seen = fin_seen_of(r.flags);
      e.set_expires(now + r.expires_in_ms);
      ha_.told[h.id] = now + r.expires_in_ms;
      ++c.records_applied;
      return;
    }
    release_flow(h.id, now);  // an older flow with this key: the master's table wins
  }
  if (!one_way) {
    const FlowTable::Hit o = flows_.lookup(r.reply, now);
    if (o.id != FlowTable::kNone) release_flow(o.id, now);
  }
  if (flows_.size() >= flows_.capacity()) {
    const uint32_t victim = flows_.victim();
    if (victim != FlowTable::kNone) {
      release_flow(victim, now);
      bump(stats_.flows_evicted);
    }
  }
  const uint32_t id = one_way ? flows_.insert_one_way(r.original, now) : flows_.insert(r.original, r.reply, now);
  if (id == FlowTable::kNone) {
    ++c.skipped_conflict;
    return;
  }
  FlowEntry& e = flows_.at(id);
  e.vip = static_cast<uint16_t>(vi);
  e.backend = static_cast<uint16_t>(bi);
  e.set_created(now > r.age_ms ? now - r.age_ms : 0);
  e.set_expires(now + r.expires_in_ms);
  e.fin_seen = fin_seen_of(r.flags);
  ha_.told[id] = now + r.expires_in_ms;
  auto& active = v.backends[bi].stats->flows_active;
  active.store(active.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  ++v.sched_in[bi].other;  // as new_flow counts it, then moved to its state
  count_state(e, TcpState::none, r.state);
  e.state = r.state;
  stats_.flows_active.store(flows_.size(), std::memory_order_relaxed);
  ++c.records_applied;
}

}  // namespace lb
