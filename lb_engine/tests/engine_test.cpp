// The engine's data path over MemIo: ARP, ICMP echo, inline DNAT both ways, round robin,
// ICMP errors about flows, and the drop counters, with frames built and decoded by libtins.
//
//   client 198.51.100.11                                   backends 192.0.2.11-13
//        |                                                 02:00:00:02:00:11-13
//   router 203.0.113.1 (02:00:00:71:00:01)                        |
//        |                                                         |
//   [port 0 "front" 203.0.113.2/24 02:00:00:71:00:02]--LB--[port 1 "back" 192.0.2.1/24 02:00:00:02:00:01]
//        VIP 203.0.113.10:80 tcp and udp, default route via 203.0.113.1
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <arpa/inet.h>

#include "lb/config/config.hpp"
#include "lb/control/admin.hpp"
#include "lb/engine.hpp"
#include "lb/io/packet_io.hpp"
#include "test_support.hpp"

namespace {

using namespace lbtest;
using lb::Drop;

constexpr size_t kFront = 0, kBack = 1;
const char* const kFrontMac = "02:00:00:71:00:02";
const char* const kBackMac = "02:00:00:02:00:01";
const char* const kRouterMac = "02:00:00:71:00:01";
const char* const kRouterIp = "203.0.113.1";
const char* const kFrontIp = "203.0.113.2";
const char* const kBackIp = "192.0.2.1";
const char* const kVip = "203.0.113.10";
const char* const kClientIp = "198.51.100.11";
const char* const kBackendIp[3] = {"192.0.2.11", "192.0.2.12", "192.0.2.13"};
const char* const kBackendMac[3] = {"02:00:00:02:00:11", "02:00:00:02:00:12", "02:00:00:02:00:13"};

lb::Config lab_config(uint16_t backend_port = 80) {
  auto mac = [](const char* s) { return *lb::MacAddr::parse(s); };
  auto pfx = [](const char* s) { return *lb::Prefix::parse(s); };
  auto ip = [](const char* s) { return *lb::IpAddr::parse(s); };
  std::vector<lb::BackendConfig> backends;
  for (auto* b : kBackendIp) backends.push_back({.address = ip(b), .port = backend_port});
  return lb::Config{
      .name = "lb-test",
      .max_flows = 1024,
      .ports = {{.name = "front", .tap = "t-front", .mac = mac(kFrontMac), .address = pfx("203.0.113.2/24")},
                {.name = "back", .tap = "t-back", .mac = mac(kBackMac), .address = pfx("192.0.2.1/24")}},
      .routes = {{.destination = pfx("0.0.0.0/0"), .via = ip(kRouterIp)}},
      .vips = {{.name = "web", .address = ip(kVip), .port = 80, .protocol = lb::Proto::tcp, .backends = backends},
               {.name = "echo", .address = ip(kVip), .port = 80, .protocol = lb::Proto::udp, .backends = backends}},
  };
}

// ----------------------------------------------------------------- frames in

Tins::EthernetII from_router() { return Tins::EthernetII(hw(kFrontMac), hw(kRouterMac)); }
Tins::EthernetII from_backend(int b) { return Tins::EthernetII(hw(kBackMac), hw(kBackendMac[b])); }

Tins::IP ip(const char* dst, const char* src, uint8_t ttl = 64) {
  Tins::IP i(dst, src);
  i.ttl(ttl);
  i.id(0x4242);
  return i;
}
Tins::TCP tcp(uint16_t dport, uint16_t sport, uint16_t flags, uint32_t seq = 1000, uint32_t ack = 0) {
  Tins::TCP t(dport, sport);
  t.flags(flags);
  t.seq(seq);
  t.ack_seq(ack);
  t.window(64240);
  return t;
}
constexpr uint16_t SYN = Tins::TCP::SYN, ACK = Tins::TCP::ACK;

std::vector<uint8_t> client_syn(uint16_t sport, uint8_t ttl = 64, const char* client = kClientIp) {
  auto f = from_router() / ip(kVip, client, ttl) / tcp(80, sport, SYN);
  return with_vnet(f);
}
std::vector<uint8_t> client_ack(uint16_t sport) {
  auto f = from_router() / ip(kVip, kClientIp) / tcp(80, sport, ACK, 1001, 5001);
  return with_vnet(f);
}
std::vector<uint8_t> backend_syn_ack(int b, uint16_t client_port, uint16_t backend_port = 80) {
  auto f = from_backend(b) / ip(kClientIp, kBackendIp[b]) / tcp(client_port, backend_port, SYN | ACK, 5000, 1001);
  return with_vnet(f);
}

// ----------------------------------------------------------------- fixture

class EngineTest : public ::testing::Test {
 protected:
  explicit EngineTest(uint16_t backend_port = 80) : cfg(lab_config(backend_port)), engine(cfg, io) {}

  lb::Config cfg;
  lb::MemIo io{2};
  lb::Engine engine;
  // flows() judges expiry by Engine::now_ms(), so the test's clock starts there.
  uint64_t now = lb::Engine::now_ms();

  void inject(size_t port, std::vector<uint8_t> vframe) {
    io.inject(port, std::move(vframe));
    engine.drain(now);
  }
  void inject(size_t port, Tins::PDU& pdu) { inject(port, with_vnet(pdu)); }

  std::vector<std::vector<uint8_t>> take(size_t port) {
    auto& q = io.sent(port);
    std::vector<std::vector<uint8_t>> out(q.begin(), q.end());
    q.clear();
    return out;
  }
  // The one frame sent on `port`, after checking nothing else was sent anywhere.
  std::vector<uint8_t> only_output(size_t port) {
    auto mine = take(port), other = take(1 - port);
    EXPECT_EQ(other.size(), 0u) << "unexpected frame on port " << 1 - port << ":\n"
                                << (other.empty() ? "" : describe(other.front()));
    EXPECT_EQ(mine.size(), 1u) << "frames sent on port " << port
                               << (mine.size() > 1 ? ", the second:\n" + describe(mine[1]) : "");
    return mine.empty() ? std::vector<uint8_t>{} : mine.front();
  }
  void expect_no_output() {
    for (size_t p : {kFront, kBack}) {
      auto out = take(p);
      EXPECT_EQ(out.size(), 0u) << "port " << p << " sent:\n" << (out.empty() ? "" : describe(out.front()));
    }
  }
  uint64_t drops(Drop d) const { return engine.stats().drops[static_cast<size_t>(d)].load(); }

