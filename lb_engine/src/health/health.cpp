// Health checks, run by the engine itself on its data ports: the probes are frames it
// builds and sends like data, and the answers are frames addressed to one of its own
// port addresses. So a DSR check is sent the way data is sent (as Katran does): to the
// VIP with the server's MAC (dsr-l2), to the RIP marked with the VIP's DSCP code
// (dsr-l3-dscp), or inside IPIP to the RIP (dsr-l3-tunnel). The server answers from the
// VIP only if it really serves the VIP. Inline and proxy probe the RIP directly.
//
// One probe in flight per backend of each VIP. ICMP: an echo request, up on the echo
// reply. TCP: a SYN, up on the SYN-ACK (then a RST ends it), failed on a RST. HTTP: the
// handshake, then one "GET path HTTP/1.0" segment; the answer is read in order (at most
// 2 KiB), and judged on its status line and the optional body substring once the headers
// and the substring, the FIN, or 2 KiB arrived; a RST ends it. No answer within the
// timeout fails the probe. HAProxy's rise and fall turn results into state changes.
#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "lb/engine.hpp"
#include "lb/hash.hpp"
#include "lb/log.hpp"
#include "lb/packet/checksum.hpp"

namespace lb {

using namespace pkt;

namespace {
constexpr uint16_t kProbePortBase = Engine::kProbeIdBase;  // our TCP source ports and ICMP echo ids
constexpr size_t kHttpKeep = 2048;
constexpr uint8_t kPhaseSyn = 0, kPhaseRequest = 1;

uint32_t now_us32() {
  using namespace std::chrono;
  return static_cast<uint32_t>(duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count());
}
}  // namespace

void Engine::init_health(size_t vi, size_t bi, uint64_t now) {
  Backend& b = vips_[vi].backends[bi];
  HealthState& h = b.health;
  const uint16_t id = h.id;  // a backend added back keeps its probe id
  h = HealthState{};
  h.changed_ms = now;
  vips_[vi].sched_in[bi].up = true;  // backends start up (HAProxy)
  if (b.cfg.health.type == CheckType::none) return;
  if (id) {
    h.id = id;
    h.next_ms = now;
    h.rx.reserve(kHttpKeep);
    return;
  }
  // A probe id (TCP source port, ICMP echo id) of its own; the first probe staggered.
  if (probe_owner_.size() >= 65535u - kProbePortBase) {
    log_warn("health: no probe id left for " + b.cfg.address.str() + ": not checked");
    return;
  }
  h.id = static_cast<uint16_t>(kProbePortBase + probe_owner_.size());
  probe_owner_.emplace_back(static_cast<uint16_t>(vi), static_cast<uint16_t>(bi));
  h.next_ms = now + (probe_owner_.size() * 97) % std::max<uint32_t>(1, b.cfg.health.interval_ms / 2);
  h.rx.reserve(kHttpKeep);
}

uint64_t Engine::next_health_due() const {
  uint64_t due = UINT64_MAX;
  for (size_t vi = 0; vi < vips_.size(); ++vi)
    for (size_t bi = 0; bi < vips_[vi].backends.size(); ++bi) {
      const Backend& b = vips_[vi].backends[bi];
      const HealthState& h = b.health;
      if (b.cfg.health.type == CheckType::none || h.id == 0 || vips_[vi].sched_in[bi].removed) continue;
      due = std::min(due, h.in_flight ? h.started_ms + b.cfg.health.timeout_ms : h.next_ms);
    }
  return due;
}

void Engine::health_tick(uint64_t now) {
  for (size_t vi = 0; vi < vips_.size(); ++vi)
    for (size_t bi = 0; bi < vips_[vi].backends.size(); ++bi) {
      Backend& b = vips_[vi].backends[bi];
      HealthState& h = b.health;
      const HealthConfig& c = b.cfg.health;
      if (c.type == CheckType::none || h.id == 0 || vips_[vi].sched_in[bi].removed) continue;
      if (h.in_flight && now >= h.started_ms + c.timeout_ms) {
        if (h.phase == kPhaseRequest) send_probe(vi, bi, TcpHdr::kRst, now);
        probe_result(vi, bi, false, "timeout after " + std::to_string(c.timeout_ms) + " ms", now);
      }
      if (!h.in_flight && now >= h.next_ms) {
        h.next_ms = now + c.interval_ms;
        h.in_flight = true;
        h.started_ms = now;
        h.started_us = now_us32();
        h.phase = kPhaseSyn;
        h.rx.clear();
        h.isn = mix32(static_cast<uint32_t>(now) ^ (uint32_t{h.id} << 16) ^ h.isn);
        ++h.seq;
        send_probe(vi, bi, c.type == CheckType::icmp ? 0 : TcpHdr::kSyn, now);
      }
    }
}

// Builds and sends the probe's next segment (tcp_flags; 0 = an ICMP echo request) the
// way the VIP's mode sends data. The HTTP request rides on the ACK of the SYN-ACK.
void Engine::send_probe(size_t vi, size_t bi, uint8_t tcp_flags, uint64_t now) {
  Vip& v = vips_[vi];
  Backend& b = v.backends[bi];
  HealthState& h = b.health;
  const HealthConfig& c = b.cfg.health;
  const uint32_t rip = b.cfg.address.v4_net();
  size_t port;
  uint32_t hop;
  if (!lookup_route(rip, port, hop)) return stats_.drop(Drop::no_route);
  const Mode mode = v.cfg.mode;
  const bool to_vip = mode == Mode::dsr_l2 || mode == Mode::dsr_l3_tunnel;
  h.src = ports_[port].cfg.address.addr.v4_net();
  h.dst = to_vip ? v.cfg.address.v4_net() : rip;
  // A DSR server answers from the VIP, whatever address the probe carried to it.
  h.reply_src = mode == Mode::inline_nat || mode == Mode::proxy ? rip : v.cfg.address.v4_net();
  const uint16_t dport = c.port ? c.port : b.cfg.port;

  std::string request;
  if (tcp_flags == (TcpHdr::kAck | TcpHdr::kPsh) && c.type == CheckType::http)
    request = "GET " + c.path + " HTTP/1.0\r\nHost: " + (to_vip ? v.cfg.address.str() : b.cfg.address.str()) +
              "\r\nUser-Agent: lbd-health\r\nConnection: close\r\n\r\n";
  const bool icmp = tcp_flags == 0;
  const size_t l4 = icmp ? sizeof(IcmpHdr) + 8 : sizeof(TcpHdr) + request.size();
  uint8_t* buf = txbuf_.data() + kTxHeadroom;
  const size_t len = sizeof(VnetHdr) + sizeof(EthHdr) + sizeof(Ipv4Hdr) + l4;
  std::memset(buf, 0, len);
  Parsed p;
  p.vnet = reinterpret_cast<VnetHdr*>(buf);
  p.frame = buf + sizeof(VnetHdr);
  p.len = len - sizeof(VnetHdr);
  p.eth = reinterpret_cast<EthHdr*>(p.frame);
  p.eth->type = htons(EthHdr::kIpv4);
  p.ip = reinterpret_cast<Ipv4Hdr*>(p.eth + 1);
  p.l4_off = sizeof(EthHdr) + sizeof(Ipv4Hdr);
  p.l4_len = l4;
  Ipv4Hdr* ip = p.ip;
  ip->ver_ihl = 0x45;
  ip->tos = mode == Mode::dsr_l3_dscp ? static_cast<uint8_t>(v.cfg.dscp << 2) : 0;
  ip->tot_len = htons(static_cast<uint16_t>(sizeof(Ipv4Hdr) + l4));
  ip->id = htons(++probe_ip_id_);
  ip->frag_off = htons(0x4000);  // DF
  ip->ttl = 64;
  ip->protocol = icmp ? Ipv4Hdr::kIcmp : Ipv4Hdr::kTcp;
  ip->saddr = h.src;
  ip->daddr = h.dst;
  ip->check = ipv4_header_checksum(ip, sizeof(Ipv4Hdr));
  uint8_t* l4p = p.frame + p.l4_off;
  if (icmp) {
    auto* e = reinterpret_cast<IcmpHdr*>(l4p);
    e->type = IcmpHdr::kEchoRequest;
    e->id = htons(h.id);
    e->seq = htons(h.seq);
    std::memcpy(e + 1, "lbd-hlth", 8);
    e->check = csum_finish(csum_add_bytes(0, e, l4));
    p.icmp = e;
  } else {
    auto* t = reinterpret_cast<TcpHdr*>(l4p);
    t->source = htons(h.id);
    t->dest = htons(dport);
    t->seq = htonl(tcp_flags == TcpHdr::kSyn ? h.isn : h.snd_next);
    t->ack_seq = htonl(tcp_flags & TcpHdr::kAck ? h.rcv_next : 0);
    t->doff_res = 5 << 4;
    t->flags = tcp_flags;
    t->window = htons(65535);
    std::memcpy(t + 1, request.data(), request.size());
    t->check = l4_checksum_v4(ip->saddr, ip->daddr, Ipv4Hdr::kTcp, l4p, l4, offsetof(TcpHdr, check));
    p.tcp = t;
    if (tcp_flags == TcpHdr::kSyn) h.snd_next = h.isn + 1;
    else h.snd_next += static_cast<uint32_t>(request.size());
  }
  bump(stats_.health_probes_sent);
  switch (mode) {
    case Mode::inline_nat:
    case Mode::proxy:
    case Mode::dsr_l3_dscp:
      return route_and_send(p, rip, now);
    case Mode::dsr_l2: {  // the VIP, to the server's MAC, as data is switched
      const Neighbor* n = neighbor(rip);
      if (!n || !n->valid) {
        send_arp_request(port, rip, now);
        return stats_.drop(Drop::neigh_unresolved);
      }
      return send_to_mac(port, buf, len, n->mac);
    }
    case Mode::dsr_l3_tunnel:
      cur_headroom_ = kTxHeadroom;
      cur_cap_ = txbuf_.size() - kTxHeadroom;
      return encapsulate_ipip(p, rip, now);
  }
}

// A frame to one of our addresses: an answer to a probe? Consumes it when it is.
bool Engine::health_reply(Parsed& p, uint64_t now) {
  uint16_t id = 0;
  if (p.tcp) id = ntohs(p.tcp->dest);
  else if (p.icmp && p.icmp->type == IcmpHdr::kEchoReply) id = ntohs(p.icmp->id);
  else return false;
  if (id < kProbePortBase || static_cast<size_t>(id - kProbePortBase) >= probe_owner_.size()) return false;
  const auto [vi, bi] = probe_owner_[id - kProbePortBase];
  Backend& b = vips_[vi].backends[bi];
  HealthState& h = b.health;
  const HealthConfig& c = b.cfg.health;
  bump(stats_.health_replies);
  // A segment of an earlier probe's connection (a late SYN-ACK, a retransmission) gets a
  // RST, so the server does not keep it half open and answer the next SYN with an ACK.
  auto stray = [&] {
    const TcpHdr* t = p.tcp;
    if (!t || (t->flags & TcpHdr::kRst) || !(t->flags & TcpHdr::kAck) || p.ip->saddr != h.reply_src) return true;
    const uint32_t keep = h.snd_next;
    h.snd_next = ntohl(t->ack_seq);
    send_probe(vi, bi, TcpHdr::kRst, now);
    h.snd_next = keep;
    return true;
  };
  // Only the answer to the probe in flight, from where it was sent.
  if (!h.in_flight || p.ip->saddr != h.reply_src || p.ip->daddr != h.src) return stray();
  if (p.icmp) {
    if (c.type == CheckType::icmp && ntohs(p.icmp->seq) == h.seq) probe_result(vi, bi, true, "echo reply", now);
    return true;
  }
  const TcpHdr* t = p.tcp;
  if (ntohs(t->source) != (c.port ? c.port : b.cfg.port)) return true;
  const uint8_t f = t->flags;
  if (f & TcpHdr::kRst) {
    probe_result(vi, bi, false, h.phase == kPhaseSyn ? "connection refused (RST)" : "reset by the server", now);
    return true;
  }
  if (h.phase == kPhaseSyn) {
    if ((f & (TcpHdr::kSyn | TcpHdr::kAck)) != (TcpHdr::kSyn | TcpHdr::kAck) || ntohl(t->ack_seq) != h.isn + 1)
      return stray();
    h.rcv_next = ntohl(t->seq) + 1;
    if (c.type == CheckType::tcp) {
      send_probe(vi, bi, TcpHdr::kRst, now);  // connected is all a TCP check asks
      probe_result(vi, bi, true, "connected", now);
      return true;
    }
    h.phase = kPhaseRequest;
    send_probe(vi, bi, TcpHdr::kAck | TcpHdr::kPsh, now);
    return true;
  }
  // HTTP: take in-order data, ACK it, judge when there is enough.
  const size_t hl = t->header_len();
  const size_t data = p.l4_len > hl ? p.l4_len - hl : 0;
  bool fin = false;
  if (ntohl(t->seq) == h.rcv_next) {
    const uint8_t* d = reinterpret_cast<const uint8_t*>(t) + hl;
    h.rx.append(reinterpret_cast<const char*>(d), std::min(data, kHttpKeep - h.rx.size()));
    h.rcv_next += static_cast<uint32_t>(data);
    if (f & TcpHdr::kFin) {
      h.rcv_next += 1;
      fin = true;
    }
  }
  if (!data && !fin) return true;
  const size_t head_end = h.rx.find("\r\n\r\n");
  const bool body_ok = c.body.empty() || (head_end != std::string::npos && h.rx.find(c.body, head_end) != std::string::npos);
  const bool complete = fin || h.rx.size() >= kHttpKeep || (head_end != std::string::npos && body_ok);
  if (!complete) {
    send_probe(vi, bi, TcpHdr::kAck, now);
    return true;
  }
  send_probe(vi, bi, TcpHdr::kRst | TcpHdr::kAck, now);
  // "HTTP/1.x NNN ..."
  int status = 0;
  if (h.rx.size() >= 12 && h.rx.compare(0, 5, "HTTP/") == 0 && h.rx[8] == ' ')
    status = std::atoi(h.rx.substr(9, 3).c_str());
  if (status == 0) probe_result(vi, bi, false, "not an HTTP answer", now);
  else if (status != c.status) probe_result(vi, bi, false, "status " + std::to_string(status), now);
  else if (!body_ok) probe_result(vi, bi, false, "status " + std::to_string(status) + " without '" + c.body + "'", now);
  else probe_result(vi, bi, true, "status " + std::to_string(status), now);
  return true;
}

// One probe's result: HAProxy's rise and fall, logged state changes, the scheduler told.
void Engine::probe_result(size_t vi, size_t bi, bool ok, const std::string& what, uint64_t now) {
  Vip& v = vips_[vi];
  Backend& b = v.backends[bi];
  HealthState& h = b.health;
  const HealthConfig& c = b.cfg.health;
  h.in_flight = false;
  ++h.checks;
  h.last_result = what;
  if (ok) {
    const uint32_t us = now_us32() - h.started_us;
    h.last_probe_us = us;
    b.rtt.add_connect_us(us);  // the probe's round trip feeds rtt scheduling in every mode
    v.sched_in[bi].rtt_ms = b.rtt.score_ms();
    h.fail_run = 0;
    ++h.ok_run;
  } else {
    ++h.failures;
    h.ok_run = 0;
    ++h.fail_run;
  }
  const bool was_up = v.sched_in[bi].up;
  const bool up = was_up ? h.fail_run < c.fall : h.ok_run >= c.rise;
  if (up == was_up) return;
  v.sched_in[bi].up = up;
  h.changed_ms = now;
  ++h.transitions;
  h.change_reason = (up ? std::to_string(c.rise) + " " + to_string(c.type) + " check(s) passed: "
                        : std::to_string(c.fall) + " " + to_string(c.type) + " check(s) failed: ") + what;
  v.sched.update(v.sched_in);
  bump(up ? stats_.health_up : stats_.health_down);
  log_info("health: " + v.cfg.name + " " + b.cfg.address.str() + ":" + std::to_string(b.cfg.port) + " is " +
         (up ? "UP" : "DOWN") + " (" + h.change_reason + ")");
}

}  // namespace lb
