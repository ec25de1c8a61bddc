// Proxy mode (full NAT) over MemIo, one arm (one_arm.hpp): toward a server the packet goes
// from the proxy IP (PIP) and a port the engine allocates; the server's answer to that PIP
// port goes back to the client from the VIP. ICMP errors about proxied flows are
// translated the same way, quoted header included.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "one_arm.hpp"

namespace {

using namespace lbtest;
using namespace lbtest::onearm;
using lb::Drop;

class ProxyTest : public OneArmTest {
 protected:
  explicit ProxyTest(int backends = 3, uint32_t max_flows = 1024)
      : OneArmTest(one_arm_config(lb::Mode::proxy, backends, max_flows)) {}

  // The server's SYN-ACK to the PIP port it was given.
  std::vector<uint8_t> server_syn_ack(int b, uint16_t pport) {
    auto f = from_router() / ipv4(kPip, kRemoteIp[b], 61) / tcp_seg(pport, 80, SYN | ACK, 5000, 1001);
    return with_vnet(f);
  }

  // Sends a client SYN and returns the PIP port it left with (0 when nothing left).
  uint16_t proxy_port_of(uint16_t cport, const char* client = kClient1) {
    inject(client_syn(cport, client));
    auto out = only_output();
    if (out.empty()) return 0;
    Sent s(out);
    if (!s.tcp) {
      ADD_FAILURE() << "not TCP: " << describe(out);
      return 0;
    }
    EXPECT_EQ(s.ip->src_addr().to_string(), kPip) << describe(out);
    return s.tcp->sport();
  }
};

// One server: every flow competes for the same (server, PIP) port space.
class ProxyOneServerTest : public ProxyTest {
 protected:
  ProxyOneServerTest() : ProxyTest(1) {}
};

// ----------------------------------------------------------------- ARP

TEST_F(ProxyTest, ArpRequestForTheProxyIpIsAnsweredWithTheFrontMac) {
  auto req = Tins::ARP::make_arp_request(kPip, kRouterIp, hw(kRouterMac));
  inject(req);
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  const auto* arp = s.eth.find_pdu<Tins::ARP>();
  ASSERT_NE(arp, nullptr);
  EXPECT_EQ(arp->opcode(), Tins::ARP::REPLY);
  EXPECT_EQ(arp->sender_ip_addr().to_string(), kPip);
  EXPECT_EQ(arp->sender_hw_addr().to_string(), kLbMac);
  EXPECT_EQ(arp->target_ip_addr().to_string(), kRouterIp);
  EXPECT_EQ(arp->target_hw_addr().to_string(), kRouterMac);
  EXPECT_EQ(s.eth.src_addr().to_string(), kLbMac);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
}

// ----------------------------------------------------------------- TCP

TEST_F(ProxyTest, ClientSynLeavesTowardTheRouterFromTheProxyIpAndAnAllocatedPort) {
  resolve_neighbours();
  inject(client_syn(40001));
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.tcp, nullptr);
  EXPECT_EQ(s.eth.src_addr().to_string(), kLbMac);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac) << "the servers are behind the router";
  EXPECT_EQ(s.ip->src_addr().to_string(), kPip);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kRemoteIp[0]);
  EXPECT_EQ(int(s.ip->ttl()), 63);
  EXPECT_EQ(s.ip->id(), 0x4242);
  EXPECT_GE(s.tcp->sport(), 1024) << "a PIP port is never a privileged port";
  EXPECT_EQ(s.tcp->dport(), 80);
  EXPECT_EQ(int(s.tcp->flags()), int(SYN));
  EXPECT_EQ(s.tcp->seq(), 1000u);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
  EXPECT_EQ(engine.stats().flows_created.load(), 1u);
}

TEST_F(ProxyTest, ServerSynAckToTheProxyPortReachesTheClientFromTheVip) {
  resolve_neighbours();
  const uint16_t pport = proxy_port_of(40001);
  ASSERT_NE(pport, 0);
  inject(server_syn_ack(0, pport));
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.tcp, nullptr);
  EXPECT_EQ(s.eth.src_addr().to_string(), kLbMac);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
  EXPECT_EQ(s.ip->src_addr().to_string(), kVip);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kClient1);
  EXPECT_EQ(int(s.ip->ttl()), 60);
  EXPECT_EQ(s.tcp->sport(), 80);
  EXPECT_EQ(s.tcp->dport(), 40001);
  EXPECT_EQ(int(s.tcp->flags()), int(SYN | ACK));
  EXPECT_EQ(s.tcp->ack_seq(), 1001u);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
}