  // housekeeping() asks for the backends' and the router's MACs; they answer.
  void resolve_neighbours() {
    engine.housekeeping(now);
    take(kFront);
    take(kBack);
    for (int b = 0; b < 3; ++b) {
      auto reply = Tins::ARP::make_arp_reply(kBackIp, kBackendIp[b], hw(kBackMac), hw(kBackendMac[b]));
      inject(kBack, reply);
    }
    auto reply = Tins::ARP::make_arp_reply(kFrontIp, kRouterIp, hw(kFrontMac), hw(kRouterMac));
    inject(kFront, reply);
    expect_no_output();
  }
};

// ----------------------------------------------------------------- ARP

TEST_F(EngineTest, ArpRequestForTheVipIsAnsweredWithTheFrontMac) {
  auto req = Tins::ARP::make_arp_request(kVip, kRouterIp, hw(kRouterMac));
  inject(kFront, req);
  auto out = only_output(kFront);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
  EXPECT_EQ(s.eth.src_addr().to_string(), kFrontMac);
  const auto* arp = s.eth.find_pdu<Tins::ARP>();
  ASSERT_NE(arp, nullptr);
  EXPECT_EQ(arp->opcode(), Tins::ARP::REPLY);
  EXPECT_EQ(arp->sender_hw_addr().to_string(), kFrontMac);
  EXPECT_EQ(arp->sender_ip_addr().to_string(), kVip);
  EXPECT_EQ(arp->target_hw_addr().to_string(), kRouterMac);
  EXPECT_EQ(arp->target_ip_addr().to_string(), kRouterIp);
  EXPECT_EQ(engine.stats().arp_replies.load(), 1u);
}

TEST_F(EngineTest, ArpRequestForThePortAddressIsAnsweredOnThatPort) {
  auto req = Tins::ARP::make_arp_request(kBackIp, kBackendIp[1], hw(kBackendMac[1]));
  inject(kBack, req);
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  const auto* arp = s.eth.find_pdu<Tins::ARP>();
  ASSERT_NE(arp, nullptr);
  EXPECT_EQ(arp->opcode(), Tins::ARP::REPLY);
  EXPECT_EQ(arp->sender_hw_addr().to_string(), kBackMac);
  EXPECT_EQ(arp->sender_ip_addr().to_string(), kBackIp);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kBackendMac[1]);
}

TEST_F(EngineTest, ArpRequestForAnUnrelatedAddressIsNotAnswered) {
  auto req = Tins::ARP::make_arp_request("203.0.113.77", kRouterIp, hw(kRouterMac));
  inject(kFront, req);
  expect_no_output();
  EXPECT_EQ(drops(Drop::arp_not_for_us), 1u);
  EXPECT_EQ(engine.stats().arp_replies.load(), 0u);
}

TEST_F(EngineTest, ArpRequestForTheVipOnTheBackPortIsNotAnswered) {
  auto req = Tins::ARP::make_arp_request(kVip, kBackendIp[0], hw(kBackendMac[0]));
  inject(kBack, req);
  expect_no_output();
  EXPECT_EQ(drops(Drop::arp_not_for_us), 1u);
}

TEST_F(EngineTest, ArpRequestUnicastToAnotherMacIsNotAnswered) {
  auto req = Tins::ARP::make_arp_request(kVip, kRouterIp, hw(kRouterMac));
  req.dst_addr(hw("02:00:00:99:99:99"));
  inject(kFront, req);
  expect_no_output();
  EXPECT_EQ(drops(Drop::not_our_mac), 1u);
}

TEST_F(EngineTest, HousekeepingSendsOneArpRequestForEachBackendAndTheGateway) {
  engine.housekeeping(now);
  std::multiset<std::string> back_targets;
  for (auto& f : take(kBack)) {
    SCOPED_TRACE(describe(f));
    Sent s(f);
    EXPECT_EQ(s.eth.dst_addr().to_string(), "ff:ff:ff:ff:ff:ff");
    EXPECT_EQ(s.eth.src_addr().to_string(), kBackMac);
    const auto* arp = s.eth.find_pdu<Tins::ARP>();
    ASSERT_NE(arp, nullptr);
    EXPECT_EQ(arp->opcode(), Tins::ARP::REQUEST);
    EXPECT_EQ(arp->sender_hw_addr().to_string(), kBackMac);
    EXPECT_EQ(arp->sender_ip_addr().to_string(), kBackIp);
    back_targets.insert(arp->target_ip_addr().to_string());
  }
  EXPECT_EQ(back_targets, (std::multiset<std::string>{kBackendIp[0], kBackendIp[1], kBackendIp[2]}))
      << "one request per backend, though two VIPs share them";
  auto front = take(kFront);
  ASSERT_EQ(front.size(), 1u);
  SCOPED_TRACE(describe(front[0]));
  Sent s(front[0]);
  const auto* arp = s.eth.find_pdu<Tins::ARP>();
  ASSERT_NE(arp, nullptr);
  EXPECT_EQ(arp->opcode(), Tins::ARP::REQUEST);
  EXPECT_EQ(arp->target_ip_addr().to_string(), kRouterIp);
  EXPECT_EQ(arp->sender_ip_addr().to_string(), kFrontIp);
  EXPECT_EQ(arp->sender_hw_addr().to_string(), kFrontMac);
  EXPECT_EQ(engine.stats().arp_requests_sent.load(), 4u);
}

// A neighbour never resolved is asked again quickly a few times (a port just opened may
// not forward the first request), then once a second.
TEST_F(EngineTest, UnresolvedNeighboursAreAskedThreeTimesQuicklyThenOnceASecond) {
  auto asked_for_backend0 = [&] {
    int n = 0;
    for (const auto& f : take(kBack)) {
      Tins::EthernetII eth(f.data() + kVnetLen, static_cast<uint32_t>(f.size() - kVnetLen));
      const auto* arp = eth.find_pdu<Tins::ARP>();
      n += arp && arp->opcode() == Tins::ARP::REQUEST && arp->target_ip_addr().to_string() == kBackendIp[0];
    }
    take(kFront);
    return n;
  };
  std::vector<int> asked;
  for (uint64_t t : {0, 50, 100, 150, 200, 300, 400, 900, 1300, 1350, 2300}) {
    engine.housekeeping(now + t);
    asked.push_back(asked_for_backend0());
  }
  // At 0, 100, 200 (three quick tries), then 1 s after the last: 1200 is not looked at,
  // so 1300; then 2300.
  EXPECT_EQ(asked, (std::vector<int>{1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1}));
}

