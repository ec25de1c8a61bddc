// High availability in the engine (lb_engine/src/ha/ha.cpp) over MemIo: an engine with
// [vrrp] starts as backup (answers no ARP for the VIP or the PIP, forwards nothing,
// counted vrrp_backup), becomes master when no master speaks (an advertisement valid
// per the codec, a gratuitous ARP burst for the VIP and the PIP), then answers and
// forwards; a higher priority makes it backup again; it leaves with a priority-0
// advertisement; the virtual MAC; tracking penalties. The engine's clock is the `now`
// the test hands to housekeeping() and drain().
//
//   the one-arm plan (one_arm.hpp), proxy mode, with a peer engine on the front segment:
//   router 203.0.113.1 --+-- [lb-a front 203.0.113.2 02:00:00:71:00:02]  VIP .10, PIP .20
//                        +-- [lb-b front 203.0.113.3 02:00:00:71:00:03]  VRRP 51, adverts every 100 ms
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lb/config/config.hpp"
#include "lb/control/admin.hpp"
#include "lb/engine.hpp"
#include "lb/ha/sync.hpp"
#include "lb/ha/vrrp.hpp"
#include "lb/io/packet_io.hpp"
#include "one_arm.hpp"
#include "test_support.hpp"

namespace {

using namespace lbtest;
using namespace lbtest::onearm;
using lb::Drop;
using lb::ha::VrrpState;

using Frame = std::vector<uint8_t>;
using Frames = std::vector<Frame>;

constexpr uint16_t RST = Tins::TCP::RST, PSH = Tins::TCP::PSH;
constexpr uint8_t kVrid = 51;
constexpr uint64_t kAdvertMs = 100;
// Priority 100 at 100 ms: Skew_Time = 156 * 100 / 256 = 60, Master_Down = 3 * 100 + 60.
constexpr uint64_t kMasterDownMs = 360;
const char* const kPeerIp = "203.0.113.3";
const char* const kPeerMac = "02:00:00:71:00:03";
const char* const kVrrpMac = "01:00:5e:00:00:12";
const char* const kVirtualMac = "00:00:5e:00:01:33";  // VRID 51

// The one-arm proxy plan with [vrrp] on the front port.
lb::Config ha_config(uint8_t priority = 100, lb::Mode mode = lb::Mode::proxy) {
  lb::Config c = one_arm_config(mode);
  c.vrrp = lb::HaVrrpConfig{.vrid = kVrid, .priority = priority, .advert_interval_ms = kAdvertMs, .port = "front",
                            .garp_count = 2, .garp_interval_ms = 100};
  return c;
}

// ----------------------------------------------------------------- frames

std::string eth_dst(const Frame& f) { return Sent(f).eth.dst_addr().to_string(); }
std::string eth_src(const Frame& f) { return Sent(f).eth.src_addr().to_string(); }
uint16_t eth_type(const Frame& f) { return f.size() >= kVnetLen + kEthLen ? be16(f.data() + kVnetLen + 12) : 0; }
const uint8_t* ip_of(const Frame& f) { return f.data() + kVnetLen + kEthLen; }
size_t ip_len(const Frame& f) { return f.size() - kVnetLen - kEthLen; }

bool is_vrrp(const Frame& f) {
  return eth_type(f) == 0x0800 && eth_dst(f) == kVrrpMac && ip_len(f) >= 20 && ip_of(f)[9] == 112;
}
const Tins::ARP* arp_in(const Sent& s) { return s.eth.find_pdu<Tins::ARP>(); }

// An advertisement from `src` as a peer sends it: to 224.0.0.18 and 01:00:5e:00:00:12.
Frame advert_frame(uint8_t priority, const char* src = kPeerIp, const char* src_mac = kPeerMac,
                   std::vector<const char*> addrs = {kVip, kPip}, uint8_t vrid = kVrid) {
  lb::ha::VrrpAdvert a;
  a.vrid = vrid;
  a.priority = priority;
  a.adver_int_cs = kAdvertMs / 10;
  a.count = static_cast<uint8_t>(addrs.size());
  for (size_t i = 0; i < addrs.size(); ++i) a.addrs[i] = net(addrs[i]);
  Frame f(kVnetLen + kEthLen + lb::ha::vrrp_packet_len(a.count), 0);
  uint8_t* eth = f.data() + kVnetLen;
  const auto dst = *lb::MacAddr::parse(kVrrpMac), s = *lb::MacAddr::parse(src_mac);
  std::copy(dst.b.begin(), dst.b.end(), eth);
  std::copy(s.b.begin(), s.b.end(), eth + 6);
  put_be16(eth + 12, 0x0800);
  EXPECT_EQ(lb::ha::encode_vrrp_advert(a, net(src), eth + kEthLen, f.size() - kVnetLen - kEthLen),
            lb::ha::vrrp_packet_len(a.count));
  return f;
}

Frame arp_request_for(const char* target, const char* dst_mac = "ff:ff:ff:ff:ff:ff") {
  auto req = Tins::ARP::make_arp_request(target, kRouterIp, hw(kRouterMac));
  req.dst_addr(hw(dst_mac));
  return with_vnet(req);
}

// A client segment through the router to `dst_mac` (the engine's port MAC by default).
Frame client_tcp(uint16_t sport, uint16_t flags, const char* dst_mac = kLbMac, uint32_t seq = 1000, uint32_t ack = 0) {
  auto f = Tins::EthernetII(hw(dst_mac), hw(kRouterMac)) / ipv4(kVip, kClient1) / tcp_seg(80, sport, flags, seq, ack);
  return with_vnet(f);
}

// ----------------------------------------------------------------- one engine

// An engine over MemIo, with the clock of its own tests.
struct Node {
  lb::Config cfg;
  lb::MemIo io;
  lb::Engine engine;
  uint64_t t0;   // when its VRRP instance started (its engine's clock)
  uint64_t now;  // the test's clock for it

  explicit Node(lb::Config c)
      : cfg(std::move(c)),
        io(cfg.ports.size()),
        engine(cfg, io),
        t0(cfg.vrrp ? engine.ha_info().status.changed_ms : lb::Engine::now_ms()),
        now(t0) {}

  void inject(Frame f, size_t port = kFront) {
    io.inject(port, std::move(f));
    engine.drain(now);
  }
  // Runs the timers at `t` (VRRP, sync, health, flow expiry).
  void at(uint64_t t) {
    now = t;
    engine.housekeeping(now);
  }
  Frames take(size_t port = kFront) {
    auto& q = io.sent(port);
    Frames out(q.begin(), q.end());
    q.clear();
    return out;
  }
  VrrpState state() { return engine.ha_info().status.state; }
  uint64_t drops(Drop d) const { return engine.stats().drops[static_cast<size_t>(d)].load(); }

