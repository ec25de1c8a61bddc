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

}  // namespace