TEST_F(EngineTest, HousekeepingDoesNotAskAgainForResolvedNeighbours) {
  resolve_neighbours();
  engine.housekeeping(now + 5000);
  expect_no_output();
}

// ----------------------------------------------------------------- TCP through the LB

TEST_F(EngineTest, ClientSynLeavesOnTheBackPortDnatedToABackend) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.tcp, nullptr);
  EXPECT_EQ(s.eth.src_addr().to_string(), kBackMac);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kBackendMac[0]);
  EXPECT_EQ(s.ip->src_addr().to_string(), kClientIp) << "inline mode keeps the client address";
  EXPECT_EQ(s.ip->dst_addr().to_string(), kBackendIp[0]);
  EXPECT_EQ(int(s.ip->ttl()), 63);
  EXPECT_EQ(s.ip->id(), 0x4242);
  EXPECT_EQ(s.tcp->sport(), 40001) << "inline mode keeps the client port";
  EXPECT_EQ(s.tcp->dport(), 80);
  EXPECT_EQ(int(s.tcp->flags()), int(SYN));
  EXPECT_EQ(s.tcp->seq(), 1000u);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
  EXPECT_EQ(engine.stats().flows_created.load(), 1u);
  EXPECT_EQ(engine.backend_stats(0, 0).flows_active.load(), 1u);
}

TEST_F(EngineTest, ForwardedFrameDropsTheEthernetPadding) {
  resolve_neighbours();
  auto syn = client_syn(40001);
  ASSERT_EQ(syn.size(), kVnetLen + 60u) << "libtins pads the 54-byte frame to 60";
  inject(kFront, syn);
  auto out = only_output(kBack);
  EXPECT_EQ(out.size(), kVnetLen + kEthLen + 40u) << describe(out);
}

// A neighbour that answers ARP with a new MAC (a server replaced, a VRRP router moved) gets
// the next frame at its new MAC, though the engine remembers where its destinations lead.
TEST_F(EngineTest, AFlowFollowsItsServerToANewMac) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  ASSERT_EQ(Sent(only_output(kBack)).eth.dst_addr().to_string(), kBackendMac[0]);
  const char* const moved = "02:00:00:02:00:99";
  auto reply = Tins::ARP::make_arp_reply(kBackIp, kBackendIp[0], hw(kBackMac), hw(moved));
  inject(kBack, reply);
  expect_no_output();
  inject(kFront, client_ack(40001));
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(Sent(out).eth.dst_addr().to_string(), moved) << describe(out);
}

TEST_F(EngineTest, BackendSynAckLeavesOnTheFrontPortFromTheVip) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  take(kBack);
  inject(kBack, backend_syn_ack(0, 40001));
  auto out = only_output(kFront);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.tcp, nullptr);
  EXPECT_EQ(s.eth.src_addr().to_string(), kFrontMac);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac) << "the client is behind the default route";
  EXPECT_EQ(s.ip->src_addr().to_string(), kVip);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kClientIp);
  EXPECT_EQ(int(s.ip->ttl()), 63);
  EXPECT_EQ(s.tcp->sport(), 80);
  EXPECT_EQ(s.tcp->dport(), 40001);
  EXPECT_EQ(int(s.tcp->flags()), int(SYN | ACK));
  EXPECT_EQ(s.tcp->ack_seq(), 1001u);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
}

TEST_F(EngineTest, ThreeClientPortsGoToThreeBackendsInTurn) {
  resolve_neighbours();
  for (int i = 0; i < 3; ++i) {
    inject(kFront, client_syn(static_cast<uint16_t>(40001 + i)));
    auto out = only_output(kBack);
    ASSERT_FALSE(out.empty());
    SCOPED_TRACE(describe(out));
    Sent s(out);
    EXPECT_EQ(s.ip->dst_addr().to_string(), kBackendIp[i]) << "SYN from client port " << 40001 + i;
    EXPECT_EQ(s.eth.dst_addr().to_string(), kBackendMac[i]);
    EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
  }
  for (int b = 0; b < 3; ++b) EXPECT_EQ(engine.backend_stats(0, b).flows_total.load(), 1u) << "backend " << b;
}

TEST_F(EngineTest, LaterPacketsOfAFlowStayOnItsBackend) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  inject(kFront, client_syn(40002));
  take(kBack);
  inject(kBack, backend_syn_ack(0, 40001));
  take(kFront);
  inject(kFront, client_ack(40001));
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kBackendIp[0]);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kBackendMac[0]);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
}

TEST_F(EngineTest, TcpAckWithoutAFlowIsDroppedAsNoFlow) {
  resolve_neighbours();
  inject(kFront, client_ack(40001));
  expect_no_output();
  EXPECT_EQ(drops(Drop::no_flow), 1u);
  EXPECT_EQ(engine.stats().flows_created.load(), 0u);
}

TEST_F(EngineTest, PacketToAnAddressThatIsNotAVipIsCountedNotForVip) {
  resolve_neighbours();
  auto f = from_router() / ip("203.0.113.99", kClientIp) / tcp(80, 40001, SYN);
  inject(kFront, f);
  expect_no_output();
  EXPECT_EQ(drops(Drop::not_for_vip), 1u);
}

TEST_F(EngineTest, VipPortWithoutAServiceIsCountedNoService) {
  resolve_neighbours();
  auto f = from_router() / ip(kVip, kClientIp) / tcp(443, 40001, SYN);
  inject(kFront, f);
  expect_no_output();
  EXPECT_EQ(drops(Drop::no_service), 1u);
}

TEST_F(EngineTest, FrameToAnotherMacIsCountedNotOurMac) {
  resolve_neighbours();
  auto f = Tins::EthernetII(hw("02:00:00:99:99:99"), hw(kRouterMac)) / ip(kVip, kClientIp) / tcp(80, 40001, SYN);
  inject(kFront, f);
  expect_no_output();
  EXPECT_EQ(drops(Drop::not_our_mac), 1u);
  EXPECT_EQ(engine.stats().flows_created.load(), 0u);
}

TEST_F(EngineTest, SynWithTtlOfOneIsDroppedAsTtlExceededWithoutAFlow) {
  resolve_neighbours();
  inject(kFront, client_syn(40001, 1));
  expect_no_output();
  EXPECT_EQ(drops(Drop::ttl_exceeded), 1u);
  EXPECT_EQ(engine.stats().flows_created.load(), 0u) << "a packet that cannot be forwarded must not create a flow";
}