  // housekeeping() asks for the router's MAC (every proxy backend is behind it); it answers.
  void resolve_router(size_t port = kFront) {
    engine.housekeeping(now);
    const std::string own_ip = cfg.ports[port].address.addr.str(), own_mac = cfg.ports[port].mac.str();
    auto reply = Tins::ARP::make_arp_reply(own_ip, kRouterIp, hw(own_mac.c_str()), hw(kRouterMac));
    inject(with_vnet(reply), port);
    take(port);
  }
};

// The advertisements among `frames`, decoded; each must be valid per the codec.
std::vector<lb::ha::VrrpAdvert> adverts_in(const Frames& frames, const char* src_ip = kLbIp,
                                           const char* src_mac = kLbMac) {
  std::vector<lb::ha::VrrpAdvert> out;
  for (const auto& f : frames) {
    if (!is_vrrp(f)) continue;
    SCOPED_TRACE(describe(f));
    const auto d = lb::ha::decode_vrrp_advert(ip_of(f), ip_len(f), kVrid);
    EXPECT_TRUE(d.ok()) << "dropped by the codec as " << lb::ha::to_string(d.drop);
    EXPECT_EQ(eth_src(f), src_mac);
    EXPECT_EQ(src_of(ip_of(f)), src_ip) << "adverts leave from the VRRP port's own address";
    EXPECT_EQ(dst_of(ip_of(f)), "224.0.0.18");
    EXPECT_EQ(int(ip_of(f)[8]), 255) << "TTL";
    EXPECT_EQ(ref_ip_check(ip_of(f)), stored_ip_check(ip_of(f))) << "IPv4 header checksum";
    if (d.ok()) out.push_back(d.advert);
  }
  return out;
}

// The gratuitous ARPs among `frames`: the addresses they announce, in order.
std::vector<std::string> garps_in(const Frames& frames, const char* mac = kLbMac) {
  std::vector<std::string> out;
  for (const auto& f : frames) {
    if (eth_type(f) != 0x0806) continue;
    Sent s(f);
    const auto* arp = arp_in(s);
    if (!arp || arp->sender_ip_addr() != arp->target_ip_addr()) continue;
    SCOPED_TRACE(describe(f));
    EXPECT_EQ(arp->opcode(), Tins::ARP::REQUEST) << "the keepalived form: a request";
    EXPECT_EQ(s.eth.dst_addr().to_string(), "ff:ff:ff:ff:ff:ff");
    EXPECT_EQ(s.eth.src_addr().to_string(), mac);
    EXPECT_EQ(arp->sender_hw_addr().to_string(), mac);
    out.push_back(arp->sender_ip_addr().to_string());
  }
  return out;
}

std::vector<std::string> addrs_of(const lb::ha::VrrpAdvert& a) {
  std::vector<std::string> out;
  for (size_t i = 0; i < a.count; ++i) out.push_back(dotted(a.addrs[i]));
  return out;
}

class HaVrrpTest : public ::testing::Test {
 protected:
  std::unique_ptr<Node> a;
  void start(lb::Config c = ha_config()) { a = std::make_unique<Node>(std::move(c)); }
  // Lets the master-down timer run out: the engine becomes master. Returns what it sent.
  Frames become_master() {
    a->at(a->t0 + kMasterDownMs);
    EXPECT_EQ(a->state(), VrrpState::master);
    return a->take();
  }
  // The ARP reply sent for `target`, or nullopt.
  std::optional<Frame> arp_reply_for(const char* target, const char* dst_mac = "ff:ff:ff:ff:ff:ff") {
    a->inject(arp_request_for(target, dst_mac));
    for (auto& f : a->take()) {
      Sent s(f);
      if (const auto* arp = arp_in(s); arp && arp->opcode() == Tins::ARP::REPLY) return f;
    }
    return std::nullopt;
  }
};

// ----------------------------------------------------------------- backup

TEST_F(HaVrrpTest, StartsAsBackupAndAnswersNoArpForTheVipOrThePip) {
  start();
  EXPECT_EQ(a->state(), VrrpState::backup);
  EXPECT_FALSE(arp_reply_for(kVip)) << "the master answers for the VIP";
  EXPECT_FALSE(arp_reply_for(kPip)) << "the master answers for the PIP";
  EXPECT_EQ(a->drops(Drop::vrrp_backup), 2u);
  auto own = arp_reply_for(kLbIp);
  ASSERT_TRUE(own) << "its own address is answered in every state";
  EXPECT_EQ(Sent(*own).eth.find_pdu<Tins::ARP>()->sender_hw_addr().to_string(), kLbMac);
}

TEST_F(HaVrrpTest, BackupDropsAClientSynCountedVrrpBackupAndCreatesNoFlow) {
  start();
  a->resolve_router();
  a->inject(client_tcp(40001, SYN));
  EXPECT_TRUE(a->take().empty());
  EXPECT_EQ(a->drops(Drop::vrrp_backup), 1u);
  EXPECT_EQ(a->engine.stats().flows_created.load(), 0u);
}

TEST_F(HaVrrpTest, BackupAnswersEchoToItsOwnAddressButNotToTheVip) {
  start();
  a->resolve_router();
  auto echo = [](const char* dst) {
    auto f = from_router() / ipv4(dst, kClient1) / Tins::ICMP(Tins::ICMP::ECHO_REQUEST);
    return with_vnet(f);
  };
  a->inject(echo(kVip));
  EXPECT_TRUE(a->take().empty());
  EXPECT_EQ(a->drops(Drop::vrrp_backup), 1u);
  a->inject(echo(kLbIp));
  EXPECT_EQ(a->take().size(), 1u) << "the echo reply from its own address";
}

TEST_F(HaVrrpTest, BackupSendsNothingBeforeTheMasterDownInterval) {
  start();
  a->at(a->t0 + kMasterDownMs - 1);
  EXPECT_EQ(a->state(), VrrpState::backup);
  for (auto& f : a->take()) EXPECT_FALSE(is_vrrp(f)) << describe(f);
}

TEST_F(HaVrrpTest, BackupKeepsCheckingItsBackendsFromItsOwnAddress) {
  lb::Config c = ha_config();
  for (auto& v : c.vips)
    for (auto& b : v.backends) b.health = {.type = lb::CheckType::tcp, .interval_ms = 2000, .timeout_ms = 1000};
  start(c);
  a->resolve_router();
  a->at(a->t0 + 1000);  // every first probe started (staggered below interval / 2)
  size_t probes = 0;
  for (auto& f : a->take()) {
    Sent s(f);
    if (!s.tcp) continue;
    ++probes;
    EXPECT_EQ(s.ip->src_addr().to_string(), kLbIp) << describe(f);
    EXPECT_EQ(int(s.tcp->flags()), int(SYN)) << describe(f);
  }
  EXPECT_EQ(probes, 6u) << "one SYN per backend of each VIP";
  EXPECT_EQ(a->state(), VrrpState::master) << "nobody else spoke: by then it took over";
}

TEST_F(HaVrrpTest, AdvertsFromAHigherPriorityMasterKeepItBackup) {
  start();
  for (uint64_t t = 0; t <= 1000; t += kAdvertMs) {
    a->now = a->t0 + t;
    a->inject(advert_frame(200));
    a->at(a->t0 + t);
  }
  EXPECT_EQ(a->state(), VrrpState::backup);
  const auto st = a->engine.ha_info().status;
  EXPECT_EQ(dotted(st.master_ip), kPeerIp);
  EXPECT_EQ(st.master_priority, 200);
  EXPECT_EQ(st.counters.adverts_received, 11u);
  EXPECT_EQ(a->drops(Drop::not_our_mac), 0u) << "the VRRP multicast is taken, not dropped";
}

// ----------------------------------------------------------------- taking over

TEST_F(HaVrrpTest, BecomesMasterAfterMasterDownWithAValidAdvertAndAGarpBurst) {
  start();
  const Frames out = become_master();
  const auto adverts = adverts_in(out);
  ASSERT_EQ(adverts.size(), 1u);
  EXPECT_EQ(adverts[0].vrid, kVrid);
  EXPECT_EQ(adverts[0].priority, 100);
  EXPECT_EQ(adverts[0].adver_int_cs, 10);
  EXPECT_EQ(addrs_of(adverts[0]), (std::vector<std::string>{kVip, kPip})) << "every VIP address and proxy IP, once";
  EXPECT_EQ(garps_in(out), (std::vector<std::string>{kVip, kPip})) << "the burst's first round";
  // The second round of the burst comes garp_interval_ms later, with no advert.
  a->at(a->now + 100 - 1);
  EXPECT_TRUE(garps_in(a->take()).empty());
  a->at(a->now + 1);
  const Frames second = a->take();
  EXPECT_EQ(garps_in(second), (std::vector<std::string>{kVip, kPip}));
  EXPECT_EQ(adverts_in(second).size(), 1u) << "the next advert is due at the same time";
  a->at(a->now + 100);
  EXPECT_TRUE(garps_in(a->take()).empty()) << "garp_count = 2: the burst is over";
}

TEST_F(HaVrrpTest, MasterAdvertisesEveryInterval) {
  start();
  become_master();
  size_t adverts = 0;
  for (uint64_t t = 10; t <= 1000; t += 10) {
    a->at(a->t0 + kMasterDownMs + t);
    adverts += adverts_in(a->take()).size();
  }
  EXPECT_EQ(adverts, 10u);
}

TEST_F(HaVrrpTest, MasterAnswersArpForTheVipAndThePipWithThePortMac) {
  start();
  become_master();
  for (const char* target : {kVip, kPip}) {
    SCOPED_TRACE(target);
    auto reply = arp_reply_for(target);
    ASSERT_TRUE(reply);
    Sent s(*reply);
    const auto* arp = arp_in(s);
    EXPECT_EQ(arp->sender_ip_addr().to_string(), target);
    EXPECT_EQ(arp->sender_hw_addr().to_string(), kLbMac);
    EXPECT_EQ(s.eth.src_addr().to_string(), kLbMac);
    EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
  }
  EXPECT_EQ(a->drops(Drop::vrrp_backup), 0u);
}

TEST_F(HaVrrpTest, MasterForwardsAClientSynAsAStandaloneEngineWould) {
  start();
  a->resolve_router();
  become_master();
  a->inject(client_tcp(40001, SYN));
  auto out = a->take();
  ASSERT_EQ(out.size(), 1u);
  Sent s(out[0]);
  ASSERT_NE(s.tcp, nullptr) << describe(out[0]);
  EXPECT_EQ(s.ip->src_addr().to_string(), kPip);
  EXPECT_EQ(s.ip->dst_addr().to_string(), kRemoteIp[0]);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kRouterMac);
  EXPECT_TRUE(ChecksumsMatchRecomputation(s.ip_bytes()));
}

