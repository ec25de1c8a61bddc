// dsr-l3-tunnel over MemIo, one arm (one_arm.hpp): the client's packet travels untouched
// inside an IPIP header (RFC 2003) from the port's address to the server; a DF packet
// that no longer fits the port's MTU is answered with ICMP fragmentation-needed (RFC 1191).
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <string>
#include <vector>

#include "one_arm.hpp"

namespace {

using namespace lbtest;
using namespace lbtest::onearm;
using lb::Drop;

constexpr uint8_t kTos = 46 << 2 | 1;  // EF with ECT(1): the outer header must carry both

// A client TCP segment of `ip_len` bytes (IP header included) for an existing flow.
std::vector<uint8_t> client_data(uint16_t sport, size_t ip_len, bool df, uint8_t tos = 0) {
  auto ipl = ipv4(kVip, kClient1);
  ipl.tos(tos);
  if (df) ipl.flags(Tins::IP::DONT_FRAGMENT);
  std::vector<uint8_t> payload(ip_len - 40);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i * 7 + 1);
  auto f = from_router() / ipl / tcp_seg(80, sport, ACK | Tins::TCP::PSH, 1001, 5001) / Tins::RawPDU(payload);
  return with_vnet(f);
}
std::vector<uint8_t> client_syn_marked(uint16_t sport, bool df, uint8_t tos) {
  auto ipl = ipv4(kVip, kClient1);
  ipl.tos(tos);
  if (df) ipl.flags(Tins::IP::DONT_FRAGMENT);
  auto f = from_router() / ipl / tcp_seg(80, sport, SYN);
  return with_vnet(f);
}

// The IP packet of a vnet frame the test built (without Ethernet padding).
std::vector<uint8_t> ip_packet(const std::vector<uint8_t>& vframe) {
  const uint8_t* ip = vframe.data() + kVnetLen + kEthLen;
  return std::vector<uint8_t>(ip, ip + Ipv4At{ip}.tot_len());
}

// Checks an IPIP frame the engine sent toward `rip` carrying `inner`, field by field.
void expect_ipip(const std::vector<uint8_t>& out, const std::vector<uint8_t>& inner, const char* rip) {
  SCOPED_TRACE(describe(out));
  ASSERT_EQ(out.size(), kVnetLen + kEthLen + 20 + inner.size()) << "vnet + Ethernet + outer header + inner packet";
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + kVnetLen), std::vector<uint8_t>(kVnetLen, 0))
      << "virtio_net_hdr: no offload requests on a tunnelled frame";
  Tins::EthernetII eth(out.data() + kVnetLen, kEthLen);
  EXPECT_EQ(eth.dst_addr().to_string(), kRouterMac) << "the servers are behind the router";
  EXPECT_EQ(eth.src_addr().to_string(), kLbMac);
  EXPECT_EQ(be16(out.data() + kVnetLen + 12), 0x0800) << "ethertype";
  const uint8_t* outer = out.data() + kVnetLen + kEthLen;
  const uint8_t* in = inner.data();
  EXPECT_EQ(outer[0], 0x45) << "version 4, 20-byte header";
  EXPECT_EQ(outer[1], in[1]) << "outer TOS = inner TOS (DSCP and ECN)";
  EXPECT_EQ(be16(outer + 2), inner.size() + 20) << "outer total length";
  EXPECT_EQ(be16(outer + 6), be16(in + 6) & 0x4000) << "outer flags: the inner DF, no fragment offset";
  EXPECT_EQ(outer[8], 64) << "outer TTL";
  EXPECT_EQ(outer[9], 4) << "protocol IPIP";
  EXPECT_EQ(src_of(outer), kLbIp);
  EXPECT_EQ(dst_of(outer), rip);
  EXPECT_EQ(stored_ip_check(outer), ref_ip_check(outer)) << "outer header checksum";
  const std::vector<uint8_t> got(outer + 20, outer + 20 + inner.size());
  EXPECT_EQ(got, inner) << "inner packet changed\n  expected:\n" << hex(inner.data(), std::min<size_t>(inner.size(), 64))
                        << "\n  actual:\n" << hex(got.data(), std::min<size_t>(got.size(), 64));
}

