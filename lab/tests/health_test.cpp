// The health suite's pieces without a lab: lab_client http-timeline lines read back,
// failure kinds, the limits from the engine config, the times taken from polled state
// changes, the judging of a case (a good one passes every check; each way of going
// wrong fails the right check), the time axis, the timeline SVG, the report sections;
// and lab fault's route bookkeeping and action names.
#include "lablib/fault.hpp"
#include "lablib/health.hpp"
#include "lablib/report.hpp"
#include "lablib/util.hpp"

#include <gtest/gtest.h>

#include <regex>

using namespace lab;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;  // the loop starts here

// Round robin over the servers that are up, one request every 50 ms for 6 s; server1
// fails from +600 (the fault) and is skipped from the engine's down (+1680) until its
// engine up (+4090). A failed server1 request ends at once (refused).
FaultCase good_kill_case() {
    FaultCase c;
    c.mode = "inline";
    c.name = "kill-server";
    c.title = "killed";
    c.targets = {"server1"};
    c.servers = {"server1", "server2", "server3"};
    c.fault_action = "kill-server";
    c.restore_action = "start-server";
    c.echo_follows = true;
    c.loop_start_ms = kT0;
    c.fault_ms = kT0 + 600;
    c.restore_ms = kT0 + 2600;
    c.loop_end_ms = kT0 + 6000;
    auto change = [&](std::int64_t at, std::int64_t engine, const std::string& vip, const std::string& st) {
        c.changes.push_back({kT0 + at, kT0 + engine, vip, "server1", st, st == "down" ? "2 http check(s) failed" : "passed"});
    };
    for (const char* vip : {"web", "echo"})
        for (const char* s : {"server1", "server2", "server3"})
            c.changes.push_back({kT0 - 100, kT0 - 5000, vip, s, "up", ""});
    change(1700, 1680, "web", "down");
    change(1900, 1890, "echo", "down");
    change(4100, 4090, "web", "up");
    change(4150, 4140, "echo", "up");
    size_t rr = 0;
    for (int i = 0; i < 120; ++i) {
        std::int64_t start = kT0 + i * 50;
        bool s1_out = start >= kT0 + 1680 && start < kT0 + 4090;
        std::string server = c.servers[rr++ % 3];
        if (s1_out && server == "server1") server = c.servers[rr++ % 3];
        TimedRequest r{i + 1, start, start + 2, true, server, ""};
        if (server == "server1" && start >= c.fault_ms && start < kT0 + 1680) {
            r.ok = false;
            r.server.clear();
            r.reason = "connect: Connection refused";
        }
        c.requests.push_back(r);
    }
    set_times_from_changes(c);
    return c;
}

const HealthCheck* check_named(const FaultCase& c, const std::string& prefix) {
    for (const auto& k : c.checks)
        if (k.name.rfind(prefix, 0) == 0) return &k;
    return nullptr;
}

std::string failing(const FaultCase& c) {
    std::string out;
    for (const auto& k : c.checks)
        if (!k.ok) out += k.name + ": expected " + k.expected + "; measured " + k.actual + "\n";
    return out;
}

}  // namespace

TEST(HealthTimeline, ReadsRequestLinesInStartOrderAndSkipsTheRest) {
    auto reqs = parse_timeline(
        "request 2 1700000000050 1700000000051 ok server2\n"
        "lab_client http-timeline: something on stderr\n"
        "request 1 1700000000000 1700000000500 failed - connect: timed out\n"
        "request 3 1700000000100 1700000000101 failed server1 HTTP status 500 from server1\n"
        "server2 1\nfailures 2\n");
    ASSERT_EQ(reqs.size(), 3u);
    EXPECT_EQ(reqs[0].index, 1);
    EXPECT_FALSE(reqs[0].ok);
    EXPECT_EQ(reqs[0].server, "");
    EXPECT_EQ(reqs[0].reason, "connect: timed out");
    EXPECT_EQ(reqs[1].server, "server2");
    EXPECT_TRUE(reqs[1].ok);
    EXPECT_EQ(reqs[2].server, "server1");
    EXPECT_EQ(reqs[2].end_ms - reqs[2].start_ms, 1);
}

