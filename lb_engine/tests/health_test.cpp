// Health checks over MemIo (lb_engine/src/health/health.cpp): the probe each check type
// sends, in each mode, the answers that pass or fail it, rise and fall, and what clients
// get from a VIP whose backends are down. The engine's clock is the `now` the test hands
// to housekeeping() and drain().
//
//   inline, two ports (engine_test.cpp's plan):
//   client 198.51.100.11 -- router 203.0.113.1 --[front 203.0.113.2 | back 192.0.2.1]-- servers 192.0.2.11-13
//                                                  VIP 203.0.113.10:80 tcp "web", udp "echo"
//   DSR modes: one arm (one_arm.hpp), dsr-l2 servers 203.0.113.11-13, dsr-l3 servers 198.18.0.11-13
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "lb/config/config.hpp"
#include "lb/engine.hpp"
#include "lb/io/packet_io.hpp"
#include "one_arm.hpp"
#include "test_support.hpp"

namespace {

using namespace lbtest;
using namespace lbtest::onearm;  // the front segment, the VIP and the client are the same in both plans
using lb::CheckType;
using lb::Drop;

constexpr uint16_t RST = Tins::TCP::RST, PSH = Tins::TCP::PSH, FIN = Tins::TCP::FIN;
constexpr uint16_t kProbeIdBase = 61000;  // health.cpp: probe source ports and echo ids
constexpr uint64_t kFirst = 1000;         // by then every first probe has started (staggered < interval / 2)

// The back port of the two-port plan.
constexpr size_t kBack = 1;
const char* const kBackMac = "02:00:00:02:00:01";
const char* const kBackIp = "192.0.2.1";
const char* const kServerIp[3] = {"192.0.2.11", "192.0.2.12", "192.0.2.13"};
const char* const kServerMac[3] = {"02:00:00:02:00:11", "02:00:00:02:00:12", "02:00:00:02:00:13"};

// engine_test.cpp's plan: the one-arm inline config with a back port for the servers.
lb::Config two_port_config() {
  lb::Config c = one_arm_config(lb::Mode::inline_nat);
  c.ports.push_back({.name = "back", .tap = "t-back", .mac = *lb::MacAddr::parse(kBackMac),
                     .address = *lb::Prefix::parse("192.0.2.1/24")});
  for (auto& v : c.vips)
    for (int b = 0; b < 3; ++b) v.backends[b].address = *lb::IpAddr::parse(kServerIp[b]);
  return c;
}

// `c` with check `h` on the first `n` backends of the VIP named `vip` ("" = of every VIP).
lb::Config checked(lb::Config c, const lb::HealthConfig& h, int n = 1, const std::string& vip = "web") {
  for (auto& v : c.vips)
    if (vip.empty() || v.name == vip)
      for (int b = 0; b < n; ++b) v.backends[b].health = h;
  return c;
}

const lb::HealthConfig kTcp{.type = CheckType::tcp, .interval_ms = 2000, .timeout_ms = 1000, .rise = 2, .fall = 2};
const lb::HealthConfig kTcpFall1{.type = CheckType::tcp, .interval_ms = 2000, .timeout_ms = 1000, .rise = 1, .fall = 1};

// ----------------------------------------------------------------- reading what was sent

// The IPv4 header of a vnet frame (nullptr when it is not a whole IPv4 packet).
const uint8_t* ipv4_of(const std::vector<uint8_t>& f) {
  if (f.size() < kVnetLen + kEthLen + 20 || be16(f.data() + kVnetLen + 12) != 0x0800) return nullptr;
  const uint8_t* ip = f.data() + kVnetLen + kEthLen;
  return f.size() < kVnetLen + kEthLen + Ipv4At{ip}.tot_len() ? nullptr : ip;
}

// A TCP segment or ICMP message read raw from its IPv4 header (an IPIP packet's inner one too).
struct L4At {
  const uint8_t* ip;
  const uint8_t* l4() const { return Ipv4At{ip}.l4(); }
  uint16_t sport() const { return be16(l4()); }
  uint16_t dport() const { return be16(l4() + 2); }
  uint32_t seq() const { return be32(l4() + 4); }
  uint32_t ack() const { return be32(l4() + 8); }
  uint8_t flags() const { return l4()[13]; }
  std::string data() const {
    const size_t hl = (l4()[12] >> 4) * 4u;
    return std::string(reinterpret_cast<const char*>(l4()) + hl, Ipv4At{ip}.l4_len() - hl);
  }
  uint8_t icmp_type() const { return l4()[0]; }
  uint8_t icmp_code() const { return l4()[1]; }
  uint16_t icmp_id() const { return be16(l4() + 4); }
  uint16_t icmp_seq() const { return be16(l4() + 6); }
};

std::string eth_dst(const std::vector<uint8_t>& f) { return Sent(f).eth.dst_addr().to_string(); }
std::string eth_src(const std::vector<uint8_t>& f) { return Sent(f).eth.src_addr().to_string(); }

// ----------------------------------------------------------------- fixture

class HealthTest : public ::testing::Test {
 protected:
  // An engine on `c` that already knows its neighbours (the router, every server on a
  // port's segment); its first probes are due within kFirst of `now`.
  void start(lb::Config c) {
    cfg = std::move(c);
    io = std::make_unique<lb::MemIo>(cfg.ports.size());
    engine = std::make_unique<lb::Engine>(cfg, *io);
    now = lb::Engine::now_ms();  // flows() judges expiry by this clock
    for (size_t port = 0; port < cfg.ports.size(); ++port) {
      const std::string own_ip = cfg.ports[port].address.addr.str(), own_mac = cfg.ports[port].mac.str();
      auto learn = [&](const char* ip, const char* mac) {  // learned only on its own subnet
        auto reply = Tins::ARP::make_arp_reply(own_ip, ip, hw(own_mac.c_str()), hw(mac));
        inject(port, reply);
      };
      learn(kRouterIp, kRouterMac);
      for (int b = 0; b < 3; ++b) {
        learn(kServerIp[b], kServerMac[b]);
        learn(kL2Ip[b], kL2Mac[b]);
      }
    }
    for (size_t port = 0; port < cfg.ports.size(); ++port)
      ASSERT_TRUE(ip_frames(port).empty()) << "the engine sent IPv4 before its first probe was due";
  }

