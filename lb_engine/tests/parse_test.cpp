// Header views (lb/packet/headers.hpp) and parse_ipv4 (lb/packet/parsed.hpp) over frames
// built by libtins and then damaged on purpose.
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <functional>
#include <limits>

#include "lb/packet/headers.hpp"
#include "lb/packet/parsed.hpp"
#include "test_support.hpp"

namespace {

using namespace lbtest;
using lb::Drop;
using lb::pkt::Parsed;
using lb::pkt::view;

// ----------------------------------------------------------------- views

TEST(HeaderView, IsNullWhenTheBufferIsTooShort) {
  uint8_t buf[64] = {};
  EXPECT_EQ(view<lb::pkt::EthHdr>(buf, 13, 0), nullptr);
  EXPECT_EQ(view<lb::pkt::Ipv4Hdr>(buf, 14 + 19, 14), nullptr);
  EXPECT_EQ(view<lb::pkt::TcpHdr>(buf, 53, 34), nullptr);
  EXPECT_EQ(view<lb::pkt::UdpHdr>(buf, 41, 34), nullptr);
  EXPECT_EQ(view<lb::pkt::VnetHdr>(buf, 9, 0), nullptr);
  EXPECT_EQ(view<lb::pkt::ArpHdr>(buf, 41, 14), nullptr);
}

TEST(HeaderView, PointsIntoTheBufferWhenTheHeaderFitsExactly) {
  uint8_t buf[64] = {};
  EXPECT_EQ(reinterpret_cast<uint8_t*>(view<lb::pkt::Ipv4Hdr>(buf, 34, 14)), buf + 14);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(view<lb::pkt::TcpHdr>(buf, 54, 34)), buf + 34);
  const uint8_t* cbuf = buf;
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(view<lb::pkt::UdpHdr>(cbuf, 42, 34)), cbuf + 34);
}

TEST(HeaderView, IsNullWhenTheOffsetIsPastTheEndWithoutOverflowing) {
  uint8_t buf[64] = {};
  const uint8_t* cbuf = buf;
  EXPECT_EQ(view<lb::pkt::TcpHdr>(buf, 64, 65), nullptr);
  EXPECT_EQ(view<lb::pkt::TcpHdr>(buf, 64, 64), nullptr);
  EXPECT_EQ(view<lb::pkt::UdpHdr>(buf, 64, std::numeric_limits<size_t>::max()), nullptr);
  EXPECT_EQ(view<lb::pkt::UdpHdr>(cbuf, 64, std::numeric_limits<size_t>::max() - 4), nullptr);
}

// ----------------------------------------------------------------- frames

Tins::EthernetII eth() { return Tins::EthernetII("02:00:00:71:00:02", "02:00:00:71:00:01"); }
Tins::IP ip() {
  Tins::IP i("203.0.113.10", "198.51.100.11");
  i.ttl(64);
  return i;
}
std::vector<uint8_t> payload(size_t n) { return std::vector<uint8_t>(n, 0xab); }

std::vector<uint8_t> tcp_frame(size_t payload_len = 6) {
  Tins::TCP t(80, 40000);
  t.flags(Tins::TCP::SYN);
  auto p = eth() / ip() / t / Tins::RawPDU(payload(payload_len));
  if (payload_len == 0) {
    auto q = eth() / ip() / t;
    return with_vnet(q);
  }
  return with_vnet(p);
}
std::vector<uint8_t> udp_frame(size_t payload_len = 6) {
  auto p = eth() / ip() / Tins::UDP(80, 40000) / Tins::RawPDU(payload(payload_len));
  return with_vnet(p);
}
std::vector<uint8_t> icmp_frame() {
  auto p = eth() / ip() / Tins::ICMP(Tins::ICMP::ECHO_REQUEST) / Tins::RawPDU(payload(8));
  return with_vnet(p);
}

uint8_t* ip_of(std::vector<uint8_t>& v) { return v.data() + kVnetLen + kEthLen; }
size_t ip_bytes_in_frame(const std::vector<uint8_t>& v) { return v.size() - kVnetLen - kEthLen; }
void set_tot_len(std::vector<uint8_t>& v, size_t n) {
  put_be16(ip_of(v) + 2, static_cast<uint16_t>(n));
  fix_ip_check(ip_of(v));
}

