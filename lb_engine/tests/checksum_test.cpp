// Incremental checksum updates (RFC 1624) in lb/packet/checksum.hpp and the NAT rewrites
// in lb/packet/parsed.hpp, checked against a full RFC 1071 recomputation written in the
// test (test_support.hpp) over frames built by libtins.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstring>
#include <random>

#include "lb/packet/checksum.hpp"
#include "lb/packet/headers.hpp"
#include "lb/packet/parsed.hpp"
#include "test_support.hpp"

namespace {

using namespace lbtest;
using lb::pkt::Parsed;

constexpr uint32_t kSeed = 20240611;

uint32_t rand_addr(std::mt19937& rng) { return static_cast<uint32_t>(rng()) | 0x01000000u; }  // never 0

// A random IPv4 TCP or UDP frame with a vnet prefix: random addresses and ports, a payload
// of 0..301 bytes (odd lengths included), sometimes IP options (IHL 6) and TCP options.
std::vector<uint8_t> random_frame(std::mt19937& rng, uint8_t proto) {
  Tins::EthernetII eth("02:00:00:00:00:02", "02:00:00:00:00:01");
  Tins::IP ip(dotted(rand_addr(rng)), dotted(rand_addr(rng)));
  ip.ttl(static_cast<uint8_t>(2 + rng() % 254));
  ip.id(static_cast<uint16_t>(rng()));
  const bool with_options = rng() % 4 == 0;
  std::vector<uint8_t> v;
  std::vector<uint8_t> payload(rng() % 302);
  for (auto& b : payload) b = static_cast<uint8_t>(rng());
  const auto dport = static_cast<uint16_t>(rng()), sport = static_cast<uint16_t>(rng());
  if (proto == 6) {
    Tins::TCP tcp(dport, sport);
    tcp.seq(static_cast<uint32_t>(rng()));
    tcp.ack_seq(static_cast<uint32_t>(rng()));
    tcp.flags(static_cast<uint16_t>(rng() & 0x3f));
    tcp.window(static_cast<uint16_t>(rng()));
    if (rng() % 3 == 0) tcp.mss(1460);
    auto pkt = eth / ip / tcp / Tins::RawPDU(payload);
    v = with_vnet(pkt);
  } else {
    Tins::UDP udp(dport, sport);
    auto pkt = eth / ip / udp / Tins::RawPDU(payload);
    v = with_vnet(pkt);
  }
  if (with_options) add_ip_options(v);
  return v;
}

Parsed parse(std::vector<uint8_t>& v) {
  Parsed p;
  p.vnet = lb::pkt::view<lb::pkt::VnetHdr>(v.data(), v.size(), 0);
  p.frame = v.data() + kVnetLen;
  p.len = v.size() - kVnetLen;
  p.eth = lb::pkt::view<lb::pkt::EthHdr>(p.frame, p.len, 0);
  lb::Drop why{};
  if (!lb::pkt::parse_ipv4(p, why)) ADD_FAILURE() << "parse_ipv4 rejected a valid frame: " << lb::to_string(why);
  return p;
}

uint8_t* ip_of(std::vector<uint8_t>& v) { return v.data() + kVnetLen + kEthLen; }

// Zeroes the UDP checksum field of a frame: "no checksum" (RFC 768).
void clear_udp_check(std::vector<uint8_t>& v) {
  uint8_t* ip = ip_of(v);
  uint8_t* check = ip + (ip[0] & 0x0f) * 4 + 6;
  check[0] = check[1] = 0;
}

struct Rewrite {
  uint32_t saddr, daddr;
  uint16_t sport, dport;  // network order
};

Rewrite random_rewrite(std::mt19937& rng, const uint8_t* ip) {
  Rewrite r{rand_addr(rng), rand_addr(rng), static_cast<uint16_t>(rng()), static_cast<uint16_t>(rng())};
  if (rng() % 8 == 0) std::memcpy(&r.saddr, ip + 12, 4);  // unchanged: the no-op path
  return r;
}

// The NAT rewrite the engine does, both ends, plus the router hop: field by field, or in
// one pass (rewrite_nat, the packet path's), which must give the same bytes.
void apply(Parsed& p, const Rewrite& r, bool one_pass = false) {
  if (one_pass) return lb::pkt::rewrite_nat(p, r.saddr, r.daddr, r.sport, r.dport, true);
  lb::pkt::set_ipv4_addr(p, true, r.saddr);
  lb::pkt::set_ipv4_addr(p, false, r.daddr);
  lb::pkt::set_l4_port(p, true, r.sport);
  lb::pkt::set_l4_port(p, false, r.dport);
  lb::pkt::decrement_ttl(p);
}

// The rewritten fields hold the new values (so a checksum match is not a no-op's).
::testing::AssertionResult FieldsRewritten(const uint8_t* ip, const Rewrite& r, uint8_t old_ttl) {
  uint32_t sa, da;
  uint16_t sp, dp;
  std::memcpy(&sa, ip + 12, 4);
  std::memcpy(&da, ip + 16, 4);
  const uint8_t* l4 = ip + (ip[0] & 0x0f) * 4;
  std::memcpy(&sp, l4, 2);
  std::memcpy(&dp, l4 + 2, 2);
  if (sa == r.saddr && da == r.daddr && sp == r.sport && dp == r.dport && ip[8] == old_ttl - 1)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "expected " << dotted(r.saddr) << ":" << ntohs(r.sport) << " > " << dotted(r.daddr) << ":"
         << ntohs(r.dport) << " ttl " << old_ttl - 1 << ", actual " << dotted(sa) << ":" << ntohs(sp) << " > "
         << dotted(da) << ":" << ntohs(dp) << " ttl " << int(ip[8]);
}

void RandomRewritesKeepChecksumsExact(uint8_t proto, int count, bool one_pass = false) {
  std::mt19937 rng(kSeed + proto);
  for (int i = 0; i < count; ++i) {
    auto v = random_frame(rng, proto);
    ASSERT_TRUE(ChecksumsMatchRecomputation(ip_of(v))) << "the test built a frame with wrong checksums\n" << describe(v);
    Parsed p = parse(v);
    ASSERT_FALSE(::testing::Test::HasFailure());
    ASSERT_FALSE(p.l4_csum_partial);
    const std::string before = describe(v);
    const uint8_t ttl = ip_of(v)[8];
    const Rewrite r = random_rewrite(rng, ip_of(v));
    apply(p, r, one_pass);
    ASSERT_TRUE(FieldsRewritten(ip_of(v), r, ttl)) << "packet " << i << " (seed " << kSeed + proto << ")";
    ASSERT_TRUE(ChecksumsMatchRecomputation(ip_of(v)))
        << "packet " << i << " (seed " << kSeed + proto << ")\nbefore: " << before << "\nafter: " << describe(v);
  }
}

TEST(IncrementalChecksum, TcpRewriteMatchesFullRecomputationForRandomPackets) {
  RandomRewritesKeepChecksumsExact(6, 5000);
}

TEST(IncrementalChecksum, UdpRewriteMatchesFullRecomputationForRandomPackets) {
  RandomRewritesKeepChecksumsExact(17, 5000);
}

TEST(IncrementalChecksum, OnePassTcpRewriteMatchesFullRecomputationForRandomPackets) {
  RandomRewritesKeepChecksumsExact(6, 5000, true);
}

TEST(IncrementalChecksum, OnePassUdpRewriteMatchesFullRecomputationForRandomPackets) {
  RandomRewritesKeepChecksumsExact(17, 5000, true);
}

// The one-pass rewrite gives exactly the bytes of the field-by-field one.
TEST(IncrementalChecksum, OnePassRewriteGivesTheSameBytesAsFieldByField) {
  std::mt19937 rng(kSeed + 7);
  for (int i = 0; i < 4000; ++i) {
    const uint8_t proto = i % 2 ? 6 : 17;
    auto a = random_frame(rng, proto);
    if (i % 3 == 0) make_partial(a);
    if (proto == 17 && i % 5 == 0) clear_udp_check(a);
    auto b = a;
    Parsed pa = parse(a), pb = parse(b);
    ASSERT_FALSE(::testing::Test::HasFailure());
    const Rewrite r = random_rewrite(rng, ip_of(a));
    apply(pa, r, false);
    apply(pb, r, true);
    ASSERT_EQ(a, b) << "packet " << i << "\nfield by field: " << describe(a) << "\none pass: " << describe(b);
  }
}

// CHECKSUM_PARTIAL frames (vnet NEEDS_CSUM): the L4 field holds the pseudo-header sum, and
// after the rewrite the kernel's completion must give the checksum for the new addresses.
void RandomPartialRewritesCompleteCorrectly(uint8_t proto, int count, bool one_pass = false) {
  std::mt19937 rng(kSeed * 3 + proto);
  for (int i = 0; i < count; ++i) {
    auto v = random_frame(rng, proto);
    make_partial(v);
    ASSERT_EQ(complete_partial(ip_of(v)), ref_l4_check(ip_of(v))) << "test's partial frame is wrong\n" << describe(v);
    Parsed p = parse(v);
    ASSERT_FALSE(::testing::Test::HasFailure());
    ASSERT_TRUE(p.l4_csum_partial) << "NEEDS_CSUM with csum_start at the L4 header was not seen\n" << describe(v);
    const std::string before = describe(v);
    const uint8_t ttl = ip_of(v)[8];
    const Rewrite r = random_rewrite(rng, ip_of(v));
    apply(p, r, one_pass);
    ASSERT_TRUE(FieldsRewritten(ip_of(v), r, ttl)) << "packet " << i;
    EXPECT_EQ(stored_ip_check(ip_of(v)), ref_ip_check(ip_of(v))) << "IP header checksum, packet " << i;
    ASSERT_EQ(complete_partial(ip_of(v)), ref_l4_check(ip_of(v)))
        << "completed L4 checksum (actual) vs full recomputation (expected), packet " << i << " (seed "
        << kSeed * 3 + proto << ")\nbefore: " << before << "\nafter: " << describe(v);
  }
}

TEST(IncrementalChecksum, PartialTcpChecksumCompletesToFullRecomputationAfterRewrite) {
  RandomPartialRewritesCompleteCorrectly(6, 2000);
}

TEST(IncrementalChecksum, PartialUdpChecksumCompletesToFullRecomputationAfterRewrite) {
  RandomPartialRewritesCompleteCorrectly(17, 2000);
}

// The DSR L3 (DSCP) rewrite in one pass gives exactly the bytes of the steps the engine
// took before: destination address, TOS word with csum_replace16, TTL; and the checksums
// it leaves are right (full ones recomputed, partial ones completed).
TEST(IncrementalChecksum, OnePassDsrL3RewriteGivesTheSameBytesAsTheSteps) {
  std::mt19937 rng(kSeed + 11);
  for (int i = 0; i < 4000; ++i) {
    const uint8_t proto = i % 2 ? 6 : 17;
    auto a = random_frame(rng, proto);
    const bool partial = i % 3 == 0;
    if (partial) make_partial(a);
    if (proto == 17 && i % 5 == 0 && !partial) clear_udp_check(a);
    auto b = a;
    Parsed pa = parse(a), pb = parse(b);
    ASSERT_FALSE(::testing::Test::HasFailure());
    const uint32_t rip = rand_addr(rng);
    const uint8_t tos = static_cast<uint8_t>(rng());
    lb::pkt::set_ipv4_addr(pa, false, rip);
    uint8_t* ipa = ip_of(a);
    uint16_t old_word, new_word, check;
    std::memcpy(&old_word, ipa, 2);
    ipa[1] = tos;
    std::memcpy(&new_word, ipa, 2);
    std::memcpy(&check, ipa + 10, 2);
    check = lb::pkt::csum_replace16(check, old_word, new_word);
    std::memcpy(ipa + 10, &check, 2);
    lb::pkt::decrement_ttl(pa);
    lb::pkt::rewrite_dsr_l3(pb, rip, tos);
    ASSERT_EQ(a, b) << "packet " << i << "\nsteps: " << describe(a) << "\none pass: " << describe(b);
    uint8_t* ip = ip_of(b);
    EXPECT_EQ(stored_ip_check(ip), ref_ip_check(ip)) << "packet " << i;
    if (partial) {
      EXPECT_EQ(complete_partial(ip), ref_l4_check(ip)) << "packet " << i;
    } else if (!(proto == 17 && stored_l4_check(ip) == 0)) {
      EXPECT_TRUE(ChecksumsMatchRecomputation(ip)) << "packet " << i;
    }
  }
}

TEST(IncrementalChecksum, OnePassPartialChecksumsCompleteToFullRecomputationAfterRewrite) {
  RandomPartialRewritesCompleteCorrectly(6, 2000, true);
  RandomPartialRewritesCompleteCorrectly(17, 2000, true);
}

TEST(IncrementalChecksum, UdpWithoutChecksumStaysWithoutChecksum) {
  std::mt19937 rng(kSeed + 99);
  for (int i = 0; i < 1000; ++i) {
    auto v = random_frame(rng, 17);
    clear_udp_check(v);
    uint8_t* ip = ip_of(v);
    Parsed p = parse(v);
    ASSERT_FALSE(::testing::Test::HasFailure());
    apply(p, random_rewrite(rng, ip));
    ASSERT_EQ(stored_l4_check(ip), 0) << "packet " << i << "\n" << describe(v);
    ASSERT_EQ(stored_ip_check(ip), ref_ip_check(ip)) << "IP header checksum, packet " << i;
  }
}

// A UDP checksum that computes to 0 must be sent as 0xffff, or it would mean "none".
TEST(IncrementalChecksum, UdpChecksumThatBecomesZeroIsSentAsAllOnes) {
  const uint32_t new_daddr = net("192.0.2.11");
  Tins::EthernetII eth("02:00:00:00:00:02", "02:00:00:00:00:01");
  auto pkt = eth / Tins::IP("203.0.113.10", "198.51.100.11") / Tins::UDP(80, 40000) /
             Tins::RawPDU(std::vector<uint8_t>(4, 0));
  auto v = with_vnet(pkt);
  uint8_t* ip = ip_of(v);
  uint8_t* udp = ip + 20;
  // Choose the first payload word so that, once the destination is new_daddr, the sum of
  // everything is 0xffff: the computed checksum is 0.
  uint32_t saddr;
  std::memcpy(&saddr, ip + 12, 4);
  std::vector<uint8_t> seg(udp, udp + 12);
  seg[6] = seg[7] = 0;
  const uint16_t rest = ref_fold(ref_sum(seg.data(), seg.size(), ref_pseudo_sum(saddr, new_daddr, 17, 12)));
  put_be16(udp + 8, static_cast<uint16_t>(0xffff - rest));
  fix_l4_check(ip);
  ASSERT_NE(stored_l4_check(ip), 0xffff) << "the starting checksum must differ from the expected result";

  Parsed p = parse(v);
  ASSERT_FALSE(HasFailure());
  lb::pkt::set_ipv4_addr(p, false, new_daddr);
  EXPECT_EQ(stored_l4_check(ip), 0xffff) << describe(v);
  EXPECT_TRUE(ChecksumsMatchRecomputation(ip));
}

uint16_t as_wire(uint16_t memory_order) {
  uint8_t b[2];
  std::memcpy(b, &memory_order, 2);
  return be16(b);
}

// The full-recomputation helpers of the engine agree with the test's own RFC 1071 code,
// odd lengths (whose last byte is the high half of a zero-padded word) included.
TEST(FullChecksum, L4ChecksumMatchesTheReferenceForRandomPackets) {
  std::mt19937 rng(kSeed + 7);
  for (int i = 0; i < 2000; ++i) {
    const uint8_t proto = i % 2 ? 6 : 17;
    auto v = random_frame(rng, proto);
    const uint8_t* ip = ip_of(v);
    Ipv4At h{ip};
    uint32_t sa, da;
    std::memcpy(&sa, ip + 12, 4);
    std::memcpy(&da, ip + 16, 4);
    const uint16_t got = as_wire(lb::pkt::l4_checksum_v4(sa, da, proto, h.l4(), h.l4_len(), l4_check_offset(proto)));
    uint16_t want = ref_l4_check(ip);
    if (proto == 17 && want == 0xffff && got == 0) want = 0;  // the 0 -> 0xffff rule is the caller's
    ASSERT_EQ(got, want) << "packet " << i << ", L4 length " << h.l4_len() << "\n" << describe(v);
  }
}

TEST(FullChecksum, Ipv4HeaderChecksumMatchesTheReferenceIgnoringTheStoredField) {
  std::mt19937 rng(kSeed + 8);
  for (int i = 0; i < 2000; ++i) {
    auto v = random_frame(rng, 6);
    uint8_t* ip = ip_of(v);
    ip[10] = static_cast<uint8_t>(rng());  // whatever is stored must not matter
    ip[11] = static_cast<uint8_t>(rng());
    ASSERT_EQ(as_wire(lb::pkt::ipv4_header_checksum(ip, Ipv4At{ip}.ihl())), ref_ip_check(ip)) << "packet " << i;
  }
}

// The packet path's check (32-bit words, check field included) says yes exactly when the
// stored checksum is the reference's, with and without IP options.
TEST(FullChecksum, Ipv4HeaderCheckAcceptsExactlyTheReferenceChecksum) {
  std::mt19937 rng(kSeed + 9);
  int bad = 0;
  for (int i = 0; i < 4000; ++i) {
    auto v = random_frame(rng, i % 2 ? 6 : 17);
    uint8_t* ip = ip_of(v);
    const size_t ihl = Ipv4At{ip}.ihl();
    ASSERT_TRUE(lb::pkt::ipv4_header_checksum_ok(ip, ihl)) << "packet " << i << "\n" << describe(v);
    if (i % 2) ip[10] ^= static_cast<uint8_t>(1 + rng() % 255);  // a wrong checksum
    else ip[1 + rng() % (ihl - 1)] ^= static_cast<uint8_t>(1 << (rng() % 8));  // or a changed header byte
    const bool same = stored_ip_check(ip) == ref_ip_check(ip);  // a flip may cancel only in theory
    bad += !same;
    ASSERT_EQ(lb::pkt::ipv4_header_checksum_ok(ip, ihl), same) << "packet " << i << "\n" << describe(v);
  }
  EXPECT_GT(bad, 3900);
}

TEST(FullChecksum, AddBytesOfAnOddLengthPadsTheLastByteOnTheRight) {
  const uint8_t data[3] = {0x12, 0x34, 0x56};  // words 0x1234 + 0x5600
  const uint16_t sum = lb::pkt::csum_fold(lb::pkt::csum_add_bytes(0, data, 3));
  EXPECT_EQ(as_wire(sum), 0x1234 + 0x5600);
}

// RFC 1624 section 3's example: m = 0x5555 becomes 0x3285 where the other octets sum to
// 0xCD7A. HC = 0xDD2F; the right new checksum is 0x0000 (eqn. 2 of RFC 1141 gives 0xFFFF).
TEST(Rfc1624, Replace16GivesTheExampleResultNotNegativeZero) {
  const uint16_t hc = static_cast<uint16_t>(~ref_fold(0xCD7A + 0x5555));
  ASSERT_EQ(hc, 0xDD2F);
  EXPECT_EQ(lb::pkt::csum_replace16(0xDD2F, 0x5555, 0x3285), 0x0000);
}

TEST(Rfc1624, Replace32GivesTheExampleResultWhenOnlyOneHalfChanges) {
  // The same example with the changing word in either half of a 32-bit field.
  EXPECT_EQ(lb::pkt::csum_replace32(0xDD2F, 0x12345555u, 0x12343285u), 0x0000);
  EXPECT_EQ(lb::pkt::csum_replace32(0xDD2F, 0x55551234u, 0x32851234u), 0x0000);
}

TEST(Rfc1624, Replace16AndReplace32MatchRecomputationOnAnIpHeader) {
  // A textbook header (checksum 0xb861) whose source 192.168.0.1 becomes 10.1.2.3 and
  // whose TTL/protocol word changes.
  uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                   0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
  ASSERT_EQ(ref_ip_check(h), 0xb861);
  uint16_t check;
  std::memcpy(&check, h + 10, 2);
  uint32_t old_src, new_src = net("10.1.2.3");
  std::memcpy(&old_src, h + 12, 4);
  std::memcpy(h + 12, &new_src, 4);
  check = lb::pkt::csum_replace32(check, old_src, new_src);
  std::memcpy(h + 10, &check, 2);
  EXPECT_EQ(be16(h + 10), ref_ip_check(h)) << "after the address change";

  uint16_t old_word, new_word;
  std::memcpy(&old_word, h + 8, 2);
  h[8] = 0x3f;
  std::memcpy(&new_word, h + 8, 2);
  check = lb::pkt::csum_replace16(check, old_word, new_word);
  std::memcpy(h + 10, &check, 2);
  EXPECT_EQ(be16(h + 10), ref_ip_check(h)) << "after the TTL change";
}

TEST(Rfc1624, Replace16MatchesRecomputationForRandomWords) {
  std::mt19937 rng(kSeed);
  for (int i = 0; i < 20000; ++i) {
    uint8_t buf[32];
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    const size_t at = (rng() % 16) * 2;
    const uint16_t before = static_cast<uint16_t>(~ref_fold(ref_sum(buf, sizeof buf)));
    uint16_t old_word, new_word = static_cast<uint16_t>(rng());
    std::memcpy(&old_word, buf + at, 2);
    std::memcpy(buf + at, &new_word, 2);
    const uint16_t want = static_cast<uint16_t>(~ref_fold(ref_sum(buf, sizeof buf)));
    // The engine's words are in memory order; the reference's are big-endian values.
    uint16_t check_mem = htons(before);
    const uint16_t got = ntohs(lb::pkt::csum_replace16(check_mem, old_word, new_word));
    ASSERT_EQ(got, want) << "case " << i << ": word at " << at << " 0x" << std::hex << ntohs(old_word) << " -> 0x"
                         << ntohs(new_word);
  }
}

}  // namespace