  void inject(size_t port, std::vector<uint8_t> vframe) {
    io->inject(port, std::move(vframe));
    engine->drain(now);
  }
  void inject(size_t port, Tins::PDU& pdu) { inject(port, with_vnet(pdu)); }
  // Runs the timers at `t` (probes start and time out there).
  void tick(uint64_t t) {
    now = t;
    engine->housekeeping(now);
  }

  // The IPv4 frames sent on `port` since the last look (ARP requests are left out).
  std::vector<std::vector<uint8_t>> ip_frames(size_t port) {
    std::vector<std::vector<uint8_t>> out;
    for (auto& f : io->sent(port))
      if (f.size() >= kVnetLen + kEthLen && be16(f.data() + kVnetLen + 12) == 0x0800) out.push_back(f);
    io->sent(port).clear();
    return out;
  }
  // The one IPv4 frame sent, on `port`, after checking nothing else was sent anywhere.
  std::vector<uint8_t> one_frame(size_t port) {
    for (size_t other = 0; other < cfg.ports.size(); ++other) {
      if (other == port) continue;
      auto o = ip_frames(other);
      EXPECT_TRUE(o.empty()) << "unexpected frame on port " << other << ":\n" << (o.empty() ? "" : describe(o[0]));
    }
    auto mine = ip_frames(port);
    EXPECT_EQ(mine.size(), 1u) << "IPv4 frames sent on port " << port
                               << (mine.size() > 1 ? ", the second:\n" + describe(mine[1]) : "");
    return mine.empty() || !ipv4_of(mine[0]) ? std::vector<uint8_t>{} : mine[0];
  }
  void expect_nothing_sent() {
    for (size_t port = 0; port < cfg.ports.size(); ++port) {
      auto o = ip_frames(port);
      EXPECT_TRUE(o.empty()) << "port " << port << " sent:\n" << (o.empty() ? "" : describe(o[0]));
    }
  }

  // What lbctl would show for backend `ip` of VIP `vip`.
  lb::BackendInfo info(const std::string& ip, const std::string& vip = "web") {
    for (auto& i : engine->backends())
      if (i.vip == vip && i.address.str() == ip) return i;
    ADD_FAILURE() << "no backend " << ip << " in VIP " << vip;
    return {};
  }
  uint64_t drops(Drop d) const { return engine->stats().drops[static_cast<size_t>(d)].load(); }

  // Two-port plan: a TCP segment from server `b`'s port 80 to the back port's address.
  std::vector<uint8_t> from_server(int b, uint16_t dport, uint16_t flags, uint32_t seq, uint32_t ack,
                                   const std::string& data = "") {
    auto f = Tins::EthernetII(hw(kBackMac), hw(kServerMac[b])) / ipv4(kBackIp, kServerIp[b]) /
             tcp_seg(dport, 80, flags, seq, ack);
    if (!data.empty()) f /= Tins::RawPDU(data);
    return with_vnet(f);
  }
  // Two-port plan: the probe segment server 0 gets at `t`; checks its addresses and checksums.
  std::vector<uint8_t> tcp_probe_at(uint64_t t) {
    tick(t);
    auto f = one_frame(kBack);
    if (f.empty()) return f;
    SCOPED_TRACE(describe(f));
    const uint8_t* ip = ipv4_of(f);
    EXPECT_EQ(eth_dst(f), kServerMac[0]);
    EXPECT_EQ(src_of(ip), kBackIp) << "probes leave from the port's own address";
    EXPECT_EQ(dst_of(ip), kServerIp[0]);
    EXPECT_EQ(Ipv4At{ip}.proto(), 6);
    EXPECT_TRUE(ChecksumsMatchRecomputation(ip));
    return f;
  }

  // Two-port plan: client frames, through the router to the front port.
  std::vector<uint8_t> client_segment(uint16_t sport, uint16_t flags, uint32_t seq, uint32_t ack) {
    auto f = from_router() / ipv4(kVip, kClient1) / tcp_seg(80, sport, flags, seq, ack);
    return with_vnet(f);
  }
  // The server (0..2) a new client SYN went to, or -1 when it went nowhere.
  int syn_goes_to(uint16_t sport) {
    inject(kFront, client_syn(sport));
    auto out = ip_frames(kBack);
    ip_frames(kFront);
    if (out.size() != 1) return -1;
    for (int b = 0; b < 3; ++b)
      if (eth_dst(out[0]) == kServerMac[b]) return b;
    return -1;
  }