TEST_F(HaVrrpTest, TheAddressOwnerIsMasterFromTheStart) {
  start(ha_config(255));
  EXPECT_EQ(a->state(), VrrpState::master);
  const Frames out = a->take();
  ASSERT_EQ(adverts_in(out).size(), 1u);
  EXPECT_EQ(adverts_in(out)[0].priority, 255);
  EXPECT_EQ(garps_in(out), (std::vector<std::string>{kVip, kPip}));
}

// ----------------------------------------------------------------- giving up

TEST_F(HaVrrpTest, AHigherPriorityAdvertMakesTheMasterBackup) {
  start();
  a->resolve_router();
  become_master();
  a->inject(client_tcp(40001, SYN));
  ASSERT_EQ(a->take().size(), 1u);
  a->inject(advert_frame(200));
  EXPECT_EQ(a->state(), VrrpState::backup);
  EXPECT_EQ(a->engine.ha_info().status.reason, lb::ha::VrrpReason::higher_priority);
  EXPECT_FALSE(arp_reply_for(kVip));
  a->inject(client_tcp(40001, ACK, kLbMac, 1001, 5001));
  EXPECT_TRUE(a->take().empty()) << "a flow it had is not forwarded by a backup either";
  a->inject(client_tcp(40002, SYN));
  EXPECT_TRUE(a->take().empty());
  EXPECT_EQ(a->drops(Drop::vrrp_backup), 3u);
}

TEST_F(HaVrrpTest, AnEqualPriorityFromAHigherAddressWinsFromALowerOneLoses) {
  start();
  become_master();
  a->inject(advert_frame(100, "203.0.113.1", kRouterMac));
  EXPECT_EQ(a->state(), VrrpState::master) << "203.0.113.1 < 203.0.113.2";
  EXPECT_EQ(adverts_in(a->take()).size(), 1u) << "it tells the other master at once";
  a->inject(advert_frame(100, kPeerIp));
  EXPECT_EQ(a->state(), VrrpState::backup) << "203.0.113.3 > 203.0.113.2";
}

TEST_F(HaVrrpTest, ShutdownAsMasterSendsAPriorityZeroAdvertAndStopsAnswering) {
  start();
  become_master();
  a->engine.shutdown(a->now);
  const auto adverts = adverts_in(a->take());
  ASSERT_EQ(adverts.size(), 1u);
  EXPECT_EQ(adverts[0].priority, 0);
  EXPECT_EQ(a->state(), VrrpState::initialize);
  EXPECT_FALSE(arp_reply_for(kVip));
  a->at(a->now + 1000);
  EXPECT_TRUE(adverts_in(a->take()).empty()) << "stopped: no more adverts";
}

TEST_F(HaVrrpTest, ShutdownAsBackupSendsNothing) {
  start();
  a->engine.shutdown(a->now);
  EXPECT_TRUE(adverts_in(a->take()).empty());
  EXPECT_EQ(a->state(), VrrpState::initialize);
}

TEST_F(HaVrrpTest, APriorityZeroAdvertHandsOverAfterSkewTime) {
  start();
  a->inject(advert_frame(200));
  a->inject(advert_frame(0));
  a->at(a->now + 59);
  EXPECT_EQ(a->state(), VrrpState::backup);
  a->at(a->now + 1);
  EXPECT_EQ(a->state(), VrrpState::master) << "Skew_Time = 60 ms at priority 100";
  EXPECT_EQ(a->engine.ha_info().status.reason, lb::ha::VrrpReason::priority_zero);
}

// ----------------------------------------------------------------- the virtual MAC

class HaVirtualMacTest : public HaVrrpTest {
 protected:
  void SetUp() override {
    lb::Config c = ha_config();
    c.vrrp->virtual_mac = true;
    start(c);
  }
};

TEST_F(HaVirtualMacTest, BackupDropsFramesToTheVirtualMac) {
  a->resolve_router();
  a->inject(client_tcp(40001, SYN, kVirtualMac));
  EXPECT_TRUE(a->take().empty());
  EXPECT_EQ(a->drops(Drop::vrrp_backup), 1u);
  EXPECT_EQ(a->drops(Drop::not_our_mac), 0u);
}

TEST_F(HaVirtualMacTest, MasterAdvertisesAndAnnouncesFromTheVirtualMac) {
  const Frames out = become_master();
  EXPECT_EQ(adverts_in(out, kLbIp, kVirtualMac).size(), 1u);
  EXPECT_EQ(garps_in(out, kVirtualMac), (std::vector<std::string>{kVip, kPip}));
}

TEST_F(HaVirtualMacTest, MasterAnswersArpForTheVipWithTheVirtualMacAndForItselfWithThePortMac) {
  become_master();
  auto vip = arp_reply_for(kVip);
  ASSERT_TRUE(vip);
  EXPECT_EQ(Sent(*vip).eth.find_pdu<Tins::ARP>()->sender_hw_addr().to_string(), kVirtualMac);
  EXPECT_EQ(eth_src(*vip), kVirtualMac);
  auto own = arp_reply_for(kLbIp);
  ASSERT_TRUE(own);
  EXPECT_EQ(Sent(*own).eth.find_pdu<Tins::ARP>()->sender_hw_addr().to_string(), kLbMac);
}

TEST_F(HaVirtualMacTest, MasterForwardsFramesSentToTheVirtualMac) {
  a->resolve_router();
  become_master();
  a->inject(client_tcp(40001, SYN, kVirtualMac));
  auto out = a->take();
  ASSERT_EQ(out.size(), 1u);
  Sent s(out[0]);
  ASSERT_NE(s.tcp, nullptr) << describe(out[0]);
  EXPECT_EQ(s.ip->src_addr().to_string(), kPip);
  EXPECT_EQ(s.eth.src_addr().to_string(), kLbMac) << "forwarded frames keep the port's MAC";
}

TEST_F(HaVirtualMacTest, ShutdownAdvertLeavesFromTheVirtualMac) {
  become_master();
  a->engine.shutdown(a->now);
  const auto adverts = adverts_in(a->take(), kLbIp, kVirtualMac);
  ASSERT_EQ(adverts.size(), 1u);
  EXPECT_EQ(adverts[0].priority, 0);
}

// ----------------------------------------------------------------- [vrrp] addresses
//
// Inline (two-arm): the servers' gateway is a [vrrp] address on the back port, held by
// the master like a VIP, so the servers' replies follow the VIP to the new master.
//   lb back 192.0.2.2 (02:00:00:02:00:02), gateway 192.0.2.1, server 192.0.2.11

constexpr size_t kBackPort = 1;
const char* const kBackIp = "192.0.2.2";
const char* const kBackMac = "02:00:00:02:00:02";
const char* const kGateway = "192.0.2.1";
const char* const kServerIp = "192.0.2.11";
const char* const kServerMac = "02:00:00:02:00:0b";

class HaAddressesTest : public HaVrrpTest {
 protected:
  void SetUp() override {
    lb::Config c = ha_config();
    c.ports.push_back({.name = "back", .tap = "t-back", .mac = *lb::MacAddr::parse(kBackMac),
                       .address = *lb::Prefix::parse("192.0.2.2/24")});
    c.vrrp->addresses.push_back({.port = "back", .address = *lb::IpAddr::parse(kGateway)});
    start(c);
  }
  // A server asks for (or pings) `target` on the back segment; what the engine sent back.
  Frames from_server(Tins::PDU&& l3, const char* dst_mac) {
    auto f = Tins::EthernetII(hw(dst_mac), hw(kServerMac)) / l3;
    a->inject(with_vnet(f), kBackPort);
    return a->take(kBackPort);
  }
  Frames arp_from_server(const char* target) {
    auto req = Tins::ARP::make_arp_request(target, kServerIp, hw(kServerMac));
    a->inject(with_vnet(req), kBackPort);
    return a->take(kBackPort);
  }
};

