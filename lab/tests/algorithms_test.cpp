// The algorithms suite's pieces without a lab: reading lbctl backends --json and
// lab_client's counts, the bar chart, and the suite in results.json, junit.xml and the
// HTML pages.
#include "lablib/algorithms.hpp"
#include "lablib/report.hpp"
#include "lablib/util.hpp"

#include <gtest/gtest.h>

using namespace lab;

namespace {

// As lbd answers `backends json` (lb_engine/src/control/admin.cpp).
const char* kLbdBackends = R"({"vips":[{"name":"web","algorithm":"rtt","min_active":1},{"name":"echo","algorithm":"rr","min_active":1}],
"backends":[
{"vip":"web","backend":"192.0.2.11:80","address":"192.0.2.11","port":80,"weight":3,"group":1,"state":"up","established":10,"other":2,"flows_total":412,"rtt_ms":51.204,"connect_ms":0.101,"response_ms":51.103,"rtt_samples":40},
{"vip":"web","backend":"192.0.2.12:80","address":"192.0.2.12","port":80,"weight":0,"group":2,"state":"draining","established":0,"other":0,"flows_total":0,"rtt_ms":null,"connect_ms":null,"response_ms":null,"rtt_samples":0},
{"vip":"echo","backend":"192.0.2.11:80","address":"192.0.2.11","port":80,"weight":1,"group":1,"state":"removed","established":0,"other":0,"flows_total":0,"rtt_ms":null,"connect_ms":null,"response_ms":null,"rtt_samples":0}
]})";

Distribution sample_distribution() {
    Distribution d;
    d.label = "300 new connections <all>";
    d.command = "lab exec client1 -- lab_client http-many http://203.0.113.10/ --count 300";
    d.bars = {{"server1", 100, 100, 100}, {"server2", 120, 100, 100}, {"server3", 80}};
    return d;
}

AlgoRun sample_run() {
    AlgoRun a;
    a.lab = "a1";
    a.vip_name = "web";
    AlgoCase ok;
    ok.name = "rr";
    ok.title = "round robin";
    ok.expectation = "100/100/100";
    ok.commands = {"lab ctl -- algo rr --vip web"};
    ok.checks = {{"300 new connections", "server1 100, failures 0", "server1 100, failures 0", true}};
    ok.measured = {sample_distribution()};
    ok.snapshots = {{"at the end", parse_backends_json(nlohmann::json::parse(kLbdBackends))}};
    AlgoCase bad = ok;
    bad.name = "wrr";
    bad.checks = {{"500 new connections", "server1 300, failures 0", "server1 200, failures 0", false}};
    a.cases = {ok, bad};
    return a;
}

}  // namespace

TEST(Algorithms, ReadsLbdBackendsJsonPerVipAndBackend) {
    auto bs = parse_backends_json(nlohmann::json::parse(kLbdBackends));
    ASSERT_EQ(bs.size(), 3u);
    EXPECT_EQ(bs[0].vip, "web");
    EXPECT_EQ(bs[0].address, "192.0.2.11:80");
    EXPECT_EQ(bs[0].weight, 3);
    EXPECT_EQ(bs[0].established, 10);
    EXPECT_EQ(bs[0].other, 2);
    EXPECT_EQ(bs[0].flows_total, 412);
    EXPECT_DOUBLE_EQ(bs[0].rtt_ms, 51.204);
    EXPECT_DOUBLE_EQ(bs[0].response_ms, 51.103);
    EXPECT_EQ(bs[1].state, "draining");
    EXPECT_EQ(bs[1].group, 2);
    EXPECT_LT(bs[1].rtt_ms, 0) << "null: not measured";
    EXPECT_EQ(bs[2].vip, "echo");
    EXPECT_EQ(bs[2].state, "removed");
}

TEST(Algorithms, ReadsBackendsNestedInTheirVips) {
    auto bs = parse_backends_json(nlohmann::json::parse(
        R"({"vips":[{"name":"web","backends":[{"address":"192.0.2.13","port":8080,"weight":1}]}]})"));
    ASSERT_EQ(bs.size(), 1u);
    EXPECT_EQ(bs[0].vip, "web");
    EXPECT_EQ(bs[0].address, "192.0.2.13:8080");
    EXPECT_EQ(bs[0].established, -1) << "not reported";
    EXPECT_THROW(parse_backends_json(nlohmann::json::parse(R"({"vips":[]})")), Error);
    EXPECT_THROW(parse_backends_json(nlohmann::json::parse("42")), Error);
}