TEST(HealthTimeline, NamesFailureKinds) {
    EXPECT_EQ(failure_kind("connect: Connection refused"), "refused");
    EXPECT_EQ(failure_kind("connect: timed out"), "connect timeout");
    EXPECT_EQ(failure_kind("recv: Connection reset by peer"), "reset");
    EXPECT_EQ(failure_kind("waiting for the response: timed out"), "timeout");
    EXPECT_EQ(failure_kind("HTTP status 500 from server1"), "HTTP 500");
    EXPECT_EQ(failure_kind("the server closed the connection without a response"), "closed");
    EXPECT_EQ(failure_kind("something new"), "something new");
}

TEST(HealthLimitsTest, ComeFromTheVipsHealthTableWithDefaults) {
    const char* config = R"(
[engine]
name = "lb-a"
[[vips]]
name = "web"
health = { type = "http", path = "/health", status = 200, interval_ms = 1000, timeout_ms = 500, rise = 2, fall = 3 }
[[vips]]
name = "echo"
health = { type = "tcp", port = 80, interval_ms = 200 }
[[vips]]
name = "closed"
)";
    auto web = health_limits_from_config(config, "web", 50);
    EXPECT_EQ(web.interval_ms, 1000);
    EXPECT_EQ(web.timeout_ms, 500);
    EXPECT_EQ(web.fall, 3);
    EXPECT_EQ(web.detect_limit_ms(), 3 * 1000 + 500 + 50);
    EXPECT_EQ(web.recover_limit_ms(), 2 * 1000 + 500 + 50);
    EXPECT_EQ(web.detect_formula(), "fall 3 × interval 1000 + timeout 500 + poll 50 = 3550 ms");
    auto echo = health_limits_from_config(config, "echo", 50);
    EXPECT_EQ(echo.interval_ms, 200);
    EXPECT_EQ(echo.timeout_ms, 500);  // the default
    EXPECT_EQ(echo.detect_limit_ms(), 2 * 200 + 500 + 50);
    auto closed = health_limits_from_config(config, "closed", 20);
    EXPECT_EQ(closed.detect_limit_ms(), 2 * 1000 + 500 + 20);
    EXPECT_THROW(health_limits_from_config(config, "nope", 50), Error);
    EXPECT_THROW(health_limits_from_config("[[vips]\nname=", "web", 50), Error);
}

TEST(HealthJudge, TimesComeFromTheFirstChangeAfterTheFaultAndTheRestore) {
    FaultCase c = good_kill_case();
    EXPECT_EQ(c.down_ms, kT0 + 1700);
    EXPECT_EQ(c.engine_down_ms, kT0 + 1680);
    EXPECT_EQ(c.echo_down_ms, kT0 + 1900);
    EXPECT_EQ(c.up_ms, kT0 + 4100);
    EXPECT_EQ(c.engine_up_ms, kT0 + 4090);
    EXPECT_EQ(c.echo_up_ms, kT0 + 4150);
    EXPECT_EQ(c.detect_ms(), 1100);
    EXPECT_EQ(c.engine_detect_ms(), 1080);
    EXPECT_EQ(c.recover_ms(), 1500);
    EXPECT_EQ(c.echo_detect_ms(), 1300);

    // All targets: the last one's time; one never down: not detected.
    c.targets = {"server1", "server2"};
    set_times_from_changes(c);
    EXPECT_EQ(c.down_ms, 0);
    c.changes.push_back({kT0 + 1800, kT0 + 1790, "web", "server2", "down", ""});
    c.changes.push_back({kT0 + 4000, kT0 + 3990, "web", "server2", "up", ""});
    set_times_from_changes(c);
    EXPECT_EQ(c.down_ms, kT0 + 1800);
    EXPECT_EQ(c.engine_down_ms, kT0 + 1790);
    EXPECT_EQ(c.up_ms, kT0 + 4100);
}

TEST(HealthJudge, AGoodCasePassesEveryCheck) {
    FaultCase c = good_kill_case();
    judge_fault_case(c);
    EXPECT_EQ(c.checks.size(), 7u);
    EXPECT_TRUE(c.passed()) << failing(c);
    // server1's slots between the fault and the engine's reaction failed, and only those.
    EXPECT_GT(c.failed_around_fault(), 0);
    EXPECT_EQ(c.failed_around_fault(), 8);  // +600, +750, ..., +1650
}