  lb::Config cfg;
  std::unique_ptr<lb::MemIo> io;
  std::unique_ptr<lb::Engine> engine;
  uint64_t now = 0;
};

// ----------------------------------------------------------------- tcp

TEST_F(HealthTest, TcpCheckSynAckIsASuccessAndTheEngineResetsTheConnection) {
  start(checked(two_port_config(), kTcp));
  const auto syn = tcp_probe_at(now + kFirst);
  ASSERT_FALSE(syn.empty());
  const L4At s{ipv4_of(syn)};
  EXPECT_GE(s.sport(), kProbeIdBase);
  EXPECT_LT(s.sport(), kProbeIdBase + 1) << "one checked backend, one probe id";
  EXPECT_EQ(s.dport(), 80) << "the backend's port";
  EXPECT_EQ(s.flags(), SYN);
  EXPECT_EQ(s.ack(), 0u);
  EXPECT_EQ(eth_src(syn), kBackMac);
  EXPECT_TRUE(engine->flows().empty()) << "a probe is not a flow";

  inject(kBack, from_server(0, s.sport(), SYN | ACK, 7000, s.seq() + 1));
  const auto rst = one_frame(kBack);
  ASSERT_FALSE(rst.empty());
  SCOPED_TRACE(describe(rst));
  const L4At r{ipv4_of(rst)};
  EXPECT_EQ(eth_dst(rst), kServerMac[0]);
  EXPECT_EQ(src_of(r.ip), kBackIp);
  EXPECT_EQ(dst_of(r.ip), kServerIp[0]);
  EXPECT_EQ(r.sport(), s.sport());
  EXPECT_EQ(r.dport(), 80);
  EXPECT_EQ(r.flags(), RST);
  EXPECT_EQ(r.seq(), s.seq() + 1) << "the sequence number after the SYN";
  EXPECT_TRUE(ChecksumsMatchRecomputation(r.ip));

  const auto i = info(kServerIp[0]);
  EXPECT_EQ(i.state, "up");
  EXPECT_EQ(i.check, "tcp");
  EXPECT_EQ(i.checks, 1u);
  EXPECT_EQ(i.check_failures, 0u);
  EXPECT_EQ(i.transitions, 0u);
  EXPECT_EQ(i.last_check, "connected");
  EXPECT_GE(i.probe_ms, 0.0) << "a successful probe's round trip";
  EXPECT_EQ(engine->stats().health_replies.load(), 1u);
  EXPECT_EQ(engine->stats().health_probes_sent.load(), 2u) << "the SYN and the RST";
  EXPECT_EQ(info(kServerIp[1]).check, "none");
  EXPECT_EQ(info(kServerIp[1]).checks, 0u);
}

TEST_F(HealthTest, FallTimeoutsInARowMarkItDownAndRiseSuccessesMarkItUpAgain) {
  start(checked(two_port_config(), kTcp));  // rise 2, fall 2
  const uint64_t t0 = now + kFirst;
  ASSERT_FALSE(tcp_probe_at(t0).empty());
  tick(t0 + 999);
  expect_nothing_sent();
  EXPECT_EQ(info(kServerIp[0]).checks, 0u) << "not timed out before timeout_ms";
  tick(t0 + 1000);
  expect_nothing_sent();
  auto i = info(kServerIp[0]);
  EXPECT_EQ(i.checks, 1u);
  EXPECT_EQ(i.check_failures, 1u);
  EXPECT_EQ(i.state, "up") << "one failure of fall = 2";
  EXPECT_NE(i.last_check.find("timeout"), std::string::npos) << i.last_check;

  ASSERT_FALSE(tcp_probe_at(t0 + 2000).empty()) << "the next probe one interval after the first";
  tick(t0 + 3000);
  i = info(kServerIp[0]);
  EXPECT_EQ(i.check_failures, 2u);
  EXPECT_EQ(i.state, "down") << "the second failure of fall = 2";
  EXPECT_EQ(i.transitions, 1u);
  EXPECT_NE(i.change_reason.find("timeout"), std::string::npos) << i.change_reason;
  EXPECT_NE(i.change_reason.find("2 tcp check(s) failed"), std::string::npos) << i.change_reason;
  EXPECT_EQ(engine->stats().health_down.load(), 1u);
  for (uint16_t p = 40001; p <= 40006; ++p) {
    const int b = syn_goes_to(p);
    EXPECT_GE(b, 0) << "port " << p << ": the others take it";
    EXPECT_NE(b, 0) << "port " << p << " went to the down server";
  }

  for (uint64_t t : {t0 + 4000, t0 + 6000}) {
    const auto syn = tcp_probe_at(t);
    ASSERT_FALSE(syn.empty());
    const L4At s{ipv4_of(syn)};
    inject(kBack, from_server(0, s.sport(), SYN | ACK, 9000, s.seq() + 1));
    ASSERT_FALSE(one_frame(kBack).empty()) << "the RST ending the probe";
    i = info(kServerIp[0]);
    if (t == t0 + 4000) {
      EXPECT_EQ(i.state, "down") << "one success of rise = 2";
      EXPECT_EQ(i.transitions, 1u);
    }
  }
  EXPECT_EQ(i.state, "up") << "the second success of rise = 2";
  EXPECT_EQ(i.transitions, 2u);
  EXPECT_NE(i.change_reason.find("2 tcp check(s) passed"), std::string::npos) << i.change_reason;
  EXPECT_EQ(engine->stats().health_up.load(), 1u);
  bool reached = false;
  for (uint16_t p = 40011; p <= 40013; ++p) reached |= syn_goes_to(p) == 0;
  EXPECT_TRUE(reached) << "new flows reach it again";
}

TEST_F(HealthTest, RstAnsweringTheSynIsARefusal) {
  start(checked(two_port_config(), kTcpFall1));
  const auto syn = tcp_probe_at(now + kFirst);
  ASSERT_FALSE(syn.empty());
  const L4At s{ipv4_of(syn)};
  inject(kBack, from_server(0, s.sport(), RST | ACK, 0, s.seq() + 1));
  expect_nothing_sent();
  const auto i = info(kServerIp[0]);
  EXPECT_EQ(i.checks, 1u);
  EXPECT_EQ(i.check_failures, 1u);
  EXPECT_EQ(i.state, "down");
  EXPECT_NE(i.last_check.find("refused"), std::string::npos) << i.last_check;
  EXPECT_NE(i.change_reason.find("refused"), std::string::npos) << i.change_reason;
}

// A SYN-ACK for a probe given up on: the server holds a half-open connection the engine
// closes with a RST at the sequence the server expects; the late answer is no success.
TEST_F(HealthTest, LateSynAckOfATimedOutProbeIsReset) {
  start(checked(two_port_config(), kTcp));
  const uint64_t t0 = now + kFirst;
  const auto syn = tcp_probe_at(t0);
  ASSERT_FALSE(syn.empty());
  const L4At s{ipv4_of(syn)};
  tick(t0 + 1000);
  ASSERT_EQ(info(kServerIp[0]).check_failures, 1u);
  inject(kBack, from_server(0, s.sport(), SYN | ACK, 7000, s.seq() + 1));
  const auto rst = one_frame(kBack);
  ASSERT_FALSE(rst.empty());
  SCOPED_TRACE(describe(rst));
  const L4At r{ipv4_of(rst)};
  EXPECT_EQ(dst_of(r.ip), kServerIp[0]);
  EXPECT_EQ(r.sport(), s.sport());
  EXPECT_EQ(r.dport(), 80);
  EXPECT_EQ(r.flags(), RST);
  EXPECT_EQ(r.seq(), s.seq() + 1) << "the SYN-ACK's acknowledgment number";
  EXPECT_TRUE(ChecksumsMatchRecomputation(r.ip));
  const auto i = info(kServerIp[0]);
  EXPECT_EQ(i.checks, 1u) << "no result for a late answer";
  EXPECT_EQ(i.check_failures, 1u);
}

TEST_F(HealthTest, SynAckAcknowledgingAnotherSequenceIsResetAndTheProbeWaits) {
  start(checked(two_port_config(), kTcp));
  const auto syn = tcp_probe_at(now + kFirst);
  ASSERT_FALSE(syn.empty());
  const L4At s{ipv4_of(syn)};
  inject(kBack, from_server(0, s.sport(), SYN | ACK, 7000, s.seq() + 1000));
  const auto rst = one_frame(kBack);
  ASSERT_FALSE(rst.empty());
  EXPECT_EQ(L4At{ipv4_of(rst)}.flags(), RST);
  EXPECT_EQ(L4At{ipv4_of(rst)}.seq(), s.seq() + 1000) << "a RST the server accepts: at its acknowledgment";
  EXPECT_EQ(info(kServerIp[0]).checks, 0u);
  inject(kBack, from_server(0, s.sport(), SYN | ACK, 7000, s.seq() + 1));
  ASSERT_FALSE(one_frame(kBack).empty());
  EXPECT_EQ(info(kServerIp[0]).checks, 1u);
  EXPECT_EQ(info(kServerIp[0]).check_failures, 0u);
}

// ----------------------------------------------------------------- icmp

TEST_F(HealthTest, IcmpCheckEchoReplyWithTheProbesIdAndSequenceIsASuccess) {
  start(checked(two_port_config(), {.type = CheckType::icmp, .interval_ms = 2000, .timeout_ms = 1000}));
  tick(now + kFirst);
  const auto echo = one_frame(kBack);
  ASSERT_FALSE(echo.empty());
  SCOPED_TRACE(describe(echo));
  const L4At e{ipv4_of(echo)};
  EXPECT_EQ(eth_dst(echo), kServerMac[0]);
  EXPECT_EQ(src_of(e.ip), kBackIp);
  EXPECT_EQ(dst_of(e.ip), kServerIp[0]);
  EXPECT_EQ(Ipv4At{e.ip}.proto(), 1);
  EXPECT_EQ(e.icmp_type(), 8) << "echo request";
  EXPECT_EQ(e.icmp_code(), 0);
  EXPECT_GE(e.icmp_id(), kProbeIdBase);
  EXPECT_TRUE(ChecksumsMatchRecomputation(e.ip)) << "IP and ICMP checksums";

  auto reply = [&](uint16_t seq) {
    Tins::ICMP icmp(Tins::ICMP::ECHO_REPLY);
    icmp.id(e.icmp_id());
    icmp.sequence(seq);
    auto f = Tins::EthernetII(hw(kBackMac), hw(kServerMac[0])) / ipv4(kBackIp, kServerIp[0]) / icmp /
             Tins::RawPDU("lbd-hlth");
    inject(kBack, f);
  };
  reply(static_cast<uint16_t>(e.icmp_seq() + 1));
  expect_nothing_sent();
  EXPECT_EQ(info(kServerIp[0]).checks, 0u) << "another sequence is not this probe's answer";
  reply(e.icmp_seq());
  expect_nothing_sent();
  const auto i = info(kServerIp[0]);
  EXPECT_EQ(i.check, "icmp");
  EXPECT_EQ(i.checks, 1u);
  EXPECT_EQ(i.check_failures, 0u);
  EXPECT_EQ(i.last_check, "echo reply");
  EXPECT_EQ(engine->stats().icmp_echo_replies.load(), 0u) << "an echo reply is not answered";
}

// ----------------------------------------------------------------- http

struct HttpCase {
  const char* name;
  const char* body;    // configured substring
  uint16_t status;     // configured status
  const char* answer;  // the server's whole answer, one segment
  bool fin;            // with FIN
  bool passes;
  const char* last_check;
};

const HttpCase kHttp[] = {
    {"Status500WithFinFails", "", 200, "HTTP/1.0 500 Internal Server Error\r\n\r\n", true, false, "status 500"},
    {"Status200Passes", "", 200, "HTTP/1.0 200 OK\r\n\r\nok", false, true, "status 200"},
    {"Status200WithoutTheBodyFails", "ready", 200, "HTTP/1.0 200 OK\r\n\r\nstarting", true, false,
     "status 200 without 'ready'"},
    {"Status200WithTheBodyPasses", "ready", 200, "HTTP/1.0 200 OK\r\nContent-Length: 9\r\n\r\nall ready", false, true,
     "status 200"},
    {"TheConfiguredStatusPasses", "", 204, "HTTP/1.1 204 No Content\r\n\r\n", false, true, "status 204"},
    {"AnythingButHttpFails", "", 200, "SSH-2.0-OpenSSH_9.6\r\n", true, false, "not an HTTP answer"},
};

void PrintTo(const HttpCase& c, std::ostream* os) { *os << c.name; }

class HealthHttp : public HealthTest {
 protected:
  lb::HealthConfig http(const char* body = "", uint16_t status = 200) {
    return {.type = CheckType::http, .interval_ms = 2000, .timeout_ms = 1000, .rise = 1, .fall = 1,
            .path = "/health", .status = status, .body = body};
  }
  // Runs the handshake of the probe due at `t`; checks the request and returns it.
  struct Conn {
    uint32_t isn = 0, server_next = 0, our_next = 0;
    uint16_t port = 0;
  };
  Conn handshake(uint64_t t) {
    Conn c;
    const auto syn = tcp_probe_at(t);
    if (syn.empty()) return c;
    const L4At s{ipv4_of(syn)};
    EXPECT_EQ(s.flags(), SYN);
    c.isn = s.seq();
    c.port = s.sport();
    inject(kBack, from_server(0, c.port, SYN | ACK, 7000, c.isn + 1));
    const auto req = one_frame(kBack);
    if (req.empty()) return c;
    SCOPED_TRACE(describe(req));
    const L4At r{ipv4_of(req)};
    EXPECT_EQ(dst_of(r.ip), kServerIp[0]);
    EXPECT_EQ(r.sport(), c.port);
    EXPECT_EQ(r.dport(), 80);
    EXPECT_EQ(r.flags(), ACK | PSH) << "the request rides on the handshake's ACK";
    EXPECT_EQ(r.seq(), c.isn + 1);
    EXPECT_EQ(r.ack(), 7001u);
    EXPECT_TRUE(ChecksumsMatchRecomputation(r.ip));
    const std::string data = r.data();
    EXPECT_EQ(data.rfind("GET /health HTTP/1.0\r\n", 0), 0u) << data;
    EXPECT_NE(data.find("\r\nHost: 192.0.2.11\r\n"), std::string::npos) << data;
    EXPECT_EQ(data.size() >= 4 ? data.substr(data.size() - 4) : data, "\r\n\r\n") << "the request's end: " << data;
    c.server_next = 7001;
    c.our_next = c.isn + 1 + static_cast<uint32_t>(data.size());
    return c;
  }
  // Checks the RST|ACK that ends a judged probe.
  void expect_final_rst(const Conn& c, uint32_t ack) {
    const auto rst = one_frame(kBack);
    ASSERT_FALSE(rst.empty()) << "no RST after the verdict";
    SCOPED_TRACE(describe(rst));
    const L4At r{ipv4_of(rst)};
    EXPECT_EQ(dst_of(r.ip), kServerIp[0]);
    EXPECT_EQ(r.sport(), c.port);
    EXPECT_EQ(r.flags(), RST | ACK);
    EXPECT_EQ(r.seq(), c.our_next) << "after the request";
    EXPECT_EQ(r.ack(), ack) << "after the answer taken in";
    EXPECT_TRUE(ChecksumsMatchRecomputation(r.ip));
  }
};

class HealthHttpTest : public HealthHttp, public ::testing::WithParamInterface<HttpCase> {};

TEST_P(HealthHttpTest, AnswerIsJudgedOnStatusAndBody) {
  const HttpCase& k = GetParam();
  start(checked(two_port_config(), http(k.body, k.status)));
  const Conn c = handshake(now + kFirst);
  ASSERT_NE(c.our_next, 0u);
  EXPECT_EQ(info(kServerIp[0]).checks, 0u) << "connected is not enough for http";
  const std::string answer = k.answer;
  inject(kBack, from_server(0, c.port, ACK | PSH | (k.fin ? FIN : 0), c.server_next, c.our_next, answer));
  expect_final_rst(c, c.server_next + static_cast<uint32_t>(answer.size()) + (k.fin ? 1 : 0));
  const auto i = info(kServerIp[0]);
  EXPECT_EQ(i.check, "http");
  EXPECT_EQ(i.checks, 1u);
  EXPECT_EQ(i.check_failures, k.passes ? 0u : 1u);
  EXPECT_EQ(i.last_check, k.last_check);
  EXPECT_EQ(i.state, k.passes ? "up" : "down") << "fall = 1";
}

INSTANTIATE_TEST_SUITE_P(Health, HealthHttpTest, ::testing::ValuesIn(kHttp),
                         [](const ::testing::TestParamInfo<HttpCase>& i) { return std::string(i.param.name); });

// The headers alone cannot show the body substring: the engine acknowledges and waits.
TEST_F(HealthHttp, AnswerInTwoSegmentsIsAcknowledgedUntilItCanBeJudged) {
  start(checked(two_port_config(), http("ready")));
  const Conn c = handshake(now + kFirst);
  ASSERT_NE(c.our_next, 0u);
  const std::string head = "HTTP/1.0 200 OK\r\n\r\n", body = "ready";
  inject(kBack, from_server(0, c.port, ACK | PSH, c.server_next, c.our_next, head));
  const auto ack = one_frame(kBack);
  ASSERT_FALSE(ack.empty());
  EXPECT_EQ(L4At{ipv4_of(ack)}.flags(), ACK);
  EXPECT_EQ(L4At{ipv4_of(ack)}.ack(), c.server_next + head.size());
  EXPECT_EQ(info(kServerIp[0]).checks, 0u) << "not judged yet";
  inject(kBack, from_server(0, c.port, ACK | PSH | FIN, c.server_next + static_cast<uint32_t>(head.size()),
                            c.our_next, body));
  expect_final_rst(c, c.server_next + static_cast<uint32_t>(head.size() + body.size()) + 1);
  EXPECT_EQ(info(kServerIp[0]).checks, 1u);
  EXPECT_EQ(info(kServerIp[0]).last_check, "status 200");
  EXPECT_EQ(info(kServerIp[0]).state, "up");
}

// A server that accepts and never answers: the probe times out and its connection is reset.
TEST_F(HealthHttp, SilentServerAfterTheHandshakeTimesOutAndIsReset) {
  start(checked(two_port_config(), http()));
  const uint64_t t0 = now + kFirst;
  const Conn c = handshake(t0);
  ASSERT_NE(c.our_next, 0u);
  tick(t0 + 1000);
  const auto rst = one_frame(kBack);
  ASSERT_FALSE(rst.empty()) << "no RST for the timed-out connection";
  SCOPED_TRACE(describe(rst));
  const L4At r{ipv4_of(rst)};
  EXPECT_EQ(dst_of(r.ip), kServerIp[0]);
  EXPECT_EQ(r.sport(), c.port);
  EXPECT_EQ(r.flags(), RST);
  EXPECT_EQ(r.seq(), c.our_next);
  EXPECT_TRUE(ChecksumsMatchRecomputation(r.ip));
  const auto i = info(kServerIp[0]);
  EXPECT_EQ(i.check_failures, 1u);
  EXPECT_NE(i.last_check.find("timeout"), std::string::npos) << i.last_check;
  EXPECT_EQ(i.state, "down") << "fall = 1";
}

TEST_F(HealthHttp, RstFromTheServerAfterTheRequestIsAFailure) {
  start(checked(two_port_config(), http()));
  const Conn c = handshake(now + kFirst);
  ASSERT_NE(c.our_next, 0u);
  inject(kBack, from_server(0, c.port, RST | ACK, c.server_next, c.our_next));
  expect_nothing_sent();
  const auto i = info(kServerIp[0]);
  EXPECT_EQ(i.checks, 1u);
  EXPECT_EQ(i.check_failures, 1u);
  EXPECT_EQ(i.last_check, "reset by the server");
}

// ----------------------------------------------------------------- DSR: the probe goes the way data goes

struct DsrCase {
  const char* name;
  lb::Mode mode;
  const char* next_hop_mac;  // where the probe is sent
  const char* ip_dst;        // its (outer) destination
  uint8_t tos;               // its (outer) TOS
  bool ipip;                 // the probe to the VIP inside IPIP
};

const DsrCase kDsr[] = {
    {"DsrL2ProbeToTheVipIsSwitchedToTheServerMac", lb::Mode::dsr_l2, kL2Mac[0], kVip, 0, false},
    {"DsrL3DscpProbeToTheRipCarriesTheVipsCode", lb::Mode::dsr_l3_dscp, kRouterMac, kRemoteIp[0], kDscp << 2, false},
    {"DsrL3TunnelProbeToTheVipRidesIpipToTheRip", lb::Mode::dsr_l3_tunnel, kRouterMac, kRemoteIp[0], 0, true},
};

void PrintTo(const DsrCase& c, std::ostream* os) { *os << c.name; }

class HealthDsrTest : public HealthTest, public ::testing::WithParamInterface<DsrCase> {
 protected:
  // The TCP segment of a probe frame: checks how it was sent and returns where the
  // (inner) segment's IPv4 header is.
  const uint8_t* expect_sent_like_data(const std::vector<uint8_t>& f) {
    const DsrCase& k = GetParam();
    const uint8_t* ip = ipv4_of(f);
    if (!ip) return nullptr;
    EXPECT_EQ(eth_dst(f), k.next_hop_mac);
    EXPECT_EQ(eth_src(f), kLbMac);
    EXPECT_EQ(src_of(ip), kLbIp);
    EXPECT_EQ(dst_of(ip), k.ip_dst);
    EXPECT_EQ(ip[1], k.tos) << "TOS (DSCP << 2)";
    EXPECT_EQ(stored_ip_check(ip), ref_ip_check(ip)) << "(outer) IP checksum";
    if (k.ipip) {
      EXPECT_EQ(Ipv4At{ip}.proto(), 4) << "IPIP";
      ip = Ipv4At{ip}.l4();
      EXPECT_EQ(src_of(ip), kLbIp) << "inner source";
      EXPECT_EQ(dst_of(ip), kVip) << "inner destination";
    }
    EXPECT_EQ(Ipv4At{ip}.proto(), 6);
    EXPECT_TRUE(ChecksumsMatchRecomputation(ip));
    return ip;
  }
  // A segment from the server's `src` to the port's address, as the segment's MAC sees it.
  std::vector<uint8_t> from(const char* src, uint16_t dport, uint16_t flags, uint32_t seq, uint32_t ack) {
    const char* mac = GetParam().mode == lb::Mode::dsr_l2 ? kL2Mac[0] : kRouterMac;
    auto f = Tins::EthernetII(hw(kLbMac), hw(mac)) / ipv4(kLbIp, src) / tcp_seg(dport, 80, flags, seq, ack);
    return with_vnet(f);
  }
};

TEST_P(HealthDsrTest, ProbeIsSentLikeDataAndTheAnswerFromTheVipCounts) {
  const DsrCase& k = GetParam();
  start(checked(one_arm_config(k.mode), kTcp));
  const std::string rip = backend_ip(k.mode, 0);
  tick(now + kFirst);
  const auto syn = one_frame(kFront);
  ASSERT_FALSE(syn.empty());
  uint32_t isn;
  uint16_t id;
  {
    SCOPED_TRACE(describe(syn));
    const uint8_t* ip = expect_sent_like_data(syn);
    ASSERT_NE(ip, nullptr);
    const L4At s{ip};
    EXPECT_EQ(s.flags(), SYN);
    EXPECT_GE(s.sport(), kProbeIdBase);
    EXPECT_EQ(s.dport(), 80);
    isn = s.seq();
    id = s.sport();
  }
  inject(kFront, from(rip.c_str(), id, SYN | ACK, 7000, isn + 1));
  expect_nothing_sent();
  EXPECT_EQ(info(rip).checks, 0u) << "a DSR server answers from the VIP, or does not serve it";

  inject(kFront, from(kVip, id, SYN | ACK, 7000, isn + 1));
  const auto rst = one_frame(kFront);
  ASSERT_FALSE(rst.empty());
  SCOPED_TRACE(describe(rst));
  const uint8_t* ip = expect_sent_like_data(rst);
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(L4At{ip}.flags(), RST);
  EXPECT_EQ(L4At{ip}.seq(), isn + 1);
  const auto i = info(rip);
  EXPECT_EQ(i.checks, 1u);
  EXPECT_EQ(i.check_failures, 0u);
  EXPECT_EQ(i.last_check, "connected");
}

INSTANTIATE_TEST_SUITE_P(Health, HealthDsrTest, ::testing::ValuesIn(kDsr),
                         [](const ::testing::TestParamInfo<DsrCase>& i) { return std::string(i.param.name); });

// ----------------------------------------------------------------- backends down: what clients get

class HealthDownTest : public HealthTest {
 protected:
  // Every backend of both VIPs checked (fall 1) and timed out.
  void all_down(lb::AllDown when) {
    lb::Config c = checked(two_port_config(), kTcpFall1, 3, "");
    for (auto& v : c.vips) v.when_all_down = when;
    start(c);
    tick(now + kFirst);
    ASSERT_EQ(ip_frames(kBack).size(), 6u) << "one probe per backend of each VIP";
    tick(now + 1000);
    for (const char* vip : {"web", "echo"})
      for (int b = 0; b < 3; ++b) ASSERT_EQ(info(kServerIp[b], vip).state, "down") << vip << " " << kServerIp[b];
  }
  // An ICMP destination unreachable from the VIP to the client quoting `in`.
  void expect_unreachable(const std::vector<uint8_t>& in, uint8_t code) {
    const auto out = one_frame(kFront);
    ASSERT_FALSE(out.empty());
    SCOPED_TRACE(describe(out));
    const uint8_t* ip = ipv4_of(out);
    EXPECT_EQ(eth_dst(out), kRouterMac);
    EXPECT_EQ(src_of(ip), kVip);
    EXPECT_EQ(dst_of(ip), kClient1);
    ASSERT_EQ(Ipv4At{ip}.proto(), 1);
    const IcmpErrorAt e{ip};
    EXPECT_EQ(e.type(), 3);
    EXPECT_EQ(e.code(), code);
    EXPECT_TRUE(ChecksumsMatchRecomputation(ip));
    const uint8_t* in_ip = in.data() + kVnetLen + kEthLen;
    const std::vector<uint8_t> want(in_ip, in_ip + Ipv4At{in_ip}.tot_len());
    ASSERT_EQ(e.quote_len(), want.size()) << "the whole packet (it fits in 576 bytes)";
    EXPECT_EQ(std::vector<uint8_t>(e.quote(), e.quote() + e.quote_len()), want) << "the quoted packet";
  }
};

TEST_F(HealthDownTest, ClientSynGetsARstFromTheVipWhenEveryBackendIsDown) {
  all_down(lb::AllDown::reset);
  inject(kFront, client_syn(40001));
  const auto out = one_frame(kFront);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  const L4At r{ipv4_of(out)};
  EXPECT_EQ(eth_dst(out), kRouterMac);
  EXPECT_EQ(src_of(r.ip), kVip);
  EXPECT_EQ(dst_of(r.ip), kClient1);
  EXPECT_EQ(r.sport(), 80);
  EXPECT_EQ(r.dport(), 40001);
  EXPECT_EQ(r.flags(), RST | ACK);
  EXPECT_EQ(r.seq(), 0u);
  EXPECT_EQ(r.ack(), 1001u) << "the client's SYN (seq 1000) acknowledged";
  EXPECT_TRUE(ChecksumsMatchRecomputation(r.ip));
  EXPECT_EQ(engine->stats().resets_sent.load(), 1u);
  EXPECT_EQ(engine->stats().unreachables_sent.load(), 0u);
  EXPECT_EQ(drops(Drop::no_backend), 1u);
  EXPECT_TRUE(engine->flows().empty());
}

TEST_F(HealthDownTest, UdpDatagramGetsPortUnreachableWhenEveryBackendIsDown) {
  all_down(lb::AllDown::reset);
  const auto in = client_udp(5353, "ping");
  inject(kFront, in);
  expect_unreachable(in, 3);
  EXPECT_EQ(engine->stats().unreachables_sent.load(), 1u);
  EXPECT_EQ(engine->stats().resets_sent.load(), 0u);
  EXPECT_EQ(drops(Drop::no_backend), 1u);
}

TEST_F(HealthDownTest, WithIcmpTheSynGetsHostUnreachable) {
  all_down(lb::AllDown::icmp);
  const auto in = client_syn(40001);
  inject(kFront, in);
  expect_unreachable(in, 1);
  EXPECT_EQ(engine->stats().unreachables_sent.load(), 1u);
  EXPECT_EQ(engine->stats().resets_sent.load(), 0u);
  EXPECT_EQ(drops(Drop::no_backend), 1u);
}

TEST_F(HealthDownTest, OneBackendUpStillServesAndNothingIsAnswered) {
  start(checked(two_port_config(), kTcpFall1, 2));
  tick(now + kFirst);
  tick(now + 1000);
  ip_frames(kBack);
  for (uint16_t p = 40001; p <= 40003; ++p) EXPECT_EQ(syn_goes_to(p), 2) << "port " << p;
  EXPECT_EQ(engine->stats().resets_sent.load(), 0u);
  EXPECT_EQ(drops(Drop::no_backend), 0u);
}

// A live flow whose server went down: kept by default, reset with on_backend_down = "reset".
TEST_F(HealthDownTest, LiveFlowOfADownBackendIsResetWithOnBackendDownReset) {
  lb::Config c = checked(two_port_config(), kTcpFall1);
  c.vips[0].on_backend_down = lb::OnDown::reset;
  start(c);
  ASSERT_EQ(syn_goes_to(40001), 0);
  ASSERT_EQ(engine->flows().size(), 1u);
  tick(now + kFirst);
  tick(now + 1000);
  ip_frames(kBack);
  ASSERT_EQ(info(kServerIp[0]).state, "down");

  inject(kFront, client_segment(40001, ACK, 1001, 5001));
  const auto out = one_frame(kFront);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  const L4At r{ipv4_of(out)};
  EXPECT_EQ(src_of(r.ip), kVip);
  EXPECT_EQ(dst_of(r.ip), kClient1);
  EXPECT_EQ(r.sport(), 80);
  EXPECT_EQ(r.dport(), 40001);
  EXPECT_EQ(r.flags(), RST);
  EXPECT_EQ(r.seq(), 5001u) << "the client's acknowledgment number";
  EXPECT_TRUE(ChecksumsMatchRecomputation(r.ip));
  EXPECT_TRUE(engine->flows().empty()) << "the flow ends";
  EXPECT_EQ(drops(Drop::backend_down), 1u);
  EXPECT_EQ(engine->stats().resets_sent.load(), 1u);
}

TEST_F(HealthDownTest, LiveUdpFlowOfADownBackendGetsPortUnreachableWithOnBackendDownReset) {
  lb::Config c = checked(two_port_config(), kTcpFall1, 1, "echo");
  c.vips[1].on_backend_down = lb::OnDown::reset;
  start(c);
  inject(kFront, client_udp(5353, "one"));
  auto first = one_frame(kBack);
  ASSERT_FALSE(first.empty());
  ASSERT_EQ(eth_dst(first), kServerMac[0]);
  tick(now + kFirst);
  tick(now + 1000);
  ip_frames(kBack);
  ASSERT_EQ(info(kServerIp[0], "echo").state, "down");
  const auto in = client_udp(5353, "two");
  inject(kFront, in);
  expect_unreachable(in, 3);
  EXPECT_TRUE(engine->flows().empty());
  EXPECT_EQ(drops(Drop::backend_down), 1u);
}

TEST_F(HealthDownTest, LiveFlowOfADownBackendIsStillForwardedByDefault) {
  start(checked(two_port_config(), kTcpFall1));
  ASSERT_EQ(cfg.vips[0].on_backend_down, lb::OnDown::keep);
  ASSERT_EQ(syn_goes_to(40001), 0);
  tick(now + kFirst);
  tick(now + 1000);
  ip_frames(kBack);
  ASSERT_EQ(info(kServerIp[0]).state, "down");

  inject(kFront, client_segment(40001, ACK, 1001, 5001));
  const auto out = one_frame(kBack);
  ASSERT_FALSE(out.empty());
  SCOPED_TRACE(describe(out));
  EXPECT_EQ(eth_dst(out), kServerMac[0]);
  EXPECT_EQ(dst_of(ipv4_of(out)), kServerIp[0]);
  EXPECT_EQ(L4At{ipv4_of(out)}.flags(), ACK);
  EXPECT_EQ(engine->flows().size(), 1u);
  EXPECT_EQ(drops(Drop::backend_down), 0u);
  EXPECT_EQ(engine->stats().resets_sent.load(), 0u);
}

}  // namespace

