// The data path in process (Google Benchmark): ns per packet through Engine::handle_frame
// for an established flow and for a new flow in each mode, over an I/O that only counts
// what is sent; flow-table lookups at 1M and 10M flows; the bytes each flow costs.
//
// Each engine runs the example config of its mode (lb_engine/examples/MODE.toml) with
// its neighbours resolved by ARP replies handed to it first. A packet is copied into the
// receive buffer before each call (the engine rewrites in place), which is part of the
// time, as a read from a TAP would be. Nothing here is an assertion: numbers only.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <tins/tins.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "lb/config/config.hpp"
#include "lb/engine.hpp"
#include "lb/flow/flow_table.hpp"
#include "lb/io/packet_io.hpp"
#include "lb/packet/checksum.hpp"
#include "lb/packet/headers.hpp"

namespace {

constexpr size_t kVnet = sizeof(lb::pkt::VnetHdr);
constexpr size_t kHeadroom = 64;
constexpr size_t kBufCap = 4096;
const char* const kRouterMac = "02:00:00:71:00:01";
const char* const kRouterIp = "203.0.113.1";
const char* const kVip = "203.0.113.10";

// Takes every frame and keeps nothing: the cost of a TAP write is not the engine's.
class NullIo : public lb::PacketIo {
 public:
  explicit NullIo(size_t ports) : ports_(ports) {}
  size_t port_count() const override { return ports_; }
  long recv(size_t, uint8_t*, size_t) override { return 0; }
  bool send(size_t, const uint8_t*, size_t len) override {
    ++frames;
    bytes += len;
    return true;
  }
  uint64_t frames = 0, bytes = 0;

 private:
  size_t ports_;
};

std::vector<uint8_t> with_vnet(Tins::PDU& pdu) {
  const auto b = pdu.serialize();
  std::vector<uint8_t> f(kVnet + b.size(), 0);
  std::memcpy(f.data() + kVnet, b.data(), b.size());
  return f;
}

struct Bench {
  lb::Config cfg;
  NullIo io;
  lb::Engine engine;
  uint64_t now;
  std::vector<uint8_t> buf = std::vector<uint8_t>(kBufCap + kHeadroom);

