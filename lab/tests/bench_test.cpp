// lab bench's parts without a lab: the percentile, the table's ratios, the JSON.
#include <gtest/gtest.h>

#include "lablib/bench.hpp"
#include "lablib/report.hpp"
#include "lablib/run.hpp"

#include <regex>

namespace lab {
namespace {

TEST(Bench, PercentileIsTheNearestRank) {
    EXPECT_EQ(percentile({}, 50), -1);
    EXPECT_EQ(percentile({7}, 99), 7);
    std::vector<double> v;
    for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted on purpose
    EXPECT_EQ(percentile(v, 50), 50);
    EXPECT_EQ(percentile(v, 99), 99);
    EXPECT_EQ(percentile(v, 100), 100);
    EXPECT_EQ(percentile(v, 0), 1);
}

TEST(Bench, TheTableGivesLbdAsAShareOfTheKernelAndSaysWhatIsMissing) {
    BenchRun run;
    BenchRow e;
    e.mode = "inline";
    e.impl = "lbd";
    e.tcp_gbps = 3.0;
    e.udp_kpps = 90;
    e.conns_per_s = 2000;
    e.p50_ms = 2.0;
    e.p99_ms = 4.0;
    BenchRow k;
    k.mode = "inline";
    k.impl = "kernel";
    k.tcp_gbps = 6.0;
    k.udp_kpps = 100;
    k.conns_per_s = 2500;
    k.p50_ms = 1.0;
    k.p99_ms = 2.0;
    BenchRow w;
    w.mode = "inline";
    w.impl = "wire";
    w.tcp_gbps = 4.0;
    BenchRow d;
    d.mode = "dsr-l2";
    d.impl = "lbd";
    d.error = "lab up failed";
    run.rows = {e, k, w, d};
    const std::string t = bench_text(run);
    auto row = [&](const std::string& figure, const std::string& values) {
        return std::regex_search(t, std::regex("inline +" + figure + " +" + values + "\n"));
    };
    EXPECT_TRUE(row("bulk TCP \\(Gbit/s\\)", "3\\.00 +6\\.00 +50% +4\\.00 +75%")) << t;
    EXPECT_TRUE(row("64-byte UDP received \\(kpps\\)", "90 +100 +90% +- +-")) << t;
    EXPECT_TRUE(row("latency p50 at 100/s \\(ms\\)", "2\\.000 +1\\.000 +50% +- +-")) << "for latency the kernel's time over lbd's\n" << t;
    EXPECT_NE(t.find("dsr-l2 lbd: error: lab up failed"), std::string::npos) << t;
    auto j = bench_json(run);
    ASSERT_EQ(j["rows"].size(), 4u);
    EXPECT_EQ(j["rows"][1]["impl"], "kernel");
    EXPECT_EQ(j["rows"][1]["tcp_gbps"], 6.0);
    EXPECT_EQ(j["rows"][3]["error"], "lab up failed");
    EXPECT_NE(bench_html(run).find("<td>inline</td><td>bulk TCP (Gbit/s)</td><td class=\"num\">3.00</td>"),
              std::string::npos);
}

// --rounds: each figure is the median of the rounds that took it; every reading is kept,
// a failed round does not count, and only a lab no round got through is an error.
TEST(Bench, RoundsCombineIntoMediansAndKeepEveryReading) {
    auto round = [](double tcp, double udp, std::string error = "") {
        BenchRow r;
        r.mode = "inline";
        r.impl = "lbd";
        r.tcp_gbps = tcp;
        r.udp_kpps = udp;
        r.error = error;
        r.notes = {"iperf3 ..."};
        return r;
    };
    BenchRow c = combine_rounds({round(9.0, 80), round(3.0, 100), round(5.0, -1, "udp: no answer")});
    EXPECT_EQ(c.tcp_gbps, 5.0) << "the median of 9, 3, 5";
    EXPECT_EQ(c.udp_kpps, 80.0) << "the two rounds that took it: 80 and 100, nearest rank";
    EXPECT_EQ(c.error, "") << "two rounds got through";
    ASSERT_FALSE(c.rounds.empty());
    EXPECT_EQ(c.rounds[0].first, "tcp_gbps");
    EXPECT_EQ(c.rounds[0].second, (std::vector<double>{9.0, 3.0, 5.0}));
    EXPECT_EQ(c.notes.size(), 4u) << "each round's note, and the failed round's error";
    EXPECT_EQ(c.notes.back(), "round 3: error: udp: no answer");
    BenchRun run;
    run.rows = {c};
    EXPECT_EQ(bench_json(run)["rows"][0]["rounds"]["tcp_gbps"].size(), 3u);

    BenchRow failed = combine_rounds({round(-1, -1, "lab up failed"), round(-1, -1, "lab up failed")});
    EXPECT_EQ(failed.error, "lab up failed");
    EXPECT_EQ(failed.tcp_gbps, -1.0);
    BenchRow one = combine_rounds({round(7.0, 90)});
    EXPECT_EQ(one.tcp_gbps, 7.0);
    EXPECT_TRUE(one.rounds.empty()) << "one round: nothing to list";
}

TEST(Bench, TheIndexLinksTheBenchPageOnlyWhenThereIsOne) {
    RunResults res;
    res.started_at = "2024-01-01T00:00:00Z";
    EXPECT_EQ(html_report(res, false).find("href=\"bench.html\""), std::string::npos);
    EXPECT_NE(html_report(res, true).find("href=\"bench.html\""), std::string::npos);
}

}  // namespace
}  // namespace lab
