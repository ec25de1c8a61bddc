// The check engine against small pcaps written in a temp dir: the inline table passes
// on a correct flow and fails, field by field, on deliberately broken ones.
#include "frames.hpp"
#include "lablib/checks.hpp"
#include "lablib/modes.hpp"
#include "lablib/scenario.hpp"
#include "lablib/topology.hpp"
#include "lablib/util.hpp"
#include "sample_topology.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace lab;
using labtest::Bytes;
using labtest::FrameSpec;

namespace {

constexpr const char* CIP = "198.51.100.11";
constexpr const char* VIP = "203.0.113.10";
constexpr const char* RIP = "192.0.2.12";  // server2
constexpr const char* CLIENT_MAC = "02:00:00:64:00:0b";
constexpr const char* ROUTER0_MAC = "02:00:00:64:00:01";
constexpr const char* ROUTER1_MAC = "02:00:00:71:00:01";
constexpr const char* FRONT_MAC = "02:00:00:71:00:02";
constexpr const char* BACK_MAC = "02:00:00:02:00:01";
constexpr const char* SERVER2_MAC = "02:00:00:02:00:0c";

FrameSpec tcp(const char* smac, const char* dmac, const char* sip, uint16_t sport, const char* dip,
              uint16_t dport, uint8_t ttl, uint16_t flags) {
    FrameSpec f;
    f.src_mac = smac;
    f.dst_mac = dmac;
    f.src_ip = sip;
    f.src_port = sport;
    f.dst_ip = dip;
    f.dst_port = dport;
    f.ttl = ttl;
    f.tcp_flags = flags;
    return f;
}

// One HTTP flow CIP:40000 → VIP:80 through an inline LB to server2, as every capture
// point should see its first two packets (SYN and SYN-ACK).
struct Scene {
    std::map<std::string, std::vector<FrameSpec>> frames;
    Scene() {
        using Tins::TCP;
        const uint16_t SA = TCP::SYN | TCP::ACK;
        auto syn_c = tcp(CLIENT_MAC, ROUTER0_MAC, CIP, 40000, VIP, 80, 64, TCP::SYN);
        auto sa_c = tcp(ROUTER0_MAC, CLIENT_MAC, VIP, 80, CIP, 40000, 62, SA);
        auto syn_f = tcp(ROUTER1_MAC, FRONT_MAC, CIP, 40000, VIP, 80, 63, TCP::SYN);
        auto sa_f = tcp(FRONT_MAC, ROUTER1_MAC, VIP, 80, CIP, 40000, 63, SA);
        auto syn_b = tcp(BACK_MAC, SERVER2_MAC, CIP, 40000, RIP, 80, 62, TCP::SYN);
        auto sa_b = tcp(SERVER2_MAC, BACK_MAC, RIP, 80, CIP, 40000, 64, SA);
        frames["client1.eth0"] = {syn_c, sa_c};
        frames["client2.eth0"] = {};
        frames["router.eth0"] = {syn_c, sa_c};
        frames["router.eth1"] = {syn_f, sa_f};
        frames["lb-a.front"] = {syn_f, sa_f};
        frames["lb-a.back"] = {syn_b, sa_b};
        frames["server1.eth0"] = {};
        frames["server2.eth0"] = {syn_b, sa_b};
        frames["server3.eth0"] = {};
    }
};

class InlineChecks : public ::testing::Test {
protected:
    labtest::TempDir dir;
    Topology topo = Topology::parse(labtest::sample_topology(), "sample");
    Scene scene;
    // Edits applied to the serialized bytes of one frame: point → (index, edit).
    std::vector<std::tuple<std::string, size_t, std::function<void(Bytes&)>>> edits;
    std::vector<std::string> missing;  // points whose pcap is not written
    ScenarioOutcome outcome;

    void SetUp() override {
        outcome.ok = true;
        outcome.values = {{"server", "server2"}, {"cport", "40000"}, {"seen_ip", CIP}, {"seen_port", "40000"}};
    }

    CaptureSet captures() {
        std::vector<std::string> ids;
        for (auto& [pt, specs] : scene.frames) {
            ids.push_back(pt);
            if (std::find(missing.begin(), missing.end(), pt) != missing.end()) continue;
            std::vector<Bytes> bytes;
            for (auto& s : specs) bytes.push_back(labtest::build(s));
            for (auto& [ept, idx, fn] : edits)
                if (ept == pt) fn(bytes.at(idx));
            labtest::write_pcap(dir.path / (pt + ".pcap"), bytes);
        }
        return CaptureSet::load(dir.path.string(), ids);
    }

    Vars vars() { return scenario_vars(topo, topo.require_node("client1"), outcome); }

    // Every http check of the inline table, evaluated.
    std::map<std::string, CheckResult> evaluate_http() {
        auto caps = captures();
        auto v = vars();
        std::map<std::string, CheckResult> out;
        for (const auto& c : inline_mode().checks())
            if (c.scenario == "http") out[c.name] = evaluate(c, caps, v);
        return out;
    }