class TunnelTest : public OneArmTest {
 protected:
  TunnelTest() : OneArmTest(one_arm_config(lb::Mode::dsr_l3_tunnel)) {}

  // Hands one frame to the engine directly, with `headroom` free bytes before it and
  // `tailroom` after it; returns what was sent.
  std::vector<std::vector<uint8_t>> handle(const std::vector<uint8_t>& vframe, size_t headroom, size_t tailroom) {
    std::vector<uint8_t> buf(headroom + vframe.size() + tailroom, 0xee);
    std::copy(vframe.begin(), vframe.end(), buf.begin() + static_cast<long>(headroom));
    engine.handle_frame(kFront, buf.data() + headroom, vframe.size(), vframe.size() + tailroom, now, headroom);
    return take();
  }
};

TEST_F(TunnelTest, SynIsEncapsulatedInIpipTowardTheServer) {
  resolve_neighbours();
  const auto in = client_syn_marked(40001, true, kTos);
  inject(in);  // drain() leaves headroom before the frame
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  expect_ipip(out, ip_packet(in), kRemoteIp[0]);
  EXPECT_EQ(engine.stats().flows_created.load(), 1u);
}

TEST_F(TunnelTest, OuterDfAndTosFollowAnInnerWithoutDf) {
  resolve_neighbours();
  const auto in = client_syn_marked(40001, false, 0x02);  // ECT(0) only
  inject(in);
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  expect_ipip(out, ip_packet(in), kRemoteIp[0]);
}

TEST_F(TunnelTest, EncapsulatesWithAndWithoutHeadroom) {
  resolve_neighbours();
  struct Room {
    size_t head, tail;
  };
  uint16_t sport = 40001;
  for (Room r : {Room{64, 0}, Room{20, 0}, Room{0, 20}, Room{0, 64}, Room{19, 20}}) {
    SCOPED_TRACE("headroom " + std::to_string(r.head) + ", tailroom " + std::to_string(r.tail));
    const auto syn = client_syn_marked(sport, true, kTos);
    // An unpadded frame and a full-size one: the tail room is what follows the frame.
    const auto data = client_data(sport, 1480, true, kTos);
    ++sport;
    for (const auto* in : {&syn, &data}) {
      std::vector<uint8_t> frame(*in);
      frame.resize(kVnetLen + kEthLen + Ipv4At{frame.data() + kVnetLen + kEthLen}.tot_len());
      auto out = handle(frame, r.head, r.tail);
      ASSERT_EQ(out.size(), 1u) << "frames sent";
      expect_ipip(out[0], ip_packet(frame), kRemoteIp[(sport - 40002) % 3]);
    }
  }
  EXPECT_EQ(drops(Drop::tunnel_too_big), 0u);
}

TEST_F(TunnelTest, FrameWithNeitherHeadroomNorTailroomIsDroppedTooBig) {
  resolve_neighbours();
  auto syn = client_syn_marked(40001, true, 0);
  syn.resize(kVnetLen + kEthLen + 40);
  auto out = handle(syn, 0, 0);
  EXPECT_TRUE(out.empty()) << describe(out.front());
  EXPECT_EQ(drops(Drop::tunnel_too_big), 1u);
}

TEST_F(TunnelTest, PacketThatFillsTheMtuOnceEncapsulatedIsSent) {
  resolve_neighbours();
  inject(client_syn(40001));
  take();
  const auto in = client_data(40001, kMtu - 20, true);
  inject(in);
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  expect_ipip(out, ip_packet(in), kRemoteIp[0]);
  EXPECT_EQ(be16(out.data() + kVnetLen + kEthLen + 2), kMtu);
}