TEST(HealthJudge, ARequestFailingAfterDetectionFailsThatCheck) {
    FaultCase c = good_kill_case();
    for (auto& r : c.requests)
        if (r.start_ms == kT0 + 2000) {
            r.ok = false;
            r.reason = "connect: Connection refused";
        }
    judge_fault_case(c);
    const HealthCheck* k = check_named(c, "after detection: no new request fails");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok);
    EXPECT_NE(k->actual.find("1 failed (refused 1)"), std::string::npos) << k->actual;
    EXPECT_FALSE(c.passed());
}

TEST(HealthJudge, ARequestReachingTheDownServerFailsThatCheck) {
    FaultCase c = good_kill_case();
    for (auto& r : c.requests)
        if (r.start_ms == kT0 + 3000) r.server = "server1";
    judge_fault_case(c);
    const HealthCheck* k = check_named(c, "after detection: no new request reaches server1");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok);
    EXPECT_NE(k->actual.find("server1 1"), std::string::npos) << k->actual;
}

TEST(HealthJudge, LateDetectionOrRecoveryFailsItsCheck) {
    FaultCase c = good_kill_case();
    c.restore_ms = kT0 + 3500;
    c.changes[6].at_ms = c.fault_ms + 2551;  // web down seen one ms over the limit
    c.changes[6].engine_ms = c.fault_ms + 2551;  // and changed over it by the engine too
    set_times_from_changes(c);
    judge_fault_case(c);
    const HealthCheck* k = check_named(c, "web: server1 goes down");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok);
    EXPECT_EQ(k->actual.rfind("seen down 2551 ms after the fault", 0), 0u) << k->actual;

    // The engine's own change time, when known, is what is judged: seen late by the poll
    // but changed in time passes; changed late fails.
    FaultCase polled = good_kill_case();
    polled.restore_ms = kT0 + 3500;
    polled.changes[6].at_ms = polled.fault_ms + 2551;
    polled.changes[6].engine_ms = polled.fault_ms + 2500;
    set_times_from_changes(polled);
    judge_fault_case(polled);
    k = check_named(polled, "web: server1 goes down");
    ASSERT_NE(k, nullptr);
    EXPECT_TRUE(k->ok) << k->actual;
    polled.changes[6].engine_ms = polled.fault_ms + 2551;
    set_times_from_changes(polled);
    judge_fault_case(polled);
    k = check_named(polled, "web: server1 goes down");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok) << k->actual;

    FaultCase never = good_kill_case();
    never.changes.erase(never.changes.begin() + 8);  // no web up
    set_times_from_changes(never);
    judge_fault_case(never);
    k = check_named(never, "web: server1 comes back up");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok);
    EXPECT_EQ(k->actual, "never seen up");
    EXPECT_FALSE(check_named(never, "server1 gets requests again")->ok);
}

TEST(HealthJudge, Http500MustLeaveTheEchoBackendUp) {
    FaultCase c = good_kill_case();
    c.name = "http-500";
    c.echo_follows = false;
    set_times_from_changes(c);
    judge_fault_case(c);
    const HealthCheck* k = check_named(c, "echo: server1 stays up");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok);
    EXPECT_EQ(k->actual, "seen down 1300 ms after the fault");

    // Without the echo changes it passes.
    c.changes.erase(std::remove_if(c.changes.begin(), c.changes.end(),
                                   [](const StateChange& ch) { return ch.vip == "echo" && ch.state == "down"; }),
                    c.changes.end());
    set_times_from_changes(c);
    judge_fault_case(c);
    EXPECT_TRUE(check_named(c, "echo: server1 stays up")->ok);
    EXPECT_EQ(check_named(c, "echo: server1 comes back up"), nullptr);
}