TEST_F(EngineTest, PacketOfAFlowWithTtlOfOneIsDroppedAsTtlExceeded) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  take(kBack);
  auto f = from_router() / ip(kVip, kClientIp, 1) / tcp(80, 40001, ACK, 1001, 5001);
  inject(kFront, f);
  expect_no_output();
  EXPECT_EQ(drops(Drop::ttl_exceeded), 1u);
}

TEST_F(EngineTest, UnresolvedBackendTriggersAnArpRequestAndCountsNeighUnresolved) {
  inject(kFront, client_syn(40001));
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  const auto* arp = s.eth.find_pdu<Tins::ARP>();
  ASSERT_NE(arp, nullptr) << "expected an ARP request, not the SYN";
  EXPECT_EQ(arp->target_ip_addr().to_string(), kBackendIp[0]);
  EXPECT_EQ(drops(Drop::neigh_unresolved), 1u);
}

TEST_F(EngineTest, ReplyAfterTheFlowExpiredIsNotForwarded) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  take(kBack);
  now += cfg.timeouts.tcp_syn * 1000ull;  // the SYN's deadline
  inject(kBack, backend_syn_ack(0, 40001));
  expect_no_output();
  EXPECT_EQ(drops(Drop::not_for_vip), 1u);
  EXPECT_EQ(engine.stats().flows_active.load(), 0u);
  EXPECT_EQ(engine.backend_stats(0, 0).flows_active.load(), 0u);
}

// A flow found past its deadline by a packet is released on the spot; it expired all the
// same, so flows_expired must count it, as it does when housekeeping finds it first
// (otherwise flows_created != flows_active + flows_expired depending on timing).
TEST_F(EngineTest, FlowFoundExpiredByAPacketIsCountedAsExpired) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  take(kBack);
  now += cfg.timeouts.tcp_syn * 1000ull;
  inject(kBack, backend_syn_ack(0, 40001));
  expect_no_output();
  const auto& st = engine.stats();
  EXPECT_EQ(st.flows_active.load(), 0u);
  EXPECT_EQ(st.flows_expired.load(), 1u) << "flows_created " << st.flows_created.load() << ", flows_active "
                                         << st.flows_active.load();
}

TEST_F(EngineTest, HousekeepingExpiresIdleFlows) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  take(kBack);
  EXPECT_EQ(engine.stats().flows_active.load(), 1u);
  engine.housekeeping(now + cfg.timeouts.tcp_syn * 1000ull);
  EXPECT_EQ(engine.stats().flows_expired.load(), 1u);
  EXPECT_EQ(engine.stats().flows_active.load(), 0u);
  EXPECT_EQ(engine.backend_stats(0, 0).flows_active.load(), 0u);
}

TEST_F(EngineTest, PartialChecksumSynKeepsAPartialSumForTheNewAddresses) {
  resolve_neighbours();
  auto syn = client_syn(40001);
  make_partial(syn);
  inject(kFront, syn);
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  EXPECT_EQ(out[0] & 1, 1) << "NEEDS_CSUM must stay set: the kernel still has to finish the sum";
  EXPECT_EQ(out[6] | out[7] << 8, int(kEthLen + 20)) << "csum_start";
  EXPECT_EQ(out[8] | out[9] << 8, 16) << "csum_offset";
  const uint8_t* ipb = out.data() + kVnetLen + kEthLen;
  EXPECT_EQ(stored_ip_check(ipb), ref_ip_check(ipb)) << "IP header checksum";
  EXPECT_EQ(complete_partial(ipb), ref_l4_check(ipb)) << "the completed TCP checksum (actual) vs recomputation";
}

// Backends on another port than the VIP: the port is translated both ways.
class EngineBackendPortTest : public EngineTest {
 protected:
  EngineBackendPortTest() : EngineTest(8080) {}
};

TEST_F(EngineBackendPortTest, PortIsTranslatedToTheBackendAndBack) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  auto in = only_output(kBack);
  ASSERT_FALSE(in.empty());
  {
    SCOPED_TRACE(describe(in));
    Sent s(in);
    ASSERT_NE(s.tcp, nullptr);
    EXPECT_EQ(s.tcp->dport(), 8080);
    EXPECT_EQ(s.tcp->sport(), 40001);
    EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
  }
  inject(kBack, backend_syn_ack(0, 40001, 8080));
  auto back = only_output(kFront);
  ASSERT_FALSE(back.empty());
  SCOPED_TRACE(describe(back));
  Sent s(back);
  ASSERT_NE(s.tcp, nullptr);
  EXPECT_EQ(s.ip->src_addr().to_string(), kVip);
  EXPECT_EQ(s.tcp->sport(), 80);
  EXPECT_EQ(s.tcp->dport(), 40001);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
}

TEST_F(EngineTest, SynReusingTheClientPortOfAClosedFlowStartsANewFlow) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  inject(kBack, backend_syn_ack(0, 40001));
  inject(kFront, client_ack(40001));
  auto fin = from_router() / ip(kVip, kClientIp) / tcp(80, 40001, Tins::TCP::FIN | ACK, 1001, 5001);
  inject(kFront, fin);
  auto fin_back = from_backend(0) / ip(kClientIp, kBackendIp[0]) / tcp(40001, 80, Tins::TCP::FIN | ACK, 5001, 1002);
  inject(kBack, fin_back);
  take(kFront);
  take(kBack);
  inject(kFront, client_syn(40001));
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kBackendIp[1]) << "a new flow, scheduled afresh";
  EXPECT_EQ(engine.stats().flows_created.load(), 2u);
  EXPECT_EQ(engine.stats().flows_active.load(), 1u);
}

TEST_F(EngineTest, ShortFramesAndOtherEthertypesAreCounted) {
  inject(kFront, std::vector<uint8_t>(5, 0));
  inject(kFront, std::vector<uint8_t>(kVnetLen + kEthLen - 1, 0));
  EXPECT_EQ(drops(Drop::frame_too_short), 2u);
  auto v6 = Tins::EthernetII(hw(kFrontMac), hw(kRouterMac)) / Tins::IPv6("2001:db8::1", "2001:db8::2") / Tins::UDP(80, 5353);
  inject(kFront, v6);
  EXPECT_EQ(drops(Drop::unknown_ethertype), 1u);
  expect_no_output();
}

