// Direct server return over MemIo, one arm (one_arm.hpp). dsr-l2 switches the client's
// frame to a server on the front segment (only the MACs change); dsr-l3-dscp routes it to
// a remote server with the VIP's DSCP code. Replies never cross the LB, so a flow is
// one-way and its TCP state follows the client's packets alone.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <set>
#include <string>
#include <vector>

#include "one_arm.hpp"

namespace {

using namespace lbtest;
using namespace lbtest::onearm;
using lb::Drop;

// ----------------------------------------------------------------- dsr-l2

class DsrL2Test : public OneArmTest {
 protected:
  DsrL2Test() : OneArmTest(one_arm_config(lb::Mode::dsr_l2)) {}
};

TEST_F(DsrL2Test, HousekeepingAsksForEachServerOnTheSegment) {
  engine.housekeeping(now);
  std::set<std::string> targets;
  for (auto& f : take()) {
    Sent s(f);
    const auto* arp = s.eth.find_pdu<Tins::ARP>();
    ASSERT_NE(arp, nullptr) << describe(f);
    targets.insert(arp->target_ip_addr().to_string());
  }
  EXPECT_EQ(targets, (std::set<std::string>{kRouterIp, kL2Ip[0], kL2Ip[1], kL2Ip[2]}));
}

TEST_F(DsrL2Test, SynIsSwitchedToTheServerMacWithTheIpPacketUntouched) {
  resolve_neighbours();
  const auto in = client_syn(40001);
  inject(in);
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kL2Mac[0]) << "the server's MAC";
  EXPECT_EQ(s.eth.src_addr().to_string(), kLbMac);
  EXPECT_EQ(s.eth.payload_type(), 0x0800);
  const uint8_t* in_ip = in.data() + kVnetLen + kEthLen;
  const size_t ip_len = Ipv4At{in_ip}.tot_len();
  ASSERT_EQ(out.size(), kVnetLen + kEthLen + ip_len) << "the IP packet, without the Ethernet padding";
  const std::vector<uint8_t> want(in_ip, in_ip + ip_len), got(s.ip_bytes(), s.ip_bytes() + ip_len);
  EXPECT_EQ(got, want) << "IP packet changed (TTL, addresses, checksums must all stay)\n  expected:\n"
                       << hex(want.data(), want.size()) << "\n  actual:\n" << hex(got.data(), got.size());
}

TEST_F(DsrL2Test, PacketWithTtlOneIsStillSwitched) {
  resolve_neighbours();
  auto f = from_router() / ipv4(kVip, kClient1, 1) / tcp_seg(80, 40001, SYN);
  inject(f);
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  Sent s(out);
  ASSERT_NE(s.ip, nullptr) << describe(out);
  EXPECT_EQ(int(s.ip->ttl()), 1) << "dsr-l2 is not a router hop";
  EXPECT_EQ(drops(Drop::ttl_exceeded), 0u);
}

TEST_F(DsrL2Test, LaterClientAcksFollowTheSameServer) {
  resolve_neighbours();
  inject(client_syn(40001));
  inject(client_syn(40002));
  take();
  inject(client_ack(40001));
  inject(client_ack(40002));
  auto out = take();
  ASSERT_EQ(out.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    SCOPED_TRACE(describe(out[i]));
    Sent s(out[i]);
    ASSERT_NE(s.tcp, nullptr);
    EXPECT_EQ(s.tcp->sport(), 40001 + i);
    EXPECT_EQ(s.eth.dst_addr().to_string(), kL2Mac[i]);
    EXPECT_EQ(s.ip->dst_addr().to_string(), kVip) << "the destination stays the VIP";
  }
  EXPECT_EQ(engine.stats().flows_created.load(), 2u);
}

// The server's SYN-ACK goes straight to the client; were one to reach the LB, no flow key
// would match it: only the client's direction is in the table.
TEST_F(DsrL2Test, DsrL2ReplyNeverCrossesTheLb) {
  resolve_neighbours();
  inject(client_syn(40001));
  take();
  for (const char* from : {kVip, kL2Ip[0]}) {
    auto f = Tins::EthernetII(hw(kLbMac), hw(kL2Mac[0])) / ipv4(kClient1, from) / tcp_seg(40001, 80, SYN | ACK, 5000, 1001);
    inject(f);
  }
  expect_no_output();
  EXPECT_EQ(drops(Drop::not_for_vip), 2u);
  auto flows = engine.flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].packets_in, 1u);
  EXPECT_EQ(flows[0].packets_out, 0u);
  EXPECT_EQ(flows[0].state, "syn_sent");
}

