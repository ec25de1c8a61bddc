// lab_client's VRRPv3 frames (client/vrrp_frame.hpp) against the engine's decoder
// (lb/ha/vrrp.hpp): two implementations written apart must agree on a valid
// advertisement, field by field, and on the reason each broken one is refused.
#include <gtest/gtest.h>

#include "client/vrrp_frame.hpp"
#include "lb/ha/vrrp.hpp"

#include <arpa/inet.h>

namespace {

using lab::client::VrrpBreak;
using lb::ha::VrrpDrop;

lab::client::VrrpSpec spec(VrrpBreak b = VrrpBreak::none) {
  lab::client::VrrpSpec s;
  s.vrid = 51;
  s.priority = 254;
  s.interval_cs = 10;
  s.src = 0xcb007101;                        // 203.0.113.1
  s.addresses = {0xcb00710a, 0xcb007114};    // 203.0.113.10, .20
  s.src_mac = {0x02, 0x00, 0x00, 0x71, 0x00, 0x01};
  s.broken = b;
  return s;
}

lb::ha::VrrpDecoded decode(const std::vector<std::uint8_t>& f, std::uint8_t vrid = 51) {
  return lb::ha::decode_vrrp_advert(f.data() + 14, f.size() - 14, vrid);
}

TEST(VrrpFrame, AValidAdvertDecodesFieldByFieldInTheEngine) {
  const auto f = lab::client::vrrp_frame(spec());
  ASSERT_EQ(f.size(), 14u + 20 + 8 + 8);
  EXPECT_EQ(f[0], 0x01);
  EXPECT_EQ(f[5], 0x12) << "01:00:5e:00:00:12";
  const auto d = decode(f);
  ASSERT_TRUE(d.ok()) << lb::ha::to_string(d.drop);
  EXPECT_EQ(d.src, htonl(0xcb007101));
  EXPECT_EQ(d.advert.vrid, 51);
  EXPECT_EQ(d.advert.priority, 254);
  EXPECT_EQ(d.advert.adver_int_cs, 10);
  ASSERT_EQ(d.advert.count, 2);
  EXPECT_EQ(d.advert.addrs[0], htonl(0xcb00710a));
  EXPECT_EQ(d.advert.addrs[1], htonl(0xcb007114));
}

TEST(VrrpFrame, EachBrokenFieldIsRefusedForItsReason) {
  const std::pair<VrrpBreak, VrrpDrop> cases[] = {
      {VrrpBreak::version, VrrpDrop::version},   {VrrpBreak::type, VrrpDrop::type},
      {VrrpBreak::checksum, VrrpDrop::checksum}, {VrrpBreak::ttl, VrrpDrop::ttl},
      {VrrpBreak::length, VrrpDrop::length},     {VrrpBreak::ip_checksum, VrrpDrop::ip_checksum},
      {VrrpBreak::zero_interval, VrrpDrop::zero_interval},
  };
  for (const auto& [b, want] : cases) {
    SCOPED_TRACE(lab::client::to_string(b));
    EXPECT_EQ(decode(lab::client::vrrp_frame(spec(b))).drop, want);
  }
  EXPECT_EQ(decode(lab::client::vrrp_frame(spec()), 52).drop, VrrpDrop::unknown_vrid);
}

TEST(VrrpFrame, BreakNamesRoundTrip) {
  for (auto b : {VrrpBreak::none, VrrpBreak::version, VrrpBreak::type, VrrpBreak::checksum, VrrpBreak::ttl,
                 VrrpBreak::length, VrrpBreak::ip_checksum, VrrpBreak::zero_interval})
    EXPECT_EQ(lab::client::parse_vrrp_break(lab::client::to_string(b)), b);
  EXPECT_FALSE(lab::client::parse_vrrp_break("nonsense"));
}

}  // namespace
