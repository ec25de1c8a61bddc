// VRRPv3 (RFC 5798): the advertisement codec checked byte for byte against libtins and an
// independent RFC 1071 checksum; the §7.1 drop reasons; the §6.4 state machine driven by
// explicit times (timers, priority 0, preemption, ties, dual master, tracking, GARPs).
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "lb/ha/vrrp.hpp"
#include "test_support.hpp"

namespace {

using namespace lbtest;
using namespace lb::ha;

constexpr size_t kIpLen = 20;

VrrpConfig base_config(const char* primary, uint8_t priority, uint32_t adver_int_ms = 100) {
  return VrrpConfig{.vrid = 51,
                    .priority = priority,
                    .adver_int_ms = adver_int_ms,
                    .primary_ip = net(primary),
                    .vips = {net("192.0.2.10"), net("192.0.2.11")}};
}

VrrpAdvert advert_of(uint8_t vrid, uint8_t priority, uint16_t cs, std::vector<const char*> addrs) {
  VrrpAdvert a;
  a.vrid = vrid;
  a.priority = priority;
  a.adver_int_cs = cs;
  a.count = static_cast<uint8_t>(addrs.size());
  for (size_t i = 0; i < addrs.size(); ++i) a.addrs[i] = net(addrs[i]);
  return a;
}

// The advert a peer of base_config() sends.
VrrpAdvert peer_advert(uint8_t priority, uint16_t cs = 10) {
  return advert_of(51, priority, cs, {"192.0.2.10", "192.0.2.11"});
}

std::string actions_str(const VrrpActions& acts) {
  std::string s = "[";
  for (const auto& a : acts) {
    if (s.size() > 1) s += ", ";
    s += to_string(a.type);
    if (a.type == VrrpActionType::send_advert) s += "(" + std::to_string(a.priority) + ")";
  }
  return s + "]";
}

std::vector<VrrpAction> vec(const VrrpActions& acts) { return {acts.begin(), acts.end()}; }

std::vector<uint8_t> encode(const VrrpAdvert& a, const char* src, uint16_t id = 0) {
  std::vector<uint8_t> buf(vrrp_packet_len(a.count));
  const size_t n = encode_vrrp_advert(a, net(src), buf.data(), buf.size(), id);
  EXPECT_EQ(n, buf.size());
  buf.resize(n);
  return buf;
}

// The VRRP checksum per §5.2.8, computed here from the RFC with test_support's RFC 1071
// sum: pseudo-header (src, dst, 0, 112, VRRP length) + the VRRP message, field as zero.
uint16_t ref_vrrp_check(const uint8_t* ip) {
  Ipv4At h{ip};
  std::vector<uint8_t> msg(h.l4(), h.l4() + h.l4_len());
  if (msg.size() < 8) return 0;
  msg[6] = msg[7] = 0;
  uint32_t sa, da;
  std::memcpy(&sa, ip + 12, 4);
  std::memcpy(&da, ip + 16, 4);
  const uint32_t s = ref_sum(msg.data(), msg.size(), ref_pseudo_sum(sa, da, 112, msg.size()));
  return static_cast<uint16_t>(~ref_fold(s));
}
void fix_vrrp_check(uint8_t* ip) {
  put_be16(const_cast<uint8_t*>(Ipv4At{ip}.l4()) + 6, ref_vrrp_check(ip));
}

// ----------------------------------------------------------------- codec

TEST(VrrpCodec, VirtualMacIsIanaPrefixPlusVrid) {
  EXPECT_EQ(vrrp_virtual_mac(7).str(), "00:00:5e:00:01:07");
  EXPECT_EQ(vrrp_virtual_mac(255).str(), "00:00:5e:00:01:ff");
  EXPECT_EQ(vrrp_multicast_mac().str(), "01:00:5e:00:00:12");
}

TEST(VrrpCodec, RoundTripKeepsEveryField) {
  std::vector<VrrpAdvert> cases = {
      advert_of(1, 100, 100, {"10.0.0.1"}),
      advert_of(51, 254, 1, {"192.0.2.10", "192.0.2.11", "198.51.100.1"}),
      advert_of(255, 0, 4095, {"203.0.113.7"}),
  };
  VrrpAdvert big = advert_of(9, 255, 300, {});
  big.count = 255;
  for (size_t i = 0; i < 255; ++i) big.addrs[i] = htonl(0x0a000001u + static_cast<uint32_t>(i));
  cases.push_back(big);
  for (const auto& a : cases) {
    SCOPED_TRACE("vrid " + std::to_string(a.vrid) + " count " + std::to_string(a.count));
    const auto pkt = encode(a, "10.1.1.1", 42);
    ASSERT_EQ(pkt.size(), 28u + 4u * a.count);
    const VrrpDecoded d = decode_vrrp_advert(pkt.data(), pkt.size(), a.vrid);
    ASSERT_TRUE(d.ok()) << "dropped: " << to_string(d.drop) << "\n" << hex(pkt.data(), pkt.size());
    EXPECT_EQ(dotted(d.src), "10.1.1.1");
    EXPECT_EQ(d.advert.vrid, a.vrid);
    EXPECT_EQ(d.advert.priority, a.priority);
    EXPECT_EQ(d.advert.adver_int_cs, a.adver_int_cs);
    EXPECT_EQ(d.advert.count, a.count);
    EXPECT_TRUE(d.advert == a) << "the address lists differ";
  }
}

TEST(VrrpCodec, EncodeRefusesWhatCannotBeSent) {
  uint8_t buf[64];
  VrrpAdvert a = advert_of(1, 100, 100, {"10.0.0.1"});
  EXPECT_EQ(encode_vrrp_advert(a, net("10.0.0.2"), buf, 31, 0), 0u) << "32 bytes needed";
  EXPECT_EQ(encode_vrrp_advert(a, net("10.0.0.2"), buf, 32, 0), 32u);
  a.adver_int_cs = 0x1000;  // 13 bits
  EXPECT_EQ(encode_vrrp_advert(a, net("10.0.0.2"), buf, sizeof buf, 0), 0u);
}

// The reference is built by libtins from fields written out here, with the VRRP checksum
// computed by the test: any difference in any byte (including both checksums) fails.
TEST(VrrpCodec, AdvertMatchesLibtinsReferenceByteForByte) {
  const VrrpAdvert a = advert_of(51, 150, 100, {"192.0.2.10", "192.0.2.11"});
  const auto ours = encode(a, "10.0.0.1", 0x1234);

  std::vector<uint8_t> vrrp = {
      0x31,        // version 3, type 1
      51,          // VRID
      150,         // priority
      2,           // count
      0x00, 0x64,  // reserved 0 + 100 cs
      0x00, 0x00,  // checksum, filled below
      192, 0, 2, 10, 192, 0, 2, 11,
  };
  Tins::IP ip("224.0.0.18", "10.0.0.1");
  ip.ttl(255);
  ip.tos(0xc0);
  ip.id(0x1234);
  ip.flags(Tins::IP::Flags(0));
  ip.protocol(112);
  {
    Tins::IP probe = ip / Tins::RawPDU(vrrp);  // to learn the serialized header
    auto bytes = probe.serialize();
    put_be16(vrrp.data() + 6, ref_vrrp_check(bytes.data()));
  }
  Tins::IP ref = ip / Tins::RawPDU(vrrp);
  const auto want = ref.serialize();

  ASSERT_EQ(ours.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(ours[i], want[i]) << "byte " << i;
  if (::testing::Test::HasFailure())
    ADD_FAILURE() << "ours:\n" << hex(ours.data(), ours.size()) << "\nlibtins:\n" << hex(want.data(), want.size());

  // Both checksums against recomputation, and the VRRP one against a sum written out
  // by hand over 16-bit words: pseudo-header, then the message with the field zero.
  EXPECT_EQ(stored_ip_check(ours.data()), ref_ip_check(ours.data()));
  uint32_t s = 0x0a00 + 0x0001 + 0xe000 + 0x0012 + 112 + 16;               // pseudo-header
  s += 0x3133 + 0x9602 + 0x0064 + 0x0000 + 0xc000 + 0x020a + 0xc000 + 0x020b;  // message
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  const auto by_hand = static_cast<uint16_t>(~s);
  EXPECT_EQ(be16(ours.data() + kIpLen + 6), by_hand);
  EXPECT_EQ(be16(ours.data() + kIpLen + 6), ref_vrrp_check(ours.data()));

  // libtins reads back what §5.1 asks for.
  Tins::IP parsed(ours.data(), static_cast<uint32_t>(ours.size()));
  EXPECT_EQ(parsed.ttl(), 255);
  EXPECT_EQ(parsed.protocol(), 112);
  EXPECT_EQ(parsed.tos(), 0xc0);
  EXPECT_EQ(parsed.flags(), Tins::IP::Flags(0)) << "DF must be clear";
  EXPECT_EQ(parsed.dst_addr().to_string(), "224.0.0.18");
  EXPECT_EQ(parsed.src_addr().to_string(), "10.0.0.1");
}

// ----------------------------------------------------------------- §7.1 drops

struct DropCase {
  const char* name;
  void (*mutate)(std::vector<uint8_t>&);
  VrrpDrop want;
};

void set_tot_len(std::vector<uint8_t>& p, size_t n) {
  put_be16(p.data() + 2, static_cast<uint16_t>(n));
  fix_ip_check(p.data());
}

const DropCase kDropCases[] = {
    {"Version2", [](std::vector<uint8_t>& p) { p[kIpLen] = 0x21; fix_vrrp_check(p.data()); }, VrrpDrop::version},
    {"Type2", [](std::vector<uint8_t>& p) { p[kIpLen] = 0x32; fix_vrrp_check(p.data()); }, VrrpDrop::type},
    {"Ttl64", [](std::vector<uint8_t>& p) { p[8] = 64; fix_ip_check(p.data()); }, VrrpDrop::ttl},
    {"Ttl254", [](std::vector<uint8_t>& p) { p[8] = 254; fix_ip_check(p.data()); }, VrrpDrop::ttl},
    {"BadVrrpChecksum", [](std::vector<uint8_t>& p) { p[kIpLen + 7] ^= 0x01; }, VrrpDrop::checksum},
    {"PayloadFlippedAfterChecksum", [](std::vector<uint8_t>& p) { p[kIpLen + 2] = 200; }, VrrpDrop::checksum},
    {"BadIpChecksum", [](std::vector<uint8_t>& p) { p[10] ^= 0x40; }, VrrpDrop::ip_checksum},
    {"ShorterThanVrrpHeader", [](std::vector<uint8_t>& p) { p.resize(kIpLen + 6); set_tot_len(p, p.size()); }, VrrpDrop::length},
    {"CountSaysThreeListHoldsTwo", [](std::vector<uint8_t>& p) { p[kIpLen + 3] = 3; fix_vrrp_check(p.data()); }, VrrpDrop::length},
    {"CountSaysOneListHoldsTwo", [](std::vector<uint8_t>& p) { p[kIpLen + 3] = 1; fix_vrrp_check(p.data()); }, VrrpDrop::length},
    {"TruncatedAddressList", [](std::vector<uint8_t>& p) { p.resize(p.size() - 2); set_tot_len(p, p.size()); }, VrrpDrop::length},
    {"BufferShorterThanTotalLength", [](std::vector<uint8_t>& p) { p.resize(p.size() - 1); }, VrrpDrop::ip_malformed},
    {"NotProtocol112", [](std::vector<uint8_t>& p) { p[9] = 17; fix_ip_check(p.data()); }, VrrpDrop::ip_malformed},
    {"Fragment", [](std::vector<uint8_t>& p) { p[6] = 0x20; fix_ip_check(p.data()); }, VrrpDrop::ip_malformed},
    {"Ipv6Version", [](std::vector<uint8_t>& p) { p[0] = 0x65; }, VrrpDrop::ip_malformed},
    {"UnknownVrid", [](std::vector<uint8_t>& p) { p[kIpLen + 1] = 52; fix_vrrp_check(p.data()); }, VrrpDrop::unknown_vrid},
    {"ZeroInterval", [](std::vector<uint8_t>& p) { p[kIpLen + 4] = 0; p[kIpLen + 5] = 0; fix_vrrp_check(p.data()); }, VrrpDrop::zero_interval},
};

void PrintTo(const DropCase& c, std::ostream* os) { *os << c.name << " -> " << to_string(c.want); }

class VrrpDecodeDrops : public ::testing::TestWithParam<DropCase> {};

TEST_P(VrrpDecodeDrops, DropsWithItsReasonAndCountsIt) {
  const DropCase& c = GetParam();
  auto pkt = encode(peer_advert(100), "10.0.0.2");
  ASSERT_TRUE(decode_vrrp_advert(pkt.data(), pkt.size(), 51).ok()) << "the unmutated packet must pass";
  c.mutate(pkt);
  const VrrpDecoded d = decode_vrrp_advert(pkt.data(), pkt.size(), 51);
  EXPECT_EQ(d.drop, c.want) << "expected " << to_string(c.want) << ", actual " << to_string(d.drop)
                            << "\n" << hex(pkt.data(), pkt.size());

  // The instance counts it under that name and does nothing else.
  Vrrp v(base_config("10.0.0.1", 100));
  v.start(1000);
  const auto acts = v.on_packet(pkt.data(), pkt.size(), 1010);
  EXPECT_TRUE(acts.empty()) << actions_str(acts);
  EXPECT_EQ(v.counters().drop(c.want), 1u) << to_string(c.want);
  EXPECT_EQ(v.counters().adverts_received, 0u);
}

INSTANTIATE_TEST_SUITE_P(VrrpSection7_1, VrrpDecodeDrops, ::testing::ValuesIn(kDropCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(VrrpDecode, EthernetPaddingAfterThePacketIsIgnored) {
  auto pkt = encode(peer_advert(100), "10.0.0.2");
  pkt.resize(pkt.size() + 18, 0);
  EXPECT_TRUE(decode_vrrp_advert(pkt.data(), pkt.size(), 51).ok());
}

TEST(VrrpDecode, ReservedBitsAreIgnored) {
  auto pkt = encode(peer_advert(100, 10), "10.0.0.2");
  pkt[kIpLen + 4] |= 0xf0;
  fix_vrrp_check(pkt.data());
  const auto d = decode_vrrp_advert(pkt.data(), pkt.size(), 51);
  ASSERT_TRUE(d.ok()) << to_string(d.drop);
  EXPECT_EQ(d.advert.adver_int_cs, 10);
}

// ----------------------------------------------------------------- timers

TEST(VrrpTimers, SkewAndMasterDownFollowTheRfcFormulasRoundedDownToTheMs) {
  struct Case { uint8_t prio; uint32_t interval, skew, down; };
  const Case cases[] = {
      {100, 100, 60, 360},      // 156 * 100 / 256 = 60.94
      {100, 1000, 609, 3609},   // 609.4
      {254, 100, 0, 300},       // 2 * 100 / 256 = 0.78
      {1, 100, 99, 399},        // 99.6
      {200, 10, 2, 32},         // 56 * 10 / 256 = 2.19
      {255, 10, 0, 30},
  };
  for (const auto& c : cases) {
    Vrrp v(base_config("10.0.0.1", c.prio, c.interval));
    v.start(0);
    EXPECT_EQ(v.skew_ms(), c.skew) << "priority " << int(c.prio) << " interval " << c.interval;
    EXPECT_EQ(v.master_down_interval_ms(), c.down) << "priority " << int(c.prio) << " interval " << c.interval;
  }
}

TEST(VrrpTimers, SilentBackupBecomesMasterExactlyAtMasterDownInterval) {
  Vrrp v(base_config("10.0.0.1", 100));
  const auto s = v.start(1000);
  EXPECT_EQ(vec(s), (std::vector<VrrpAction>{{VrrpActionType::become_backup}})) << actions_str(s);
  EXPECT_EQ(v.next_event_ms(), 1360u);
  const auto early = v.tick(1359);
  EXPECT_TRUE(early.empty()) << actions_str(early);
  EXPECT_EQ(v.state(), VrrpState::backup);
  const auto at = v.tick(1360);
  EXPECT_EQ(vec(at), (std::vector<VrrpAction>{{VrrpActionType::become_master},
                                               {VrrpActionType::send_advert, 100},
                                               {VrrpActionType::send_garp}}))
      << actions_str(at);
  EXPECT_EQ(v.state(), VrrpState::master);
  EXPECT_EQ(v.status().reason, VrrpReason::master_down);
  EXPECT_EQ(v.status().changed_ms, 1360u);
}

TEST(VrrpTimers, MasterAdvertisesEveryInterval) {
  auto cfg = base_config("10.0.0.1", 100);
  cfg.garp_count = 0;
  Vrrp v(cfg);
  v.start(0);
  v.tick(360);
  ASSERT_EQ(v.state(), VrrpState::master);
  std::vector<uint64_t> sent;
  for (uint64_t t = 361; t <= 1360; ++t)
    for (const auto& a : v.tick(t))
      if (a.type == VrrpActionType::send_advert) sent.push_back(t);
  std::vector<uint64_t> want;
  for (uint64_t t = 460; t <= 1360; t += 100) want.push_back(t);
  EXPECT_EQ(sent, want);
  EXPECT_EQ(v.counters().adverts_sent, 11u) << "one at the transition, ten after";
}

TEST(VrrpTimers, MasterCalledLateKeepsItsCadence) {
  auto cfg = base_config("10.0.0.1", 100);
  cfg.garp_count = 0;
  Vrrp v(cfg);
  v.start(0);
  v.tick(360);
  EXPECT_TRUE(v.tick(475).has(VrrpActionType::send_advert));  // due at 460
  EXPECT_EQ(v.next_event_ms(), 560u);
  EXPECT_TRUE(v.tick(2000).has(VrrpActionType::send_advert));  // far behind: restart
  EXPECT_EQ(v.next_event_ms(), 2100u);
}

TEST(VrrpTimers, AdvertsKeepBackupDownAndTeachTheMastersInterval) {
  Vrrp v(base_config("10.0.0.1", 100));  // own interval 100 ms
  v.start(0);
  for (uint64_t t = 0; t < 3000; t += 300) {
    EXPECT_TRUE(v.on_advert(peer_advert(200, 30), net("10.0.0.2"), t).empty());
    EXPECT_TRUE(v.tick(t + 299).empty()) << "t=" << t;
  }
  // Master_Adver_Interval = 300 ms: skew 156 * 300 / 256 = 182, down 1082.
  const auto st = v.status();
  EXPECT_EQ(st.master_adver_int_ms, 300u);
  EXPECT_EQ(st.adver_int_ms, 100u);
  EXPECT_EQ(st.skew_ms, 182u);
  EXPECT_EQ(st.master_down_int_ms, 1082u);
  EXPECT_EQ(dotted(st.master_ip), "10.0.0.2");
  EXPECT_EQ(st.master_priority, 200);
  EXPECT_EQ(v.counters().adverts_received, 10u);
  // The last advert came at 2700.
  EXPECT_TRUE(v.tick(2700 + 1081).empty());
  EXPECT_TRUE(v.tick(2700 + 1082).has(VrrpActionType::become_master));
}

// ----------------------------------------------------------------- priority 0, shutdown

TEST(VrrpPriorityZero, BackupTakesOverAfterSkewTime) {
  Vrrp v(base_config("10.0.0.1", 100));
  v.start(0);
  v.on_advert(peer_advert(200), net("10.0.0.2"), 100);
  EXPECT_TRUE(v.on_advert(peer_advert(0), net("10.0.0.2"), 150).empty());
  EXPECT_EQ(v.next_event_ms(), 150u + 60u);
  EXPECT_TRUE(v.tick(209).empty());
  EXPECT_TRUE(v.tick(210).has(VrrpActionType::become_master));
  EXPECT_EQ(v.status().reason, VrrpReason::priority_zero);
  EXPECT_EQ(v.counters().priority_zero_received, 1u);
}

TEST(VrrpPriorityZero, MasterShutdownSendsPriorityZeroAndStops) {
  Vrrp v(base_config("10.0.0.1", 100));
  v.start(0);
  v.tick(360);
  const auto acts = v.shutdown(400);
  EXPECT_EQ(vec(acts), (std::vector<VrrpAction>{{VrrpActionType::send_advert, 0}, {VrrpActionType::stop}}))
      << actions_str(acts);
  EXPECT_EQ(v.state(), VrrpState::initialize);
  EXPECT_EQ(v.status().reason, VrrpReason::shutdown);
  EXPECT_EQ(v.counters().priority_zero_sent, 1u);
  EXPECT_TRUE(v.tick(10000).empty());
  EXPECT_TRUE(v.on_advert(peer_advert(100), net("10.0.0.2"), 10000).empty());
  EXPECT_EQ(v.counters().drop(VrrpDrop::not_running), 1u);
}

TEST(VrrpPriorityZero, BackupShutdownSendsNothing) {
  Vrrp v(base_config("10.0.0.1", 100));
  v.start(0);
  const auto acts = v.shutdown(10);
  EXPECT_EQ(vec(acts), (std::vector<VrrpAction>{{VrrpActionType::stop}})) << actions_str(acts);
}

TEST(VrrpPriorityZero, MasterAnswersPriorityZeroWithAnAdvertAtOnce) {
  auto cfg = base_config("10.0.0.1", 100);
  cfg.garp_count = 0;
  Vrrp v(cfg);
  v.start(0);
  v.tick(360);
  const auto acts = v.on_advert(peer_advert(0), net("10.0.0.2"), 400);
  EXPECT_EQ(vec(acts), (std::vector<VrrpAction>{{VrrpActionType::send_advert, 100}})) << actions_str(acts);
  EXPECT_EQ(v.state(), VrrpState::master);
  EXPECT_EQ(v.next_event_ms(), 500u) << "the Adver_Timer restarted at 400";
}

// ----------------------------------------------------------------- preemption

// A master at priority 100 advertising every 100 ms from t=0; `v` (priority 150) starts
// at 0 and hears every one. Returns when `v` became master (0 = never before `until`).
uint64_t run_against_lower_master(Vrrp& v, uint64_t until) {
  v.start(0);
  for (uint64_t t = 0; t <= until; ++t) {
    if (t % 100 == 0) v.on_advert(peer_advert(100), net("10.0.0.2"), t);
    if (v.tick(t).has(VrrpActionType::become_master)) return t;
  }
  return 0;
}

TEST(VrrpPreempt, HigherPriorityBackupPreemptsAfterItsMasterDownInterval) {
  Vrrp v(base_config("10.0.0.1", 150));  // skew 106 * 100 / 256 = 41, down 341
  EXPECT_EQ(run_against_lower_master(v, 5000), 341u);
  EXPECT_EQ(v.status().reason, VrrpReason::preempt);
}

TEST(VrrpPreempt, WithoutPreemptAHigherPriorityBackupStaysBackup) {
  auto cfg = base_config("10.0.0.1", 150);
  cfg.preempt = false;
  Vrrp v(cfg);
  EXPECT_EQ(run_against_lower_master(v, 5000), 0u);
  EXPECT_EQ(v.state(), VrrpState::backup);
  EXPECT_EQ(v.status().master_priority, 100);
}

TEST(VrrpPreempt, PreemptDelayHoldsOffUntilThatLongAfterStart) {
  auto cfg = base_config("10.0.0.1", 150);
  cfg.preempt_delay_ms = 1000;
  Vrrp v(cfg);
  // Adverts until 900 are accepted (timer reset), from 1000 on ignored: 900 + 341.
  EXPECT_EQ(run_against_lower_master(v, 5000), 1241u);
  EXPECT_EQ(v.status().reason, VrrpReason::preempt);
}

// The engine's hold (waiting for the master's table). A 150 backup against a 100 master
// advertising every 100 ms until `adverts_until`, held until `release_at`: when it
// becomes master (0: never by 5000).
uint64_t run_held(uint64_t release_at, uint64_t adverts_until) {
  Vrrp v(base_config("10.0.0.1", 150));
  v.start(0);
  v.hold_preempt(true);
  for (uint64_t t = 0; t <= 5000; ++t) {
    if (t == release_at) v.hold_preempt(false);
    if (t % 100 == 0 && t <= adverts_until) v.on_advert(peer_advert(100), net("10.0.0.2"), t);
    if (v.tick(t).has(VrrpActionType::become_master)) return t;
  }
  return 0;
}

TEST(VrrpPreempt, AHeldBackupDoesNotPreemptUntilReleased) {
  // Released at 2000: the advert at 2000 no longer resets the timer, which was last reset
  // at 1900 (341 ms): master at 2241.
  EXPECT_EQ(run_held(2000, 5000), 2241u);
  EXPECT_EQ(run_held(99999, 5000), 0u) << "never released: stays backup";
}

TEST(VrrpPreempt, AHeldBackupStillReplacesASilentMaster) {
  EXPECT_EQ(run_held(99999, 1000), 1341u) << "the last advert at 1000, then the master-down interval";
}

TEST(VrrpPreempt, LowerPriorityBackupNeverPreempts) {
  Vrrp v(base_config("10.0.0.1", 50));
  v.start(0);
  for (uint64_t t = 0; t <= 5000; ++t) {
    if (t % 100 == 0) v.on_advert(peer_advert(100), net("10.0.0.2"), t);
    ASSERT_TRUE(v.tick(t).empty()) << "t=" << t;
  }
}

// ----------------------------------------------------------------- ties, owner

TEST(VrrpElection, MasterStepsDownForEqualPriorityFromAHigherAddress) {
  Vrrp v(base_config("10.0.0.1", 100));
  v.start(0);
  v.tick(360);
  const auto acts = v.on_advert(peer_advert(100, 20), net("10.0.0.2"), 400);
  // A last advert of ours first: the winner, hearing a lower master, re-announces itself.
  EXPECT_EQ(vec(acts), (std::vector<VrrpAction>{{VrrpActionType::send_advert, 100}, {VrrpActionType::become_backup}}))
      << actions_str(acts);
  const auto st = v.status();
  EXPECT_EQ(st.state, VrrpState::backup);
  EXPECT_EQ(st.reason, VrrpReason::higher_priority);
  EXPECT_EQ(dotted(st.master_ip), "10.0.0.2");
  EXPECT_EQ(st.master_adver_int_ms, 200u);
  EXPECT_EQ(v.next_event_ms(), 400u + 600u + 156u * 200u / 256u);
}

TEST(VrrpElection, MasterStepsDownForHigherPriorityFromALowerAddress) {
  Vrrp v(base_config("10.0.0.9", 100));
  v.start(0);
  v.tick(360);
  EXPECT_TRUE(v.on_advert(peer_advert(101), net("10.0.0.2"), 400).has(VrrpActionType::become_backup));
}

TEST(VrrpElection, MasterAnswersALowerMasterAtOnceAndStays) {
  Vrrp v(base_config("10.0.0.2", 100));
  v.start(0);
  v.tick(360);  // master; its GARP burst (5 rounds, 100 ms apart) runs until 760
  for (auto [prio, src] : {std::pair<uint8_t, const char*>{100, "10.0.0.1"}, {99, "10.0.0.3"}}) {
    const auto acts = v.on_advert(peer_advert(prio), net(src), 400);
    EXPECT_EQ(vec(acts), (std::vector<VrrpAction>{{VrrpActionType::send_advert, 100}}))
        << src << ": " << actions_str(acts);
    EXPECT_EQ(v.state(), VrrpState::master);
  }
  // Its own advert looped back (same priority, same address) changes nothing.
  EXPECT_TRUE(v.on_advert(peer_advert(100), net("10.0.0.2"), 401).empty());
}

// A healed partition: the other master's GARPs may have moved the neighbours' ARP
// caches, so the winner announces its addresses again, once per burst.
TEST(VrrpElection, AMasterHearingALowerMasterAfterItsBurstAnnouncesItsAddressesAgain) {
  Vrrp v(base_config("10.0.0.2", 100));
  v.start(0);
  for (uint64_t t = 360; t <= 2000; t += 10) v.tick(t);  // the burst on becoming master is over
  const uint32_t rounds = v.counters().garp_rounds;
  auto acts = v.on_advert(peer_advert(50), net("10.0.0.3"), 2005);
  EXPECT_EQ(vec(acts), (std::vector<VrrpAction>{{VrrpActionType::send_advert, 100}, {VrrpActionType::send_garp}}))
      << actions_str(acts);
  EXPECT_EQ(v.counters().garp_rounds, rounds + 1);
  acts = v.on_advert(peer_advert(50), net("10.0.0.3"), 2010);
  EXPECT_EQ(vec(acts), (std::vector<VrrpAction>{{VrrpActionType::send_advert, 100}})) << "the burst is under way";
  size_t more = 0;
  for (uint64_t t = 2010; t <= 3000; t += 10) more += v.tick(t).has(VrrpActionType::send_garp) ? 1 : 0;
  EXPECT_EQ(more, 4u) << "the burst's other garp_count - 1 rounds";
}

// Both sides were master while split; the higher one's advert arrives first. The loser
// steps down with a last advert, which makes the winner announce its addresses again.
TEST(VrrpElection, AHealedPartitionEndsWithOneMasterThatAnnouncesItselfWhoeverHeardFirst) {
  Vrrp a(base_config("10.0.0.1", 200)), b(base_config("10.0.0.2", 100));
  a.start(0);
  b.start(0);
  for (uint64_t t = 0; t <= 2000; t += 10) {
    a.tick(t);
    b.tick(t);
  }
  ASSERT_EQ(a.state(), VrrpState::master);
  ASSERT_EQ(b.state(), VrrpState::master);
  const auto b_acts = b.on_advert(peer_advert(200), net("10.0.0.1"), 2005);
  ASSERT_EQ(vec(b_acts), (std::vector<VrrpAction>{{VrrpActionType::send_advert, 100}, {VrrpActionType::become_backup}}))
      << actions_str(b_acts);
  const auto a_acts = a.on_advert(peer_advert(100), net("10.0.0.2"), 2006);
  EXPECT_EQ(vec(a_acts), (std::vector<VrrpAction>{{VrrpActionType::send_advert, 200}, {VrrpActionType::send_garp}}))
      << actions_str(a_acts);
  EXPECT_EQ(a.state(), VrrpState::master);
  EXPECT_EQ(b.state(), VrrpState::backup);
}

TEST(VrrpElection, OwnerStartsAsMasterAndIgnoresAdverts) {
  Vrrp v(base_config("10.0.0.1", 255));
  const auto acts = v.start(0);
  EXPECT_TRUE(acts.has(VrrpActionType::become_master)) << actions_str(acts);
  EXPECT_EQ(v.status().reason, VrrpReason::owner_start);
  EXPECT_TRUE(v.on_advert(peer_advert(254), net("10.0.0.200"), 10).empty());
  EXPECT_EQ(v.counters().drop(VrrpDrop::local_owner), 1u);
  EXPECT_EQ(v.state(), VrrpState::master);
}

// ----------------------------------------------------------------- a simulated link

// Two instances on one link: every send_advert is encoded by the sender and decoded by
// the other's on_packet after 1 ms, unless the link is cut. Time runs in 1 ms steps.
struct Link {
  Vrrp a, b;
  bool cut = false;
  struct InFlight { uint64_t at; bool to_b; std::vector<uint8_t> pkt; };
  std::deque<InFlight> wire;
  std::vector<std::pair<uint64_t, std::string>> log;  // (time, "a: master")

  Link(VrrpConfig ca, VrrpConfig cb) : a(std::move(ca)), b(std::move(cb)) {}

  void handle(bool is_a, const VrrpActions& acts, uint64_t now) {
    Vrrp& self = is_a ? a : b;
    for (const auto& act : acts) {
      if (act.type == VrrpActionType::become_master || act.type == VrrpActionType::become_backup)
        log.emplace_back(now, std::string(is_a ? "a: " : "b: ") + to_string(act.type));
      if (act.type != VrrpActionType::send_advert || cut) continue;
      std::vector<uint8_t> pkt(vrrp_packet_len(self.config().vips.size()));
      pkt.resize(self.encode(act.priority, pkt.data(), pkt.size()));
      wire.push_back({now + 1, /*to_b=*/is_a, std::move(pkt)});
    }
  }
  void start(uint64_t now) {
    handle(true, a.start(now), now);
    handle(false, b.start(now), now);
  }
  void run(uint64_t from, uint64_t to) {
    for (uint64_t t = from; t <= to; ++t) {
      while (!wire.empty() && wire.front().at <= t) {
        InFlight f = std::move(wire.front());
        wire.pop_front();
        Vrrp& dst = f.to_b ? b : a;
        handle(!f.to_b, dst.on_packet(f.pkt.data(), f.pkt.size(), t), t);
      }
      handle(true, a.tick(t), t);
      handle(false, b.tick(t), t);
    }
  }
  std::string history() const {
    std::string s;
    for (const auto& [t, what] : log) s += std::to_string(t) + " " + what + "\n";
    return s;
  }
};

struct DualMasterCase {
  const char* name;
  uint8_t prio_a, prio_b;
  const char *ip_a, *ip_b;
  bool a_wins;
};

void PrintTo(const DualMasterCase& c, std::ostream* os) { *os << c.name; }

class VrrpDualMaster : public ::testing::TestWithParam<DualMasterCase> {};

TEST_P(VrrpDualMaster, HealedPartitionEndsWithExactlyOneMaster) {
  const auto& c = GetParam();
  Link link(base_config(c.ip_a, c.prio_a), base_config(c.ip_b, c.prio_b));
  link.cut = true;
  link.start(0);
  link.run(0, 2000);
  ASSERT_EQ(link.a.state(), VrrpState::master) << link.history();
  ASSERT_EQ(link.b.state(), VrrpState::master) << link.history();

  link.cut = false;
  link.log.clear();
  link.run(2001, 6000);
  const Vrrp& winner = c.a_wins ? link.a : link.b;
  const Vrrp& loser = c.a_wins ? link.b : link.a;
  EXPECT_EQ(winner.state(), VrrpState::master) << link.history();
  EXPECT_EQ(loser.state(), VrrpState::backup) << link.history();
  ASSERT_EQ(link.log.size(), 1u) << "one step-down and nothing after:\n" << link.history();
  // The first advert after the heal reaches the other side within one interval plus 1 ms.
  EXPECT_LE(link.log[0].first, 2001u + 100u + 1u) << link.history();
  EXPECT_EQ(loser.status().reason, VrrpReason::higher_priority);
  EXPECT_EQ(loser.status().master_ip, winner.config().primary_ip);
}

INSTANTIATE_TEST_SUITE_P(
    VrrpPartition, VrrpDualMaster,
    ::testing::Values(DualMasterCase{"EqualPriorityHigherAddressWins", 100, 100, "10.0.0.1", "10.0.0.2", false},
                      DualMasterCase{"EqualPriorityHigherAddressWinsReversed", 100, 100, "10.0.0.9", "10.0.0.2", true},
                      DualMasterCase{"HigherPriorityWinsOverHigherAddress", 200, 100, "10.0.0.1", "10.0.0.2", true},
                      DualMasterCase{"HigherPriorityWinsB", 100, 101, "10.0.0.9", "10.0.0.2", false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(VrrpLink, StartTogetherElectsTheHigherPriorityOnly) {
  Link link(base_config("10.0.0.1", 200), base_config("10.0.0.2", 100));
  link.start(0);
  link.run(0, 3000);
  EXPECT_EQ(link.a.state(), VrrpState::master) << link.history();
  EXPECT_EQ(link.b.state(), VrrpState::backup) << link.history();
  EXPECT_EQ(link.b.counters().to_master, 0u) << link.history();
}

TEST(VrrpLink, MasterShutdownHandsOverAfterSkewTime) {
  Link link(base_config("10.0.0.1", 200), base_config("10.0.0.2", 100));
  link.start(0);
  link.run(0, 1000);
  ASSERT_EQ(link.a.state(), VrrpState::master);
  link.handle(true, link.a.shutdown(1001), 1001);
  link.log.clear();
  link.run(1001, 2000);
  ASSERT_EQ(link.log.size(), 1u) << link.history();
  // Priority 0 arrives at 1002; b's skew is 156 * 100 / 256 = 60.
  EXPECT_EQ(link.log[0], (std::pair<uint64_t, std::string>{1062, "b: become_master"}));
  EXPECT_EQ(link.b.status().reason, VrrpReason::priority_zero);
}

// ----------------------------------------------------------------- tracking

TEST(VrrpTracking, PenaltyBelowThePreemptingBackupDemotesTheMaster) {
  Link link(base_config("10.0.0.1", 200), base_config("10.0.0.2", 150));
  link.start(0);
  link.run(0, 1049);
  ASSERT_EQ(link.a.state(), VrrpState::master) << link.history();
  ASSERT_EQ(link.b.state(), VrrpState::backup) << link.history();

  const auto acts = link.a.set_priority_penalty(100, 1050);  // 200 -> 100, below b's 150
  EXPECT_EQ(vec(acts), (std::vector<VrrpAction>{{VrrpActionType::send_advert, 100}}))
      << "a changed priority is advertised at once: " << actions_str(acts);
  link.handle(true, acts, 1050);
  link.log.clear();
  link.run(1051, 3000);
  EXPECT_EQ(link.b.state(), VrrpState::master) << link.history();
  EXPECT_EQ(link.a.state(), VrrpState::backup) << link.history();
  EXPECT_EQ(link.b.status().reason, VrrpReason::preempt);
  // a (master at 321) advertised at 1021; b got it at 1022 and ignores the priority-100
  // ones that follow, so it takes over 3 * 100 + 41 after 1022, and a yields 1 ms later.
  ASSERT_EQ(link.log.size(), 2u) << link.history();
  EXPECT_EQ(link.log[0], (std::pair<uint64_t, std::string>{1022 + 341, "b: become_master"}));
  EXPECT_EQ(link.log[1], (std::pair<uint64_t, std::string>{1022 + 342, "a: become_backup"}));
  const auto st = link.a.status();
  EXPECT_EQ(st.priority, 200);
  EXPECT_EQ(st.effective_priority, 100);
  EXPECT_EQ(st.penalty, 100u);
}

TEST(VrrpTracking, PenaltyAboveTheBackupKeepsTheMaster) {
  Link link(base_config("10.0.0.1", 200), base_config("10.0.0.2", 150));
  link.start(0);
  link.run(0, 1000);
  link.handle(true, link.a.set_priority_penalty(40, 1050), 1050);  // 160 > 150
  link.run(1051, 3000);
  EXPECT_EQ(link.a.state(), VrrpState::master) << link.history();
  EXPECT_EQ(link.b.status().master_priority, 160);
}

TEST(VrrpTracking, PenaltyFloorsAtOneAndChangesSkew) {
  Vrrp v(base_config("10.0.0.1", 100));
  v.start(0);
  EXPECT_TRUE(v.set_priority_penalty(500, 10).empty()) << "a backup sends nothing";
  EXPECT_EQ(v.effective_priority(), 1);
  EXPECT_EQ(v.skew_ms(), 255u * 100u / 256u);
  v.set_priority_penalty(0, 20);
  EXPECT_EQ(v.effective_priority(), 100);
  EXPECT_TRUE(v.set_priority_penalty(0, 30).empty());
}

// ----------------------------------------------------------------- GARPs

std::vector<uint64_t> garp_times(Vrrp& v, uint64_t from, uint64_t to) {
  std::vector<uint64_t> out;
  for (uint64_t t = from; t <= to; ++t)
    for (const auto& a : v.tick(t))
      if (a.type == VrrpActionType::send_garp) out.push_back(t);
  return out;
}

TEST(VrrpGarp, BurstOfCountRoundsAtTheConfiguredSpacing) {
  auto cfg = base_config("10.0.0.1", 100);
  cfg.garp_count = 5;
  cfg.garp_interval_ms = 30;
  Vrrp v(cfg);
  v.start(0);
  EXPECT_EQ(garp_times(v, 0, 5000), (std::vector<uint64_t>{360, 390, 420, 450, 480}));
  EXPECT_EQ(v.counters().garp_rounds, 5u);
}

TEST(VrrpGarp, PeriodicRefreshWhenConfigured) {
  auto cfg = base_config("10.0.0.1", 100);
  cfg.garp_count = 2;
  cfg.garp_interval_ms = 50;
  cfg.garp_refresh_ms = 1000;
  Vrrp v(cfg);
  v.start(0);
  EXPECT_EQ(garp_times(v, 0, 3500), (std::vector<uint64_t>{360, 410, 1360, 2360, 3360}));
}

TEST(VrrpGarp, NoneWhenCountIsZeroAndBurstStopsOnStepDown) {
  auto cfg = base_config("10.0.0.1", 100);
  cfg.garp_count = 0;
  Vrrp v(cfg);
  v.start(0);
  EXPECT_TRUE(garp_times(v, 0, 3000).empty());

  Vrrp w(base_config("10.0.0.1", 100));  // 5 rounds, 100 ms apart
  w.start(0);
  EXPECT_EQ(garp_times(w, 0, 470), (std::vector<uint64_t>{360, 460}));
  w.on_advert(peer_advert(200), net("10.0.0.2"), 500);
  EXPECT_TRUE(garp_times(w, 501, 800).empty());
}

// ----------------------------------------------------------------- address lists

TEST(VrrpAddresses, MismatchIsCountedAndAcceptedByDefault) {
  Vrrp v(base_config("10.0.0.1", 100));
  v.start(0);
  // The same set in another order matches.
  v.on_advert(advert_of(51, 200, 10, {"192.0.2.11", "192.0.2.10"}), net("10.0.0.2"), 100);
  EXPECT_EQ(v.counters().address_mismatch_seen, 0u);
  v.on_advert(advert_of(51, 200, 10, {"192.0.2.10"}), net("10.0.0.2"), 300);
  EXPECT_EQ(v.counters().address_mismatch_seen, 1u);
  EXPECT_EQ(v.counters().drop(VrrpDrop::address_mismatch), 0u);
  EXPECT_EQ(v.counters().adverts_received, 2u);
  EXPECT_EQ(v.next_event_ms(), 660u) << "accepted: the Master_Down_Timer restarted at 300";
}

TEST(VrrpAddresses, StrictDropsMismatchUnlessFromTheOwner) {
  auto cfg = base_config("10.0.0.1", 100);
  cfg.strict_addresses = true;
  Vrrp v(cfg);
  v.start(0);
  v.on_advert(advert_of(51, 200, 10, {"192.0.2.10", "192.0.2.99"}), net("10.0.0.2"), 300);
  EXPECT_EQ(v.counters().drop(VrrpDrop::address_mismatch), 1u);
  EXPECT_EQ(v.next_event_ms(), 360u) << "dropped: the timer from start still runs";
  v.on_advert(advert_of(51, 255, 10, {"192.0.2.10"}), net("10.0.0.3"), 330);
  EXPECT_EQ(v.counters().drop(VrrpDrop::address_mismatch), 1u);
  EXPECT_EQ(v.counters().address_mismatch_seen, 2u);
  EXPECT_EQ(v.next_event_ms(), 330u + 360u) << "the owner's advert is acted upon";
}

// ----------------------------------------------------------------- config, status

TEST(VrrpConfigCheck, ValidateNamesTheProblem) {
  EXPECT_EQ(validate(base_config("10.0.0.1", 100)), "");
  auto c = base_config("10.0.0.1", 100);
  c.adver_int_ms = 15;
  EXPECT_NE(validate(c).find("adver_int_ms"), std::string::npos);
  c.adver_int_ms = 40960;
  EXPECT_NE(validate(c).find("adver_int_ms"), std::string::npos);
  c = base_config("10.0.0.1", 0);
  EXPECT_NE(validate(c).find("priority"), std::string::npos);
  c = base_config("10.0.0.1", 100);
  c.vrid = 0;
  EXPECT_NE(validate(c).find("vrid"), std::string::npos);
  c = base_config("10.0.0.1", 100);
  c.vips.clear();
  EXPECT_NE(validate(c).find("vips"), std::string::npos);
  c = base_config("10.0.0.1", 100);
  c.garp_interval_ms = 0;
  EXPECT_NE(validate(c).find("garp_interval_ms"), std::string::npos);
}

TEST(VrrpStatus, ReportsTransitionsAndCounters) {
  Vrrp v(base_config("10.0.0.1", 100));
  EXPECT_EQ(v.status().state, VrrpState::initialize);
  EXPECT_EQ(v.status().reason, VrrpReason::none);
  v.start(0);
  v.tick(360);
  v.on_advert(peer_advert(120), net("10.0.0.2"), 500);
  auto pkt = encode(peer_advert(120), "10.0.0.2");
  pkt[8] = 1;
  fix_ip_check(pkt.data());
  v.on_packet(pkt.data(), pkt.size(), 550);
  const auto st = v.status();
  EXPECT_EQ(st.vrid, 51);
  EXPECT_EQ(to_string(st.state), std::string("backup"));
  EXPECT_EQ(to_string(st.reason), std::string("higher_priority"));
  EXPECT_EQ(st.changed_ms, 500u);
  EXPECT_EQ(st.master_priority, 120);
  EXPECT_EQ(st.counters.to_backup, 2u);
  EXPECT_EQ(st.counters.to_master, 1u);
  EXPECT_EQ(st.counters.adverts_sent, 2u) << "on becoming master, and the last one on stepping down";
  EXPECT_EQ(st.counters.adverts_received, 1u);
  EXPECT_EQ(st.counters.drop(VrrpDrop::ttl), 1u);
  EXPECT_EQ(std::string(to_string(VrrpDrop::unknown_vrid)), "unknown_vrid");
}

}  // namespace