TEST_F(ProxyTest, LaterClientPacketsKeepTheirServerAndProxyPort) {
  resolve_neighbours();
  const uint16_t pport = proxy_port_of(40001);
  ASSERT_NE(proxy_port_of(40002), 0);
  inject(server_syn_ack(0, pport));
  take();
  inject(client_ack(40001));
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.tcp, nullptr);
  EXPECT_EQ(s.ip->src_addr().to_string(), kPip);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kRemoteIp[0]);
  EXPECT_EQ(s.tcp->sport(), pport);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
  auto flows = engine.flows();
  auto it = std::find_if(flows.begin(), flows.end(), [](auto& f) { return f.client == "198.51.100.11:40001"; });
  ASSERT_NE(it, flows.end());
  EXPECT_EQ(it->state, "established");
}

TEST_F(ProxyOneServerTest, TwoClientsWithTheSamePortGetDifferentProxyPortsAndTheirOwnReplies) {
  resolve_neighbours();
  const uint16_t p1 = proxy_port_of(40001, kClient1);
  const uint16_t p2 = proxy_port_of(40001, kClient2);
  ASSERT_NE(p1, 0);
  ASSERT_NE(p2, 0);
  EXPECT_NE(p1, p2) << "both flows go to " << kRemoteIp[0] << ": the PIP port is all that tells them apart";
  // Each reply finds its own client.
  for (auto [pport, client] : {std::pair{p2, kClient2}, std::pair{p1, kClient1}}) {
    inject(server_syn_ack(0, pport));
    auto out = only_output();
    ASSERT_FALSE(out.empty());
    SCOPED_TRACE(describe(out));
    Sent s(out);
    ASSERT_NE(s.tcp, nullptr);
    EXPECT_EQ(s.ip->dst_addr().to_string(), client) << "reply to PIP port " << pport;
    EXPECT_EQ(s.tcp->dport(), 40001);
    EXPECT_EQ(s.ip->src_addr().to_string(), kVip);
    EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
  }
}

TEST_F(ProxyTest, ServerPacketToAProxyPortWithoutAFlowIsNotForwarded) {
  resolve_neighbours();
  inject(server_syn_ack(0, 1024));
  expect_no_output();
  EXPECT_EQ(drops(Drop::no_service), 1u);
}

// A server listening on another port: proxy translates the port both ways as well.
TEST(ProxyPorts, ServerPortIsTranslatedBothWays) {
  lb::Config cfg = one_arm_config(lb::Mode::proxy, 1);
  cfg.vips[0].backends[0].port = 8080;
  lb::MemIo io(1);
  lb::Engine engine(cfg, io);
  const uint64_t now = lb::Engine::now_ms();
  io.inject(kFront, with_vnet(Tins::ARP::make_arp_reply(kLbIp, kRouterIp, hw(kLbMac), hw(kRouterMac)).serialize()));
  io.inject(kFront, client_syn(40001));
  engine.drain(now);
  ASSERT_EQ(io.sent(kFront).size(), 1u);
  uint16_t pport = 0;
  {
    Sent s(io.sent(kFront).front());
    io.sent(kFront).clear();
    SCOPED_TRACE(describe(s.v));
    ASSERT_NE(s.tcp, nullptr);
    EXPECT_EQ(s.ip->src_addr().to_string(), kPip);
    EXPECT_EQ(s.tcp->dport(), 8080);
    EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
    pport = s.tcp->sport();
  }
  auto f = from_router() / ipv4(kPip, kRemoteIp[0]) / tcp_seg(pport, 8080, SYN | ACK, 5000, 1001);
  io.inject(kFront, with_vnet(f));
  engine.drain(now);
  ASSERT_EQ(io.sent(kFront).size(), 1u);
  Sent s(io.sent(kFront).front());
  SCOPED_TRACE(describe(s.v));
  ASSERT_NE(s.tcp, nullptr);
  EXPECT_EQ(s.ip->src_addr().to_string(), kVip);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kClient1);
  EXPECT_EQ(s.tcp->sport(), 80);
  EXPECT_EQ(s.tcp->dport(), 40001);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
}