    static const FieldResult* field(const CheckResult& r, const std::string& name) {
        for (const auto& f : r.fields)
            if (f.name == name) return &f;
        return nullptr;
    }
};

}  // namespace

TEST_F(InlineChecks, CorrectFlowPassesEveryHttpCheck) {
    auto results = evaluate_http();
    ASSERT_GE(results.size(), 9u);
    for (const auto& [name, r] : results) EXPECT_TRUE(r.passed) << r.report();
    const auto& hop2 = results.at("InlineHttp_Hop2_LbToServer_DnatOnly");
    EXPECT_EQ(hop2.packet_point, "server2.eth0");
    ASSERT_TRUE(hop2.packet.has_value());
    EXPECT_EQ(hop2.packet->dst_ip, RIP);
}

TEST_F(InlineChecks, WrongDestinationMacAtHop1FailsOnThatFieldOnly) {
    scene.frames["lb-a.front"][0].dst_mac = "02:00:00:71:00:03";
    auto r = evaluate_http().at("InlineHttp_Hop1_ClientToLb_RoutedToVip");
    EXPECT_FALSE(r.passed);
    for (const auto& f : r.fields) EXPECT_EQ(f.ok, f.name != "dst_mac") << f.name;
    auto* f = field(r, "dst_mac");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->expected, FRONT_MAC);
    EXPECT_EQ(f->actual, "02:00:00:71:00:03");
    EXPECT_NE(r.report().find("dst_mac: expected 02:00:00:71:00:02, actual 02:00:00:71:00:03"),
              std::string::npos)
        << r.report();
}

TEST_F(InlineChecks, BadTcpChecksumAtTheServerFailsHop2AndTheFlowChecksumCheck) {
    edits.emplace_back("server2.eth0", 0, [](Bytes& b) { b[labtest::kL4 + 16] ^= 0x5a; });
    auto results = evaluate_http();
    auto hop2 = results.at("InlineHttp_Hop2_LbToServer_DnatOnly");
    EXPECT_FALSE(hop2.passed);
    auto* f = field(hop2, "checksums");
    ASSERT_NE(f, nullptr);
    EXPECT_FALSE(f->ok);
    EXPECT_NE(f->actual.find("tcp BAD"), std::string::npos) << f->actual;
    auto all = results.at("InlineHttp_ChecksumsValidAtEveryPoint");
    EXPECT_FALSE(all.passed);
    auto* g = field(all, "bad checksums at server2.eth0");
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->actual, "1 of 2");
    EXPECT_EQ(all.packet_point, "server2.eth0");
    // The same packet in lb-a.back's capture was fine.
    EXPECT_TRUE(field(all, "bad checksums at lb-a.back")->ok);
}

TEST_F(InlineChecks, WrongTtlAtHop4FailsWithExpectedAndActual) {
    scene.frames["client1.eth0"][1].ttl = 63;
    auto r = evaluate_http().at("InlineHttp_Hop4_LbToClient_SourceIsVip");
    EXPECT_FALSE(r.passed);
    auto* f = field(r, "ttl");
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->expected, "62");
    EXPECT_EQ(f->actual, "63");
}

TEST_F(InlineChecks, ReplyNotRewrittenToTheVipFailsHop4) {
    scene.frames["client1.eth0"][1].src_ip = RIP;
    auto r = evaluate_http().at("InlineHttp_Hop4_LbToClient_SourceIsVip");
    EXPECT_FALSE(r.passed);
    EXPECT_EQ(field(r, "src_ip")->actual, RIP);
    EXPECT_EQ(field(r, "src_ip")->expected, VIP);
}

TEST_F(InlineChecks, SnatAtTheLbLeavesHop2WithoutItsPacket) {
    // A proxy-style LB would replace the client's address: the flow never arrives.
    scene.frames["server2.eth0"][0].src_ip = "192.0.2.1";
    auto r = evaluate_http().at("InlineHttp_Hop2_LbToServer_DnatOnly");
    EXPECT_FALSE(r.passed);
    EXPECT_NE(r.error.find("no packet matching tcp 198.51.100.11:40000"), std::string::npos) << r.error;
}

TEST_F(InlineChecks, PacketToTheVipAtAServerIsCaught) {
    scene.frames["server1.eth0"].push_back(
        tcp(BACK_MAC, "02:00:00:02:00:0b", CIP, 40001, VIP, 80, 62, Tins::TCP::SYN));
    auto r = evaluate_http().at("InlineHttp_NoPacketToTheVipAtAnyServer");
    EXPECT_FALSE(r.passed);
    EXPECT_EQ(field(r, "packets matching at server1.eth0")->actual, "1");
    EXPECT_TRUE(field(r, "packets matching at server2.eth0")->ok);
    EXPECT_EQ(r.packet_point, "server1.eth0");
}