  explicit Bench(lb::Config c) : cfg(std::move(c)), io(cfg.ports.size()), engine(cfg, io), now(lb::Engine::now_ms()) {
    engine.housekeeping(now);  // asks for its neighbours; they answer below
    for (size_t p = 0; p < cfg.ports.size(); ++p) {
      std::vector<std::pair<std::string, std::string>> neigh{{kRouterIp, kRouterMac}};
      for (int i = 11; i <= 13; ++i) {
        neigh.push_back({"203.0.113." + std::to_string(i), "02:00:00:71:00:" + std::to_string(i)});
        neigh.push_back({"192.0.2." + std::to_string(i), "02:00:00:02:00:" + std::to_string(i)});
      }
      for (const auto& [ip, mac] : neigh) {
        auto reply = Tins::ARP::make_arp_reply(cfg.ports[p].address.addr.str(), ip,
                                               Tins::HWAddress<6>(cfg.ports[p].mac.str()), Tins::HWAddress<6>(mac));
        feed(p, with_vnet(reply));
      }
    }
  }
  void feed(size_t port, const std::vector<uint8_t>& frame) {
    std::memcpy(buf.data() + kHeadroom, frame.data(), frame.size());
    engine.handle_frame(port, buf.data() + kHeadroom, frame.size(), kBufCap, now, kHeadroom);
  }
  // A client segment to the VIP's port 80 from the router, as it arrives on `front`.
  std::vector<uint8_t> client(uint32_t client_ip, uint16_t sport, uint8_t flags, size_t payload) const {
    Tins::EthernetII eth(Tins::HWAddress<6>(cfg.ports[0].mac.str()), Tins::HWAddress<6>(kRouterMac));
    const std::string src = std::to_string(client_ip >> 24) + "." + std::to_string((client_ip >> 16) & 255) + "." +
                            std::to_string((client_ip >> 8) & 255) + "." + std::to_string(client_ip & 255);
    Tins::IP ip(kVip, src);
    ip.ttl(64);
    Tins::TCP tcp(80, sport);
    tcp.flags(flags);
    tcp.seq(1000);
    tcp.ack_seq(flags & Tins::TCP::ACK ? 5000 : 0);
    auto pdu = eth / ip / tcp / Tins::RawPDU(std::string(payload, 'x'));
    return with_vnet(pdu);
  }
};

lb::Config mode_config(const std::string& mode, uint32_t max_flows) {
  lb::Config c = lb::load_config(LB_ENGINE_SOURCE_DIR "/examples/" + mode + ".toml");
  c.max_flows = max_flows;
  c.control_socket.clear();
  for (auto& v : c.vips) v.health.type = lb::CheckType::none;  // no probes in the way
  return c;
}

const char* const kModes[] = {"inline", "proxy", "dsr-l2", "dsr-l3-dscp", "dsr-l3-tunnel"};
constexpr uint32_t kClient = 0xc633640b;  // 198.51.100.11

// One established flow, the client's 64-byte data segments through it, again and again.
void BM_Established(benchmark::State& state) {
  Bench b(mode_config(kModes[state.range(0)], 1024));
  b.feed(0, b.client(kClient, 40000, Tins::TCP::SYN, 0));
  b.feed(0, b.client(kClient, 40000, Tins::TCP::ACK, 0));
  const auto seg = b.client(kClient, 40000, Tins::TCP::ACK | Tins::TCP::PSH, 64);
  const uint64_t before = b.io.frames;
  for (auto _ : state) b.feed(0, seg);
  state.SetLabel(kModes[state.range(0)]);
  if (b.io.frames - before != static_cast<uint64_t>(state.iterations()))
    state.SkipWithError("not every segment was forwarded (check the engine's drops)");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Established)->DenseRange(0, 4);

// A SYN of a new flow each time (every one a new source address and port); the table
// fills up, and from then on each new flow evicts the least recently used one: a busy
// LB's steady state. The table holds 1M flows; in proxy 128K, since one PIP has 60K ports
// per server (3 servers here) and a new flow finds none free beyond that.
void BM_NewFlow(benchmark::State& state) {
  const bool proxy = std::string(kModes[state.range(0)]) == "proxy";
  Bench b(mode_config(kModes[state.range(0)], proxy ? 1u << 17 : 1u << 20));
  constexpr uint32_t kPorts = 60000;
  std::vector<uint8_t> syn = b.client(kClient, 1024, Tins::TCP::SYN, 0);
  // The client address and port sit at fixed offsets. The engine checks the IPv4 header
  // checksum on the way in, so it is computed again (20 bytes, part of the time); the TCP
  // checksum is only updated incrementally, so it may go stale.
  constexpr size_t ip_off = kVnet + 14, src_off = ip_off + 12, sport_off = ip_off + 20;
  uint32_t n = 0;
  const uint64_t before = b.io.frames;
  for (auto _ : state) {
    const uint32_t i = n++;  // 256 addresses x 60000 ports: unique for 15M iterations
    const uint32_t src = htonl((kClient & 0xffffff00u) | ((i / kPorts) & 0xff));
    const uint16_t sport = htons(static_cast<uint16_t>(1024 + i % kPorts));
    std::memcpy(syn.data() + src_off, &src, 4);
    std::memcpy(syn.data() + sport_off, &sport, 2);
    auto* ip = reinterpret_cast<lb::pkt::Ipv4Hdr*>(syn.data() + ip_off);
    ip->check = 0;
    ip->check = lb::pkt::ipv4_header_checksum(ip, 20);
    b.feed(0, syn);
  }
  state.SetLabel(kModes[state.range(0)]);
  if (b.io.frames - before != static_cast<uint64_t>(state.iterations()))
    state.SkipWithError("not every SYN was forwarded (check the engine's drops)");
  state.SetItemsProcessed(state.iterations());
  state.counters["flows"] = static_cast<double>(b.engine.stats().flows_active.load());
}
BENCHMARK(BM_NewFlow)->DenseRange(0, 4);

// FlowTable::lookup of a random existing flow in a table of N flows.
void BM_FlowLookup(benchmark::State& state) {
  const uint32_t n = static_cast<uint32_t>(state.range(0));
  lb::FlowTable t(n);
  std::vector<lb::FlowKey> keys;
  keys.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    lb::FlowKey k{htonl(0x0a000000u + (i >> 12)), htonl(0xcb00710a), htons(static_cast<uint16_t>(1024 + (i & 0xfff))),
                  htons(80), 6};
    lb::FlowKey r{htonl(0xc6120000u + (i & 0xff)), htonl(0xcb007114), htons(80), htons(static_cast<uint16_t>(1024 + (i >> 8))),
                  6};
    if (t.insert(k, r, 0) == lb::FlowTable::kNone) {
      state.SkipWithError("insert failed");
      return;
    }
    keys.push_back(k);
  }
  std::mt19937 rng(42);
  std::vector<uint32_t> order(1u << 20);
  for (auto& o : order) o = rng() % n;
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    auto h = t.lookup(keys[order[i++ & (order.size() - 1)]], 1);
    hits += h ? 1 : 0;
    benchmark::DoNotOptimize(h);
  }
  if (hits != static_cast<size_t>(state.iterations())) state.SkipWithError("a lookup missed");
  state.counters["flows"] = n;
  state.counters["bytes_per_flow"] = static_cast<double>(t.memory_bytes()) / n;
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowLookup)->Arg(1'000'000)->Arg(10'000'000)->Unit(benchmark::kNanosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("sizeof(FlowEntry)", std::to_string(sizeof(lb::FlowEntry)));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