TEST(HealthJudge, AllDownWantsFastRefusalsCurlAndCountedResets) {
    FaultCase c;
    c.name = "all-down";
    c.all_down = true;
    c.servers = c.targets = {"server1", "server2", "server3"};
    c.loop_start_ms = kT0;
    c.fault_ms = kT0 + 600;
    c.restore_ms = kT0 + 3000;
    for (const auto& s : c.servers) {
        c.changes.push_back({kT0 + 1700, kT0 + 1690, "web", s, "down", ""});
        c.changes.push_back({kT0 + 4600, kT0 + 4590, "web", s, "up", ""});
    }
    int refused = 0;
    for (int i = 0; i < 120; ++i) {
        std::int64_t start = kT0 + i * 50;
        TimedRequest r{i + 1, start, start + 1, true, "server" + std::to_string(i % 3 + 1), ""};
        if (start >= c.fault_ms && start < kT0 + 1690) {
            r.ok = false;
            r.reason = "HTTP status 500 from " + r.server;
        } else if (start >= kT0 + 1690 && start < kT0 + 4590) {
            r.ok = false;
            r.server.clear();
            r.reason = "connect: Connection refused";
            if (start >= kT0 + 1700 && start < c.restore_ms) ++refused;
        }
        c.requests.push_back(r);
    }
    c.curl_exit = 7;
    c.curl_ms = 30;
    c.resets_before = 0;
    c.resets_after = refused + 40;
    set_times_from_changes(c);
    judge_fault_case(c);
    EXPECT_TRUE(c.passed()) << failing(c);
    EXPECT_EQ(check_named(c, "all down: new connections are refused")->actual,
              std::to_string(refused) + " started: " + std::to_string(refused) + " refused (slowest 1 ms)");

    FaultCase slow = c;
    for (auto& r : slow.requests)
        if (r.start_ms == kT0 + 2000) r.end_ms = r.start_ms + 500;  // a connect timeout, not a RST
    judge_fault_case(slow);
    EXPECT_FALSE(check_named(slow, "all down: new connections are refused")->ok);

    FaultCase uncounted = c;
    uncounted.resets_after = 3;
    judge_fault_case(uncounted);
    EXPECT_FALSE(check_named(uncounted, "all down: the engine counts the resets")->ok);

    FaultCase curl_timeout = c;
    curl_timeout.curl_exit = 28;
    curl_timeout.curl_ms = 3000;
    judge_fault_case(curl_timeout);
    EXPECT_FALSE(check_named(curl_timeout, "all down: curl fails fast")->ok);
}

TEST(HealthAxis, MapsTimeLinearlyAndPicksRoundTicks) {
    TimeAxis ax{kT0, kT0 + 6000, 100, 700};
    EXPECT_DOUBLE_EQ(ax.x(kT0), 100);
    EXPECT_DOUBLE_EQ(ax.x(kT0 + 3000), 400);
    EXPECT_DOUBLE_EQ(ax.x(kT0 + 6000), 700);
    EXPECT_EQ(ax.step_ms(12), 500);
    EXPECT_EQ(ax.ticks(12).size(), 13u);
    EXPECT_EQ(ax.step_ms(5), 2000);
    EXPECT_EQ(ax.ticks(5), (std::vector<long>{0, 2000, 4000, 6000}));
    TimeAxis tiny{kT0, kT0 + 250, 0, 100};
    EXPECT_EQ(tiny.step_ms(12), 100);
    TimeAxis empty{kT0, kT0, 10, 100};
    EXPECT_DOUBLE_EQ(empty.x(kT0 + 5), 10);
}

TEST(HealthReport, TimelineHasAMarkPerRequestAndTheFourMarkers) {
    FaultCase c = good_kill_case();
    judge_fault_case(c);
    std::string svg = timeline_svg(c);
    EXPECT_EQ(svg.rfind("<svg class=\"timeline\"", 0), 0u);
    EXPECT_NE(svg.find("fault: kill-server"), std::string::npos);
    EXPECT_NE(svg.find("down seen +1100 ms"), std::string::npos);
    EXPECT_NE(svg.find("restore: start-server"), std::string::npos);
    EXPECT_NE(svg.find("up seen +1500 ms"), std::string::npos);
    std::regex mark("<title>request [0-9]+: ");
    auto n = std::distance(std::sregex_iterator(svg.begin(), svg.end(), mark), std::sregex_iterator());
    EXPECT_EQ(n, static_cast<long>(c.requests.size()));
    // Failed requests are red, in the failed lane.
    EXPECT_NE(svg.find("fill=\"#d62728\" fill-opacity=\"0.85\"><title>request 13: +600 ms, 2 ms, failed (refused)"),
              std::string::npos);
    EXPECT_EQ(svg.find("<script"), std::string::npos);
}