struct ParseResult {
  bool ok;
  Drop why;
  Parsed p;
};
ParseResult parse(std::vector<uint8_t>& v) {
  ParseResult r{false, Drop::count_, {}};
  r.p.vnet = view<lb::pkt::VnetHdr>(v.data(), v.size(), 0);
  r.p.frame = v.data() + kVnetLen;
  r.p.len = v.size() - kVnetLen;
  r.p.eth = view<lb::pkt::EthHdr>(r.p.frame, r.p.len, 0);
  r.ok = lb::pkt::parse_ipv4(r.p, r.why);
  return r;
}

// ----------------------------------------------------------------- rejections (a table)

struct RejectCase {
  const char* name;
  std::function<std::vector<uint8_t>()> make;
  Drop expected;
};

const RejectCase kRejects[] = {
    {"TruncatedIpHeader", [] { auto v = tcp_frame(); v.resize(kVnetLen + kEthLen + 19); return v; }, Drop::ip_malformed},
    {"HeaderLengthBelowFiveWords", [] { auto v = tcp_frame(); ip_of(v)[0] = 0x44; fix_ip_check(ip_of(v)); return v; },
     Drop::ip_malformed},
    {"VersionNotFour", [] { auto v = tcp_frame(); ip_of(v)[0] = 0x65; fix_ip_check(ip_of(v)); return v; },
     Drop::ip_malformed},
    {"TotalLengthOneByteBeyondTheFrame", [] { auto v = tcp_frame(); set_tot_len(v, ip_bytes_in_frame(v) + 1); return v; },
     Drop::ip_malformed},
    {"TotalLengthShorterThanTheHeader", [] { auto v = tcp_frame(); set_tot_len(v, 19); return v; }, Drop::ip_malformed},
    {"HeaderLengthBeyondTotalLength",
     [] { auto v = tcp_frame(40); ip_of(v)[0] = 0x4f; set_tot_len(v, 40); return v; }, Drop::ip_malformed},
    {"BadHeaderChecksum", [] { auto v = tcp_frame(); ip_of(v)[10] ^= 0x01; return v; }, Drop::ip_bad_checksum},
    // tot_len says 19 bytes of TCP; the frame's padding must not count as the rest.
    {"TruncatedTcpHeader", [] { auto v = tcp_frame(0); set_tot_len(v, 20 + 19); return v; }, Drop::l4_malformed},
    {"TcpDataOffsetBeyondTheSegment", [] { auto v = tcp_frame(6); ip_of(v)[20 + 12] = 0xf0; return v; },
     Drop::l4_malformed},
    {"TcpDataOffsetBelowFiveWords", [] { auto v = tcp_frame(6); ip_of(v)[20 + 12] = 0x40; return v; },
     Drop::l4_malformed},
    {"UdpLengthBeyondThePacket", [] { auto v = udp_frame(6); put_be16(ip_of(v) + 20 + 4, 8 + 6 + 1); return v; },
     Drop::l4_malformed},
    {"UdpLengthBelowItsHeader", [] { auto v = udp_frame(6); put_be16(ip_of(v) + 20 + 4, 7); return v; },
     Drop::l4_malformed},
    {"TruncatedUdpHeader", [] { auto v = udp_frame(6); set_tot_len(v, 20 + 7); return v; }, Drop::l4_malformed},
    {"TruncatedIcmpHeader", [] { auto v = icmp_frame(); set_tot_len(v, 20 + 7); return v; }, Drop::l4_malformed},
};

class ParseRejects : public ::testing::TestWithParam<RejectCase> {};

TEST_P(ParseRejects, WithTheRightDropReason) {
  auto v = GetParam().make();
  auto r = parse(v);
  EXPECT_FALSE(r.ok) << "accepted a malformed frame\n" << describe(v);
  EXPECT_STREQ(r.ok ? "(accepted)" : lb::to_string(r.why), lb::to_string(GetParam().expected)) << describe(v);
}

void PrintTo(const RejectCase& c, std::ostream* os) { *os << c.name; }

INSTANTIATE_TEST_SUITE_P(Ipv4, ParseRejects, ::testing::ValuesIn(kRejects),
                         [](const ::testing::TestParamInfo<RejectCase>& i) { return std::string(i.param.name); });

// ----------------------------------------------------------------- acceptance

TEST(ParseIpv4, AcceptsEthernetPaddingAndStripsIt) {
  auto v = tcp_frame(0);  // 54 bytes of frame; libtins pads to 60
  v.insert(v.end(), 10, 0xee);  // and more trailer beyond that
  auto r = parse(v);
  ASSERT_TRUE(r.ok) << lb::to_string(r.why) << "\n" << describe(v);
  EXPECT_EQ(r.p.len, kEthLen + 40) << "the frame length must stop at the IP total length";
  EXPECT_EQ(r.p.l4_off, kEthLen + 20);
  EXPECT_EQ(r.p.l4_len, 20u);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(r.p.tcp), v.data() + kVnetLen + kEthLen + 20);
  EXPECT_EQ(r.p.udp, nullptr);
  EXPECT_FALSE(r.p.l4_csum_partial);
}