// A full table makes room by evicting a flow, and counts it: an embryonic flow (only a
// SYN seen) goes before an established one, which is spared by the second chance, even
// though the embryonic flow came first and the eviction hand meets it last.
TEST(EngineLimits, NewFlowInAFullTableEvictsAnEmbryonicFlowBeforeAnEstablishedOne) {
  lb::Config cfg = lab_config();
  cfg.max_flows = 2;
  lb::MemIo io(2);
  lb::Engine engine(cfg, io);
  const uint64_t now = lb::Engine::now_ms();
  io.inject(kFront, client_syn(40002));  // flow id 0: stays embryonic
  io.inject(kFront, client_syn(40001));  // flow id 1: established below
  engine.drain(now);
  for (int b = 0; b < 3; ++b) io.inject(kBack, backend_syn_ack(b, 40001));  // the one its server sends passes
  engine.drain(now);
  io.inject(kFront, client_ack(40001));
  engine.drain(now);
  size_t established = 0;
  for (const auto& f : engine.flows()) established += f.state == "established" && f.client.ends_with(":40001");
  ASSERT_EQ(established, 1u) << "40001 did not get established";
  io.inject(kFront, client_syn(40003));
  engine.drain(now);
  EXPECT_EQ(engine.stats().flows_created.load(), 3u);
  EXPECT_EQ(engine.stats().flows_evicted.load(), 1u);
  EXPECT_EQ(engine.stats().drops[static_cast<size_t>(Drop::flow_table_full)].load(), 0u);
  io.inject(kFront, client_ack(40002));  // evicted: an ACK without a flow
  io.inject(kFront, client_ack(40001));  // kept
  engine.drain(now);
  EXPECT_EQ(engine.stats().drops[static_cast<size_t>(Drop::no_flow)].load(), 1u) << "only 40002's ACK lost its flow";
  EXPECT_EQ(engine.stats().flows_created.load(), 3u);
  uint32_t active = 0;
  for (size_t b = 0; b < cfg.vips[0].backends.size(); ++b) active += engine.backend_stats(0, b).flows_active.load();
  EXPECT_EQ(active, 2u) << "the evicted flow left its backend's count";
}

TEST(EngineLimits, VipWhoseBackendsAllHaveWeightZeroCountsNoBackend) {
  lb::Config cfg = lab_config();
  for (auto& b : cfg.vips[0].backends) b.weight = 0;
  lb::MemIo io(2);
  lb::Engine engine(cfg, io);
  io.inject(kFront, client_syn(40001));
  engine.drain(lb::Engine::now_ms());
  EXPECT_EQ(engine.stats().drops[static_cast<size_t>(Drop::no_backend)].load(), 1u);
  EXPECT_EQ(engine.stats().flows_created.load(), 0u);
  EXPECT_TRUE(io.sent(kBack).empty());
}

// ----------------------------------------------------------------- UDP, ICMP

TEST_F(EngineTest, UdpDatagramToTheVipIsForwardedAndItsReplyTranslated) {
  resolve_neighbours();
  auto q = from_router() / ip(kVip, kClientIp) / Tins::UDP(80, 5353) / Tins::RawPDU("hello");  // odd length
  inject(kFront, q);
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  {
    SCOPED_TRACE(describe(out));
    Sent s(out);
    ASSERT_NE(s.udp, nullptr);
    EXPECT_EQ(s.eth.dst_addr().to_string(), kBackendMac[0]);
    EXPECT_EQ(s.ip->src_addr().to_string(), kClientIp);
    EXPECT_EQ(s.ip->dst_addr().to_string(), kBackendIp[0]);
    EXPECT_EQ(s.udp->sport(), 5353);
    EXPECT_EQ(s.udp->dport(), 80);
    EXPECT_EQ(int(s.ip->ttl()), 63);
    EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
  }
  auto r = from_backend(0) / ip(kClientIp, kBackendIp[0]) / Tins::UDP(5353, 80) / Tins::RawPDU("world!");
  inject(kBack, r);
  auto reply = only_output(kFront);
  ASSERT_FALSE(reply.empty());
  SCOPED_TRACE(describe(reply));
  Sent s(reply);
  ASSERT_NE(s.udp, nullptr);
  EXPECT_EQ(s.eth.src_addr().to_string(), kFrontMac);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
  EXPECT_EQ(s.ip->src_addr().to_string(), kVip);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kClientIp);
  EXPECT_EQ(s.udp->sport(), 80);
  EXPECT_EQ(s.udp->dport(), 5353);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
}

TEST_F(EngineTest, UdpWithoutChecksumIsForwardedWithoutChecksum) {
  resolve_neighbours();
  auto q = from_router() / ip(kVip, kClientIp) / Tins::UDP(80, 5353) / Tins::RawPDU("hello");
  auto v = with_vnet(q);
  v[kVnetLen + kEthLen + 20 + 6] = v[kVnetLen + kEthLen + 20 + 7] = 0;
  inject(kFront, v);
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  const uint8_t* ipb = out.data() + kVnetLen + kEthLen;
  EXPECT_EQ(stored_l4_check(ipb), 0);
  EXPECT_EQ(stored_ip_check(ipb), ref_ip_check(ipb));
}

TEST_F(EngineTest, IcmpEchoToTheVipGetsAnEchoReplyFromTheVip) {
  resolve_neighbours();
  Tins::ICMP echo(Tins::ICMP::ECHO_REQUEST);
  echo.id(0x1234);
  echo.sequence(7);
  auto req = from_router() / ip(kVip, kClientIp, 57) / echo / Tins::RawPDU("abcdefghijk");  // odd length
  inject(kFront, req);
  auto out = only_output(kFront);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.icmp, nullptr);
  EXPECT_EQ(s.eth.src_addr().to_string(), kFrontMac);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
  EXPECT_EQ(s.ip->src_addr().to_string(), kVip);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kClientIp);
  EXPECT_EQ(s.icmp->type(), Tins::ICMP::ECHO_REPLY);
  EXPECT_EQ(s.icmp->code(), 0);
  EXPECT_EQ(s.icmp->id(), 0x1234);
  EXPECT_EQ(s.icmp->sequence(), 7);
  const auto* data = s.eth.find_pdu<Tins::RawPDU>();
  ASSERT_NE(data, nullptr);
  EXPECT_EQ(std::string(data->payload().begin(), data->payload().end()), "abcdefghijk");
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
  EXPECT_EQ(engine.stats().icmp_echo_replies.load(), 1u);
}