TEST_F(DsrL2Test, TcpStateReachesEstablishedFromTheClientsDirectionAlone) {
  resolve_neighbours();
  inject(client_syn(40001));
  inject(client_ack(40001));
  take();
  auto flows = engine.flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].state, "established");
  EXPECT_EQ(flows[0].backend, "203.0.113.11:80");
  EXPECT_GT(flows[0].expires_in_ms, cfg.timeouts.tcp_syn * 1000ull) << "the established timeout applies";
}

// The SYN-ACK bypasses the LB; the client's ACK of it closes the handshake, and that
// time is the backend's RTT sample (rtt scheduling in DSR modes).
TEST_F(DsrL2Test, SynToTheClientsAckIsTheBackendsRttSample) {
  resolve_neighbours();
  inject(client_syn(40001));
  inject(client_ack(40001));
  inject(client_ack(40001));
  take();
  int measured = 0;
  for (const auto& b : engine.backends()) {
    if (b.rtt_samples == 0) continue;
    ++measured;
    EXPECT_EQ(b.address.str(), "203.0.113.11");
    EXPECT_EQ(b.rtt_samples, 1u) << "one sample per flow";
    EXPECT_GE(b.connect_ms, 0.0);
    EXPECT_EQ(b.established, 1u);
  }
  EXPECT_EQ(measured, 1);
}

TEST_F(DsrL2Test, UdpDatagramIsSwitchedUnchanged) {
  resolve_neighbours();
  const auto in = client_udp(5353, "hello");
  inject(in);
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kL2Mac[0]);
  const uint8_t* in_ip = in.data() + kVnetLen + kEthLen;
  const size_t n = Ipv4At{in_ip}.tot_len();
  ASSERT_EQ(out.size(), kVnetLen + kEthLen + n);
  EXPECT_EQ(std::vector<uint8_t>(s.ip_bytes(), s.ip_bytes() + n), std::vector<uint8_t>(in_ip, in_ip + n));
}

// ----------------------------------------------------------------- dsr-l3-dscp

class DsrL3DscpTest : public OneArmTest {
 protected:
  DsrL3DscpTest() : OneArmTest(one_arm_config(lb::Mode::dsr_l3_dscp)) {}
};

TEST_F(DsrL3DscpTest, SynGoesToTheServerMarkedWithTheVipsCodeKeepingEcn) {
  resolve_neighbours();
  for (uint8_t ecn = 0; ecn < 4; ++ecn) {
    const uint8_t tos_in = static_cast<uint8_t>(46 << 2 | ecn);  // EF, replaced by the VIP's code
    auto ipl = ipv4(kVip, kClient1);
    ipl.tos(tos_in);
    auto f = from_router() / ipl / tcp_seg(80, static_cast<uint16_t>(40001 + ecn), SYN);
    inject(f);
    auto out = only_output();
    ASSERT_FALSE(out.empty());
    SCOPED_TRACE("ECN " + std::to_string(ecn) + "\n" + describe(out));
    Sent s(out);
    ASSERT_NE(s.tcp, nullptr);
    EXPECT_EQ(s.eth.src_addr().to_string(), kLbMac);
    EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac) << "the servers are behind the router";
    EXPECT_EQ(s.ip->src_addr().to_string(), kClient1) << "the server answers the client directly";
    EXPECT_EQ(s.ip->dst_addr().to_string(), kRemoteIp[ecn % 3]);
    EXPECT_EQ(s.ip->tos() >> 2, kDscp) << "DSCP";
    EXPECT_EQ(s.ip->tos() & 3, ecn) << "ECN bits";
    EXPECT_EQ(int(s.ip->ttl()), 63);
    EXPECT_EQ(s.tcp->sport(), 40001 + ecn);
    EXPECT_EQ(s.tcp->dport(), 80);
    EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
  }
}

TEST_F(DsrL3DscpTest, UdpDatagramGoesToTheServerMarkedWithValidChecksums) {
  resolve_neighbours();
  inject(client_udp(5353, "hello"));
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.udp, nullptr);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kRemoteIp[0]);
  EXPECT_EQ(s.ip->tos(), kDscp << 2);
  EXPECT_EQ(int(s.ip->ttl()), 63);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
}

TEST_F(DsrL3DscpTest, LaterPacketsFollowTheFlowAndReachEstablished) {
  resolve_neighbours();
  inject(client_syn(40001));
  inject(client_syn(40002));
  take();
  inject(client_ack(40001));
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  Sent s(out);
  ASSERT_NE(s.ip, nullptr) << describe(out);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kRemoteIp[0]);
  auto flows = engine.flows();
  ASSERT_EQ(flows.size(), 2u);
  for (auto& f : flows)
    EXPECT_EQ(f.state, f.client == "198.51.100.11:40001" ? "established" : "syn_sent") << f.client;
}

TEST_F(DsrL3DscpTest, SynWithTtlOfOneIsDroppedAsTtlExceeded) {
  resolve_neighbours();
  auto f = from_router() / ipv4(kVip, kClient1, 1) / tcp_seg(80, 40001, SYN);
  inject(f);
  expect_no_output();
  EXPECT_EQ(drops(Drop::ttl_exceeded), 1u);
}