// Every port of the range (1024 up to the health probes' ports) held by a live flow: each
// flow got its own, and the next flow is refused rather than handed a port in use. Once
// the flows expire, ports are free again.
TEST(ProxyPorts, APortHeldByALiveFlowIsNeverHandedOutAgain) {
  constexpr size_t kRange = lb::Engine::kProbeIdBase - 1024;
  lb::Config cfg = one_arm_config(lb::Mode::proxy, 1, 1u << 17);
  lb::MemIo io(1);
  lb::Engine engine(cfg, io);
  const uint64_t t0 = lb::Engine::now_ms();
  io.inject(kFront, with_vnet(Tins::ARP::make_arp_reply(kLbIp, kRouterIp, hw(kLbMac), hw(kRouterMac)).serialize()));
  engine.drain(t0);

  auto syn = client_syn(1);
  uint8_t* ipb = syn.data() + kVnetLen + kEthLen;
  auto client_flow = [&](size_t i) {  // 64512+ distinct client (address, port) pairs
    const uint32_t cip = net(i % 2 ? kClient2 : kClient1);
    std::memcpy(ipb + 12, &cip, 4);
    put_be16(ipb + 20, static_cast<uint16_t>(1024 + i / 2));
    fix_ip_check(ipb);
    fix_l4_check(ipb);
    io.inject(kFront, syn);
  };
  std::vector<uint8_t> seen(65536, 0);
  size_t sent = 0, duplicates = 0, below = 0, probe_range = 0;
  for (size_t i = 0; i < kRange; ++i) {
    client_flow(i);
    engine.drain(t0);
    for (auto& f : io.sent(kFront)) {
      ++sent;
      const uint8_t* out = f.data() + kVnetLen + kEthLen;
      const uint16_t pport = sport_of(out);
      if (pport < 1024) ++below;
      if (pport >= lb::Engine::kProbeIdBase) ++probe_range;
      if (seen[pport]++) ++duplicates;
    }
    io.sent(kFront).clear();
  }
  EXPECT_EQ(sent, kRange) << "one SYN out per flow";
  EXPECT_EQ(duplicates, 0u) << "PIP ports handed out twice while their flows were alive";
  EXPECT_EQ(below, 0u) << "PIP ports below 1024";
  EXPECT_EQ(probe_range, 0u) << "PIP ports among the health probes'";
  EXPECT_EQ(engine.stats().flows_active.load(), kRange);

  client_flow(kRange);
  engine.drain(t0);
  EXPECT_TRUE(io.sent(kFront).empty()) << "a flow was given a port in use:\n" << describe(io.sent(kFront).front());
  EXPECT_EQ(engine.stats().drops[static_cast<size_t>(Drop::proxy_ports_exhausted)].load(), 1u);

  // All idle past the SYN timeout: a new flow gets a port back.
  io.sent(kFront).clear();
  client_flow(kRange + 1);
  engine.drain(t0 + cfg.timeouts.tcp_syn * 1000ull);
  ASSERT_EQ(io.sent(kFront).size(), 1u);
  EXPECT_GE(sport_of(io.sent(kFront).front().data() + kVnetLen + kEthLen), 1024);
  EXPECT_GE(engine.stats().flows_expired.load(), 1u);
}

// Two VIPs share one PIP and one server: their flows draw from the same port space, so a
// port the first VIP's flow holds must not be given to the second's.
TEST(ProxyPorts, VipsSharingAProxyIpNeverShareAPortTowardOneServer) {
  lb::Config cfg = one_arm_config(lb::Mode::proxy, 1);
  lb::VipConfig other = cfg.vips[0];
  other.name = "web2";
  other.address = *lb::IpAddr::parse("203.0.113.11");
  cfg.vips.push_back(other);
  lb::MemIo io(1);
  lb::Engine engine(cfg, io);
  const uint64_t now = lb::Engine::now_ms();
  io.inject(kFront, with_vnet(Tins::ARP::make_arp_reply(kLbIp, kRouterIp, hw(kLbMac), hw(kRouterMac)).serialize()));
  engine.drain(now);

  std::multiset<uint16_t> ports;
  for (const char* vip : {kVip, "203.0.113.11"}) {
    for (uint16_t c = 0; c < 8; ++c) {
      auto f = from_router() / ipv4(vip, kClient1) / tcp_seg(80, static_cast<uint16_t>(40001 + c), SYN);
      io.inject(kFront, with_vnet(f));
      engine.drain(now);
      ASSERT_EQ(io.sent(kFront).size(), 1u) << "SYN to " << vip << " from port " << 40001 + c;
      Sent s(io.sent(kFront).front());
      io.sent(kFront).clear();
      ASSERT_NE(s.tcp, nullptr);
      EXPECT_EQ(s.ip->src_addr().to_string(), kPip);
      EXPECT_EQ(s.ip->dst_addr().to_string(), kRemoteIp[0]);
      EXPECT_EQ(ports.count(s.tcp->sport()), 0u) << "PIP port " << s.tcp->sport() << " already held (SYN to " << vip
                                                 << " from port " << 40001 + c << ")";
      ports.insert(s.tcp->sport());
    }
  }
  EXPECT_EQ(engine.stats().flows_active.load(), 16u);
}