// ----------------------------------------------------------------- regressions

namespace {

// A PIP may be the port's own address: the probe answers (to that address, on a probe
// port) still reach the checker, and proxy flows never take a probe port.
TEST_F(HealthTest, ProxyWhosePipIsThePortAddressStillGetsItsProbeAnswers) {
  lb::Config c = checked(one_arm_config(lb::Mode::proxy), kTcp);
  for (auto& v : c.vips) v.proxy_ip = *lb::IpAddr::parse(kLbIp);
  start(c);
  tick(now + kFirst);
  const auto syn = one_frame(kFront);
  ASSERT_FALSE(syn.empty());
  const L4At s{ipv4_of(syn)};
  auto ans = Tins::EthernetII(hw(kLbMac), hw(kRouterMac)) / ipv4(kLbIp, kRemoteIp[0]) /
             tcp_seg(s.sport(), 80, SYN | ACK, 7000, s.seq() + 1);
  inject(kFront, with_vnet(ans));
  EXPECT_EQ(info(kRemoteIp[0]).checks, 1u);
  EXPECT_EQ(info(kRemoteIp[0]).last_check, "connected");
  ip_frames(kFront);
  for (uint16_t p = 40001; p < 40031; ++p) {
    inject(kFront, client_syn(p));
    for (auto& f : ip_frames(kFront)) EXPECT_LT(L4At{ipv4_of(f)}.sport(), kProbeIdBase) << "port " << p;
  }
}

// A SYN again from a client whose first SYN went to a server that then went down (a
// retransmission, or the same port reused) is scheduled afresh to a live server.
TEST_F(HealthTest, SynOfAFlowWhoseServerWentDownIsScheduledAgain) {
  start(checked(two_port_config(), kTcpFall1));
  ASSERT_EQ(syn_goes_to(40100), 0) << "round robin starts with server 0";
  const uint64_t t0 = now + kFirst;
  ASSERT_FALSE(tcp_probe_at(t0).empty());
  tick(t0 + kTcpFall1.timeout_ms);
  ASSERT_EQ(info(kServerIp[0]).state, "down");
  const int again = syn_goes_to(40100);
  EXPECT_GE(again, 1) << "the same SYN again must not go to the down server";
  EXPECT_EQ(engine->flows().size(), 1u) << "the old flow was replaced, not duplicated";
}

// A backend taken out while down and added back starts up and is checked afresh.
TEST_F(HealthTest, BackendAddedBackAfterARemoveStartsUpWithTheVipsCheck) {
  lb::Config c = checked(two_port_config(), kTcpFall1);
  start(c);
  const uint64_t t0 = now + kFirst;
  ASSERT_FALSE(tcp_probe_at(t0).empty());
  tick(t0 + kTcpFall1.timeout_ms);
  ASSERT_EQ(info(kServerIp[0]).state, "down");
  const auto addr = *lb::IpAddr::parse(kServerIp[0]);
  EXPECT_EQ(engine->remove_backend("web", addr, 80), "");
  EXPECT_EQ(engine->add_backend("web", lb::BackendConfig{.address = addr, .port = 80}), "");
  const auto i = info(kServerIp[0]);
  EXPECT_EQ(i.state, "up");
  EXPECT_EQ(i.check, "none") << "the VIP's check (none here), not the removed backend's own";
}

}  // namespace