// One byte over: the client's path MTU discovery must learn 1480 from us.
TEST_F(TunnelTest, DfPacketTooBigForTheTunnelGetsFragNeededWithNextHopMtu1480) {
  resolve_neighbours();
  inject(client_syn(40001));
  take();
  const auto in = client_data(40001, kMtu - 20 + 1, true);
  const auto original = ip_packet(in);
  inject(in);
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  Sent s(out);
  ASSERT_NE(s.ip, nullptr);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
  EXPECT_EQ(s.eth.src_addr().to_string(), kLbMac);
  EXPECT_EQ(s.ip->src_addr().to_string(), kLbIp);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kClient1);
  EXPECT_EQ(int(s.ip->protocol()), 1);
  EXPECT_LE(s.ip->tot_len(), 576) << "an ICMP error fits in 576 bytes";
  IcmpErrorAt e{s.ip_bytes()};
  EXPECT_EQ(e.type(), 3);
  EXPECT_EQ(e.code(), 4);
  EXPECT_EQ(be16(e.icmp() + 4), 0) << "unused";
  EXPECT_EQ(e.next_hop_mtu(), kMtu - 20);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes())) << "IP and ICMP checksums";
  ASSERT_GE(e.quote_len(), 28u) << "the IP header and 64 bits of data";
  EXPECT_EQ(std::vector<uint8_t>(e.quote(), e.quote() + e.quote_len()),
            std::vector<uint8_t>(original.begin(), original.begin() + static_cast<long>(e.quote_len())))
      << "the quote is the client's packet as sent";
  EXPECT_EQ(engine.stats().icmp_frag_needed_sent.load(), 1u);
}

TEST_F(TunnelTest, NonDfPacketTooBigIsDroppedAndCountedTunnelTooBig) {
  resolve_neighbours();
  inject(client_syn(40001));
  take();
  inject(client_data(40001, kMtu - 20 + 1, false));
  expect_no_output();
  EXPECT_EQ(drops(Drop::tunnel_too_big), 1u);
  EXPECT_EQ(engine.stats().icmp_frag_needed_sent.load(), 0u);
}

// The kernel would finish a partial checksum at offsets that, after encapsulation, point
// into the outer header: the engine completes it first.
TEST_F(TunnelTest, PartialChecksumIsCompletedBeforeEncapsulation) {
  resolve_neighbours();
  const auto tcp_in = client_syn_marked(40001, true, 0);
  const auto udp_in = client_udp(5353, "hello");
  for (const auto* complete : {&tcp_in, &udp_in}) {
    auto partial = *complete;
    make_partial(partial);
    inject(partial);
    auto out = only_output();
    ASSERT_FALSE(out.empty());
    SCOPED_TRACE(describe(out));
    EXPECT_EQ(out[0] & 1, 0) << "NEEDS_CSUM cleared";
    const uint8_t* inner = out.data() + kVnetLen + kEthLen + 20;
    EXPECT_EQ(stored_l4_check(inner), ref_l4_check(inner)) << "inner L4 checksum (actual) vs recomputation";
    expect_ipip(out, ip_packet(*complete), kRemoteIp[0]);  // identical to the client's packet, sum included
  }
}

TEST_F(TunnelTest, GsoFrameIsDroppedAndCountedTunnelGso) {
  resolve_neighbours();
  inject(client_syn(40001));
  take();
  auto gso = client_data(40001, 40 + 2 * 1448, true);
  make_partial(gso);
  gso[1] = 1;                                                 // VIRTIO_NET_HDR_GSO_TCPV4
  put_le16(gso.data() + 2, static_cast<uint16_t>(kEthLen + 40));  // hdr_len
  put_le16(gso.data() + 4, 1448);                             // gso_size
  inject(gso);
  expect_no_output();
  EXPECT_EQ(drops(Drop::tunnel_gso), 1u);
  EXPECT_EQ(drops(Drop::tunnel_too_big), 0u) << "a super-frame is not a too-big packet";
  EXPECT_EQ(engine.stats().icmp_frag_needed_sent.load(), 0u);
}

TEST_F(TunnelTest, InnerTtlIsNotDecrementedEvenAtOne) {
  resolve_neighbours();
  auto f = from_router() / ipv4(kVip, kClient1, 1) / tcp_seg(80, 40001, SYN);
  const auto in = with_vnet(f);
  inject(in);
  auto out = only_output();
  ASSERT_FALSE(out.empty());
  expect_ipip(out, ip_packet(in), kRemoteIp[0]);
  EXPECT_EQ(drops(Drop::ttl_exceeded), 0u);
}

}  // namespace