TEST_F(HaAddressesTest, BackupAnswersNoArpForTheGatewayButForItsOwnBackAddress) {
  EXPECT_TRUE(arp_from_server(kGateway).empty());
  EXPECT_EQ(a->drops(Drop::vrrp_backup), 1u);
  const Frames own = arp_from_server(kBackIp);
  ASSERT_EQ(own.size(), 1u);
  EXPECT_EQ(Sent(own[0]).eth.find_pdu<Tins::ARP>()->sender_hw_addr().to_string(), kBackMac);
}

TEST_F(HaAddressesTest, TheNewMasterAnnouncesTheGatewayOnTheBackPortAndAdvertisesIt) {
  const Frames front = become_master();
  const auto adverts = adverts_in(front);
  ASSERT_EQ(adverts.size(), 1u);
  EXPECT_EQ(addrs_of(adverts[0]), (std::vector<std::string>{kVip, kPip, kGateway}));
  EXPECT_EQ(garps_in(front), (std::vector<std::string>{kVip, kPip})) << "the gateway is not announced on the front";
  EXPECT_EQ(garps_in(a->take(kBackPort), kBackMac), (std::vector<std::string>{kGateway}));
}

TEST_F(HaAddressesTest, TheMasterAnswersArpAndEchoForTheGatewayOnlyOnItsPort) {
  become_master();
  a->take(kBackPort);
  const Frames arp = arp_from_server(kGateway);
  ASSERT_EQ(arp.size(), 1u);
  Sent s(arp[0]);
  EXPECT_EQ(s.eth.find_pdu<Tins::ARP>()->sender_ip_addr().to_string(), kGateway);
  EXPECT_EQ(s.eth.find_pdu<Tins::ARP>()->sender_hw_addr().to_string(), kBackMac);
  EXPECT_EQ(s.eth.dst_addr().to_string(), kServerMac);
  EXPECT_FALSE(arp_reply_for(kGateway)) << "asked on the front port, where the gateway is not";
  const Frames echo = from_server(Tins::IP(kGateway, kServerIp) / Tins::ICMP(Tins::ICMP::ECHO_REQUEST), kBackMac);
  ASSERT_EQ(echo.size(), 1u);
  Sent e(echo[0]);
  ASSERT_NE(e.ip, nullptr) << describe(echo[0]);
  EXPECT_EQ(e.ip->src_addr().to_string(), kGateway);
  EXPECT_EQ(e.ip->dst_addr().to_string(), kServerIp);
  EXPECT_EQ(e.eth.find_pdu<Tins::ICMP>()->type(), Tins::ICMP::ECHO_REPLY);
}

TEST_F(HaAddressesTest, LbctlVrrpShowsTheGatewayWithItsPort) {
  const std::string text = lb::handle_admin_command(a->engine, "vrrp");
  EXPECT_NE(text.find("answers for 203.0.113.10 203.0.113.20 with"), std::string::npos) << text;
  EXPECT_NE(text.find("and for 192.0.2.1 on back (that port's MAC)"), std::string::npos) << text;
  const std::string json = lb::handle_admin_command(a->engine, "vrrp json");
  EXPECT_NE(json.find("\"addresses\":[\"203.0.113.10\",\"203.0.113.20\",\"192.0.2.1\"],\"extra_addresses\":[{\"port\":"
                      "\"back\",\"address\":\"192.0.2.1\"}]"),
            std::string::npos)
      << json;
}

// ----------------------------------------------------------------- tracking

TEST_F(HaVrrpTest, EveryBackendDownLowersThePriorityAndTheMasterSaysSoAtOnce) {
  lb::Config c = ha_config();
  c.vrrp->track_backends_penalty = 60;
  for (auto& v : c.vips)
    for (auto& b : v.backends)
      b.health = {.type = lb::CheckType::tcp, .interval_ms = 2000, .timeout_ms = 1000, .rise = 1, .fall = 1};
  start(c);
  a->resolve_router();
  become_master();
  a->at(a->t0 + 1000);  // every probe started; nobody answers
  a->take();
  a->at(a->t0 + 1999);  // some probes timed out, not all
  EXPECT_EQ(a->engine.ha_info().status.effective_priority, 100);
  a->take();
  a->at(a->t0 + 2000);  // every probe timed out by now: every backend is down
  const auto info = a->engine.ha_info();
  EXPECT_TRUE(info.backends_down);
  EXPECT_EQ(info.status.effective_priority, 40);
  const auto adverts = adverts_in(a->take());
  ASSERT_FALSE(adverts.empty());
  EXPECT_EQ(adverts.back().priority, 40);
  // A peer at 50 now outranks it.
  a->inject(advert_frame(50));
  EXPECT_EQ(a->state(), VrrpState::backup);
}

TEST_F(HaVrrpTest, APortLinkDownLowersThePriority) {
  lb::Config c = ha_config();
  c.vrrp->track_port_penalty = 30;
  start(c);
  become_master();
  a->io.set_link_up(kFront, false);
  a->at(a->now + 10);
  EXPECT_TRUE(a->engine.ha_info().link_down);
  EXPECT_EQ(a->engine.ha_info().status.effective_priority, 70);
  const auto adverts = adverts_in(a->take());
  ASSERT_FALSE(adverts.empty());
  EXPECT_EQ(adverts.back().priority, 70);
  a->io.set_link_up(kFront, true);
  a->at(a->now + 10);
  EXPECT_EQ(a->engine.ha_info().status.effective_priority, 100);
}

// ----------------------------------------------------------------- what is still dropped

TEST_F(HaVrrpTest, AMalformedAdvertIsCountedByReasonAndChangesNothing) {
  start();
  Frame f = advert_frame(200);
  f[kVnetLen + kEthLen + 8] = 254;  // TTL: sent from off the link
  fix_ip_check(f.data() + kVnetLen + kEthLen);
  a->inject(f);
  const auto st = a->engine.ha_info().status;
  EXPECT_EQ(st.counters.drop(lb::ha::VrrpDrop::ttl), 1u);
  EXPECT_EQ(st.master_ip, 0u) << "not taken for a master";
  a->at(a->t0 + kMasterDownMs);
  EXPECT_EQ(a->state(), VrrpState::master);
}

TEST_F(HaVrrpTest, OtherMulticastIsStillNotOurs) {
  start();
  auto f = Tins::EthernetII(hw("01:00:5e:00:00:fb"), hw(kRouterMac)) / Tins::IP("224.0.0.251", kRouterIp) /
           Tins::UDP(5353, 5353);
  a->inject(with_vnet(f));
  EXPECT_EQ(a->drops(Drop::not_our_mac), 1u);
}

TEST(HaStandalone, WithoutVrrpAnAdvertIsNotOursAndArpForTheVipIsAnswered) {
  Node n(one_arm_config(lb::Mode::proxy));
  n.inject(advert_frame(200));
  EXPECT_EQ(n.drops(Drop::not_our_mac), 1u);
  n.inject(arp_request_for(kVip));
  EXPECT_EQ(n.take().size(), 1u);
  EXPECT_FALSE(n.engine.ha_info().vrrp);
}

// ----------------------------------------------------------------- lbctl vrrp

TEST_F(HaVrrpTest, LbctlVrrpShowsTheStateAndCounters) {
  start();
  a->inject(arp_request_for(kVip));
  std::string text = lb::handle_admin_command(a->engine, "vrrp");
  EXPECT_NE(text.find("vrrp 51 on front: backup"), std::string::npos) << text;
  EXPECT_NE(text.find("priority 100, effective 100"), std::string::npos) << text;
  EXPECT_NE(text.find("frames not served as backup 1"), std::string::npos) << text;
  become_master();
  std::string json = lb::handle_admin_command(a->engine, "vrrp json");
  EXPECT_EQ(json.rfind("{\"vrrp\":true,\"vrid\":51,\"port\":\"front\",\"state\":\"master\"", 0), 0u) << json;
  EXPECT_NE(json.find("\"master_ip\":\"203.0.113.2\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"addresses\":[\"203.0.113.10\",\"203.0.113.20\"]"), std::string::npos) << json;
  EXPECT_NE(json.find("\"last_change\":{\"reason\":\"master_down\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"adverts_sent\":1"), std::string::npos) << json;
}

