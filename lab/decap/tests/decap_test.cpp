// Decapsulator: what reaches the sink, how every outcome is counted, the stats line,
// and the small option helpers. An in-memory sink stands in for the TUN device.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "decap.hpp"
#include "packets.hpp"
#include "sys.hpp"

namespace lab::decap {
namespace {

using test::Bytes;
using test::be;
using test::inner_udp;
using test::ipip;

class MemorySink : public PacketSink {
 public:
  bool write(const uint8_t* data, size_t len) noexcept override {
    if (refuse) return false;
    packets.emplace_back(data, data + len);
    return true;
  }
  std::vector<Bytes> packets;
  bool refuse = false;
};

uint64_t sum_of_drops(const Counters& c) {
  uint64_t n = 0;
  for (uint64_t d : c.drops) n += d;
  return n;
}

TEST(Decapsulator, InjectsTheInnerPacketByteForByte) {
  MemorySink sink;
  Decapsulator d({}, sink);
  const Bytes inner = inner_udp("203.0.113.10", 100);
  const Bytes pkt = ipip(inner);
  EXPECT_EQ(d.handle(pkt.data(), pkt.size()), Verdict::ok);
  ASSERT_EQ(sink.packets.size(), 1u);
  EXPECT_EQ(sink.packets[0], inner);
  EXPECT_EQ(d.counters().received, 1u);
  EXPECT_EQ(d.counters().injected, 1u);
  EXPECT_EQ(sum_of_drops(d.counters()), 0u);
}

TEST(Decapsulator, CountsEachDropUnderItsReasonAndInjectsNothing) {
  MemorySink sink;
  Decapsulator d({be("203.0.113.10")}, sink);
  Bytes bad_inner = inner_udp();
  bad_inner[12] ^= 1;
  const Bytes not_ipip = ipip(inner_udp(), {.src = "203.0.113.2", .dst = "198.18.0.11",
                                            .protocol = 17});
  const Bytes fragment = ipip(inner_udp(), {.src = "203.0.113.2", .dst = "198.18.0.11",
                                            .protocol = 4, .frag_off = 0x2000});
  const Bytes to_other = ipip(inner_udp("203.0.113.99"));
  const Bytes inner_bad = ipip(bad_inner);
  const Bytes short_pkt = Bytes(10, 0x45);
  for (const Bytes* p : {&not_ipip, &fragment, &fragment, &to_other, &inner_bad, &short_pkt}) {
    EXPECT_NE(d.handle(p->data(), p->size()), Verdict::ok);
  }
  const Counters& c = d.counters();
  EXPECT_TRUE(sink.packets.empty());
  EXPECT_EQ(c.received, 6u);
  EXPECT_EQ(c.injected, 0u);
  EXPECT_EQ(c.drop(Verdict::outer_protocol), 1u);
  EXPECT_EQ(c.drop(Verdict::outer_fragment), 2u);
  EXPECT_EQ(c.drop(Verdict::not_vip), 1u);
  EXPECT_EQ(c.drop(Verdict::inner_checksum), 1u);
  EXPECT_EQ(c.drop(Verdict::outer_truncated), 1u);
  EXPECT_EQ(c.drop(Verdict::ok), 0u);
  EXPECT_EQ(sum_of_drops(c), 6u);
}

TEST(Decapsulator, CountsARefusedWriteAsTunWrite) {
  MemorySink sink;
  sink.refuse = true;
  Decapsulator d({}, sink);
  const Bytes pkt = ipip(inner_udp());
  EXPECT_EQ(d.handle(pkt.data(), pkt.size()), Verdict::tun_write);
  EXPECT_EQ(d.counters().injected, 0u);
  EXPECT_EQ(d.counters().drop(Verdict::tun_write), 1u);
}

TEST(Decapsulator, ReceivedAlwaysEqualsInjectedPlusDrops) {
  MemorySink sink;
  Decapsulator d({be("203.0.113.10")}, sink);
  std::mt19937 rng(7);
  const Bytes good = ipip(inner_udp());
  for (int i = 0; i < 5000; ++i) {
    Bytes pkt = good;
    if (rng() % 2) pkt[rng() % pkt.size()] = static_cast<uint8_t>(rng());
    sink.refuse = rng() % 10 == 0;
    d.handle(pkt.data(), pkt.size());
  }
  const Counters& c = d.counters();
  EXPECT_EQ(c.received, 5000u);
  EXPECT_EQ(c.received, c.injected + sum_of_drops(c));
  EXPECT_EQ(c.injected, sink.packets.size());
  EXPECT_GT(c.injected, 0u);
}

TEST(Stats, LineListsEveryCounterInVerdictOrder) {
  Counters c;
  c.received = 9;
  c.injected = 4;
  c.drops[static_cast<size_t>(Verdict::outer_checksum)] = 2;
  c.drops[static_cast<size_t>(Verdict::not_vip)] = 3;
  c.rcvbuf_overflow = 1;
  EXPECT_EQ(format_stats(c),
            "received=9 injected=4 drop_outer_truncated=0 drop_outer_version=0 drop_outer_ihl=0 "
            "drop_outer_length=0 drop_outer_checksum=2 drop_outer_protocol=0 "
            "drop_outer_fragment=0 drop_inner_truncated=0 drop_inner_version=0 "
            "drop_inner_ihl=0 drop_inner_length=0 drop_inner_checksum=0 drop_not_vip=3 "
            "drop_tun_write=0 rcvbuf_overflow=1");
}

TEST(Options, ParseIpv4AcceptsOnlyNumericAddresses) {
  EXPECT_EQ(parse_ipv4("203.0.113.10"), be("203.0.113.10"));
  EXPECT_FALSE(parse_ipv4("localhost"));
  EXPECT_FALSE(parse_ipv4("203.0.113"));
  EXPECT_FALSE(parse_ipv4("::1"));
  EXPECT_FALSE(parse_ipv4(""));
}

TEST(Options, InterfaceNamesAreShortAndSafeInAPath) {
  EXPECT_TRUE(valid_ifname("decap0"));
  EXPECT_TRUE(valid_ifname("dcp-1.x_y"));
  EXPECT_TRUE(valid_ifname("abcdefghijklmno"));   // 15
  EXPECT_FALSE(valid_ifname("abcdefghijklmnop"));  // 16
  EXPECT_FALSE(valid_ifname(""));
  EXPECT_FALSE(valid_ifname("."));
  EXPECT_FALSE(valid_ifname(".."));
  EXPECT_FALSE(valid_ifname("a/b"));
  EXPECT_FALSE(valid_ifname("a b"));
}

}  // namespace
}  // namespace lab::decap
