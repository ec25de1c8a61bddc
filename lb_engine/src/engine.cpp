#include "lb/engine.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>

#include "lb/log.hpp"
#include "lb/packet/checksum.hpp"

namespace lb {

using namespace pkt;

namespace {
constexpr size_t kBufSize = sizeof(VnetHdr) + sizeof(EthHdr) + 65535 + 64;
constexpr uint64_t kArpRetryMs = 1000;      // at most one ARP request per neighbour per second
constexpr uint64_t kArpRefreshMs = 60000;   // re-ARP a neighbour not heard from in this long
constexpr size_t kMaxNeighbors = 1024;      // an ARP flood must not grow the table without bound
}  // namespace

const char* to_string(Drop d) {
  static const char* names[] = {
      "frame_too_short", "not_our_mac", "unknown_ethertype", "arp_malformed", "arp_not_for_us",
      "ip_malformed",    "ip_bad_checksum", "ip_fragment", "ttl_exceeded", "l4_malformed",
      "no_service",      "not_for_vip",   "no_flow",      "no_backend",   "flow_table_full",
      "flow_conflict",   "icmp_unhandled", "no_route",    "neigh_unresolved", "tx_error"};
  static_assert(sizeof(names) / sizeof(names[0]) == static_cast<size_t>(Drop::count_));
  return names[static_cast<size_t>(d)];
}

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
    for (auto& bc : vc.backends) {
      Backend b;
      b.cfg = bc;
      v.backends.push_back(std::move(b));
      v.usable.push_back(bc.weight > 0);
    }
    vips_.push_back(std::move(v));
  }
  auto& t = cfg_.timeouts;
  timeouts_ = FlowTimeouts{t.tcp_syn * 1000ull, t.tcp_established * 1000ull, t.tcp_fin * 1000ull,
                           t.tcp_close * 1000ull, t.udp * 1000ull};
  neighbors_.reserve(kMaxNeighbors);  // never reallocates on the data path
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