TEST_F(InlineChecks, BackAddressOnTheClientSideIsCaught) {
    scene.frames["client1.eth0"][1].src_ip = RIP;
    auto r = evaluate_http().at("InlineHttp_BackAddressesStayBehindTheLb");
    EXPECT_FALSE(r.passed);
    EXPECT_EQ(field(r, "packets matching at client1.eth0")->actual, "1");
}

TEST_F(InlineChecks, MissingCaptureFailsAnAbsenceInsteadOfPassingIt) {
    missing.push_back("server3.eth0");
    auto r = evaluate_http().at("InlineHttp_NoPacketToTheVipAtAnyServer");
    EXPECT_FALSE(r.passed);
    EXPECT_NE(field(r, "packets matching at server3.eth0")->actual.find("unknown"), std::string::npos);
}

TEST_F(InlineChecks, ServerThatSawAnotherAddressFailsTheOutcomeCheck) {
    outcome.values["seen_ip"] = "192.0.2.1";
    auto r = evaluate_http().at("InlineHttp_ServerSeesClientIp");
    EXPECT_FALSE(r.passed);
    EXPECT_EQ(field(r, "seen_ip")->expected, CIP);
    EXPECT_EQ(field(r, "seen_ip")->actual, "192.0.2.1");
}

TEST_F(InlineChecks, UnknownServerIsAnErrorNotAPass) {
    outcome.values.erase("server");
    auto r = evaluate_http().at("InlineHttp_Hop2_LbToServer_DnatOnly");
    EXPECT_FALSE(r.passed);
    EXPECT_NE(r.error.find("unknown value {server}"), std::string::npos) << r.error;
}

TEST_F(InlineChecks, ServerIsFoundFromTheCapturesWhenTheAnswerDoesNotNameIt) {
    outcome.values.erase("server");
    auto caps = captures();
    EXPECT_EQ(server_from_captures(topo, caps, vars()), "server2");
}

TEST(CheckEngine, PatternsAndTemplates) {
    EXPECT_TRUE(glob_match("server*.eth0", "server12.eth0"));
    EXPECT_FALSE(glob_match("server*.eth0", "server1.eth1"));
    EXPECT_TRUE(glob_match("*", "lb-a.front"));
    EXPECT_TRUE(glob_match("lb-?.front", "lb-a.front"));
    Vars v{{"a", "1"}, {"b.c", "x"}};
    EXPECT_EQ(expand("{a}-{b.c}", v), "1-x");
    EXPECT_THROW(expand("{nope}", v), Error);
}

TEST(CheckEngine, MatchHonoursPrefixesPortsAndDirection) {
    Packet p;
    p.is_ipv4 = true;
    p.protocol = 6;
    p.has_ports = true;
    p.src_ip = "192.0.2.12";
    p.dst_ip = "198.51.100.11";
    p.src_port = 80;
    p.dst_port = 40000;
    EXPECT_TRUE((Match{.src_ip = "192.0.2.0/24"}.matches(p)));
    EXPECT_FALSE((Match{.src_ip = "192.0.3.0/24"}.matches(p)));
    EXPECT_FALSE((Match{.proto = "udp"}.matches(p)));
    Match flow{.proto = "tcp", .src_ip = "198.51.100.11", .src_port = "40000", .dst_port = "80"};
    EXPECT_FALSE(flow.matches(p));
    flow.either_direction = true;
    EXPECT_TRUE(flow.matches(p));
}

TEST(CheckEngine, AChecksumCheckWithNoPacketFails) {
    CaptureSet caps;
    caps.files["a.eth0"] = "a.eth0.pcap";
    caps.packets["a.eth0"] = {};
    CheckCase c{.name = "X", .description = "d", .scenario = "s", .kind = CheckKind::Checksums,
                .points = "*", .match = Match{.proto = "tcp"}};
    auto r = evaluate(c, caps, {});
    EXPECT_FALSE(r.passed);
    CheckCase none{.name = "Y", .description = "d", .scenario = "s", .kind = CheckKind::Absent,
                   .points = "nowhere.eth0", .match = Match{}};
    auto r2 = evaluate(none, caps, {});
    EXPECT_FALSE(r2.passed);
    EXPECT_NE(r2.error.find("no capture point"), std::string::npos);
}

TEST(CheckTable, NamesAreUniqueAndUsableAsTestNames) {
    std::set<std::string> seen;
    for (const auto& c : inline_mode().checks()) {
        EXPECT_TRUE(seen.insert(c.name).second) << "duplicate " << c.name;
        for (char ch : c.name) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_') << c.name;
        EXPECT_FALSE(c.description.empty()) << c.name;
        if (c.kind == CheckKind::Packet) {
            EXPECT_FALSE(c.hop.empty()) << c.name;
            EXPECT_FALSE(c.expect.empty()) << c.name;
        }
    }
}