// ----------------------------------------------------------------- UDP

TEST_F(ProxyTest, UdpDatagramIsProxiedBothWays) {
  resolve_neighbours();
  inject(client_udp(5353, "hello"));  // odd length
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  uint16_t pport = 0;
  {
    SCOPED_TRACE(describe(out));
    Sent s(out);
    ASSERT_NE(s.udp, nullptr);
    EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
    EXPECT_EQ(s.ip->src_addr().to_string(), kPip);
    EXPECT_EQ(s.ip->dst_addr().to_string(), kRemoteIp[0]);
    EXPECT_GE(s.udp->sport(), 1024);
    EXPECT_EQ(s.udp->dport(), 80);
    EXPECT_EQ(int(s.ip->ttl()), 63);
    EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
    pport = s.udp->sport();
  }
  auto r = from_router() / ipv4(kPip, kRemoteIp[0], 61) / Tins::UDP(pport, 80) / Tins::RawPDU("world!");
  inject(r);
  auto back = only_output();
  ASSERT_FALSE(back.empty());
  SCOPED_TRACE(describe(back));
  Sent s(back);
  ASSERT_NE(s.udp, nullptr);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
  EXPECT_EQ(s.ip->src_addr().to_string(), kVip);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kClient1);
  EXPECT_EQ(s.udp->sport(), 80);
  EXPECT_EQ(s.udp->dport(), 5353);
  EXPECT_EQ(int(s.ip->ttl()), 60);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
}

TEST_F(ProxyOneServerTest, TwoUdpClientsWithTheSamePortGetDifferentProxyPorts) {
  resolve_neighbours();
  std::vector<uint16_t> pports;
  for (const char* client : {kClient1, kClient2}) {
    inject(client_udp(5353, "q", client));
    auto out = only_output();
    ASSERT_FALSE(out.empty());
    Sent s(out);
    ASSERT_NE(s.udp, nullptr) << describe(out);
    EXPECT_EQ(s.ip->dst_addr().to_string(), kRemoteIp[0]);
    pports.push_back(s.udp->sport());
  }
  EXPECT_NE(pports[0], pports[1]);
  auto r = from_router() / ipv4(kPip, kRemoteIp[0]) / Tins::UDP(pports[1], 80) / Tins::RawPDU("a");
  inject(r);
  auto back = only_output();
  ASSERT_FALSE(back.empty());
  Sent s(back);
  ASSERT_NE(s.udp, nullptr) << describe(back);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kClient2);
  EXPECT_EQ(s.udp->dport(), 5353);
}

// ----------------------------------------------------------------- ICMP errors