Engine::~Engine() {
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

// ---------------------------------------------------------------- classification

bool Engine::is_vip_address(uint32_t addr) const {
  for (auto& v : vips_)
    if (v.cfg.address.v4_net() == addr) return true;
  return false;
}

bool Engine::is_own_address(uint32_t addr) const {
  for (auto& p : ports_)
    if (p.cfg.address.addr.v4_net() == addr) return true;
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

void Engine::handle_frame(size_t port, uint8_t* buf, size_t len, size_t cap, uint64_t now) {
  Port& pt = ports_[port];
  bump(pt.stats.rx_packets);
  bump(pt.stats.rx_bytes, len > sizeof(VnetHdr) ? len - sizeof(VnetHdr) : 0);
  Parsed p;
  p.vnet = view<VnetHdr>(buf, len, 0);
  p.frame = buf + sizeof(VnetHdr);
  p.len = len >= sizeof(VnetHdr) ? len - sizeof(VnetHdr) : 0;
  p.eth = view<EthHdr>(p.frame, p.len, 0);
  if (!p.vnet || !p.eth) return stats_.drop(Drop::frame_too_short);
  const bool to_us = std::memcmp(p.eth->dst, pt.cfg.mac.b.data(), 6) == 0;
  const bool bcast = (p.eth->dst[0] & 1) != 0;
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
}

void Engine::handle_arp(size_t port, uint8_t* frame, size_t len, uint64_t now) {
  auto* arp = view<ArpHdr>(frame, len, sizeof(EthHdr));
  if (!arp || ntohs(arp->htype) != 1 || ntohs(arp->ptype) != EthHdr::kIpv4 || arp->hlen != 6 || arp->plen != 4)
    return stats_.drop(Drop::arp_malformed);
  const uint32_t spa = arp->spa, tpa = arp->tpa;
  learn(port, spa, arp->sha, now);
  if (ntohs(arp->op) != ArpHdr::kRequest) return;  // a reply: learned above, nothing to send
  const Port& pt = ports_[port];
  const bool ours = pt.cfg.address.addr.v4_net() == tpa ||
                    (is_vip_address(tpa) && pt.cfg.address.contains(IpAddr::v4(tpa)));
  if (!ours) return stats_.drop(Drop::arp_not_for_us);
  // Answer in place: the request becomes the reply.
  auto* eth = reinterpret_cast<EthHdr*>(frame);
  std::memcpy(eth->dst, arp->sha, 6);
  std::memcpy(eth->src, pt.cfg.mac.b.data(), 6);
  arp->op = htons(ArpHdr::kReply);
  std::memcpy(arp->tha, arp->sha, 6);
  arp->tpa = spa;
  std::memcpy(arp->sha, pt.cfg.mac.b.data(), 6);
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
  if (n->requested_ms && now - n->requested_ms < kArpRetryMs) return;
  n->requested_ms = now;
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
  const IpAddr a = IpAddr::v4(dst);
  for (auto& r : routes_) {
    if (r.dst.contains(a)) {
      port = r.port;
      next_hop = r.via ? r.via : dst;
      return true;
    }
  }
  return false;
}

void Engine::route_and_send(Parsed& p, uint32_t dst, uint64_t now) {
  size_t port;
  uint32_t hop;
  if (!lookup_route(dst, port, hop)) return stats_.drop(Drop::no_route);
  Neighbor* n = neighbor(hop);
  if (!n || !n->valid) {
    send_arp_request(port, hop, now);
    return stats_.drop(Drop::neigh_unresolved);
  }
  std::memcpy(p.eth->dst, n->mac.b.data(), 6);
  std::memcpy(p.eth->src, ports_[port].cfg.mac.b.data(), 6);
  p.vnet->flags &= static_cast<uint8_t>(~VnetHdr::kDataValid);
  transmit(port, reinterpret_cast<uint8_t*>(p.vnet), sizeof(VnetHdr) + p.len);
}

void Engine::transmit(size_t port, const uint8_t* buf, size_t len) {
  if (!io_.send(port, buf, len)) return stats_.drop(Drop::tx_error);
  bump(ports_[port].stats.tx_packets);
  bump(ports_[port].stats.tx_bytes, len - sizeof(VnetHdr));
}

// ---------------------------------------------------------------- IPv4

void Engine::answer_icmp_echo(size_t port, Parsed& p, uint64_t now) {
  IcmpHdr* icmp = p.icmp;
  uint16_t old_word, new_word;
  std::memcpy(&old_word, &icmp->type, 2);
  icmp->type = IcmpHdr::kEchoReply;
  std::memcpy(&new_word, &icmp->type, 2);
  icmp->check = csum_replace16(icmp->check, old_word, new_word);
  const uint32_t src = p.ip->saddr;  // a swap leaves the header sum unchanged
  p.ip->saddr = p.ip->daddr;
  p.ip->daddr = src;
  uint16_t old_ttl, new_ttl;
  std::memcpy(&old_ttl, &p.ip->ttl, 2);
  p.ip->ttl = 64;
  std::memcpy(&new_ttl, &p.ip->ttl, 2);
  p.ip->check = csum_replace16(p.ip->check, old_ttl, new_ttl);
  *p.vnet = VnetHdr{};
  bump(stats_.icmp_echo_replies);
  route_and_send(p, p.ip->daddr, now);
}

void Engine::handle_ipv4(size_t port, Parsed& p, uint64_t now) {
  Ipv4Hdr* ip = p.ip;
  const uint32_t daddr = ip->daddr;
  const bool for_vip = is_vip_address(daddr);
  const bool for_us = !for_vip && is_own_address(daddr);

  if (for_vip || for_us) {
    if (p.icmp && p.icmp->type == IcmpHdr::kEchoRequest && !ip->is_fragment()) return answer_icmp_echo(port, p, now);
  }
  if (ip->is_fragment()) return stats_.drop(Drop::ip_fragment);
  if (!p.tcp && !p.udp) {
    if (for_vip || for_us) return stats_.drop(p.icmp ? Drop::icmp_unhandled : Drop::no_service);
    return stats_.drop(Drop::not_for_vip);
  }

  const uint16_t sport = p.tcp ? p.tcp->source : p.udp->source;
  const uint16_t dport = p.tcp ? p.tcp->dest : p.udp->dest;
  const uint8_t flags = p.tcp ? p.tcp->flags : 0;
  const FlowKey key{ip->saddr, daddr, sport, dport, ip->protocol, {0, 0, 0}};
  FlowTable::Hit hit = flows_.lookup(key, now);
  if (hit.expired) {  // a packet reached it before the sweep did: still an expiry
    release_flow(hit.id);
    bump(stats_.flows_expired);
    hit = {};
  }
  // A client reusing the ports of a flow that is closing starts a new flow.
  if (hit && hit.dir == Dir::original && p.tcp && (flags & (TcpHdr::kSyn | TcpHdr::kAck)) == TcpHdr::kSyn) {
    auto st = flows_.at(hit.id).state;
    if (st == TcpState::closing || st == TcpState::closed) {
      release_flow(hit.id);
      hit = {};
    }
  }

  if (!hit) {
    if (for_us) return stats_.drop(Drop::no_service);
    if (!for_vip) return stats_.drop(Drop::not_for_vip);
    const int vi = find_vip(daddr, ip->protocol, dport);
    if (vi < 0) return stats_.drop(Drop::no_service);
    if (p.tcp && (flags & (TcpHdr::kSyn | TcpHdr::kAck | TcpHdr::kRst)) != TcpHdr::kSyn)
      return stats_.drop(Drop::no_flow);
    if (ip->ttl <= 1) return stats_.drop(Drop::ttl_exceeded);
    Vip& v = vips_[vi];
    const int bi = v.rr.pick(v.usable);
    if (bi < 0) return stats_.drop(Drop::no_backend);
    const Backend& b = v.backends[bi];
    const FlowKey reply{b.cfg.address.v4_net(), ip->saddr, htons(b.cfg.port), sport, ip->protocol, {0, 0, 0}};
    if (flows_.size() >= flows_.capacity()) return stats_.drop(Drop::flow_table_full);
    const uint32_t id = flows_.insert(key, reply, now);
    if (id == FlowTable::kNone) return stats_.drop(Drop::flow_conflict);
    FlowEntry& e = flows_.at(id);
    e.vip = static_cast<uint16_t>(vi);
    e.backend = static_cast<uint16_t>(bi);
    bump(stats_.flows_created);
    stats_.flows_active.store(flows_.size(), std::memory_order_relaxed);
    bump(b.stats->flows_total);
    b.stats->flows_active.store(b.stats->flows_active.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    hit = FlowTable::Hit{id, Dir::original, false};
  }

  if (ip->ttl <= 1) return stats_.drop(Drop::ttl_exceeded);
  FlowEntry& e = flows_.at(hit.id);
  Vip& v = vips_[e.vip];
  Backend& b = v.backends[e.backend];
  flows_.touch(hit.id, hit.dir, ip->protocol, flags, now, timeouts_);
  // Inline (two-arm): DNAT on the way in, un-DNAT on the way back; the LB is a router hop.
  if (hit.dir == Dir::original) {
    set_ipv4_addr(p, false, b.cfg.address.v4_net());
    set_l4_port(p, false, htons(b.cfg.port));
    decrement_ttl(p);
    bump(b.stats->packets_to);
    bump(b.stats->bytes_to, p.len);
    route_and_send(p, ip->daddr, now);
  } else {
    set_ipv4_addr(p, true, v.cfg.address.v4_net());
    set_l4_port(p, true, htons(v.cfg.port));
    decrement_ttl(p);
    bump(b.stats->packets_from);
    bump(b.stats->bytes_from, p.len);
    route_and_send(p, ip->daddr, now);
  }
}

void Engine::backend_flow_ended(const FlowEntry& e) {
  auto& active = vips_[e.vip].backends[e.backend].stats->flows_active;
  const uint32_t a = active.load(std::memory_order_relaxed);
  active.store(a ? a - 1 : 0, std::memory_order_relaxed);
}

void Engine::release_flow(uint32_t id) {
  FlowEntry& e = flows_.at(id);
  if (!e.in_use) return;
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
      long n = io_.recv(port, rxbuf_.data(), rxbuf_.size());
      if (n <= 0) continue;
      handle_frame(port, rxbuf_.data(), static_cast<size_t>(n), rxbuf_.size(), now);
      ++handled;
      more = true;
    }
  }
  return handled;
}

void Engine::housekeeping(uint64_t now) {
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
      if (e.expires_ms <= now) return;
      const Vip& v = vips_[e.vip];
      const Backend& b = v.backends[e.backend];
      FlowInfo f;
      f.vip = v.cfg.address.str() + ":" + std::to_string(v.cfg.port);
      f.protocol = to_string(v.cfg.protocol);
      f.client = IpAddr::v4(e.key[0].saddr).str() + ":" + std::to_string(ntohs(e.key[0].sport));
      f.backend = b.cfg.address.str() + ":" + std::to_string(b.cfg.port);
      f.state = v.cfg.protocol == Proto::tcp ? to_string(e.state) : "udp";
      f.age_ms = now - e.created_ms;
      f.expires_in_ms = e.expires_ms - now;
      f.packets_in = e.packets[0];
      f.packets_out = e.packets[1];
      out.push_back(std::move(f));
    });
  });
  return out;
}

void Engine::run(const std::atomic<bool>& stop) {
  std::vector<pollfd> fds;
  for (size_t i = 0; i < io_.port_count(); ++i) fds.push_back(pollfd{io_.poll_fd(i), POLLIN, 0});
  fds.push_back(pollfd{wake_fd_, POLLIN, 0});
  running_.store(true);
  uint64_t last_hk = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    int rc = ::poll(fds.data(), fds.size(), 100);
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
    }
  }
  running_.store(false);
  run_control_requests();  // nobody may wait forever on a stopped data path
}

}  // namespace lb