TEST_F(EngineTest, IcmpEchoToThePortAddressIsAnswered) {
  resolve_neighbours();
  Tins::ICMP echo(Tins::ICMP::ECHO_REQUEST);
  echo.id(9);
  echo.sequence(1);
  auto req = from_router() / ip(kFrontIp, kClientIp) / echo / Tins::RawPDU("ping");
  inject(kFront, req);
  auto out = only_output(kFront);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.icmp, nullptr);
  EXPECT_EQ(s.ip->src_addr().to_string(), kFrontIp);
  EXPECT_EQ(s.icmp->type(), Tins::ICMP::ECHO_REPLY);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
}

// ----------------------------------------------------------------- ICMP errors about flows

// A server's ICMP error about an inline flow reaches the client from the VIP, quoting the
// client's own datagram (CIP:cport -> VIP:80).
TEST_F(EngineTest, ServerPortUnreachableAboutAUdpFlowReachesTheClientFromTheVip) {
  resolve_neighbours();
  auto q = from_router() / ip(kVip, kClientIp) / Tins::UDP(80, 5353) / Tins::RawPDU("hello");
  const auto qv = with_vnet(q);
  const std::vector<uint8_t> client_packet(qv.begin() + kVnetLen + kEthLen, qv.begin() + kVnetLen + kEthLen + 33);
  inject(kFront, qv);
  auto fwd = only_output(kBack);
  ASSERT_FALSE(fwd.empty());
  const std::vector<uint8_t> received(fwd.begin() + kVnetLen + kEthLen, fwd.end());  // what the server got

  Tins::ICMP unreach(Tins::ICMP::DEST_UNREACHABLE);
  unreach.code(3);
  auto err = from_backend(0) / ip(kClientIp, kBackendIp[0]) / unreach / Tins::RawPDU(received);
  inject(kBack, err);
  auto out = only_output(kFront);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.ip, nullptr);
  EXPECT_EQ(s.eth.src_addr().to_string(), kFrontMac);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
  EXPECT_EQ(s.ip->src_addr().to_string(), kVip) << "the server's error must come from the VIP";
  EXPECT_EQ(s.ip->dst_addr().to_string(), kClientIp);
  EXPECT_EQ(int(s.ip->ttl()), 63);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes())) << "outer IP and ICMP checksums";
  IcmpErrorAt e{s.ip_bytes()};
  EXPECT_EQ(e.type(), 3);
  EXPECT_EQ(e.code(), 3);
  ASSERT_EQ(e.quote_len(), received.size());
  const uint8_t* qip = e.quote();
  EXPECT_EQ(src_of(qip), kClientIp);
  EXPECT_EQ(dst_of(qip), kVip);
  EXPECT_EQ(sport_of(qip), 5353);
  EXPECT_EQ(dport_of(qip), 80);
  EXPECT_EQ(stored_ip_check(qip), ref_ip_check(qip)) << "quoted IP header checksum";
  EXPECT_EQ(stored_l4_check(qip), stored_l4_check(client_packet.data())) << "the quoted UDP checksum is the client's own";
  EXPECT_EQ(engine.stats().icmp_errors_translated.load(), 1u);
}

// The router cannot pass our reply to the client on (fragmentation needed): its error,
// addressed to the VIP, reaches the server, quoting the reply as the server sent it.
TEST_F(EngineTest, RouterFragNeededAboutAReplyReachesTheServerInItsView) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  take(kBack);
  inject(kBack, backend_syn_ack(0, 40001));
  auto reply = only_output(kFront);  // VIP:80 -> CIP:40001, as the router got it
  ASSERT_FALSE(reply.empty());
  const std::vector<uint8_t> quoted(reply.begin() + kVnetLen + kEthLen, reply.end());

  Tins::ICMP frag(Tins::ICMP::DEST_UNREACHABLE);
  frag.code(4);
  frag.mtu(1400);
  auto err = from_router() / ip(kVip, kRouterIp) / frag / Tins::RawPDU(quoted);
  inject(kFront, err);
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.ip, nullptr);
  EXPECT_EQ(s.eth.src_addr().to_string(), kBackMac);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kBackendMac[0]);
  EXPECT_EQ(s.ip->src_addr().to_string(), kRouterIp);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kBackendIp[0]);
  EXPECT_EQ(int(s.ip->ttl()), 63);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes())) << "outer IP and ICMP checksums";
  IcmpErrorAt e{s.ip_bytes()};
  EXPECT_EQ(e.type(), 3);
  EXPECT_EQ(e.code(), 4);
  EXPECT_EQ(e.next_hop_mtu(), 1400);
  ASSERT_EQ(e.quote_len(), quoted.size());
  const uint8_t* qip = e.quote();
  EXPECT_EQ(src_of(qip), kBackendIp[0]);
  EXPECT_EQ(dst_of(qip), kClientIp);
  EXPECT_EQ(sport_of(qip), 80);
  EXPECT_EQ(dport_of(qip), 40001);
  EXPECT_EQ(stored_ip_check(qip), ref_ip_check(qip)) << "quoted IP header checksum";
  EXPECT_TRUE(ChecksumsMatchRecomputation(qip)) << "the quoted SYN-ACK is whole: its TCP checksum holds too";
}

// RFC 792 routers quote the IP header and only 8 bytes of TCP (ports and sequence, no
// checksum field): the ports are still translated.
TEST_F(EngineTest, TimeExceededQuotingEightBytesOfTcpIsTranslated) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  take(kBack);
  inject(kBack, backend_syn_ack(0, 40001));
  auto reply = only_output(kFront);
  ASSERT_FALSE(reply.empty());
  const std::vector<uint8_t> quoted(reply.begin() + kVnetLen + kEthLen, reply.begin() + kVnetLen + kEthLen + 28);

  Tins::ICMP te(Tins::ICMP::TIME_EXCEEDED);
  auto err = from_router() / ip(kVip, kRouterIp) / te / Tins::RawPDU(quoted);
  inject(kFront, err);
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.ip, nullptr);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kBackendIp[0]);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes())) << "outer IP and ICMP checksums";
  IcmpErrorAt e{s.ip_bytes()};
  EXPECT_EQ(e.type(), 11);
  ASSERT_EQ(e.quote_len(), 28u);
  const uint8_t* qip = e.quote();
  EXPECT_EQ(src_of(qip), kBackendIp[0]);
  EXPECT_EQ(dst_of(qip), kClientIp);
  EXPECT_EQ(sport_of(qip), 80);
  EXPECT_EQ(dport_of(qip), 40001);
  EXPECT_EQ(stored_ip_check(qip), ref_ip_check(qip)) << "quoted IP header checksum";
  EXPECT_EQ(be32(qip + 24), 5000u) << "the quoted sequence number is left alone";
}

