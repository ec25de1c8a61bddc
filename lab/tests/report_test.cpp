// The report writers on a synthetic run: failures carry expected vs actual, the HTML is
// escaped and self-contained, the JUnit XML counts right.
#include "lablib/report.hpp"
#include "lablib/topology.hpp"
#include "sample_topology.hpp"

#include <gtest/gtest.h>

using namespace lab;

namespace {

RunResults sample_results() {
    RunResults r;
    r.started_at = "2024-01-01T00:00:00Z";
    ModeRun m;
    m.mode = "inline";
    m.title = "inline (two-arm)";
    m.lab = "t";
    m.topo = Topology::parse(labtest::sample_topology(), "sample");
    ScenarioRun s;
    s.name = "http";
    s.title = "HTTP <GET>";
    s.outcome.ok = true;
    s.pcaps = {{"client1.eth0", "inline/http/client1.eth0.pcap"}};
    m.scenarios.push_back(s);
    CheckResult ok;
    ok.name = "InlineHttp_Pass";
    ok.description = "passes";
    ok.scenario = "http";
    ok.passed = true;
    CheckResult bad;
    bad.name = "InlineHttp_Hop1_Fail";
    bad.description = "fails <on purpose>";
    bad.scenario = "http";
    bad.hop = "1 client→lb";
    bad.kind = CheckKind::Packet;
    bad.fields = {{"ttl", "63", "64", false}, {"dst_ip", "203.0.113.10", "203.0.113.10", true}};
    m.checks = {ok, bad};
    m.facts = {Fact{"server sees the client IP", "http", "yes", {{"sees_client_ip", 1}}}};
    r.modes.push_back(m);
    return r;
}

}  // namespace

TEST(Report, JsonCarriesChecksFieldsAndFacts) {
    auto j = results_json(sample_results());
    EXPECT_FALSE(j["passed"].get<bool>());
    EXPECT_EQ(j["checks"].get<int>(), 2);
    EXPECT_EQ(j["failed"].get<int>(), 1);
    const auto& m = j["modes"][0];
    EXPECT_EQ(m["checks"][1]["fields"][0]["expected"], "63");
    EXPECT_EQ(m["checks"][1]["fields"][0]["actual"], "64");
    EXPECT_EQ(m["facts"][0]["numbers"]["sees_client_ip"], 1);
    EXPECT_EQ(m["scenarios"][0]["pcaps"]["client1.eth0"], "inline/http/client1.eth0.pcap");
    EXPECT_EQ(m["topology"]["nodes"].size(), 8u);
}

TEST(Report, JunitCountsFailuresAndExplainsThem) {
    auto x = junit_xml(sample_results());
    EXPECT_NE(x.find("tests=\"2\" failures=\"1\""), std::string::npos) << x;
    EXPECT_NE(x.find("name=\"InlineHttp_Hop1_Fail\"><failure message=\"ttl: expected 63, actual 64\""),
              std::string::npos)
        << x;
    EXPECT_EQ(x.find("<on purpose>"), std::string::npos) << "unescaped";
}

TEST(Report, HtmlIsSelfContainedAndEscaped) {
    auto h = html_report(sample_results());
    EXPECT_NE(h.find("<svg"), std::string::npos);
    EXPECT_NE(h.find("HTTP &lt;GET&gt;"), std::string::npos);
    EXPECT_NE(h.find("href=\"inline/http/client1.eth0.pcap\""), std::string::npos);
    EXPECT_NE(h.find("InlineHttp_Hop1_Fail"), std::string::npos);
    EXPECT_EQ(h.find("<script src"), std::string::npos);
    EXPECT_EQ(h.find("<link "), std::string::npos);
    EXPECT_EQ(h.find("http://"), std::string::npos);  // no external asset
}