TEST(ParseIpv4, FindsTheL4HeaderAfterIpOptions) {
  auto p = eth() / ip() / Tins::UDP(53, 5353) / Tins::RawPDU(payload(3));
  auto v = with_vnet(p);
  add_ip_options(v);  // IHL 6
  ASSERT_FALSE(HasFatalFailure());
  auto r = parse(v);
  ASSERT_TRUE(r.ok) << lb::to_string(r.why);
  EXPECT_EQ(r.p.l4_off, kEthLen + 24);
  EXPECT_EQ(r.p.l4_len, 8u + 3u);
  ASSERT_NE(r.p.udp, nullptr);
  EXPECT_EQ(ntohs(r.p.udp->dest), 53);
}

TEST(ParseIpv4, AcceptsUdpAndIcmp) {
  auto u = udp_frame(7);
  auto ru = parse(u);
  ASSERT_TRUE(ru.ok) << lb::to_string(ru.why);
  EXPECT_NE(ru.p.udp, nullptr);
  EXPECT_EQ(ru.p.tcp, nullptr);
  EXPECT_EQ(ru.p.l4_len, 8u + 7u);
  auto c = icmp_frame();
  auto rc = parse(c);
  ASSERT_TRUE(rc.ok) << lb::to_string(rc.why);
  ASSERT_NE(rc.p.icmp, nullptr);
  EXPECT_EQ(rc.p.icmp->type, lb::pkt::IcmpHdr::kEchoRequest);
}

TEST(ParseIpv4, NonFirstFragmentsYieldNoL4Header) {
  for (auto make : {+[] { return tcp_frame(); }, +[] { return udp_frame(); }, +[] { return icmp_frame(); }}) {
    auto v = make();
    put_be16(ip_of(v) + 6, 185);  // offset 185 * 8 bytes, no more fragments
    fix_ip_check(ip_of(v));
    auto r = parse(v);
    ASSERT_TRUE(r.ok) << lb::to_string(r.why) << "\n" << describe(v);
    EXPECT_EQ(r.p.tcp, nullptr) << describe(v);
    EXPECT_EQ(r.p.udp, nullptr) << describe(v);
    EXPECT_EQ(r.p.icmp, nullptr) << describe(v);
    EXPECT_TRUE(r.p.ip->is_fragment());
  }
}

TEST(ParseIpv4, NonFirstFragmentTooShortForAnL4HeaderIsAccepted) {
  auto v = udp_frame(0);
  set_tot_len(v, 20 + 3);
  put_be16(ip_of(v) + 6, 0x2000 | 10);  // more fragments, offset 80
  fix_ip_check(ip_of(v));
  auto r = parse(v);
  ASSERT_TRUE(r.ok) << lb::to_string(r.why);
  EXPECT_EQ(r.p.udp, nullptr);
  EXPECT_EQ(r.p.l4_len, 3u);
}

TEST(ParseIpv4, FirstFragmentKeepsItsL4Header) {
  auto v = tcp_frame();
  put_be16(ip_of(v) + 6, 0x2000);  // more fragments, offset 0
  fix_ip_check(ip_of(v));
  auto r = parse(v);
  ASSERT_TRUE(r.ok) << lb::to_string(r.why);
  EXPECT_NE(r.p.tcp, nullptr);
  EXPECT_TRUE(r.p.ip->is_fragment());
}

TEST(ParseIpv4, PartialChecksumIsRecognisedOnlyWhenItStartsAtTheL4Header) {
  auto v = tcp_frame();
  make_partial(v);
  auto r = parse(v);
  ASSERT_TRUE(r.ok) << lb::to_string(r.why);
  EXPECT_TRUE(r.p.l4_csum_partial);

  auto w = v;
  put_le16(w.data() + 6, static_cast<uint16_t>(kEthLen + 20 + 4));  // csum_start elsewhere
  auto rw = parse(w);
  ASSERT_TRUE(rw.ok);
  EXPECT_FALSE(rw.p.l4_csum_partial);

  auto x = v;
  x[0] = 2;  // DATA_VALID only
  auto rx = parse(x);
  ASSERT_TRUE(rx.ok);
  EXPECT_FALSE(rx.p.l4_csum_partial);
}

}  // namespace