// ----------------------------------------------------------------- mid-stream pickup

// A DSR VIP with a consistent hash (maglev, sh) takes a flow up from any ACK: an engine
// that never saw the SYN (a VRRP peer that took over without sync, this engine after a
// restart) sends the packet to the server the hash names, which is the one a SYN would
// have gone to. Other algorithms cannot know that server and drop it (no_flow).
lb::Config with_algorithm(lb::Config c, lb::Algorithm a) {
  for (auto& v : c.vips) v.algorithm = a;
  return c;
}

// One engine of several in a test (the fixture, usable on its own).
struct Lb final : OneArmTest {
  explicit Lb(lb::Config c) : OneArmTest(std::move(c)) {}
  void TestBody() override {}
  using OneArmTest::drops, OneArmTest::engine, OneArmTest::expect_no_output, OneArmTest::inject,
      OneArmTest::only_output, OneArmTest::resolve_neighbours;
};

class DsrPickupTest : public ::testing::TestWithParam<lb::Algorithm> {};

TEST_P(DsrPickupTest, AnAckWithoutAFlowGoesWhereTheSynWentOnAnotherEngineWithTheSameBackends) {
  Lb saw_syn(with_algorithm(one_arm_config(lb::Mode::dsr_l2), GetParam()));
  Lb took_over(with_algorithm(one_arm_config(lb::Mode::dsr_l2), GetParam()));
  saw_syn.resolve_neighbours();
  took_over.resolve_neighbours();
  std::set<std::string> servers;
  for (uint16_t sport = 41000; sport < 41032; ++sport) {
    for (const char* client : {kClient1, kClient2}) {
      saw_syn.inject(client_syn(sport, client));
      const auto syn_out = saw_syn.only_output();
      took_over.inject(client_ack(sport, client));
      const auto ack_out = took_over.only_output();
      ASSERT_FALSE(syn_out.empty());
      ASSERT_FALSE(ack_out.empty());
      const std::string want = Sent(syn_out).eth.dst_addr().to_string();
      EXPECT_EQ(Sent(ack_out).eth.dst_addr().to_string(), want) << client << ":" << sport;
      servers.insert(want);
    }
  }
  EXPECT_GT(servers.size(), GetParam() == lb::Algorithm::sh ? 1u : 2u) << "the flows spread over the servers";
  EXPECT_EQ(took_over.engine.stats().flows_picked_up.load(), 64u);
  EXPECT_EQ(took_over.drops(Drop::no_flow), 0u);
  auto flows = took_over.engine.flows();
  ASSERT_EQ(flows.size(), 64u);
  for (auto& f : flows) EXPECT_EQ(f.state, "established") << f.client;
  EXPECT_EQ(saw_syn.engine.stats().flows_picked_up.load(), 0u) << "a SYN starts a flow, not a pickup";
}

TEST_P(DsrPickupTest, ARstOrAPacketWithoutAckStartsNoFlow) {
  Lb e(with_algorithm(one_arm_config(lb::Mode::dsr_l2), GetParam()));
  e.resolve_neighbours();
  for (uint16_t flags : {uint16_t(Tins::TCP::RST), uint16_t(Tins::TCP::RST | ACK), uint16_t(Tins::TCP::FIN),
                         uint16_t(Tins::TCP::PSH), uint16_t(SYN | ACK)}) {
    auto f = from_router() / ipv4(kVip, kClient1) / tcp_seg(80, 41000, flags, 1000, 1);
    e.inject(f);
    e.expect_no_output();
  }
  EXPECT_EQ(e.drops(Drop::no_flow), 5u);
  EXPECT_EQ(e.engine.flows().size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(ConsistentHash, DsrPickupTest, ::testing::Values(lb::Algorithm::maglev, lb::Algorithm::sh),
                         [](const auto& i) { return std::string(i.param == lb::Algorithm::sh ? "sh" : "maglev"); });

TEST(DsrNoPickup, WithRoundRobinOrInProxyModeAnAckWithoutAFlowIsDroppedAsNoFlow) {
  for (auto [mode, algo] : {std::pair{lb::Mode::dsr_l2, lb::Algorithm::rr}, std::pair{lb::Mode::dsr_l2, lb::Algorithm::lc},
                            std::pair{lb::Mode::proxy, lb::Algorithm::maglev}}) {
    Lb e(with_algorithm(one_arm_config(mode), algo));
    e.resolve_neighbours();
    e.inject(client_ack(41000));
    e.expect_no_output();
    EXPECT_EQ(e.drops(Drop::no_flow), 1u);
    EXPECT_EQ(e.engine.stats().flows_picked_up.load(), 0u);
  }
}

}  // namespace
