// The one-arm modes' address plan (docs/lab.md, "Topologies per mode") as an engine over
// MemIo: a config per mode, a fixture that injects frames on the single port and collects
// what the engine sends, and the frames a client and a server send.
//
//   client1 198.51.100.11, client2 198.51.100.12           remote servers (proxy, dsr-l3-*)
//        |                                                  198.18.0.11-13
//   router eth1 203.0.113.1 (02:00:00:71:00:01)   router eth2 198.18.0.1 --+
//        |
//   -----+---------------- front 203.0.113.0/24 ----------------+---------------
//        |                                                      |
//   [port 0 "front" 203.0.113.2/24 02:00:00:71:00:02, MTU 1500]   dsr-l2 servers 203.0.113.11-13
//    LB: VIP 203.0.113.10:80 tcp and udp, PIP 203.0.113.20,       02:00:00:71:00:0b-0d
//        default route via 203.0.113.1
#pragma once
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <string>
#include <vector>

#include "lb/config/config.hpp"
#include "lb/engine.hpp"
#include "lb/io/packet_io.hpp"
#include "test_support.hpp"

namespace lbtest::onearm {

constexpr size_t kFront = 0;
const char* const kLbMac = "02:00:00:71:00:02";
const char* const kLbIp = "203.0.113.2";
const char* const kRouterMac = "02:00:00:71:00:01";
const char* const kRouterIp = "203.0.113.1";
const char* const kVip = "203.0.113.10";
const char* const kPip = "203.0.113.20";
const char* const kClient1 = "198.51.100.11";
const char* const kClient2 = "198.51.100.12";
const char* const kRemoteIp[3] = {"198.18.0.11", "198.18.0.12", "198.18.0.13"};
const char* const kL2Ip[3] = {"203.0.113.11", "203.0.113.12", "203.0.113.13"};
const char* const kL2Mac[3] = {"02:00:00:71:00:0b", "02:00:00:71:00:0c", "02:00:00:71:00:0d"};
constexpr uint8_t kDscp = 10;
constexpr uint16_t kMtu = 1500;

// Where the backends of `mode` sit: dsr-l2 on the front segment, the others behind the router.
inline const char* backend_ip(lb::Mode mode, int b) { return mode == lb::Mode::dsr_l2 ? kL2Ip[b] : kRemoteIp[b]; }

// The lab's engine config for a one-arm mode: VIP 203.0.113.10:80 over TCP ("web") and UDP
// ("echo"), each with the first `backends` servers on port 80.
inline lb::Config one_arm_config(lb::Mode mode, int backends = 3, uint32_t max_flows = 1024) {
  auto mac = [](const char* s) { return *lb::MacAddr::parse(s); };
  auto pfx = [](const char* s) { return *lb::Prefix::parse(s); };
  auto ip = [](const char* s) { return *lb::IpAddr::parse(s); };
  std::vector<lb::BackendConfig> bs;
  for (int b = 0; b < backends; ++b) bs.push_back({.address = ip(backend_ip(mode, b)), .port = 80});
  const lb::IpAddr pip = mode == lb::Mode::proxy ? ip(kPip) : lb::IpAddr{};
  const uint8_t dscp = mode == lb::Mode::dsr_l3_dscp ? kDscp : 0;
  return lb::Config{
      .name = "lb-test",
      .max_flows = max_flows,
      .ports = {{.name = "front", .tap = "t-front", .mac = mac(kLbMac), .address = pfx("203.0.113.2/24"), .mtu = kMtu}},
      .routes = {{.destination = pfx("0.0.0.0/0"), .via = ip(kRouterIp)}},
      .vips = {{.name = "web", .address = ip(kVip), .port = 80, .protocol = lb::Proto::tcp, .mode = mode,
                .backends = bs, .proxy_ip = pip, .dscp = dscp},
               {.name = "echo", .address = ip(kVip), .port = 80, .protocol = lb::Proto::udp, .mode = mode,
                .backends = bs, .proxy_ip = pip, .dscp = dscp}},
  };
}

// ----------------------------------------------------------------- frames in

inline Tins::EthernetII from_router() { return Tins::EthernetII(hw(kLbMac), hw(kRouterMac)); }

inline Tins::IP ipv4(const char* dst, const char* src, uint8_t ttl = 64) {
  Tins::IP i(dst, src);
  i.ttl(ttl);
  i.id(0x4242);
  return i;
}
inline Tins::TCP tcp_seg(uint16_t dport, uint16_t sport, uint16_t flags, uint32_t seq = 1000, uint32_t ack = 0) {
  Tins::TCP t(dport, sport);
  t.flags(flags);
  t.seq(seq);
  t.ack_seq(ack);
  t.window(64240);
  return t;
}
constexpr uint16_t SYN = Tins::TCP::SYN, ACK = Tins::TCP::ACK;

inline std::vector<uint8_t> client_syn(uint16_t sport, const char* client = kClient1) {
  auto f = from_router() / ipv4(kVip, client) / tcp_seg(80, sport, SYN);
  return with_vnet(f);
}
inline std::vector<uint8_t> client_ack(uint16_t sport, const char* client = kClient1) {
  auto f = from_router() / ipv4(kVip, client) / tcp_seg(80, sport, ACK, 1001, 5001);
  return with_vnet(f);
}
inline std::vector<uint8_t> client_udp(uint16_t sport, const std::string& data, const char* client = kClient1) {
  auto f = from_router() / ipv4(kVip, client) / Tins::UDP(80, sport) / Tins::RawPDU(data);
  return with_vnet(f);
}

// ----------------------------------------------------------------- fixture

class OneArmTest : public ::testing::Test {
 protected:
  explicit OneArmTest(lb::Config c) : cfg(std::move(c)), engine(cfg, io) {}