TEST(HealthReport, ResultsJsonJunitAndPagesCarryEveryCase) {
    RunResults r;
    r.started_at = "2024-01-01T00:00:00Z";
    HealthRun h;
    HealthModeRun m;
    m.mode = "inline";
    m.lab = "h1";
    FaultCase good = good_kill_case();
    judge_fault_case(good);
    FaultCase bad = good_kill_case();
    bad.name = "link-down";
    bad.requests[60].ok = false;
    bad.requests[60].reason = "connect: timed out";
    judge_fault_case(bad);
    m.cases = {good, bad};
    h.modes.push_back(m);
    HealthModeRun skipped;
    skipped.mode = "dsr-l3-dscp";
    skipped.skip_reason = "nftables <missing>";
    h.modes.push_back(skipped);
    r.health = h;
    EXPECT_FALSE(r.passed());

    auto j = results_json(r);
    ASSERT_TRUE(j.contains("health"));
    EXPECT_EQ(j["health"]["modes"].size(), 2u);
    const auto& cj = j["health"]["modes"][0]["cases"][0];
    EXPECT_EQ(cj["name"], "kill-server");
    EXPECT_EQ(cj["detect_ms"], 1100);
    EXPECT_EQ(cj["recover_ms"], 1500);
    EXPECT_EQ(cj["limits"]["web"]["detect_limit_ms"], 2550);
    EXPECT_EQ(cj["requests"].size(), 120u);
    EXPECT_EQ(cj["requests"][0][0], 0);
    EXPECT_EQ(j["health"]["modes"][1]["skipped"], true);

    auto x = junit_xml(r);
    EXPECT_NE(x.find("<testsuite name=\"health\" tests=\"3\" failures=\"1\" skipped=\"1\""), std::string::npos) << x;
    EXPECT_NE(x.find("<testcase classname=\"health.inline\" name=\"kill-server\""), std::string::npos);
    EXPECT_NE(x.find("after detection: no new request fails: expected"), std::string::npos);
    EXPECT_NE(x.find("nftables &lt;missing&gt;"), std::string::npos);

    auto index = html_report(r);
    EXPECT_NE(index.find("<a href=\"health.html\">health.html</a>"), std::string::npos);
    EXPECT_NE(index.find("id=\"health\""), std::string::npos);
    auto page = health_html(h, r.started_at);
    EXPECT_NE(page.find("id=\"health-inline-kill-server\""), std::string::npos);
    EXPECT_NE(page.find("<svg class=\"timeline\""), std::string::npos);
    EXPECT_NE(page.find("nftables &lt;missing&gt;"), std::string::npos);
    EXPECT_EQ(page.find("nftables <missing>"), std::string::npos);
}

TEST(Fault, ActionsHaveNamesAndUnknownOnesAreListed) {
    EXPECT_EQ(parse_fault_action("kill-server"), FaultAction::kill_server);
    EXPECT_EQ(parse_fault_action("http-200"), FaultAction::http_200);
    EXPECT_EQ(fault_action_name(FaultAction::link_up), "link-up");
    try {
        parse_fault_action("explode");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "unknown fault action 'explode' (actions: kill-server, start-server, link-down, link-up, http-500, "
                  "http-200, kill-engine, start-engine, partition, heal)");
    }
    EXPECT_EQ(parse_fault_action("kill-engine"), FaultAction::kill_engine);
    EXPECT_EQ(fault_action_name(FaultAction::start_engine), "start-engine");
}

TEST(Fault, RoutesAreComparedWithoutLinkFlags) {
    auto before = normalize_routes(
        "default via 192.0.2.1 dev eth0 \n192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.11 \n");
    auto down = normalize_routes(
        "default via 192.0.2.1 dev eth0 linkdown \n192.0.2.0/24 dev eth0  proto kernel scope link src 192.0.2.11 "
        "linkdown\n\n");
    EXPECT_EQ(before, down);
    EXPECT_TRUE(missing_routes(before, down).empty());
    auto lost = normalize_routes("192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.11\n");
    EXPECT_EQ(missing_routes(before, lost), (std::vector<std::string>{"default via 192.0.2.1 dev eth0"}));
}