TEST(Algorithms, ReadsLabClientCounts) {
    std::map<std::string, int> counts;
    int failures = -1;
    EXPECT_TRUE(parse_counts("connection 1 server1 198.51.100.11:4000\nserver1 7\nserver3 2\nfailures 1\nholding 9\n",
                             counts, failures));
    EXPECT_EQ(counts, (std::map<std::string, int>{{"server1", 7}, {"server3", 2}})) << "the summary ends at failures";
    EXPECT_EQ(failures, 1);
    counts.clear();
    EXPECT_FALSE(parse_counts("server1 7\n", counts, failures)) << "no failures line: not lab_client's summary";
}

TEST(Algorithms, BarsKnowTheirExpectation) {
    auto d = sample_distribution();
    EXPECT_EQ(d.total(), 300);
    EXPECT_EQ(d.count("server2"), 120);
    EXPECT_TRUE(d.bars[0].within());
    EXPECT_FALSE(d.bars[1].within());
    EXPECT_FALSE(d.bars[2].expected());
    EXPECT_TRUE(d.bars[2].within());
    EXPECT_TRUE((Bar{"s", 5, 0, -1}.within()));
    EXPECT_FALSE((Bar{"s", 5, 6, -1}.within()));
}

TEST(Algorithms, ChartDrawsEveryBarWithItsCountAndVerdict) {
    auto svg = distribution_svg(sample_distribution());
    EXPECT_EQ(svg.rfind("<svg", 0), 0u);
    EXPECT_NE(svg.find(">server1</text>"), std::string::npos);
    EXPECT_NE(svg.find(">120</text>"), std::string::npos);
    EXPECT_NE(svg.find("#3f8f3f"), std::string::npos) << "a bar within its expectation is green";
    EXPECT_NE(svg.find("#c93c3c"), std::string::npos) << "a bar outside it is red";
    EXPECT_NE(svg.find("&lt;all&gt;"), std::string::npos) << "labels are escaped";
    EXPECT_EQ(svg.find("<all>"), std::string::npos);
}

TEST(Algorithms, ResultsJsonJunitAndPagesCarryTheCases) {
    RunResults r;
    r.started_at = "2024-01-01T00:00:00Z";
    r.algorithms = sample_run();
    EXPECT_FALSE(r.passed());
    auto j = results_json(r);
    const auto& a = j["algorithms"];
    EXPECT_FALSE(a["passed"].get<bool>());
    EXPECT_EQ(a["cases"][0]["distributions"][0]["counts"]["server2"], 120);
    EXPECT_EQ(a["cases"][0]["distributions"][0]["expected"]["server1"]["min"], 100);
    EXPECT_FALSE(a["cases"][0]["distributions"][0]["expected"].contains("server3"));
    EXPECT_EQ(a["cases"][0]["backends"][0]["backends"][0]["rtt_ms"], 51.204);
    EXPECT_EQ(a["cases"][1]["checks"][0]["actual"], "server1 200, failures 0");

    auto x = junit_xml(r);
    EXPECT_NE(x.find("<testsuites name=\"lblab\" tests=\"2\" failures=\"1\""), std::string::npos) << x;
    EXPECT_NE(x.find("<testsuite name=\"algorithms\" tests=\"2\" failures=\"1\""), std::string::npos) << x;
    EXPECT_NE(x.find("name=\"wrr\""), std::string::npos);
    EXPECT_NE(x.find("failure message=\"500 new connections: expected server1 300, failures 0; measured server1 200, "
                     "failures 0\""),
              std::string::npos)
        << x;

    auto page = algorithms_html(*r.algorithms, r.started_at);
    EXPECT_NE(page.find("id=\"case-rr\""), std::string::npos);
    EXPECT_NE(page.find("<svg class=\"bars\""), std::string::npos);
    EXPECT_NE(page.find("lab ctl -- algo rr --vip web"), std::string::npos);
    EXPECT_NE(page.find("href=\"index.html\""), std::string::npos);
    EXPECT_EQ(page.find("<script"), std::string::npos);

    auto index = html_report(r);
    EXPECT_NE(index.find("href=\"algorithms.html\""), std::string::npos) << "the index links the page";
    EXPECT_NE(index.find("id=\"algorithms\""), std::string::npos);
    EXPECT_EQ(index.find("<script"), std::string::npos);

    r.algorithms->cases.pop_back();
    EXPECT_TRUE(r.passed()) << "only the algorithms ran, and passed";
}