TEST(HaStandalone, LbctlVrrpSaysItIsNotConfigured) {
  Node n(one_arm_config(lb::Mode::proxy));
  EXPECT_EQ(lb::handle_admin_command(n.engine, "vrrp json"), "{\"vrrp\":false}\n");
  EXPECT_NE(lb::handle_admin_command(n.engine, "vrrp").find("not configured"), std::string::npos);
}


// ================================================================= connection sync
//
//   two engines, each with a front port (above) and a sync port:
//   lb-a sync 192.0.2.1 (02:00:00:5c:00:01) ---- 192.0.2.0/24 ---- lb-b sync 192.0.2.2 (02:00:00:5c:00:02)
//   lb-a priority 200 (Master_Down 3 * 100 + 21 ms), lb-b priority 100; UDP 8848 both ways.
//   The test carries every sync-port frame and every VRRP advertisement between them.

constexpr size_t kSync = 1;
constexpr size_t kSyncHdr = lb::ha::kSyncHeaderLen;
const char* const kSyncIpA = "192.0.2.1";
const char* const kSyncIpB = "192.0.2.2";
const char* const kSyncMacA = "02:00:00:5c:00:01";
const char* const kSyncMacB = "02:00:00:5c:00:02";
constexpr uint64_t kMasterDownA = 321;  // priority 200: Skew_Time = 56 * 100 / 256 = 21

lb::Config pair_config(bool a, lb::Mode mode) {
  lb::Config c = ha_config(a ? 200 : 100, mode);
  if (!a) {
    c.name = "lb-b";
    c.ports[0].mac = *lb::MacAddr::parse(kPeerMac);
    c.ports[0].address = *lb::Prefix::parse("203.0.113.3/24");
  }
  c.ports.push_back({.name = "sync", .tap = "t-sync", .mac = *lb::MacAddr::parse(a ? kSyncMacA : kSyncMacB),
                     .address = *lb::Prefix::parse(a ? "192.0.2.1/24" : "192.0.2.2/24")});
  c.sync = lb::HaSyncConfig{.port = "sync", .peer = *lb::IpAddr::parse(a ? kSyncIpB : kSyncIpA)};
  return c;
}

// Frames from the router to `mac` (a node's front MAC).
Frame to_node(const char* mac, Tins::PDU&& l3) {
  auto f = Tins::EthernetII(hw(mac), hw(kRouterMac)) / l3;
  return with_vnet(f);
}
Frame client_seg(const char* mac, uint16_t sport, uint16_t flags, uint32_t seq, uint32_t ack,
                 const char* client = kClient1, const std::string& data = "") {
  auto l3 = ipv4(kVip, client) / tcp_seg(80, sport, flags, seq, ack);
  if (!data.empty()) l3 /= Tins::RawPDU(data);
  return to_node(mac, std::move(l3));
}
// A server's segment back toward the LB: to the PIP port (proxy) or to the client (inline).
Frame server_seg(const char* mac, const std::string& rip, const char* dst, uint16_t dport, uint16_t flags,
                 uint32_t seq, uint32_t ack, const std::string& data = "") {
  auto l3 = ipv4(dst, rip.c_str(), 61) / tcp_seg(dport, 80, flags, seq, ack);
  if (!data.empty()) l3 /= Tins::RawPDU(data);
  return to_node(mac, std::move(l3));
}

// The IPv4 TCP/UDP frames among what `n` sent on its front port (adverts, ARP left out).
Frames forwarded(Node& n) {
  Frames out;
  for (auto& f : n.take(kFront)) {
    if (eth_type(f) != 0x0800 || is_vrrp(f)) continue;
    const uint8_t proto = ip_of(f)[9];
    if (proto == 6 || proto == 17) out.push_back(f);
  }
  return out;
}

// A flow as lbctl lists it, without its timers.
std::string flow_str(const lb::FlowInfo& f) { return f.protocol + " " + f.client + " " + f.vip + " -> " + f.backend + " " + f.state; }
std::vector<std::string> flow_list(lb::Engine& e) {
  std::vector<std::string> out;
  for (auto& f : e.flows()) out.push_back(flow_str(f));
  std::sort(out.begin(), out.end());
  return out;
}

// A UDP datagram from `src` to lb-b's sync address and port, with a checksum libtins computes.
Frame sync_datagram(const std::vector<uint8_t>& payload, const char* src = kSyncIpA, uint16_t dport = 8848) {
  auto f = Tins::EthernetII(hw(kSyncMacB), hw(kSyncMacA)) / Tins::IP(kSyncIpB, src) / Tins::UDP(dport, 8848) /
           Tins::RawPDU(payload);
  return with_vnet(f);
}
std::vector<uint8_t> payload_of(lb::ha::SyncWriter& w, uint32_t seq = 0) {
  auto s = w.finish(seq);
  return {s.begin(), s.end()};
}

// A flow record for the one-arm plan's "web" VIP; the caller edits what it tests.
lb::ha::SyncRecord web_flow_record(uint16_t cport = 40001, const char* backend = kRemoteIp[0]) {
  lb::ha::SyncRecord r;
  r.type = lb::ha::SyncType::flow;
  r.vip_addr = net(kVip);
  r.vip_port = 80;
  r.proto = 6;
  r.state = lb::TcpState::established;
  r.original = lb::FlowKey{net(kClient1), net(kVip), htons(cport), htons(80), 6};
  r.reply = lb::FlowKey{net(backend), net(kPip), htons(80), htons(2000), 6};
  r.backend_addr = net(backend);
  r.backend_port = 80;
  r.age_ms = 1500;
  r.expires_in_ms = 800000;
  return r;
}

class HaSyncTest : public ::testing::Test {
 protected:
  std::unique_ptr<Node> a, b;
  lb::Mode mode = lb::Mode::proxy;

  void start_a(lb::Mode m = lb::Mode::proxy, lb::Config* edit = nullptr) {
    mode = m;
    lb::Config c = pair_config(true, m);
    if (edit) c = *edit;
    a = std::make_unique<Node>(c);
    a->resolve_router();
    a->at(a->t0 + kMasterDownA);
    ASSERT_EQ(a->state(), VrrpState::master);
    a->take();
    a->take(kSync);  // its ARP for a peer that is not there yet
  }
  void start_b(lb::Config* edit = nullptr) {
    lb::Config c = pair_config(false, mode);
    if (edit) c = *edit;
    b = std::make_unique<Node>(c);
    b->resolve_router();
  }
  // Both, until lb-b has lb-a's table.
  void start(lb::Mode m = lb::Mode::proxy) {
    start_a(m);
    start_b();
    settle();
  }

  // Moves every sync-port frame and every advertisement from one node to the other,
  // until neither has anything more to say.
  void shuttle() {
    for (int round = 0; round < 8; ++round) {
      bool moved = carry(*a, *b);
      moved |= carry(*b, *a);
      if (!moved) return;
    }
  }
  bool carry(Node& from, Node& to) {
    bool moved = false;
    for (auto& f : from.take(kSync)) {
      to.inject(f, kSync);
      moved = true;
    }
    auto& front = from.io.sent(kFront);
    Frames keep;
    for (auto& f : front) {
      if (is_vrrp(f)) {
        to.inject(f, kFront);
        moved = true;
      } else {
        keep.push_back(f);
      }
    }
    front.assign(keep.begin(), keep.end());
    return moved;
  }
  // Both clocks move on by `ms` (their timers run), then the frames are carried.
  void tick(uint64_t ms) {
    a->at(a->now + ms);
    if (b) b->at(b->now + ms);
    if (b) shuttle();
  }
  // Runs both until lb-b holds lb-a's table (its dump request answered).
  void settle() {
    for (int i = 0; i < 100 && b->engine.ha_info().dump_wanted; ++i) tick(10);
    ASSERT_FALSE(b->engine.ha_info().dump_wanted) << "lb-b never got lb-a's table";
    ASSERT_EQ(b->state(), VrrpState::backup);
    a->take();
    b->take();
  }
  // lb-a leaves (a priority-0 advert); lb-b takes over after its Skew_Time.
  void fail_over() {
    a->engine.shutdown(a->now);
    shuttle();
    tick(60);
    ASSERT_EQ(b->state(), VrrpState::master);
    ASSERT_EQ(b->engine.ha_info().status.reason, lb::ha::VrrpReason::priority_zero);
    a->take();
    b->take();
  }
  // The one TCP/UDP frame `n` forwarded; fails when there is not exactly one.
  Frame one_forwarded(Node& n) {
    auto out = forwarded(n);
    EXPECT_EQ(out.size(), 1u) << "frames forwarded" << (out.size() > 1 ? ", the second:\n" + describe(out[1]) : "");
    return out.empty() ? Frame{} : out[0];
  }
  static lb::SyncCounters counters(Node& n) { return n.engine.ha_info().sync_counters; }
};