TEST_F(EngineTest, IcmpErrorsQuotingUnknownFlowsAreCountedIcmpUnhandled) {
  resolve_neighbours();
  Tins::ICMP unreach(Tins::ICMP::DEST_UNREACHABLE);
  unreach.code(3);
  // From a server, about a datagram no flow sent it.
  auto to_server = ip(kBackendIp[0], kClientIp) / Tins::UDP(80, 3333) / Tins::RawPDU("x");
  auto e1 = from_backend(0) / ip(kClientIp, kBackendIp[0]) / unreach / Tins::RawPDU(to_server.serialize());
  inject(kBack, e1);
  // From the router to the VIP, about a reply no flow sent.
  auto to_client = ip(kClientIp, kVip) / Tins::UDP(3333, 80) / Tins::RawPDU("x");
  auto e2 = from_router() / ip(kVip, kRouterIp) / unreach / Tins::RawPDU(to_client.serialize());
  inject(kFront, e2);
  expect_no_output();
  EXPECT_EQ(drops(Drop::icmp_unhandled), 2u);
  EXPECT_EQ(engine.stats().icmp_errors_translated.load(), 0u);
}

// ----------------------------------------------------------------- flows()

TEST_F(EngineTest, FlowsListsEachFlowWithItsClientAndBackend) {
  resolve_neighbours();
  inject(kFront, client_syn(40001));
  inject(kFront, client_syn(40002));
  inject(kBack, backend_syn_ack(0, 40001));
  auto q = from_router() / ip(kVip, kClientIp) / Tins::UDP(80, 5353) / Tins::RawPDU("hello");
  inject(kFront, q);
  take(kFront);
  take(kBack);

  auto flows = engine.flows();
  ASSERT_EQ(flows.size(), 3u);
  std::sort(flows.begin(), flows.end(), [](auto& a, auto& b) { return a.client < b.client; });
  EXPECT_EQ(flows[0].client, "198.51.100.11:40001");
  EXPECT_EQ(flows[0].backend, "192.0.2.11:80");
  EXPECT_EQ(flows[0].vip, "203.0.113.10:80");
  EXPECT_EQ(flows[0].protocol, "tcp");
  EXPECT_EQ(flows[0].state, "syn_recv");
  EXPECT_EQ(flows[0].packets_in, 1u);
  EXPECT_EQ(flows[0].packets_out, 1u);
  EXPECT_EQ(flows[1].client, "198.51.100.11:40002");
  EXPECT_EQ(flows[1].backend, "192.0.2.12:80");
  EXPECT_EQ(flows[1].state, "syn_sent");
  EXPECT_EQ(flows[2].client, "198.51.100.11:5353");
  EXPECT_EQ(flows[2].backend, "192.0.2.11:80") << "the UDP VIP has its own round robin";
  EXPECT_EQ(flows[2].protocol, "udp");
}


// ----------------------------------------------------------------- scheduling, sessions, control

class SessionTest : public EngineTest {
 protected:
  // The backend (0..2) a new SYN from client:sport went to, or -1 when none was sent.
  int syn_goes_to(uint16_t sport, const char* client = kClientIp) {
    inject(kFront, client_syn(sport, 64, client));
    auto out = take(kBack);
    take(kFront);
    if (out.size() != 1) return -1;
    Sent s(out.front());
    for (int b = 0; b < 3; ++b)
      if (s.eth.dst_addr().to_string() == kBackendMac[b]) return b;
    return -1;
  }
  const lb::BackendInfo* info(int b) {
    infos = engine.backends();
    for (auto& i : infos)
      if (i.vip == "web" && i.address.str() == kBackendIp[b]) return &i;
    return nullptr;
  }
  std::vector<lb::BackendInfo> infos;
};

class PersistenceTest : public SessionTest {
 protected:
  PersistenceTest() {
    cfg.vips[0].persistence_timeout = 10;
    cfg.vips[0].persistence_netmask = 24;
    engine.~Engine();
    new (&engine) lb::Engine(cfg, io);
  }
};

TEST_F(PersistenceTest, AClientsNewConnectionsStickToItsServerUntilTheTimeout) {
  resolve_neighbours();
  const int first = syn_goes_to(40001);
  ASSERT_GE(first, 0);
  EXPECT_EQ(syn_goes_to(40002), first) << "round robin alone would move on";
  EXPECT_EQ(syn_goes_to(40003), first);
  EXPECT_EQ(syn_goes_to(40004, "198.51.100.99"), first) << "the same /24 sticks too";
  const int other = syn_goes_to(40005, "198.51.101.7");
  EXPECT_NE(other, first) << "another /24 is scheduled on its own";
  now += 10 * 1000 - 1;
  EXPECT_EQ(syn_goes_to(40006), first) << "refreshed by the last new flow, not yet expired";
  now += 10 * 1000;
  const int after = syn_goes_to(40007);
  EXPECT_GE(after, 0);
  EXPECT_NE(after, first) << "expired: round robin decides again";
}

TEST_F(PersistenceTest, ADrainedServerLosesItsStickyClients) {
  resolve_neighbours();
  const int first = syn_goes_to(40001);
  ASSERT_GE(first, 0);
  EXPECT_EQ(engine.set_weight("", lb::IpAddr::v4(inet_addr(kBackendIp[first])), 80, 0), "");
  const int next = syn_goes_to(40002);
  EXPECT_GE(next, 0);
  EXPECT_NE(next, first);
}

TEST_F(SessionTest, WeightZeroDrainsNewFlowsWhileLiveOnesContinue) {
  resolve_neighbours();
  ASSERT_EQ(syn_goes_to(40001), 0);
  EXPECT_EQ(engine.set_weight("web", *lb::IpAddr::parse(kBackendIp[0]), 80, 0), "");
  for (uint16_t p = 40002; p < 40008; ++p) EXPECT_NE(syn_goes_to(p), 0) << "port " << p;
  inject(kFront, client_ack(40001));
  auto out = only_output(kBack);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(Sent(out).eth.dst_addr().to_string(), kBackendMac[0]) << "the live flow keeps its server";
  ASSERT_NE(info(0), nullptr);
  EXPECT_EQ(info(0)->state, "draining");
  EXPECT_EQ(info(0)->weight, 0u);
}