// A server's ICMP error about a proxied flow reaches the client from the VIP, quoting the
// client's own datagram (CIP:cport -> VIP:80).
TEST_F(ProxyTest, ServerPortUnreachableAboutAUdpFlowReachesTheClientFromTheVip) {
  resolve_neighbours();
  auto q = client_udp(5353, "hello");
  const std::vector<uint8_t> client_packet(q.begin() + kVnetLen + kEthLen, q.begin() + kVnetLen + kEthLen + 33);
  inject(q);
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  // What the server received, quoted in its error.
  std::vector<uint8_t> received(out.begin() + kVnetLen + kEthLen, out.end());
  const uint16_t pport = sport_of(received.data());

  Tins::ICMP unreach(Tins::ICMP::DEST_UNREACHABLE);
  unreach.code(3);
  auto err = from_router() / ipv4(kPip, kRemoteIp[0], 61) / unreach / Tins::RawPDU(received);
  inject(err);
  auto back = only_output();
  ASSERT_FALSE(back.empty());
  SCOPED_TRACE(describe(back));
  Sent s(back);
  ASSERT_NE(s.ip, nullptr);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
  EXPECT_EQ(s.ip->src_addr().to_string(), kVip) << "the server's error must come from the VIP";
  EXPECT_EQ(s.ip->dst_addr().to_string(), kClient1);
  EXPECT_EQ(int(s.ip->ttl()), 60);
  IcmpErrorAt e{s.ip_bytes()};
  EXPECT_EQ(e.type(), 3);
  EXPECT_EQ(e.code(), 3);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes())) << "outer IP and ICMP checksums";
  ASSERT_EQ(e.quote_len(), received.size());
  const uint8_t* qip = e.quote();
  EXPECT_EQ(src_of(qip), kClient1);
  EXPECT_EQ(dst_of(qip), kVip);
  EXPECT_EQ(sport_of(qip), 5353);
  EXPECT_EQ(dport_of(qip), 80);
  EXPECT_EQ(stored_ip_check(qip), ref_ip_check(qip)) << "quoted IP header checksum";
  EXPECT_EQ(stored_l4_check(qip), stored_l4_check(client_packet.data()))
      << "the quoted UDP checksum is the client's own again (pport was " << pport << ")";
  EXPECT_EQ(engine.stats().icmp_errors_translated.load(), 1u);
}

// The router cannot pass our reply to the client on (fragmentation needed): its error,
// addressed to the VIP, reaches the server, quoting the reply as the server sent it.
TEST_F(ProxyTest, RouterFragNeededAboutAReplyReachesTheServerInItsView) {
  resolve_neighbours();
  const uint16_t pport = proxy_port_of(40001);
  ASSERT_NE(pport, 0);
  inject(server_syn_ack(0, pport));
  auto reply = only_output();  // VIP:80 -> CIP:40001, as the router got it
  ASSERT_FALSE(reply.empty());
  std::vector<uint8_t> quoted(reply.begin() + kVnetLen + kEthLen, reply.end());

  Tins::ICMP frag(Tins::ICMP::DEST_UNREACHABLE);
  frag.code(4);
  frag.mtu(1400);
  auto err = from_router() / ipv4(kVip, kRouterIp) / frag / Tins::RawPDU(quoted);
  inject(err);
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.ip, nullptr);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac) << "the server is behind the router";
  EXPECT_EQ(s.ip->dst_addr().to_string(), kRemoteIp[0]);
  EXPECT_EQ(s.ip->src_addr().to_string(), kPip) << "a full NAT shows the server nothing beyond the LB";
  EXPECT_EQ(int(s.ip->ttl()), 63);
  IcmpErrorAt e{s.ip_bytes()};
  EXPECT_EQ(e.type(), 3);
  EXPECT_EQ(e.code(), 4);
  EXPECT_EQ(e.next_hop_mtu(), 1400);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes())) << "outer IP and ICMP checksums";
  const uint8_t* qip = e.quote();
  EXPECT_EQ(src_of(qip), kRemoteIp[0]);
  EXPECT_EQ(dst_of(qip), kPip);
  EXPECT_EQ(sport_of(qip), 80);
  EXPECT_EQ(dport_of(qip), pport);
  EXPECT_EQ(stored_ip_check(qip), ref_ip_check(qip)) << "quoted IP header checksum";
  EXPECT_EQ(engine.stats().icmp_errors_translated.load(), 1u);
}

TEST_F(ProxyTest, IcmpErrorQuotingAnUnknownFlowIsCountedIcmpUnhandled) {
  resolve_neighbours();
  auto unknown = ipv4(kRemoteIp[0], kPip) / Tins::UDP(80, 3333) / Tins::RawPDU("x");
  Tins::ICMP unreach(Tins::ICMP::DEST_UNREACHABLE);
  unreach.code(3);
  auto err = from_router() / ipv4(kPip, kRemoteIp[0]) / unreach / Tins::RawPDU(unknown.serialize());
  inject(err);
  expect_no_output();
  EXPECT_EQ(drops(Drop::icmp_unhandled), 1u);
  EXPECT_EQ(engine.stats().icmp_errors_translated.load(), 0u);
}

}  // namespace