// The IPv4 packets of two frames, byte for byte (the Ethernet headers differ by design).
::testing::AssertionResult SameIpPacket(const Frame& x, const Frame& y) {
  if (x.empty() || y.empty()) return ::testing::AssertionFailure() << "a frame is missing";
  const std::vector<uint8_t> px(x.begin() + kVnetLen + kEthLen, x.end()), py(y.begin() + kVnetLen + kEthLen, y.end());
  if (px == py) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "lb-a sent:\n" << describe(x) << "\nlb-b sent:\n" << describe(y);
}

// ----------------------------------------------------------------- flows reach the peer

class HaSyncModeTest : public HaSyncTest, public ::testing::WithParamInterface<lb::Mode> {};

TEST_P(HaSyncModeTest, AFlowCreatedOnTheMasterAppearsOnTheBackupWithTheSameKeysBackendAndState) {
  start(GetParam());
  a->inject(client_seg(kLbMac, 40001, SYN, 1000, 0));
  ASSERT_EQ(forwarded(*a).size(), 1u);
  tick(10);  // the batch leaves within 10 ms
  const auto on_a = flow_list(a->engine);
  ASSERT_EQ(on_a.size(), 1u);
  EXPECT_EQ(flow_list(b->engine), on_a);
  const lb::SyncCounters c = counters(*b);
  EXPECT_EQ(c.dumps_received, 1u);
  EXPECT_EQ(c.records_applied, 2u) << "the dump's end, then the flow record";
  EXPECT_EQ(c.skipped_unknown_vip + c.skipped_unknown_backend + c.skipped_mismatch + c.skipped_conflict, 0u);
  EXPECT_EQ(b->engine.stats().flows_created.load(), 0u) << "the backup created nothing itself";
  EXPECT_EQ(b->engine.stats().flows_active.load(), 1u);
  for (auto& info : b->engine.backends())
    if (info.vip == "web" && info.address.str() == kRemoteIp[0]) {
      EXPECT_EQ(info.other, 1u) << "counted as the master counts it";
    }
}

TEST_P(HaSyncModeTest, AfterFailoverTheNewMasterForwardsAnEstablishedFlowExactlyAsTheOldOne) {
  start(GetParam());
  const bool two_way = mode != lb::Mode::dsr_l3_dscp;
  a->inject(client_seg(kLbMac, 40001, SYN, 1000, 0));
  const Frame syn = one_forwarded(*a);
  ASSERT_FALSE(syn.empty());
  const std::string rip = src_of(ip_of(syn)) == kPip || mode != lb::Mode::proxy ? dst_of(ip_of(syn)) : "";
  const uint16_t pport = sport_of(ip_of(syn));  // proxy: the PIP port; otherwise the client's
  const char* reply_to = mode == lb::Mode::proxy ? kPip : kClient1;
  if (two_way) {
    a->inject(server_seg(kLbMac, rip, reply_to, pport, SYN | ACK, 5000, 1001));
    ASSERT_EQ(forwarded(*a).size(), 1u);
  }
  a->inject(client_seg(kLbMac, 40001, ACK, 1001, 5001, kClient1, "GET / HTTP/1.0\r\n\r\n"));
  const Frame ack_by_a = one_forwarded(*a);
  Frame data_by_a;
  if (two_way) {
    a->inject(server_seg(kLbMac, rip, reply_to, pport, ACK | PSH, 5001, 1019, "HTTP/1.0 200 OK\r\n"));
    data_by_a = one_forwarded(*a);
  }
  tick(10);
  EXPECT_EQ(flow_list(b->engine), flow_list(a->engine));
  // Still backup: the copy is not forwarded.
  b->inject(client_seg(kPeerMac, 40001, ACK, 1001, 5001, kClient1, "GET / HTTP/1.0\r\n\r\n"));
  EXPECT_TRUE(forwarded(*b).empty());
  EXPECT_EQ(b->drops(Drop::vrrp_backup), 1u);

  fail_over();
  b->inject(client_seg(kPeerMac, 40001, ACK, 1001, 5001, kClient1, "GET / HTTP/1.0\r\n\r\n"));
  const Frame ack_by_b = one_forwarded(*b);
  EXPECT_TRUE(SameIpPacket(ack_by_a, ack_by_b)) << "the client's segment, toward the server";
  EXPECT_EQ(eth_src(ack_by_b), kPeerMac);
  if (two_way) {
    b->inject(server_seg(kPeerMac, rip, reply_to, pport, ACK | PSH, 5001, 1019, "HTTP/1.0 200 OK\r\n"));
    EXPECT_TRUE(SameIpPacket(data_by_a, one_forwarded(*b))) << "the server's answer, toward the client";
  }
  EXPECT_EQ(b->drops(Drop::no_flow), 0u);
}