TEST_F(SessionTest, LeastConnectionsCountsEstablishedFlowsFromTheTable) {
  resolve_neighbours();
  EXPECT_EQ(engine.set_algorithm("web", lb::Algorithm::lc), "");
  const int b = syn_goes_to(40001);
  ASSERT_GE(b, 0);
  inject(kBack, backend_syn_ack(b, 40001));
  inject(kFront, client_ack(40001));
  take(kFront);
  take(kBack);
  ASSERT_NE(info(b), nullptr);
  EXPECT_EQ(info(b)->established, 1u);
  EXPECT_EQ(info(b)->other, 0u);
  // Its established flow outweighs any number of half-open ones elsewhere (256 : 1).
  for (uint16_t p = 40002; p < 40010; ++p) EXPECT_NE(syn_goes_to(p), b) << "port " << p;
}

TEST_F(SessionTest, HandshakeAndFirstResponseAreMeasuredPerBackend) {
  resolve_neighbours();
  const int b = syn_goes_to(40001);
  ASSERT_GE(b, 0);
  inject(kBack, backend_syn_ack(b, 40001));
  ASSERT_NE(info(b), nullptr);
  EXPECT_EQ(info(b)->rtt_samples, 1u);
  EXPECT_GE(info(b)->connect_ms, 0.0);
  EXPECT_LT(info(b)->response_ms, 0.0) << "no response yet";
  auto req = from_router() / ip(kVip, kClientIp) / tcp(80, 40001, ACK | Tins::TCP::PSH, 1001, 5001) /
             Tins::RawPDU("GET / HTTP/1.0\r\n\r\n");
  inject(kFront, req);
  auto resp = from_backend(b) / ip(kClientIp, kBackendIp[b]) / tcp(40001, 80, ACK | Tins::TCP::PSH, 5001, 1019) /
              Tins::RawPDU("HTTP/1.0 200 OK\r\n\r\n");
  inject(kBack, resp);
  ASSERT_NE(info(b), nullptr);
  EXPECT_EQ(info(b)->rtt_samples, 2u);
  EXPECT_GE(info(b)->response_ms, 0.0);
  EXPECT_GE(info(b)->rtt_ms, info(b)->connect_ms);
  EXPECT_LT(info((b + 1) % 3)->rtt_ms, 0.0) << "the others are unmeasured";
}

// Every packet of a flow follows its entry, whatever the scheduler decides later.
TEST_F(SessionTest, LiveFlowsKeepTheirServerAcrossAlgorithmAndBackendChanges) {
  resolve_neighbours();
  std::vector<int> first;
  for (uint16_t p = 40001; p <= 40006; ++p) first.push_back(syn_goes_to(p));
  EXPECT_EQ(engine.set_algorithm("", lb::Algorithm::maglev), "");
  EXPECT_EQ(engine.set_weight("", *lb::IpAddr::parse(kBackendIp[1]), 80, 7), "");
  EXPECT_EQ(engine.remove_backend("", *lb::IpAddr::parse(kBackendIp[2]), 80), "");
  for (uint16_t p = 40001; p <= 40006; ++p) {
    inject(kFront, client_ack(p));
    auto out = only_output(kBack);
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(Sent(out).eth.dst_addr().to_string(), kBackendMac[first[p - 40001]]) << "port " << p;
  }
}

TEST_F(SessionTest, ControlCommandsChangeNothingWhenWrong) {
  auto ask = [&](const std::string& line) { return lb::handle_admin_command(engine, line); };
  EXPECT_EQ(ask("weight 192.0.2.99:80 3").rfind("error: no backend 192.0.2.99:80", 0), 0u);
  EXPECT_EQ(ask("weight 192.0.2.11:80 1000001").rfind("error:", 0), 0u);
  EXPECT_EQ(ask("weight 192.0.2.11 3").rfind("error:", 0), 0u) << "no port";
  EXPECT_EQ(ask("weight 192.0.2.11:80 3 --vip nosuch").rfind("error: no VIP named 'nosuch'", 0), 0u);
  EXPECT_EQ(ask("algo fastest").rfind("error: unknown algorithm", 0), 0u);
  EXPECT_EQ(ask("add 198.51.100.5:80").rfind("error: VIP web:", 0), 0u) << "inline backends sit on a port's subnet";
  EXPECT_EQ(ask("add 192.0.2.11:80").rfind("error: VIP web already has", 0), 0u);
  EXPECT_EQ(ask("min-active 0").rfind("error:", 0), 0u);
  EXPECT_EQ(ask("bogus").rfind("error: unknown command", 0), 0u);
  for (auto& b : engine.backends()) {
    EXPECT_EQ(b.weight, 1u) << b.vip << " " << b.address.str();
    EXPECT_EQ(b.state, "up");
  }
  for (auto& v : engine.vip_info()) EXPECT_EQ(v.algorithm, "rr");
}

TEST_F(SessionTest, ControlCommandsApplyAtOnce) {
  resolve_neighbours();
  auto ask = [&](const std::string& line) { return lb::handle_admin_command(engine, line); };
  EXPECT_EQ(ask("algo wrr --vip web").rfind("ok:", 0), 0u);
  EXPECT_EQ(engine.vip_info()[0].algorithm, "wrr");
  EXPECT_EQ(engine.vip_info()[1].algorithm, "rr") << "--vip names one VIP";
  EXPECT_EQ(ask("weight 192.0.2.12:80 3").rfind("ok:", 0), 0u);
  int counts[3] = {0, 0, 0};
  for (uint16_t p = 40001; p <= 40010; ++p) {
    const int b = syn_goes_to(p);
    ASSERT_GE(b, 0);
    ++counts[b];
  }
  EXPECT_EQ(counts[0], 2);
  EXPECT_EQ(counts[1], 6) << "weights 1:3:1";
  EXPECT_EQ(counts[2], 2);
  EXPECT_EQ(ask("remove 192.0.2.12:80 --vip web").rfind("ok:", 0), 0u);
  for (uint16_t p = 40011; p <= 40016; ++p) EXPECT_NE(syn_goes_to(p), 1) << "removed";
  ASSERT_NE(info(1), nullptr) << "listed while its flows live";
  EXPECT_EQ(info(1)->state, "removed");
  EXPECT_EQ(ask("add 192.0.2.12:80 --weight 2 --vip web").rfind("ok:", 0), 0u);
  ASSERT_NE(info(1), nullptr);
  EXPECT_EQ(info(1)->state, "up");
  EXPECT_EQ(info(1)->weight, 2u);
  EXPECT_EQ(ask("backends json").rfind("{\"vips\":[{\"name\":\"web\",\"algorithm\":\"wrr\"", 0), 0u);
}

}  // namespace