  lb::Config cfg;
  lb::MemIo io{1};
  lb::Engine engine;
  // flows() judges expiry by Engine::now_ms(), so the test's clock starts there.
  uint64_t now = lb::Engine::now_ms();

  void inject(std::vector<uint8_t> vframe) {
    io.inject(kFront, std::move(vframe));
    engine.drain(now);
  }
  void inject(Tins::PDU& pdu) { inject(with_vnet(pdu)); }

  std::vector<std::vector<uint8_t>> take() {
    auto& q = io.sent(kFront);
    std::vector<std::vector<uint8_t>> out(q.begin(), q.end());
    q.clear();
    return out;
  }
  // The one frame sent; fails (and returns an empty frame) if there is not exactly one.
  std::vector<uint8_t> only_output() {
    auto out = take();
    EXPECT_EQ(out.size(), 1u) << "frames sent" << (out.size() > 1 ? ", the second:\n" + describe(out[1]) : "");
    return out.empty() ? std::vector<uint8_t>{} : out.front();
  }
  void expect_no_output() {
    auto out = take();
    EXPECT_EQ(out.size(), 0u) << "sent:\n" << (out.empty() ? "" : describe(out.front()));
  }
  uint64_t drops(lb::Drop d) const { return engine.stats().drops[static_cast<size_t>(d)].load(); }

  // housekeeping() asks for every next hop (the router; dsr-l2 servers); they answer.
  void resolve_neighbours() {
    engine.housekeeping(now);
    auto requests = take();
    ASSERT_FALSE(requests.empty()) << "housekeeping asked for no neighbour";
    for (auto& f : requests) {
      Sent s(f);
      const auto* arp = s.eth.find_pdu<Tins::ARP>();
      ASSERT_NE(arp, nullptr) << describe(f);
      const std::string target = arp->target_ip_addr().to_string();
      const char* mac = nullptr;
      if (target == kRouterIp) mac = kRouterMac;
      for (int b = 0; b < 3; ++b)
        if (target == kL2Ip[b]) mac = kL2Mac[b];
      ASSERT_NE(mac, nullptr) << "ARP request for an address the plan does not have: " << target;
      auto reply = Tins::ARP::make_arp_reply(kLbIp, target, hw(kLbMac), hw(mac));
      inject(reply);
    }
    expect_no_output();
  }
};

}  // namespace lbtest::onearm
