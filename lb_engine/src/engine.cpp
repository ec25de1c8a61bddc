#include "lb/engine.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>

#include "lb/hash.hpp"
#include "lb/log.hpp"
#include "lb/packet/checksum.hpp"

namespace lb {

using namespace pkt;

namespace {
constexpr size_t kHeadroom = 64;           // room to prepend an encapsulation header in place
constexpr size_t kBufSize = kHeadroom + sizeof(VnetHdr) + sizeof(EthHdr) + 65535 + 64;
constexpr uint64_t kArpRetryMs = 1000;      // at most one ARP request per neighbour per second
// ... except the first few for a neighbour never resolved: a port just opened may not
// forward yet (a bridge takes its TAP's carrier up a moment later), and the first request
// lost would cost a second (an HA peer's table, a server's first packets).
constexpr uint64_t kArpFastRetryMs = 100;
constexpr uint8_t kArpFastTries = 3;
constexpr uint64_t kArpRefreshMs = 60000;   // re-ARP a neighbour not heard from in this long
constexpr size_t kMaxNeighbors = 1024;      // an ARP flood must not grow the table without bound
}  // namespace

const char* to_string(Drop d) {
  static const char* names[] = {
      "frame_too_short", "not_our_mac", "unknown_ethertype", "arp_malformed", "arp_not_for_us",
      "ip_malformed",    "ip_bad_checksum", "ip_fragment", "ttl_exceeded", "l4_malformed",
      "no_service",      "not_for_vip",   "no_flow",      "no_backend",   "flow_table_full",
      "flow_conflict",   "proxy_ports_exhausted", "icmp_unhandled", "no_route", "neigh_unresolved",
      "tunnel_too_big",  "tunnel_gso",    "backend_down", "vrrp_backup",  "tx_error"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(Drop::count_));
  return names[static_cast<size_t>(d)];
}

namespace {

uint32_t hash_flow(const FlowKey& k) {
  return mix32(k.saddr ^ mix32(k.daddr ^ mix32((uint32_t{k.sport} << 16 | k.dport) ^ (uint32_t{k.proto} << 24))));
}

uint32_t now_us() {
  using namespace std::chrono;
  return static_cast<uint32_t>(duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count());
}

SchedBackend sched_backend(const BackendConfig& b) {
  SchedBackend s;
  s.key = mix32(b.address.v4_net() ^ mix32(b.port));
  s.weight = b.weight;
  s.group = b.group;
  return s;
}

size_t l4_payload(const Parsed& p) {
  if (p.udp) return p.l4_len > sizeof(UdpHdr) ? p.l4_len - sizeof(UdpHdr) : 0;
  if (!p.tcp) return 0;
  const size_t hl = p.tcp->header_len();
  return p.l4_len > hl ? p.l4_len - hl : 0;
}

enum : uint8_t { kSynMarked = 1, kSynAcked = 2, kRequestMarked = 4, kResponseSeen = 8 };

}  // namespace

uint64_t Engine::now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

Engine::Engine(const Config& cfg, PacketIo& io)
    : cfg_(cfg), io_(io), ports_(cfg.ports.size()), flows_(cfg.max_flows), rxbuf_(kBufSize), txbuf_(kBufSize) {
  if (io_.port_count() != cfg_.ports.size()) throw std::runtime_error("engine: I/O has a different number of ports than the config");
  for (size_t i = 0; i < cfg_.ports.size(); ++i) {
    ports_[i].cfg = cfg_.ports[i];
    Prefix net = cfg_.ports[i].address;
    routes_.push_back(Route{net, 0, i});
  }
  for (auto& r : cfg_.routes) {
    for (size_t i = 0; i < ports_.size(); ++i)
      if (ports_[i].cfg.address.contains(r.via)) {
        routes_.push_back(Route{r.destination, r.via.v4_net(), i});
        break;
      }
  }
  // Longest prefix first, so the first match wins.
  std::stable_sort(routes_.begin(), routes_.end(), [](const Route& a, const Route& b) { return a.dst.len > b.dst.len; });
  for (auto& vc : cfg_.vips) {
    Vip v;
    v.cfg = vc;
    v.pip = vc.mode == Mode::proxy ? vc.proxy_ip.v4_net() : 0;
    v.backends.reserve(kMaxBackendsPerVip);  // runtime `add` never moves a Backend
    v.sched_in.reserve(kMaxBackendsPerVip);
    for (auto& bc : vc.backends) {
      Backend b;
      b.cfg = bc;
      v.backends.push_back(std::move(b));
      v.sched_in.push_back(sched_backend(bc));
    }
    v.sched = Scheduler(SchedOptions{vc.algorithm, vc.min_active, vc.maglev_table_size});
    v.sched.update(v.sched_in);
    if (vc.persistence_timeout) {
      v.persist = std::make_unique<PersistTable>(std::max<uint32_t>(1024, cfg_.max_flows / 4), vc.persistence_timeout * 1000);
      const uint8_t len = vc.persistence_netmask;
      v.persist_mask = htonl(len == 0 ? 0u : ~0u << (32 - len));
    }
    vips_.push_back(std::move(v));
  }
  for (const auto& v : vips_) {
    vip_addrs_.push_back(v.cfg.address.v4_net());
    if (v.pip) vip_addrs_.push_back(v.pip);
  }
  for (const auto& p : ports_) own_addrs_.push_back(p.cfg.address.addr.v4_net());
  const uint64_t now = now_ms();
  for (size_t vi = 0; vi < vips_.size(); ++vi)
    for (size_t bi = 0; bi < vips_[vi].backends.size(); ++bi) init_health(vi, bi, now);
  auto& t = cfg_.timeouts;
  timeouts_ = FlowTimeouts{t.tcp_syn * 1000ull, t.tcp_established * 1000ull, t.tcp_fin * 1000ull,
                           t.tcp_close * 1000ull, t.udp * 1000ull};
  neighbors_.reserve(kMaxNeighbors);  // never reallocates on the data path
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  init_ha(now);
}

Engine::~Engine() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

// ---------------------------------------------------------------- classification

static bool picks_up_midstream(const VipConfig& v) {
  return (v.mode == Mode::dsr_l2 || v.mode == Mode::dsr_l3_dscp || v.mode == Mode::dsr_l3_tunnel) &&
         (v.algorithm == Algorithm::maglev || v.algorithm == Algorithm::sh);
}

bool Engine::is_vip_address(uint32_t addr) const {
  for (uint32_t a : vip_addrs_)
    if (a == addr) return true;
  return false;
}

bool Engine::is_own_address(uint32_t addr) const {
  for (uint32_t a : own_addrs_)
    if (a == addr) return true;
  return false;
}

int Engine::find_vip(uint32_t addr, uint8_t proto, uint16_t port_net) const {
  const uint16_t port = ntohs(port_net);
  for (size_t i = 0; i < vips_.size(); ++i) {
    auto& c = vips_[i].cfg;
    if (c.address.v4_net() == addr && c.port == port && static_cast<uint8_t>(c.protocol) == proto)
      return static_cast<int>(i);
  }
  return -1;
}

void Engine::handle_frame(size_t port, uint8_t* buf, size_t len, size_t cap, uint64_t now, size_t headroom) {
  Port& pt = ports_[port];
  bump(pt.stats.rx_packets);
  bump(pt.stats.rx_bytes, len > sizeof(VnetHdr) ? len - sizeof(VnetHdr) : 0);
  Parsed p;
  p.vnet = view<VnetHdr>(buf, len, 0);
  p.frame = buf + sizeof(VnetHdr);
  p.len = len >= sizeof(VnetHdr) ? len - sizeof(VnetHdr) : 0;
  p.eth = view<EthHdr>(p.frame, p.len, 0);
  if (!p.vnet || !p.eth) return stats_.drop(Drop::frame_too_short);
  cur_headroom_ = headroom;
  cur_cap_ = cap;
  bool to_us = std::memcmp(p.eth->dst, pt.cfg.mac.b.data(), 6) == 0;
  const bool bcast = (p.eth->dst[0] & 1) != 0;
  if (ha_.vrrp && !to_us && port == ha_.port) {
    if (bcast && ha_vrrp_frame(port, p, now)) return;  // a VRRP advertisement: the one multicast we take
    if (ha_.virtual_mac && std::memcmp(p.eth->dst, ha_.vmac.b.data(), 6) == 0) {
      if (ha_.standby) return stats_.drop(Drop::vrrp_backup);
      to_us = true;
    }
  }
  if (!to_us && !bcast) return stats_.drop(Drop::not_our_mac);
  switch (p.eth->type_h()) {
    case EthHdr::kArp:
      return handle_arp(port, p.frame, p.len, now);
    case EthHdr::kIpv4: {
      if (!to_us) return stats_.drop(Drop::not_our_mac);  // IPv4 multicast/broadcast: not ours to serve
      Drop why{};
      if (!parse_ipv4(p, why)) return stats_.drop(why);
      return handle_ipv4(port, p, now);
    }
    default:
      return stats_.drop(Drop::unknown_ethertype);
  }
}

// ---------------------------------------------------------------- ARP and neighbours

Engine::Neighbor* Engine::neighbor(uint32_t ip) {
  for (auto& n : neighbors_)
    if (n.ip == ip) return &n;
  return nullptr;
}

void Engine::learn(size_t port, uint32_t ip, const uint8_t* mac, uint64_t now) {
  if (ip == 0 || !ports_[port].cfg.address.contains(IpAddr::v4(ip))) return;
  Neighbor* n = neighbor(ip);
  if (!n) {
    if (neighbors_.size() >= kMaxNeighbors) return;
    neighbors_.push_back(Neighbor{ip, {}, false, 0, 0, port});
    n = &neighbors_.back();
  }
  std::memcpy(n->mac.b.data(), mac, 6);
  n->valid = true;
  n->confirmed_ms = now;
  n->port = port;
  n->unanswered = 0;
}

void Engine::handle_arp(size_t port, uint8_t* frame, size_t len, uint64_t now) {
  auto* arp = view<ArpHdr>(frame, len, sizeof(EthHdr));
  if (!arp || ntohs(arp->htype) != 1 || ntohs(arp->ptype) != EthHdr::kIpv4 || arp->hlen != 6 || arp->plen != 4)
    return stats_.drop(Drop::arp_malformed);
  const uint32_t spa = arp->spa, tpa = arp->tpa;
  learn(port, spa, arp->sha, now);
  if (ntohs(arp->op) != ArpHdr::kRequest) return;  // a reply: learned above, nothing to send
  const Port& pt = ports_[port];
  const bool own = pt.cfg.address.addr.v4_net() == tpa;
  // A [vrrp] address (the inline servers' gateway) is answered like a VIP: by the master.
  const bool vip = !own && ((is_vip_address(tpa) && pt.cfg.address.contains(IpAddr::v4(tpa))) ||
                            (ha_.vrrp && is_ha_address(port, tpa)));
  if (!own && !vip) return stats_.drop(Drop::arp_not_for_us);
  if (ha_.vrrp) {
    if (spa == tpa) return;  // a gratuitous ARP (the peer taking over): an announcement, not a question
    if (vip && ha_.standby) return stats_.drop(Drop::vrrp_backup);  // the master answers for the VIPs
  }
  const MacAddr& mac = vip ? vip_mac(port) : pt.cfg.mac;
  // Answer in place: the request becomes the reply.
  auto* eth = reinterpret_cast<EthHdr*>(frame);
  std::memcpy(eth->dst, arp->sha, 6);
  std::memcpy(eth->src, mac.b.data(), 6);
  arp->op = htons(ArpHdr::kReply);
  std::memcpy(arp->tha, arp->sha, 6);
  arp->tpa = spa;
  std::memcpy(arp->sha, mac.b.data(), 6);
  arp->spa = tpa;
  auto* vnet = reinterpret_cast<VnetHdr*>(frame - sizeof(VnetHdr));
  *vnet = VnetHdr{};
  bump(stats_.arp_replies);
  transmit(port, reinterpret_cast<uint8_t*>(vnet), sizeof(VnetHdr) + sizeof(EthHdr) + sizeof(ArpHdr));
}

void Engine::send_arp_request(size_t port, uint32_t target, uint64_t now) {
  Neighbor* n = neighbor(target);
  if (!n) {
    if (neighbors_.size() >= kMaxNeighbors) return;
    neighbors_.push_back(Neighbor{target, {}, false, 0, 0, port});
    n = &neighbors_.back();
  }
  const uint64_t wait = !n->valid && n->unanswered < kArpFastTries ? kArpFastRetryMs : kArpRetryMs;
  if (n->requested_ms && now - n->requested_ms < wait) return;
  n->requested_ms = now;
  if (n->unanswered < 255) ++n->unanswered;
  const Port& pt = ports_[port];
  uint8_t* buf = txbuf_.data();
  std::memset(buf, 0, sizeof(VnetHdr) + sizeof(EthHdr) + sizeof(ArpHdr));
  auto* eth = reinterpret_cast<EthHdr*>(buf + sizeof(VnetHdr));
  std::memset(eth->dst, 0xff, 6);
  std::memcpy(eth->src, pt.cfg.mac.b.data(), 6);
  eth->type = htons(EthHdr::kArp);
  auto* arp = reinterpret_cast<ArpHdr*>(eth + 1);
  arp->htype = htons(1);
  arp->ptype = htons(EthHdr::kIpv4);
  arp->hlen = 6;
  arp->plen = 4;
  arp->op = htons(ArpHdr::kRequest);
  std::memcpy(arp->sha, pt.cfg.mac.b.data(), 6);
  arp->spa = pt.cfg.address.addr.v4_net();
  arp->tpa = target;
  bump(stats_.arp_requests_sent);
  transmit(port, buf, sizeof(VnetHdr) + sizeof(EthHdr) + sizeof(ArpHdr));
}

bool Engine::lookup_route(uint32_t dst, size_t& port, uint32_t& next_hop) const {
  for (auto& r : routes_) {
    if ((dst & r.mask) == r.net) {
      port = r.port;
      next_hop = r.via ? r.via : dst;
      return true;
    }
  }
  return false;
}

void Engine::route_and_send(Parsed& p, uint32_t dst, uint64_t now) {
  p.vnet->flags &= static_cast<uint8_t>(~VnetHdr::kDataValid);
  send_frame(reinterpret_cast<uint8_t*>(p.vnet), sizeof(VnetHdr) + p.len, dst, now);
}

void Engine::send_frame(uint8_t* buf, size_t len, uint32_t dst, uint64_t now) {
  // Routes are fixed and neighbour entries are never removed (a MAC may change in place),
  // so a destination's port and neighbour entry, once both known, stay right.
  HopCache& c = hop_cache_[(dst * 0x9e3779b1u) >> (32 - kHopCacheBits)];
  if (c.n && c.dst == dst) return send_to_mac(c.port, buf, len, c.n->mac);
  size_t port;
  uint32_t hop;
  if (!lookup_route(dst, port, hop)) return stats_.drop(Drop::no_route);
  const Neighbor* n = neighbor(hop);
  if (!n || !n->valid) {
    send_arp_request(port, hop, now);
    return stats_.drop(Drop::neigh_unresolved);
  }
  c = HopCache{dst, port, n};
  send_to_mac(port, buf, len, n->mac);
}

void Engine::send_to_mac(size_t port, uint8_t* buf, size_t len, const MacAddr& mac) {
  auto* eth = reinterpret_cast<EthHdr*>(buf + sizeof(VnetHdr));
  std::memcpy(eth->dst, mac.b.data(), 6);
  std::memcpy(eth->src, ports_[port].cfg.mac.b.data(), 6);
  transmit(port, buf, len);
}

void Engine::transmit(size_t port, const uint8_t* buf, size_t len) {
  if (!io_.send(port, buf, len)) return stats_.drop(Drop::tx_error);
  bump(ports_[port].stats.tx_packets);
  bump(ports_[port].stats.tx_bytes, len - sizeof(VnetHdr));
}

// ---------------------------------------------------------------- IPv4

namespace {
// Whether the LB is a router hop for this mode's packets (and so decrements TTL):
// dsr-l2 switches frames, and dsr-l3-tunnel carries the packet untouched inside another.
bool routes_packets(Mode m) { return m != Mode::dsr_l2 && m != Mode::dsr_l3_tunnel; }
inline uint16_t ld16(const void* f) { uint16_t v; std::memcpy(&v, f, 2); return v; }
inline void st16(void* f, uint16_t v) { std::memcpy(f, &v, 2); }
constexpr uint16_t kDontFragment = 0x4000;
constexpr uint8_t kProtoIpip = 4;
}  // namespace

void Engine::answer_icmp_echo(size_t port, Parsed& p, uint64_t now) {
  IcmpHdr* icmp = p.icmp;
  const uint16_t old_word = ld16(&icmp->type);
  icmp->type = IcmpHdr::kEchoReply;
  icmp->check = csum_replace16(icmp->check, old_word, ld16(&icmp->type));
  const uint32_t src = p.ip->saddr;  // a swap leaves the header sum unchanged
  p.ip->saddr = p.ip->daddr;
  p.ip->daddr = src;
  const uint16_t old_ttl = ld16(&p.ip->ttl);
  p.ip->ttl = 64;
  p.ip->check = csum_replace16(p.ip->check, old_ttl, ld16(&p.ip->ttl));
  *p.vnet = VnetHdr{};
  bump(stats_.icmp_echo_replies);
  route_and_send(p, p.ip->daddr, now);
}

void Engine::handle_ipv4(size_t port, Parsed& p, uint64_t now) {
  Ipv4Hdr* ip = p.ip;
  const uint32_t daddr = ip->daddr;
  // The flow first: a TCP or UDP packet of a flow we hold, not to one of our own addresses
  // (where health answers and sync arrive), on an engine that serves, is forwarded without
  // the classification below, which is for everything else. A SYN on a flow's ports goes
  // the long way (it may start a new flow); so does an expired flow.
  const bool l4 = (p.tcp || p.udp) && !ip->is_fragment();
  FlowKey key{};
  FlowTable::Hit hit;
  const uint8_t flags = p.tcp ? p.tcp->flags : 0;
  if (l4) {
    key = FlowKey{ip->saddr, daddr, p.tcp ? p.tcp->source : p.udp->source, p.tcp ? p.tcp->dest : p.udp->dest,
                  ip->protocol};
    hit = flows_.lookup(key, now);
    if (hit && !ha_.standby && !(hit.dir == Dir::original && p.tcp && (flags & (TcpHdr::kSyn | TcpHdr::kAck)) == TcpHdr::kSyn) &&
        !is_own_address(daddr))
      return forward(p, hit, flags, now);
  }
  const bool for_vip = is_vip_address(daddr);
  const bool own = is_own_address(daddr);  // a port's address (which may also be a PIP)
  // A [vrrp] address is ours while we are master: pinging the gateway answers.
  const bool for_us = !for_vip && (own || (!ha_.extra.empty() && !ha_.standby && is_ha_address(port, daddr)));
  // Probe answers come to a port's own address, which may also be a PIP.
  if (own && !ip->is_fragment() && (p.tcp || p.icmp) && health_reply(p, now)) return;
  if (ha_.sync && p.udp && daddr == ha_.sync_addr && ntohs(p.udp->dest) == ha_.udp_port && !ip->is_fragment())
    return sync_receive(p, now);
  // A VRRP backup serves nothing but its own addresses (health answers, sync, ICMP echo).
  if (ha_.standby && !for_us) return stats_.drop(Drop::vrrp_backup);

  if (p.icmp && (for_vip || for_us) && !ip->is_fragment()) {
    if (p.icmp->type == IcmpHdr::kEchoRequest) return answer_icmp_echo(port, p, now);
    if (p.icmp->type == IcmpHdr::kDestUnreach || p.icmp->type == IcmpHdr::kTimeExceeded)
      return translate_icmp_error(p, now);
    return stats_.drop(Drop::icmp_unhandled);
  }
  if (p.icmp && (p.icmp->type == IcmpHdr::kDestUnreach || p.icmp->type == IcmpHdr::kTimeExceeded) &&
      !ip->is_fragment())
    return translate_icmp_error(p, now);  // a server's error about a flow, addressed to the client
  if (ip->is_fragment()) return stats_.drop(Drop::ip_fragment);
  if (!p.tcp && !p.udp) {
    if (for_vip || for_us) return stats_.drop(p.icmp ? Drop::icmp_unhandled : Drop::no_service);
    return stats_.drop(Drop::not_for_vip);
  }

  // (l4 holds here: the key and the lookup above stand.)
  if (hit.expired) {  // a packet reached it before the sweep did: still an expiry
    release_flow(hit.id, now);
    bump(stats_.flows_expired);
    hit = {};
  }
  // A client reusing the ports of a flow that is closing starts a new flow; so does a SYN
  // (a retransmission, or a reused port) of a flow whose backend is down or removed: it
  // could never be answered there, so it is scheduled again.
  if (hit && hit.dir == Dir::original && p.tcp && (flags & (TcpHdr::kSyn | TcpHdr::kAck)) == TcpHdr::kSyn) {
    const FlowEntry& e = flows_.at(hit.id);
    const SchedBackend& sb = vips_[e.vip].sched_in[e.backend];
    if (e.state == TcpState::closing || e.state == TcpState::closed || !sb.up || sb.removed) {
      release_flow(hit.id, now);
      hit = {};
    }
  }

  if (!hit) {
    if (for_us) return stats_.drop(Drop::no_service);
    if (!for_vip) return stats_.drop(Drop::not_for_vip);
    const int vi = find_vip(daddr, ip->protocol, key.dport);
    if (vi < 0) return stats_.drop(Drop::no_service);
    // TCP without a flow starts one only with a SYN. Except mid-stream in a DSR mode with
    // a consistent hash (maglev, sh): the backend is a function of the packet and the
    // backend set, so any engine with the same set picks the one the connection lives on
    // (a peer that took over without sync, or this engine after a restart). The flow is
    // taken up as established; an RST is still not a reason to make one.
    bool pickup = false;
    if (p.tcp && (flags & (TcpHdr::kSyn | TcpHdr::kAck | TcpHdr::kRst)) != TcpHdr::kSyn) {
      if (!picks_up_midstream(vips_[vi].cfg) || (flags & (TcpHdr::kSyn | TcpHdr::kRst)) || !(flags & TcpHdr::kAck))
        return stats_.drop(Drop::no_flow);
      pickup = true;
    }
    if (routes_packets(vips_[vi].cfg.mode) && ip->ttl <= 1) return stats_.drop(Drop::ttl_exceeded);  // no flow for it
    const uint32_t id = new_flow(static_cast<size_t>(vi), key, now);
    if (id == FlowTable::kNone) {  // counted by new_flow
      const Vip& v = vips_[vi];
      bool any_up = false;
      for (const auto& sb : v.sched_in) any_up |= sb.up && !sb.removed;
      if (!any_up) {  // every backend is down: tell the client rather than let it wait
        if (v.cfg.when_all_down == AllDown::reset && p.tcp) return send_tcp_rst(p, now);
        return send_icmp_unreach(p, v.cfg.when_all_down == AllDown::reset ? 3 : 1, 0, daddr, now);
      }
      return;
    }
    hit = FlowTable::Hit{id, Dir::original, false};
    if (pickup) bump(stats_.flows_picked_up);
  }
  forward(p, hit, flags, now);
}

uint32_t Engine::new_flow(size_t vi, const FlowKey& key, uint64_t now) {
  Vip& v = vips_[vi];
  // Persistence first: a client seen within the timeout goes back to its server, while
  // that server still takes new flows.
  int bi = -1;
  const uint32_t masked = key.saddr & v.persist_mask;
  if (v.persist) {
    const int r = v.persist->lookup(masked, now);
    if (r >= 0 && static_cast<size_t>(r) < v.sched_in.size() && v.sched_in[r].takes_new_flows()) bi = r;
  }
  if (bi < 0) bi = v.sched.pick(v.sched_in, mix32(key.saddr), hash_flow(key));
  if (bi < 0) return stats_.drop(Drop::no_backend), FlowTable::kNone;  // the caller answers the client
  if (v.persist) {
    v.persist->record(masked, bi, now);
    if (ha_.sync) sync_persist(vi, masked, bi, now);
  }
  const Backend& b = v.backends[bi];
  if (flows_.size() >= flows_.capacity()) {  // full: a flow unused since the eviction hand passed makes room
    const uint32_t victim = flows_.victim();
    if (victim == FlowTable::kNone) return stats_.drop(Drop::flow_table_full), FlowTable::kNone;
    release_flow(victim, now);
    bump(stats_.flows_evicted);
  }
  uint32_t id = FlowTable::kNone;
  switch (v.cfg.mode) {
    case Mode::inline_nat: {
      // The server answers the client itself, through us (its gateway).
      const FlowKey reply{b.cfg.address.v4_net(), key.saddr, htons(b.cfg.port), key.sport, key.proto};
      id = flows_.insert(key, reply, now);
      break;
    }
    case Mode::proxy: {
      // The server answers our proxy IP, on a port no live flow to this server holds.
      FlowKey reply{b.cfg.address.v4_net(), v.pip, htons(b.cfg.port), 0, key.proto};
      if (!allocate_proxy_port(v, reply, now)) return stats_.drop(Drop::proxy_ports_exhausted), FlowTable::kNone;
      id = flows_.insert(key, reply, now);
      break;
    }
    case Mode::dsr_l2:
    case Mode::dsr_l3_dscp:
    case Mode::dsr_l3_tunnel:
      id = flows_.insert_one_way(key, now);  // replies go straight to the client
      break;
  }
  if (id == FlowTable::kNone) return stats_.drop(Drop::flow_conflict), FlowTable::kNone;
  FlowEntry& e = flows_.at(id);
  e.vip = static_cast<uint16_t>(vi);
  e.backend = static_cast<uint16_t>(bi);
  if (ha_.sync) ha_.told[id] = 0;  // announced once it has seen its first packet
  bump(stats_.flows_created);
  stats_.flows_active.store(flows_.size(), std::memory_order_relaxed);
  bump(b.stats->flows_total);
  b.stats->flows_active.store(b.stats->flows_active.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  ++v.sched_in[bi].other;  // a new flow is not established yet
  return id;
}

// The connection counts least-connections reads: established flows apart from the rest
// (SYN, FIN, closed, and UDP), as IPVS counts active and inactive connections.
void Engine::count_state(const FlowEntry& e, TcpState from, TcpState to) {
  const bool was = from == TcpState::established, is = to == TcpState::established;
  if (was == is) return;
  SchedBackend& sb = vips_[e.vip].sched_in[e.backend];
  if (is) {
    if (sb.other) --sb.other;
    ++sb.established;
  } else {
    if (sb.established) --sb.established;
    ++sb.other;
  }
}

// RTT samples. Where the LB sees both directions (inline, proxy): the handshake (the
// client's SYN passed on -> the server's SYN-ACK) and the first request -> the first
// response payload. In DSR modes: the client's SYN -> the client's ACK of the SYN-ACK
// the server sent it directly. Timestamps are taken only for those few packets.
void Engine::sample_rtt(uint32_t id, Dir dir, const Parsed& p) {
  FlowEntry& e = flows_.at(id);
  // Done, or (the request marked) waiting for the response: the client's side has
  // nothing more to mark. Most packets of a flow leave here.
  if ((e.rtt_marks & kResponseSeen) || (dir == Dir::original && (e.rtt_marks & kRequestMarked)) || (!p.tcp && !p.udp))
    return;
  Vip& v = vips_[e.vip];
  Backend& b = v.backends[e.backend];
  const uint8_t syn_ack = p.tcp ? (p.tcp->flags & (TcpHdr::kSyn | TcpHdr::kAck)) : 0;
  const size_t payload = l4_payload(p);
  bool sampled = false;
  if (dir == Dir::original) {
    if (syn_ack == TcpHdr::kSyn && !(e.rtt_marks & kSynMarked)) {
      e.rtt_mark_us = now_us();
      e.rtt_marks |= kSynMarked;
    } else if (e.one_way && syn_ack == TcpHdr::kAck && (e.rtt_marks & kSynMarked) && !(e.rtt_marks & kSynAcked)) {
      // DSR: the SYN-ACK bypasses us; the client's ACK of it closes the handshake
      // (this sample includes the client's own path, the same for every backend).
      b.rtt.add_connect_us(now_us() - e.rtt_mark_us);
      e.rtt_marks |= kSynAcked | kResponseSeen;  // no response payload ever crosses the LB
      sampled = true;
    } else if (payload && !(e.rtt_marks & kRequestMarked)) {
      e.rtt_mark_us = now_us();
      e.rtt_marks |= kRequestMarked;
    }
  } else if (syn_ack == (TcpHdr::kSyn | TcpHdr::kAck)) {
    if ((e.rtt_marks & kSynMarked) && !(e.rtt_marks & (kSynAcked | kRequestMarked))) {
      b.rtt.add_connect_us(now_us() - e.rtt_mark_us);
      e.rtt_marks |= kSynAcked;
      sampled = true;
    }
  } else if (payload && (e.rtt_marks & kRequestMarked)) {
    b.rtt.add_response_us(now_us() - e.rtt_mark_us);
    e.rtt_marks |= kResponseSeen;
    sampled = true;
  }
  if (sampled) v.sched_in[e.backend].rtt_ms = b.rtt.score_ms();
}

// Tries ports from a moving cursor, skipping any whose reply key a flow still holds (an
// expired holder is released first). Bounded: a full range is not searched per packet.
bool Engine::allocate_proxy_port(Vip& v, FlowKey& reply, uint64_t now) {
  constexpr uint16_t kFirst = 1024, kLast = kProbeIdBase - 1;  // health probes own the ports above
  constexpr int kTries = 64;
  for (int i = 0; i < kTries; ++i) {
    uint16_t port = v.next_port;
    v.next_port = v.next_port >= kLast ? kFirst : static_cast<uint16_t>(v.next_port + 1);
    if (ha_.sync && v.pip == ha_.sync_addr && port == ha_.udp_port) continue;  // the PIP is our sync address
    reply.dport = htons(port);
    const FlowTable::Hit h = flows_.lookup(reply, now);
    if (h.id == FlowTable::kNone) return true;
    if (h.expired) {
      release_flow(h.id, now);
      bump(stats_.flows_expired);
      return true;
    }
  }
  return false;
}

void Engine::forward(Parsed& p, FlowTable::Hit hit, uint8_t tcp_flags, uint64_t now) {
  Ipv4Hdr* ip = p.ip;
  FlowEntry& e = flows_.at(hit.id);
  Vip& v = vips_[e.vip];
  Backend& b = v.backends[e.backend];
  const Mode mode = v.cfg.mode;
  if (routes_packets(mode) && ip->ttl <= 1) return stats_.drop(Drop::ttl_exceeded);
  if (v.cfg.on_backend_down == OnDown::reset && !v.sched_in[e.backend].up) {
    // Its server is down and the VIP resets such flows: the client's next packet gets a
    // RST (UDP: port unreachable) and the flow ends.
    const bool from_client = hit.dir == Dir::original;
    release_flow(hit.id, now);
    stats_.drop(Drop::backend_down);
    if (!from_client) return;
    if (p.tcp) return send_tcp_rst(p, now);
    return send_icmp_unreach(p, 3, 0, ip->daddr, now);
  }
  const TcpState before = e.state;
  flows_.touch(hit.id, hit.dir, ip->protocol, tcp_flags, now, timeouts_);
  if (e.state != before) count_state(e, before, e.state);
  if (ha_.sync) sync_touched(hit.id, before, now);
  sample_rtt(hit.id, hit.dir, p);
  if (hit.dir == Dir::original) {
    bump(b.stats->packets_to);
    bump(b.stats->bytes_to, p.len);
  } else {
    bump(b.stats->packets_from);
    bump(b.stats->bytes_from, p.len);
  }
  switch (mode) {
    case Mode::inline_nat:
    case Mode::proxy: {
      // NAT both ways from the flow's two keys: toward the server the packet becomes the
      // reply key reversed; toward the client, the original key reversed. Inline keeps the
      // client's address (reply key dst = CIP); proxy puts the PIP there.
      const FlowKey& to = hit.dir == Dir::original ? e.key[1] : e.key[0];
      rewrite_nat(p, to.daddr, to.saddr, to.dport, to.sport, true);
      return route_and_send(p, ip->daddr, now);
    }
    case Mode::dsr_l2: {
      const uint32_t rip = b.cfg.address.v4_net();
      size_t port;
      uint32_t hop;
      if (!lookup_route(rip, port, hop)) return stats_.drop(Drop::no_route);
      const Neighbor* n = neighbor(rip);
      if (!n || !n->valid) {
        send_arp_request(port, rip, now);
        return stats_.drop(Drop::neigh_unresolved);
      }
      p.vnet->flags &= static_cast<uint8_t>(~VnetHdr::kDataValid);
      return send_to_mac(port, reinterpret_cast<uint8_t*>(p.vnet), sizeof(VnetHdr) + p.len, n->mac);
    }
    case Mode::dsr_l3_dscp: {
      // The destination becomes the server's address (one RFC 1624 change to the L4
      // checksum), the DSCP the VIP's (ECN kept), the TTL one less: one update of the IP
      // checksum for all three.
      const uint32_t rip = b.cfg.address.v4_net();
      rewrite_dsr_l3(p, rip, static_cast<uint8_t>((v.cfg.dscp << 2) | (ip->tos & 0x03)));
      return route_and_send(p, rip, now);
    }
    case Mode::dsr_l3_tunnel:
      return encapsulate_ipip(p, b.cfg.address.v4_net(), now);
  }
}

// RFC 2003 IPIP. Rules: the inner packet is not touched (no TTL decrement: the LB is
// not a hop of the client's path, the server is); the outer header gets TTL 64, the
// inner TOS (DSCP and ECN, RFC 6040 normal mode) and the inner DF bit, and the source
// address of the port it leaves by. An inner packet that no longer fits the port's MTU
// with DF set is answered with ICMP fragmentation-needed (RFC 1191) so the client's
// path-MTU discovery lowers its segment size; without DF it is dropped and counted
// (outer fragmentation is not implemented).
void Engine::encapsulate_ipip(Parsed& p, uint32_t rip, uint64_t now) {
  size_t port;
  uint32_t hop;
  if (!lookup_route(rip, port, hop)) return stats_.drop(Drop::no_route);
  const size_t inner_len = p.len - sizeof(EthHdr);
  const uint16_t mtu = ports_[port].cfg.mtu;
  if (p.vnet->gso_type != VnetHdr::kGsoNone) return stats_.drop(Drop::tunnel_gso);  // TSO is off on tunnel engines
  if (inner_len + sizeof(Ipv4Hdr) > mtu) {
    if (ntohs(p.ip->frag_off) & kDontFragment) return send_frag_needed(p, static_cast<uint16_t>(mtu - sizeof(Ipv4Hdr)), now);
    return stats_.drop(Drop::tunnel_too_big);
  }
  // A partial checksum is completed here: after encapsulation the kernel's offsets would
  // point at the outer header.
  if (p.l4_csum_partial) {
    uint8_t* l4 = p.frame + p.l4_off;
    const size_t off = p.tcp ? offsetof(TcpHdr, check) : offsetof(UdpHdr, check);
    st16(l4 + off, 0);
    uint16_t c = l4_checksum_v4(p.ip->saddr, p.ip->daddr, p.ip->protocol, l4, p.l4_len, off);
    if (p.udp && c == 0) c = 0xffff;
    st16(l4 + off, c);
    p.vnet->flags &= static_cast<uint8_t>(~VnetHdr::kNeedsCsum);
  }
  uint8_t* start = reinterpret_cast<uint8_t*>(p.vnet);
  const size_t total = sizeof(VnetHdr) + p.len;
  uint8_t* out;
  if (cur_headroom_ >= sizeof(Ipv4Hdr)) {
    out = start - sizeof(Ipv4Hdr);  // move vnet+Ethernet back into the headroom
    std::memmove(out, start, sizeof(VnetHdr) + sizeof(EthHdr));
  } else {
    if (cur_cap_ < total + sizeof(Ipv4Hdr)) return stats_.drop(Drop::tunnel_too_big);
    out = start;  // no headroom: slide the inner packet forward instead
    std::memmove(start + sizeof(VnetHdr) + sizeof(EthHdr) + sizeof(Ipv4Hdr),
                 start + sizeof(VnetHdr) + sizeof(EthHdr), p.len - sizeof(EthHdr));
  }
  auto* vnet = reinterpret_cast<VnetHdr*>(out);
  *vnet = VnetHdr{};
  auto* outer = reinterpret_cast<Ipv4Hdr*>(out + sizeof(VnetHdr) + sizeof(EthHdr));
  const auto* inner = reinterpret_cast<const Ipv4Hdr*>(outer + 1);
  outer->ver_ihl = 0x45;
  outer->tos = inner->tos;
  outer->tot_len = htons(static_cast<uint16_t>(inner_len + sizeof(Ipv4Hdr)));
  outer->id = htons(ipip_id_++);
  outer->frag_off = htons(ntohs(inner->frag_off) & kDontFragment);
  outer->ttl = 64;
  outer->protocol = kProtoIpip;
  outer->saddr = ports_[port].cfg.address.addr.v4_net();
  outer->daddr = rip;
  outer->check = 0;
  outer->check = static_cast<uint16_t>(~ipv4_header_sum(outer, sizeof(Ipv4Hdr)));
  send_frame(out, total + sizeof(Ipv4Hdr), rip, now);
}

// ICMP destination unreachable, fragmentation needed (type 3 code 4), from the address
// of the port the packet came in by.
void Engine::send_frag_needed(Parsed& p, uint16_t mtu, uint64_t now) {
  size_t back_port;
  uint32_t hop;
  if (!lookup_route(p.ip->saddr, back_port, hop)) return stats_.drop(Drop::no_route);
  bump(stats_.icmp_frag_needed_sent);
  stats_.drop(Drop::tunnel_too_big);
  send_icmp_unreach(p, 4, mtu, ports_[back_port].cfg.address.addr.v4_net(), now);
}

// ICMP destination unreachable (`code`; `mtu` for code 4) from `src` to the packet's
// sender, quoting as much of the packet as fits in 576 bytes.
void Engine::send_icmp_unreach(Parsed& p, uint8_t code, uint16_t mtu, uint32_t src, uint64_t now) {
  const uint32_t to = p.ip->saddr;
  const size_t quote = std::min<size_t>(p.len - sizeof(EthHdr), 576 - sizeof(Ipv4Hdr) - sizeof(IcmpHdr));
  uint8_t* buf = txbuf_.data();
  const size_t len = sizeof(VnetHdr) + sizeof(EthHdr) + sizeof(Ipv4Hdr) + sizeof(IcmpHdr) + quote;
  std::memset(buf, 0, len - quote);
  auto* eth = reinterpret_cast<EthHdr*>(buf + sizeof(VnetHdr));
  eth->type = htons(EthHdr::kIpv4);
  auto* ip = reinterpret_cast<Ipv4Hdr*>(eth + 1);
  auto* icmp = reinterpret_cast<IcmpHdr*>(ip + 1);
  std::memmove(icmp + 1, p.ip, quote);
  ip->ver_ihl = 0x45;
  ip->tot_len = htons(static_cast<uint16_t>(sizeof(Ipv4Hdr) + sizeof(IcmpHdr) + quote));
  ip->ttl = 64;
  ip->protocol = Ipv4Hdr::kIcmp;
  ip->saddr = src;
  ip->daddr = to;
  ip->check = ipv4_header_checksum(ip, sizeof(Ipv4Hdr));
  icmp->type = IcmpHdr::kDestUnreach;
  icmp->code = code;
  icmp->seq = htons(mtu);  // RFC 1191: the next-hop MTU sits in the low 16 bits of the second word
  icmp->check = csum_finish(csum_add_bytes(0, icmp, sizeof(IcmpHdr) + quote));
  if (code != 4) bump(stats_.unreachables_sent);
  send_frame(buf, len, to, now);
}

// A RST answering a TCP segment (RFC 793 "reset generation"): from its destination to
// its source; seq = its ACK number when it has one, else it acknowledges the segment.
void Engine::send_tcp_rst(Parsed& p, uint64_t now) {
  const TcpHdr* in = p.tcp;
  const size_t hl = in->header_len();
  const uint32_t seg_len = static_cast<uint32_t>(p.l4_len > hl ? p.l4_len - hl : 0) +
                           ((in->flags & TcpHdr::kSyn) ? 1 : 0) + ((in->flags & TcpHdr::kFin) ? 1 : 0);
  uint8_t* buf = txbuf_.data();
  const size_t len = sizeof(VnetHdr) + sizeof(EthHdr) + sizeof(Ipv4Hdr) + sizeof(TcpHdr);
  const uint32_t saddr = p.ip->daddr, daddr = p.ip->saddr;
  const uint16_t sport = in->dest, dport = in->source;
  const uint32_t in_seq = ntohl(in->seq), in_ack = ntohl(in->ack_seq);
  const bool had_ack = in->flags & TcpHdr::kAck;
  std::memset(buf, 0, len);
  auto* eth = reinterpret_cast<EthHdr*>(buf + sizeof(VnetHdr));
  eth->type = htons(EthHdr::kIpv4);
  auto* ip = reinterpret_cast<Ipv4Hdr*>(eth + 1);
  auto* t = reinterpret_cast<TcpHdr*>(ip + 1);
  ip->ver_ihl = 0x45;
  ip->tot_len = htons(static_cast<uint16_t>(sizeof(Ipv4Hdr) + sizeof(TcpHdr)));
  ip->ttl = 64;
  ip->protocol = Ipv4Hdr::kTcp;
  ip->saddr = saddr;
  ip->daddr = daddr;
  ip->check = ipv4_header_checksum(ip, sizeof(Ipv4Hdr));
  t->source = sport;
  t->dest = dport;
  t->doff_res = 5 << 4;
  if (had_ack) {
    t->seq = htonl(in_ack);
    t->flags = TcpHdr::kRst;
  } else {
    t->ack_seq = htonl(in_seq + seg_len);
    t->flags = TcpHdr::kRst | TcpHdr::kAck;
  }
  t->check = l4_checksum_v4(saddr, daddr, Ipv4Hdr::kTcp, reinterpret_cast<uint8_t*>(t), sizeof(TcpHdr),
                            offsetof(TcpHdr, check));
  bump(stats_.resets_sent);
  send_frame(buf, len, daddr, now);
}

// An ICMP error (destination unreachable, time exceeded) quotes the packet that caused
// it. When that packet belongs to a proxy or inline flow, the error is translated like
// the flow's packets, quoted header included, and sent on: a server's error reaches the
// client as if the VIP had sent it, and an error from outside about our reply to a
// client reaches the server. The ICMP checksum is recomputed (slow path, ≤ 576 bytes).
void Engine::translate_icmp_error(Parsed& p, uint64_t now) {
  const size_t inner_off = p.l4_off + sizeof(IcmpHdr);
  auto* inner = view<Ipv4Hdr>(p.frame, p.len, inner_off);
  if (!inner || inner->version() != 4 || inner->header_len() < 20) return stats_.drop(Drop::icmp_unhandled);
  const size_t inner_l4 = inner_off + inner->header_len();
  if (inner_l4 + 8 > p.len || (inner->protocol != Ipv4Hdr::kTcp && inner->protocol != Ipv4Hdr::kUdp))
    return stats_.drop(Drop::icmp_unhandled);
  uint8_t* l4 = p.frame + inner_l4;
  // The quoted packet travelled the other way: swap it to get the key of a packet we see.
  const FlowKey key{inner->daddr, inner->saddr, ld16(l4 + 2), ld16(l4), inner->protocol};
  const FlowTable::Hit hit = flows_.lookup(key, now);
  if (!hit) return stats_.drop(Drop::icmp_unhandled);
  FlowEntry& e = flows_.at(hit.id);
  const Mode mode = vips_[e.vip].cfg.mode;
  if (mode != Mode::inline_nat && mode != Mode::proxy) return stats_.drop(Drop::icmp_unhandled);
  if (p.ip->ttl <= 1) return stats_.drop(Drop::ttl_exceeded);
  // The error travels the way a packet of `hit.dir` would: rewrite the outer addresses
  // as for such a packet and the quoted header as for a packet of the other direction.
  const FlowKey& to = hit.dir == Dir::original ? e.key[1] : e.key[0];
  Parsed outer = p;
  outer.tcp = nullptr;
  outer.udp = nullptr;
  // A server's error comes from the VIP. An error from outside keeps its source in
  // inline (the LB routes, the server sees the outside) but comes from the PIP in proxy:
  // a full NAT shows the server no address beyond the LB, not even a client's.
  if (hit.dir == Dir::reply || mode == Mode::proxy) set_ipv4_addr(outer, true, to.daddr);
  set_ipv4_addr(outer, false, to.saddr);
  decrement_ttl(outer);
  // The quoted packet: its source is the flow endpoint on the far side, its destination
  // the endpoint the error is going to.
  Parsed q;
  q.frame = p.frame;
  q.len = p.len;
  q.ip = inner;
  q.l4_off = inner_l4;
  q.l4_len = p.len - inner_l4;
  if (inner->protocol == Ipv4Hdr::kUdp) q.udp = reinterpret_cast<UdpHdr*>(l4);
  else if (inner_l4 + sizeof(TcpHdr) <= p.len) q.tcp = reinterpret_cast<TcpHdr*>(l4);
  set_ipv4_addr(q, true, to.saddr);
  set_ipv4_addr(q, false, to.daddr);
  if (q.tcp || q.udp) {
    set_l4_port(q, true, to.sport);
    set_l4_port(q, false, to.dport);
  } else {  // a TCP quote cut short of the checksum: rewrite the ports alone
    st16(l4, to.sport);
    st16(l4 + 2, to.dport);
  }
  p.icmp->check = 0;
  p.icmp->check = csum_finish(csum_add_bytes(0, p.icmp, p.l4_len));
  bump(stats_.icmp_errors_translated);
  *p.vnet = VnetHdr{};
  route_and_send(p, p.ip->daddr, now);
}

void Engine::backend_flow_ended(const FlowEntry& e) {
  auto& active = vips_[e.vip].backends[e.backend].stats->flows_active;
  const uint32_t a = active.load(std::memory_order_relaxed);
  active.store(a ? a - 1 : 0, std::memory_order_relaxed);
  SchedBackend& sb = vips_[e.vip].sched_in[e.backend];
  uint32_t& n = e.state == TcpState::established ? sb.established : sb.other;
  if (n) --n;
}

void Engine::release_flow(uint32_t id, uint64_t now) {
  FlowEntry& e = flows_.at(id);
  if (!e.in_use()) return;
  if (ha_.sync) sync_removed(id, now);
  backend_flow_ended(e);
  flows_.remove(id);
  stats_.flows_active.store(flows_.size(), std::memory_order_relaxed);
}

// ---------------------------------------------------------------- loop and timers

size_t Engine::drain(uint64_t now, size_t budget) {
  size_t handled = 0;
  bool more = true;
  while (more && handled < budget) {
    more = false;
    for (size_t port = 0; port < io_.port_count() && handled < budget; ++port) {
      uint8_t* buf = rxbuf_.data() + kHeadroom;
      long n = io_.recv(port, buf, rxbuf_.size() - kHeadroom);
      if (n <= 0) continue;
      handle_frame(port, buf, static_cast<size_t>(n), rxbuf_.size() - kHeadroom, now, kHeadroom);
      ++handled;
      more = true;
    }
  }
  flush_io();
  return handled;
}

void Engine::flush_io() {
  if (const size_t failed = io_.flush()) bump(stats_.drops[static_cast<size_t>(Drop::tx_error)], failed);
}

void Engine::housekeeping(uint64_t now) {
  health_tick(now);
  ha_track(now);
  ha_tick(now);
  const uint32_t budget = std::max<uint32_t>(1024, flows_.capacity() / 50);
  uint32_t n = flows_.sweep(now, budget, [&](uint32_t id) { backend_flow_ended(flows_.at(id)); });
  if (n) {
    bump(stats_.flows_expired, n);
    stats_.flows_active.store(flows_.size(), std::memory_order_relaxed);
  }
  // Keep every next hop we will need resolved before traffic needs it.
  auto want = [&](uint32_t ip) {
    size_t port;
    uint32_t hop;
    if (!lookup_route(ip, port, hop)) return;
    Neighbor* nb = neighbor(hop);
    if (!nb || !nb->valid || now - nb->confirmed_ms > kArpRefreshMs) send_arp_request(port, hop, now);
  };
  for (auto& v : vips_)
    for (auto& b : v.backends) want(b.cfg.address.v4_net());
  for (auto& r : routes_)
    if (r.via) want(r.via);
  if (ha_.sync) want(ha_.peer);
}

void Engine::run_control_requests() {
  std::vector<std::function<void()>> todo;
  {
    std::lock_guard<std::mutex> g(requests_mu_);
    todo.swap(requests_);
    requests_pending_.store(false, std::memory_order_relaxed);
  }
  for (auto& fn : todo) fn();
}

void Engine::call_in_datapath(std::function<void()> fn) {
  if (!running_.load()) return fn();
  std::promise<void> done;
  auto fut = done.get_future();
  {
    std::lock_guard<std::mutex> g(requests_mu_);
    requests_.push_back([&] {
      fn();
      done.set_value();
    });
    requests_pending_.store(true, std::memory_order_release);
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  // If the data path stopped between our check and our push, run the request here.
  while (fut.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready)
    if (!running_.load()) run_control_requests();
}

std::vector<FlowInfo> Engine::flows() {
  std::vector<FlowInfo> out;
  call_in_datapath([&] {
    const uint64_t now = now_ms();
    flows_.for_each([&](uint32_t, const FlowEntry& e) {
      if (e.expired(now)) return;
      const Vip& v = vips_[e.vip];
      const Backend& b = v.backends[e.backend];
      FlowInfo f;
      f.vip = v.cfg.address.str() + ":" + std::to_string(v.cfg.port);
      f.protocol = to_string(v.cfg.protocol);
      f.client = IpAddr::v4(e.key[0].saddr).str() + ":" + std::to_string(ntohs(e.key[0].sport));
      f.backend = b.cfg.address.str() + ":" + std::to_string(b.cfg.port);
      f.state = v.cfg.protocol == Proto::tcp ? to_string(e.state) : "udp";
      f.age_ms = e.age_ms(now);
      f.expires_in_ms = e.expires_at(now) - now;
      f.packets_in = e.packets[0];
      f.packets_out = e.packets[1];
      out.push_back(std::move(f));
    });
  });
  return out;
}

std::vector<BackendInfo> Engine::backends() {
  std::vector<BackendInfo> out;
  call_in_datapath([&] {
    for (auto& v : vips_)
      for (size_t i = 0; i < v.backends.size(); ++i) {
        const Backend& b = v.backends[i];
        const SchedBackend& sb = v.sched_in[i];
        if (sb.removed && sb.established + sb.other == 0) continue;  // gone
        BackendInfo o;
        o.vip = v.cfg.name;
        o.address = b.cfg.address;
        o.port = b.cfg.port;
        o.weight = sb.weight;
        o.group = sb.group;
        o.state = sb.removed ? "removed" : !sb.up ? "down" : sb.weight == 0 ? "draining" : "up";
        o.established = sb.established;
        o.other = sb.other;
        auto ld = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
        o.flows_total = ld(b.stats->flows_total);
        o.packets_to = ld(b.stats->packets_to);
        o.bytes_to = ld(b.stats->bytes_to);
        o.packets_from = ld(b.stats->packets_from);
        o.bytes_from = ld(b.stats->bytes_from);
        o.rtt_ms = b.rtt.score_ms();
        o.connect_ms = b.rtt.connect_ms();
        o.response_ms = b.rtt.response_ms();
        o.rtt_samples = b.rtt.samples();
        o.check = to_string(b.cfg.health.type);
        o.checks = b.health.checks;
        o.check_failures = b.health.failures;
        o.transitions = b.health.transitions;
        o.since_ms = now_ms() - b.health.changed_ms;
        o.last_check = b.health.last_result;
        o.change_reason = b.health.change_reason;
        o.probe_ms = b.health.last_probe_us ? b.health.last_probe_us / 1000.0 : -1;
        out.push_back(std::move(o));
      }
  });
  return out;
}

std::vector<VipInfo> Engine::vip_info() {
  std::vector<VipInfo> out;
  call_in_datapath([&] {
    for (auto& v : vips_) out.push_back(VipInfo{v.cfg.name, to_string(v.sched.algorithm()), v.cfg.min_active});
  });
  return out;
}

std::string Engine::for_vips(const std::string& vip, const std::function<void(size_t)>& fn) {
  bool found = false;
  for (size_t i = 0; i < cfg_.vips.size(); ++i)
    if (vip.empty() || cfg_.vips[i].name == vip) found = true;
  if (!found) return "no VIP named '" + vip + "'";
  call_in_datapath([&] {
    for (size_t i = 0; i < vips_.size(); ++i)
      if (vip.empty() || vips_[i].cfg.name == vip) fn(i);
  });
  return "";
}

std::string Engine::for_backend(const std::string& vip, const IpAddr& addr, uint16_t port,
                                const std::function<void(size_t, size_t)>& fn) {
  std::string why;
  call_in_datapath([&] {
    std::vector<std::pair<size_t, size_t>> hits;
    bool vip_found = false;
    for (size_t v = 0; v < vips_.size(); ++v) {
      if (!vip.empty() && vips_[v].cfg.name != vip) continue;
      vip_found = true;
      for (size_t b = 0; b < vips_[v].backends.size(); ++b)
        if (vips_[v].backends[b].cfg.address == addr && vips_[v].backends[b].cfg.port == port &&
            !vips_[v].sched_in[b].removed)
          hits.emplace_back(v, b);
    }
    const std::string name = addr.str() + ":" + std::to_string(port);
    if (!vip_found) why = "no VIP named '" + vip + "'";
    else if (hits.empty()) why = "no backend " + name + (vip.empty() ? "" : " in VIP " + vip);
    for (auto [v, b] : hits) fn(v, b);
    for (auto [v, b] : hits) vips_[v].sched.update(vips_[v].sched_in);
  });
  return why;
}

std::string Engine::set_weight(const std::string& vip, const IpAddr& addr, uint16_t port, uint32_t weight) {
  if (weight > kMaxWeight) return "weight " + std::to_string(weight) + " is out of range (0.." + std::to_string(kMaxWeight) + ")";
  return for_backend(vip, addr, port, [&](size_t v, size_t b) {
    vips_[v].sched_in[b].weight = weight;
    vips_[v].backends[b].cfg.weight = weight;
  });
}

std::string Engine::set_group(const std::string& vip, const IpAddr& addr, uint16_t port, uint32_t group) {
  if (group < 1 || group > 255) return "group " + std::to_string(group) + " is out of range (1..255)";
  return for_backend(vip, addr, port, [&](size_t v, size_t b) {
    vips_[v].sched_in[b].group = group;
    vips_[v].backends[b].cfg.group = group;
  });
}

std::string Engine::remove_backend(const std::string& vip, const IpAddr& addr, uint16_t port) {
  // Its flows continue to the end (like a drain); it takes no new ones and leaves the list
  // once they are gone. Persistence records pointing at it are dropped.
  return for_backend(vip, addr, port, [&](size_t v, size_t b) {
    vips_[v].sched_in[b].removed = true;
    if (vips_[v].persist) vips_[v].persist->forget_backend(static_cast<int>(b));
  });
}

std::string Engine::add_backend(const std::string& vip, const BackendConfig& b) {
  if (b.weight > kMaxWeight) return "weight " + std::to_string(b.weight) + " is out of range (0.." + std::to_string(kMaxWeight) + ")";
  if (b.group < 1 || b.group > 255) return "group " + std::to_string(b.group) + " is out of range (1..255)";
  const std::string name = b.address.str() + ":" + std::to_string(b.port);
  // Check every target VIP first: all or nothing.
  std::vector<size_t> targets;
  for (size_t v = 0; v < cfg_.vips.size(); ++v) {
    if (!vip.empty() && cfg_.vips[v].name != vip) continue;
    targets.push_back(v);
    if (auto why = backend_problem(cfg_, cfg_.vips[v], b); !why.empty()) return "VIP " + cfg_.vips[v].name + ": " + why;
  }
  if (targets.empty()) return vip.empty() ? "no VIP" : "no VIP named '" + vip + "'";
  std::string why;
  call_in_datapath([&] {
    for (size_t v : targets) {
      const Vip& x = vips_[v];
      for (size_t i = 0; i < x.backends.size(); ++i)
        if (x.backends[i].cfg.address == b.address && x.backends[i].cfg.port == b.port && !x.sched_in[i].removed) {
          why = "VIP " + x.cfg.name + " already has " + name;
          return;
        }
      bool reuse = false;
      for (size_t i = 0; i < x.backends.size(); ++i) reuse |= x.backends[i].cfg.address == b.address && x.backends[i].cfg.port == b.port;
      if (!reuse && x.backends.size() >= kMaxBackendsPerVip) {
        why = "VIP " + x.cfg.name + " has " + std::to_string(kMaxBackendsPerVip) + " backends, the most it may have";
        return;
      }
      if (x.backends.size() + 1 >= x.cfg.maglev_table_size) {
        why = "VIP " + x.cfg.name + ": the Maglev table (" + std::to_string(x.cfg.maglev_table_size) + ") must exceed the number of backends";
        return;
      }
    }
    for (size_t v : targets) {
      Vip& x = vips_[v];
      size_t i = 0;
      while (i < x.backends.size() && !(x.backends[i].cfg.address == b.address && x.backends[i].cfg.port == b.port)) ++i;
      BackendConfig bc = b;
      bc.health = x.cfg.health;  // the VIP's check
      if (i == x.backends.size()) {  // new: a slot of its own (indices of live flows never move)
        Backend nb;
        nb.cfg = bc;
        x.backends.push_back(std::move(nb));
        x.sched_in.push_back(sched_backend(bc));
        init_health(v, i, now_ms());
      } else {  // back after a remove: the same slot, its live flows still counted
        x.backends[i].cfg = bc;
        x.sched_in[i].weight = b.weight;
        x.sched_in[i].group = b.group;
        x.sched_in[i].removed = false;
        init_health(v, i, now_ms());  // starts up, checked afresh
      }
      x.sched.update(x.sched_in);
    }
  });
  return why;
}

std::string Engine::set_algorithm(const std::string& vip, Algorithm a) {
  return for_vips(vip, [&](size_t v) {
    vips_[v].cfg.algorithm = a;
    vips_[v].sched.set_algorithm(a, vips_[v].sched_in);
  });
}

std::string Engine::set_min_active(const std::string& vip, uint32_t n) {
  if (n < 1 || n > kMaxBackendsPerVip) return "min-active " + std::to_string(n) + " is out of range (1.." + std::to_string(kMaxBackendsPerVip) + ")";
  return for_vips(vip, [&](size_t v) {
    Vip& x = vips_[v];
    x.cfg.min_active = n;
    x.sched = Scheduler(SchedOptions{x.cfg.algorithm, n, x.cfg.maglev_table_size});
    x.sched.update(x.sched_in);
  });
}

void Engine::run(const std::atomic<bool>& stop) {
  std::vector<pollfd> fds;
  for (size_t i = 0; i < io_.port_count(); ++i) fds.push_back(pollfd{io_.poll_fd(i), POLLIN, 0});
  fds.push_back(pollfd{wake_fd_, POLLIN, 0});
  running_.store(true);
  uint64_t last_hk = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    // Sleep until traffic, a control request, the next housekeeping, the next health
    // probe deadline or VRRP/sync timer, so probes start and time out on time to the
    // millisecond and adverts leave on time.
    const uint64_t before = now_ms(), due = std::min(next_health_due(), ha_next_due(before));
    const int wait = due <= before ? 0 : static_cast<int>(std::min<uint64_t>(100, due - before));
    int rc = ::poll(fds.data(), fds.size(), wait);
    const uint64_t now = now_ms();
    if (rc > 0 && (fds.back().revents & POLLIN)) {
      uint64_t v;
      (void)!::read(wake_fd_, &v, sizeof v);
    }
    if (requests_pending_.load(std::memory_order_acquire)) run_control_requests();
    while (drain(now) == 256) {
      if (requests_pending_.load(std::memory_order_acquire)) run_control_requests();
    }
    if (now - last_hk >= 100) {
      housekeeping(now);
      last_hk = now;
    } else {
      health_tick(now);
      ha_tick(now);
    }
    flush_io();  // probes, adverts, ARP and whatever a control request sent
  }
  running_.store(false);
  run_control_requests();  // nobody may wait forever on a stopped data path
}

}  // namespace lb
