// The HA scenario's judgement (lablib/ha.hpp) on made-up runs: no network, no root.
#include <gtest/gtest.h>

#include "lablib/ha.hpp"

namespace {

using namespace lab;

constexpr std::int64_t kT0 = 1'700'000'000'000;

const HaCheck* check_named(const HaRun& r, const std::string& name) {
    for (const auto& c : r.checks)
        if (c.name == name) return &c;
    return nullptr;
}

HaRun good_run() {
    HaRun r;
    r.mode = "proxy";
    r.master_down_ms = 360;
    r.advert_interval_ms = 100;
    r.failover = {"kill lb-a", kT0 + 1500, kT0 + 1840, "lb-b", "master_down", kT0 + 1860};
    r.failback = {"start lb-a", kT0 + 4000, kT0 + 4320, "lb-a", "preempt", kT0 + 4020};
    r.requests.push_back({1, kT0 + 4400, kT0 + 4402, true, "server1", ""});
    HaDownload d;
    d.index = 1;
    d.expected_bytes = d.bytes = 1000;
    d.http_code = 200;
    d.curl_exit = 0;
    r.downloads.push_back(d);
    return r;
}

TEST(HaJudge, AGoodRunPassesEveryCheck) {
    HaRun r = good_run();
    judge_ha(r);
    EXPECT_TRUE(r.passed());
    for (const auto& c : r.checks) EXPECT_TRUE(c.ok) << c.name << ": expected " << c.expected << ", actual " << c.actual;
}

TEST(HaJudge, SlowTakeoverAndLateTrafficFail) {
    HaRun r = good_run();
    r.failover.master_ms = r.failover.fault_ms + 360 + kTakeoverSlackMs + 1;
    r.failover.first_ok_ms = r.failover.fault_ms + 360 + kTrafficSlackMs + 1;
    judge_ha(r);
    EXPECT_FALSE(r.passed());
    const HaCheck* k = check_named(r, "lb-b becomes master after kill lb-a");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok) << k->actual;
    k = check_named(r, "requests succeed again after kill lb-a");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok) << k->actual;
}

TEST(HaJudge, NeverMasterAndBrokenDownloadsAndStrayFailuresFail) {
    HaRun r = good_run();
    r.failover.master_ms = 0;
    r.downloads[0].bytes = 10;
    r.downloads[0].curl_exit = 18;
    r.failed_outside_windows = 2;
    judge_ha(r);
    EXPECT_EQ(r.broken_downloads(), 1);
    EXPECT_EQ(check_named(r, "lb-b becomes master after kill lb-a")->actual, "never (master_down)");
    EXPECT_FALSE(check_named(r, "no long-lived connection breaks (synced flows, proxy)")->ok);
    EXPECT_FALSE(check_named(r, "requests fail only inside a transition window")->ok);
}

TEST(HaJudge, AnErrorIsOneFailedCheckAndDsrHasNoLongLivedCheck) {
    HaRun e = good_run();
    e.error = "lb-a did not become master";
    judge_ha(e);
    ASSERT_EQ(e.checks.size(), 1u);
    EXPECT_FALSE(e.passed());
    HaRun d = good_run();
    d.mode = "dsr-l2";
    judge_ha(d);
    EXPECT_EQ(check_named(d, "no long-lived connection breaks (synced flows, proxy)"), nullptr);
    EXPECT_TRUE(d.passed());
}

TEST(HaJson, CarriesTheTransitionsAndChecks) {
    HaRun r = good_run();
    judge_ha(r);
    auto j = ha_json(r);
    EXPECT_NE(j.find("\"takeover_ms\": 340"), std::string::npos) << j;
    EXPECT_NE(j.find("\"long_lived_broken\": 0"), std::string::npos) << j;
    EXPECT_NE(ha_html({r}).find("lb-b master +340 ms"), std::string::npos);
}

}  // namespace