INSTANTIATE_TEST_SUITE_P(Modes, HaSyncModeTest,
                         ::testing::Values(lb::Mode::inline_nat, lb::Mode::proxy, lb::Mode::dsr_l3_dscp),
                         [](const ::testing::TestParamInfo<lb::Mode>& i) {
                           std::string n = lb::to_string(i.param);
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST_F(HaSyncTest, StateChangesAndRemovalReachThePeer) {
  start(lb::Mode::proxy);
  a->inject(client_seg(kLbMac, 40001, SYN, 1000, 0));
  const Frame syn = one_forwarded(*a);
  ASSERT_FALSE(syn.empty());
  const std::string rip = dst_of(ip_of(syn));
  const uint16_t pport = sport_of(ip_of(syn));
  a->inject(server_seg(kLbMac, rip, kPip, pport, SYN | ACK, 5000, 1001));
  a->inject(client_seg(kLbMac, 40001, ACK, 1001, 5001));
  forwarded(*a);
  tick(10);
  auto flows = b->engine.flows();
  ASSERT_EQ(flows.size(), 1u);
  EXPECT_EQ(flows[0].state, "established");
  for (auto& info : b->engine.backends())
    if (info.vip == "web" && info.address.str() == rip) {
      EXPECT_EQ(info.established, 1u);
      EXPECT_EQ(info.other, 0u);
    }
  // The client resets, then reuses its port: the old flow is removed, a new one made.
  a->inject(client_seg(kLbMac, 40001, RST | ACK, 1001, 5001));
  tick(10);
  ASSERT_EQ(b->engine.flows().size(), 1u);
  EXPECT_EQ(b->engine.flows()[0].state, "closed");
  a->inject(client_seg(kLbMac, 40001, SYN, 9000, 0));
  forwarded(*a);
  tick(10);
  EXPECT_EQ(flow_list(b->engine), flow_list(a->engine));
  ASSERT_EQ(b->engine.flows().size(), 1u);
  EXPECT_EQ(b->engine.flows()[0].state, "syn_sent");
  const lb::SyncCounters c = counters(*b);
  EXPECT_EQ(c.skipped_unknown_flow, 0u);
  EXPECT_EQ(c.lost, 0u);
  EXPECT_EQ(counters(*a).send_failed, 0u);
  size_t live = 0;
  for (auto& info : b->engine.backends()) live += info.established + info.other;
  EXPECT_EQ(live, 1u) << "the removed flow no longer counts";
}

TEST_F(HaSyncTest, ABackupThatStartsLaterGetsTheWholeTableAndPersistenceInADump) {
  lb::Config ca = pair_config(true, lb::Mode::proxy);
  ca.vips[0].persistence_timeout = 300;
  start_a(lb::Mode::proxy, &ca);
  // Three flows before lb-b exists: client2 to server 0, client1 to server 1 (rr), one more.
  a->inject(client_seg(kLbMac, 40001, SYN, 1000, 0, kClient2));
  a->inject(client_seg(kLbMac, 40002, SYN, 1000, 0, kClient1));
  a->inject(client_seg(kLbMac, 40003, SYN, 1000, 0, "198.51.100.13"));
  ASSERT_EQ(forwarded(*a).size(), 3u);
  tick(10);
  a->take(kSync);
  EXPECT_EQ(counters(*a).send_failed, 6u) << "3 flow and 3 persistence records, with nobody to send them to";

  lb::Config cb = pair_config(false, lb::Mode::proxy);
  cb.vips[0].persistence_timeout = 300;
  start_b(&cb);
  settle();
  EXPECT_EQ(flow_list(b->engine), flow_list(a->engine));
  EXPECT_EQ(b->engine.flows().size(), 3u);
  const lb::SyncCounters ca_ = counters(*a), cb_ = counters(*b);
  EXPECT_EQ(ca_.dumps_sent, 1u);
  EXPECT_EQ(ca_.dump_flows_sent, 3u);
  EXPECT_GE(ca_.dump_requests_received, 1u);
  EXPECT_EQ(cb_.dumps_received, 1u);
  EXPECT_EQ(cb_.records_applied, 3u + 3u + 1u) << "flows, persistence records, the dump's end";

  // After the failover, client1 comes back to its server (1) although lb-b's own rr
  // would start at server 0.
  fail_over();
  b->inject(client_seg(kPeerMac, 41000, SYN, 1000, 0, kClient1));
  const Frame syn = one_forwarded(*b);
  ASSERT_FALSE(syn.empty());
  EXPECT_EQ(dst_of(ip_of(syn)), kRemoteIp[1]);
}

TEST_F(HaSyncTest, TheNewMasterGivesANewFlowAPipPortNoSyncedFlowHolds) {
  start(lb::Mode::proxy);
  a->inject(client_seg(kLbMac, 40001, SYN, 1000, 0));
  const Frame syn_a = one_forwarded(*a);
  ASSERT_FALSE(syn_a.empty());
  tick(10);
  fail_over();
  b->inject(client_seg(kPeerMac, 40001, SYN, 1000, 0, kClient2));  // rr on lb-b: server 0 too
  const Frame syn_b = one_forwarded(*b);
  ASSERT_FALSE(syn_b.empty());
  ASSERT_EQ(dst_of(ip_of(syn_b)), dst_of(ip_of(syn_a)));
  EXPECT_NE(sport_of(ip_of(syn_b)), sport_of(ip_of(syn_a))) << "the synced flow holds that PIP port toward that server";
}

TEST_F(HaSyncTest, AMasterThatBecomesBackupAsksTheNewMasterForItsTable) {
  start(lb::Mode::proxy);
  fail_over();
  // lb-a comes back (a new process: a new engine) and preempts lb-b with its priority.
  a = std::make_unique<Node>(pair_config(true, lb::Mode::proxy));
  a->resolve_router();
  b->inject(client_seg(kPeerMac, 40001, SYN, 1000, 0));
  ASSERT_EQ(forwarded(*b).size(), 1u);
  for (int i = 0; i < 100 && a->engine.ha_info().dump_wanted; ++i) tick(10);
  EXPECT_FALSE(a->engine.ha_info().dump_wanted) << "lb-a got lb-b's table as a backup";
  EXPECT_EQ(flow_list(a->engine), flow_list(b->engine));
  for (int i = 0; i < 100 && a->state() != VrrpState::master; ++i) tick(10);
  EXPECT_EQ(a->state(), VrrpState::master) << "preempted by now";
  EXPECT_EQ(b->state(), VrrpState::backup);
  EXPECT_EQ(flow_list(a->engine), flow_list(b->engine));
  EXPECT_EQ(a->engine.flows().size(), 1u);
}

// ----------------------------------------------------------------- bad input

class HaSyncInputTest : public HaSyncTest {
 protected:
  void SetUp() override {
    b = std::make_unique<Node>(pair_config(false, lb::Mode::proxy));  // a backup on its own
  }
  void send(const std::vector<uint8_t>& payload, const char* src = kSyncIpA) { b->inject(sync_datagram(payload, src), kSync); }
};

TEST_F(HaSyncInputTest, MalformedDatagramsAreCountedByReasonAndDropped) {
  lb::ha::SyncWriter w;
  w.add(web_flow_record());
  const std::vector<uint8_t> good = payload_of(w);
  send({1, 2, 3, 4, 5});
  std::vector<uint8_t> magic = good;
  magic[0] = 0x00;
  send(magic);
  std::vector<uint8_t> version = good;
  version[2] = 2;
  send(version);
  std::vector<uint8_t> count = good;
  count[9] = 2;  // two records announced, one there
  send(count);
  std::vector<uint8_t> cut(good.begin(), good.end() - 1);
  send(cut);
  std::vector<uint8_t> state = good;
  state[kSyncHdr + 2 + 7] = 9;  // no such TCP state
  send(state);
  const lb::SyncCounters c = counters(*b);
  EXPECT_EQ(c.malformed[static_cast<size_t>(lb::ha::SyncError::short_datagram)], 1u);
  EXPECT_EQ(c.malformed[static_cast<size_t>(lb::ha::SyncError::bad_magic)], 1u);
  EXPECT_EQ(c.malformed[static_cast<size_t>(lb::ha::SyncError::bad_version)], 1u);
  EXPECT_EQ(c.malformed[static_cast<size_t>(lb::ha::SyncError::bad_record)], 3u);
  EXPECT_EQ(c.datagrams_received, 6u);
  EXPECT_EQ(c.records_applied, 1u) << "the record before the missing second one stands";
  EXPECT_EQ(b->engine.flows().size(), 1u);
}

TEST_F(HaSyncInputTest, EveryTruncationOfAValidDatagramIsRejectedWithoutHarm) {
  lb::ha::SyncWriter w;
  w.add(web_flow_record(40001));
  lb::ha::SyncRecord st;
  st.type = lb::ha::SyncType::flow_state;
  st.proto = 6;
  st.original = web_flow_record(40001).original;
  st.state = lb::TcpState::fin_wait;
  w.add(st);
  const std::vector<uint8_t> good = payload_of(w);
  for (size_t n = 0; n < good.size(); ++n) send(std::vector<uint8_t>(good.begin(), good.begin() + n));
  const lb::SyncCounters c = counters(*b);
  uint64_t malformed = 0;
  for (auto m : c.malformed) malformed += m;
  EXPECT_EQ(malformed, good.size()) << "each cut datagram counted once";
  EXPECT_LE(b->engine.flows().size(), 1u);
}

TEST_F(HaSyncInputTest, RecordsAboutUnknownVipsBackendsOrFlowsAreCountedAndSkipped) {
  lb::ha::SyncWriter w;
  auto vip = web_flow_record(40001);
  vip.vip_addr = vip.original.daddr = net("203.0.113.99");
  w.add(vip);
  auto port = web_flow_record(40002);
  port.vip_port = 8080;
  w.add(port);
  auto backend = web_flow_record(40003, "198.18.0.99");
  w.add(backend);
  auto dsr = web_flow_record(40004);
  dsr.flags = lb::ha::kSyncOneWay;  // a DSR flow for a proxy VIP: the configs differ
  w.add(dsr);
  auto pip = web_flow_record(40008);
  pip.reply.daddr = net("203.0.113.21");  // another PIP than ours
  w.add(pip);
  lb::ha::SyncRecord st;
  st.type = lb::ha::SyncType::flow_state;
  st.proto = 6;
  st.original = web_flow_record(40005).original;
  w.add(st);
  lb::ha::SyncRecord rm;
  rm.type = lb::ha::SyncType::flow_remove;
  rm.proto = 6;
  rm.original = web_flow_record(40006).original;
  w.add(rm);
  w.add(web_flow_record(40007));  // the one good record
  send(payload_of(w));
  const lb::SyncCounters c = counters(*b);
  EXPECT_EQ(c.skipped_unknown_vip, 2u);
  EXPECT_EQ(c.skipped_unknown_backend, 1u);
  EXPECT_EQ(c.skipped_mismatch, 2u);
  EXPECT_EQ(c.skipped_unknown_flow, 2u);
  EXPECT_EQ(c.records_received, 8u);
  EXPECT_EQ(c.records_applied, 1u);
  ASSERT_EQ(b->engine.flows().size(), 1u);
  EXPECT_EQ(b->engine.flows()[0].client, "198.51.100.11:40007");
}

TEST_F(HaSyncInputTest, OnlyThePeerIsListenedTo) {
  lb::ha::SyncWriter w;
  w.add(web_flow_record());
  send(payload_of(w), "192.0.2.9");
  EXPECT_EQ(counters(*b).not_from_peer, 1u);
  EXPECT_TRUE(b->engine.flows().empty());
}

TEST_F(HaSyncInputTest, ABadUdpChecksumIsCountedAndDropped) {
  lb::ha::SyncWriter w;
  w.add(web_flow_record());
  Frame f = sync_datagram(payload_of(w));
  f.back() ^= 0x01;  // the payload changes under the checksum
  b->inject(f, kSync);
  EXPECT_EQ(counters(*b).bad_checksum, 1u);
  EXPECT_TRUE(b->engine.flows().empty());
}

TEST_F(HaSyncInputTest, UnknownRecordTypesAreSkippedAndLongerKnownOnesRead) {
  // A later version's record type 99, and a flow record with 4 more bytes at its end.
  lb::ha::SyncWriter w;
  w.add(web_flow_record());
  std::vector<uint8_t> p = payload_of(w);
  const size_t flow_len = lb::ha::sync_record_len(lb::ha::SyncType::flow);
  std::vector<uint8_t> rec(p.begin() + kSyncHdr, p.end());
  rec[1] = static_cast<uint8_t>(flow_len + 4);
  rec.insert(rec.end(), {0xaa, 0xbb, 0xcc, 0xdd});
  p.resize(kSyncHdr);
  p.insert(p.end(), {99, 5, 1, 2, 3});
  p.insert(p.end(), rec.begin(), rec.end());
  p[9] = 2;  // count
  send(p);
  const lb::SyncCounters c = counters(*b);
  EXPECT_EQ(c.unknown_records, 1u);
  EXPECT_EQ(c.records_applied, 1u);
  uint64_t malformed = 0;
  for (auto m : c.malformed) malformed += m;
  EXPECT_EQ(malformed, 0u);
}

TEST_F(HaSyncInputTest, AMasterIgnoresTableRecordsAndABackupIgnoresDumpRequests) {
  lb::ha::SyncWriter w;
  lb::ha::SyncRecord req;
  req.type = lb::ha::SyncType::dump_request;
  w.add(req);
  send(payload_of(w));
  EXPECT_EQ(counters(*b).ignored_as_backup, 1u);
  b->at(b->t0 + kMasterDownMs);
  ASSERT_EQ(b->state(), VrrpState::master);
  w.clear();
  w.add(web_flow_record());
  send(payload_of(w, 1));
  EXPECT_EQ(counters(*b).ignored_as_master, 1u);
  EXPECT_TRUE(b->engine.flows().empty());
}

TEST_F(HaSyncInputTest, LbctlVrrpShowsTheSyncCounters) {
  lb::ha::SyncWriter w;
  w.add(web_flow_record());
  send(payload_of(w));
  const std::string text = lb::handle_admin_command(b->engine, "vrrp");
  EXPECT_NE(text.find("sync with 192.0.2.1:8848 on sync"), std::string::npos) << text;
  EXPECT_NE(text.find("received 1, applied 1"), std::string::npos) << text;
  const std::string json = lb::handle_admin_command(b->engine, "vrrp json");
  EXPECT_NE(json.find("\"sync\":{\"port\":\"sync\",\"peer\":\"192.0.2.1\",\"udp_port\":8848"), std::string::npos) << json;
  EXPECT_NE(json.find("\"records_applied\":1"), std::string::npos) << json;
}

// ----------------------------------------------------------------- the codec

TEST(SyncCodec, EveryRecordTypeRoundTrips) {
  using lb::ha::SyncType;
  std::vector<lb::ha::SyncRecord> in;
  auto f = web_flow_record();
  f.flags = lb::ha::kSyncFinOriginal;
  f.state = lb::TcpState::fin_wait;
  in.push_back(f);
  lb::ha::SyncRecord s;
  s.type = SyncType::flow_state;
  s.proto = 17;
  s.original = lb::FlowKey{net(kClient2), net(kVip), htons(5353), htons(80), 17};
  s.expires_in_ms = 60000;
  in.push_back(s);
  lb::ha::SyncRecord r;
  r.type = SyncType::flow_remove;
  r.proto = 6;
  r.original = f.original;
  in.push_back(r);
  lb::ha::SyncRecord p;
  p.type = SyncType::persist;
  p.vip_addr = net(kVip);
  p.vip_port = 80;
  p.proto = 6;
  p.source = net("198.51.100.0");
  p.backend_addr = net(kRemoteIp[2]);
  p.backend_port = 8080;
  p.expires_in_ms = 300000;
  in.push_back(p);
  lb::ha::SyncRecord q;
  q.type = SyncType::dump_request;
  q.nonce = 0xdeadbeef;
  in.push_back(q);
  lb::ha::SyncRecord e;
  e.type = SyncType::dump_end;
  e.nonce = 7;
  e.flows = 123456;
  in.push_back(e);
  lb::ha::SyncWriter w;
  for (auto& x : in) ASSERT_TRUE(w.add(x)) << lb::ha::to_string(x.type);
  auto bytes = w.finish(0x01020304);
  EXPECT_EQ(bytes.size(), 12u + 50 + 22 + 16 + 24 + 6 + 10);
  EXPECT_EQ(be16(bytes.data()), 0x4c42);
  EXPECT_EQ(bytes[2], 1);
  EXPECT_EQ(be32(bytes.data() + 4), 0x01020304u);
  EXPECT_EQ(be16(bytes.data() + 8), 6);
  lb::ha::SyncReader rd(bytes.data(), bytes.size());
  ASSERT_EQ(rd.error(), lb::ha::SyncError::none);
  EXPECT_EQ(rd.seq(), 0x01020304u);
  lb::ha::SyncRecord out;
  for (auto& x : in) {
    SCOPED_TRACE(lb::ha::to_string(x.type));
    ASSERT_TRUE(rd.next(out));
    EXPECT_EQ(out.type, x.type);
    EXPECT_EQ(out.proto, x.proto);
    EXPECT_EQ(out.state, x.state);
    EXPECT_EQ(out.flags, x.flags);
    EXPECT_EQ(out.vip_addr, x.vip_addr);
    EXPECT_EQ(out.vip_port, x.vip_port);
    EXPECT_EQ(out.backend_addr, x.backend_addr);
    EXPECT_EQ(out.backend_port, x.backend_port);
    EXPECT_EQ(out.source, x.source);
    EXPECT_EQ(out.age_ms, x.age_ms);
    EXPECT_EQ(out.expires_in_ms, x.expires_in_ms);
    EXPECT_EQ(out.nonce, x.nonce);
    EXPECT_EQ(out.flows, x.flows);
    if (x.type != SyncType::dump_request && x.type != SyncType::dump_end && x.type != SyncType::persist) {
      EXPECT_TRUE(out.original == x.original);
    }
    if (x.type == SyncType::flow) {
      EXPECT_TRUE(out.reply == x.reply);
    }
  }
  EXPECT_FALSE(rd.next(out));
  EXPECT_EQ(rd.error(), lb::ha::SyncError::none);
}

TEST(SyncCodec, TheFlowRecordIsLaidOutAsDocumented) {
  lb::ha::SyncWriter w;
  w.add(web_flow_record(40001));
  auto b = w.finish(0);
  const uint8_t* r = b.data() + 12;
  EXPECT_EQ(r[0], 1) << "type";
  EXPECT_EQ(r[1], 50) << "len";
  EXPECT_EQ(dotted(net(kVip)), std::to_string(r[2]) + "." + std::to_string(r[3]) + "." + std::to_string(r[4]) + "." + std::to_string(r[5]));
  EXPECT_EQ(be16(r + 6), 80) << "vip port";
  EXPECT_EQ(r[8], 6) << "proto";
  EXPECT_EQ(r[9], 3) << "state established";
  EXPECT_EQ(be16(r + 10 + 8), 40001) << "original sport";
  EXPECT_EQ(be16(r + 22 + 10), 2000) << "reply dport: the PIP port";
  EXPECT_EQ(be16(r + 38), 80) << "backend port";
  EXPECT_EQ(be32(r + 42), 1500u) << "age_ms";
  EXPECT_EQ(be32(r + 46), 800000u) << "expires_in_ms";
}

TEST(SyncCodec, TheWriterRefusesARecordThatDoesNotFit) {
  lb::ha::SyncWriter w;
  size_t n = 0;
  while (w.add(web_flow_record(static_cast<uint16_t>(1000 + n)))) ++n;
  EXPECT_EQ(n, (lb::ha::kSyncMaxPayload - 12) / 50);
  EXPECT_LE(w.size(), lb::ha::kSyncMaxPayload);
  EXPECT_EQ(w.count(), n);
}

}  // namespace
