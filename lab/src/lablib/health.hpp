// health.hpp: the health-check suite. In every mode's own lab, for each fault on
// server1 (kill-server, link-down, http-500; lablib/fault.hpp), a paced request loop
// (lab_client http-timeline, one new connection every 50 ms from client1) runs against
// the web VIP across the fault; the fault is injected at a recorded time; the engine's
// backend table is polled every 50 ms to see server1 go down and, after the restore
// (start-server, link-up, http-200), come back up. Detection and recovery times are
// judged against fall × interval + timeout and rise × interval + timeout plus the poll
// period; after detection no new request may fail or reach server1, and after recovery
// server1 must get requests again. The echo VIP (UDP; its check is a TCP connect to port
// 80) must follow kill-server and link-down and ignore http-500. In the inline lab the
// all-down case follows: http-500 on every server, new connections get an immediate RST
// and the engine counts them (stats health.resets_sent).
//
// Cases are a table (health_cases()); judging is a pure function of the recorded times
// and requests (judge_fault_case), so it is unit-tested without a lab.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lablib/paths.hpp"
#include "lablib/topology.hpp"

namespace lab {

// The health check of a VIP as the engine config states it, plus how often the suite
// polls the engine. Limits: a server that fails is down within fall × interval +
// timeout (the first failing check may start up to an interval after the fault and
// takes up to the timeout to fail) plus one poll period to be seen; the same with rise
// for coming back.
struct HealthLimits {
    int interval_ms = 1000;
    int timeout_ms = 500;
    int rise = 2;
    int fall = 2;
    int poll_ms = 50;
    long detect_limit_ms() const { return static_cast<long>(fall) * interval_ms + timeout_ms + poll_ms; }
    long recover_limit_ms() const { return static_cast<long>(rise) * interval_ms + timeout_ms + poll_ms; }
    // "fall 2 × interval 1000 + timeout 500 + poll 50 = 2550 ms"
    std::string detect_formula() const;
    std::string recover_formula() const;
};

// The `health` table of the [[vips]] entry named `vip` in an engine config (lb-a.toml);
// keys it lacks keep their defaults. Throws Error when the text is not TOML or has no
// such VIP.
HealthLimits health_limits_from_config(const std::string& toml_text, const std::string& vip, int poll_ms);

// One request of lab_client http-timeline (times CLOCK_REALTIME ms).
struct TimedRequest {
    int index = 0;
    std::int64_t start_ms = 0;
    std::int64_t end_ms = 0;
    bool ok = false;
    std::string server;  // who answered (also for a non-200 answer); "" when nobody did
    std::string reason;  // failures: lab_client's words
};

// The `request ...` lines of lab_client http-timeline output, sorted by start; other
// lines are skipped.
std::vector<TimedRequest> parse_timeline(const std::string& out);

// A failure reason in a word or two: "refused", "connect timeout", "reset", "timeout",
// "HTTP 500", or the reason itself.
std::string failure_kind(const std::string& reason);

// A backend's state as the poll saw it change.
struct StateChange {
    std::int64_t at_ms = 0;      // when the poll saw it
    std::int64_t engine_ms = 0;  // when the engine changed it: at_ms - since_ms
    std::string vip;             // "web", "echo"
    std::string server;          // "server1"
    std::string state;           // up | down | ...
    std::string reason;          // the engine's change_reason
};

struct HealthCheck {
    std::string name;
    std::string expected;
    std::string actual;
    bool ok = false;
};

struct FaultCase {
    std::string mode;
    std::string name;   // kill-server | link-down | http-500 | all-down
    std::string title;
    std::vector<std::string> targets;  // the servers faulted
    std::vector<std::string> servers;  // every server of the lab
    std::string fault_action;          // kill-server, link-down, http-500
    std::string restore_action;        // start-server, link-up, http-200
    bool echo_follows = false;         // the echo VIP's backend must go down and up too
    bool all_down = false;             // every server is faulted: new connections get a RST
    HealthLimits limits;               // the web VIP's check
    HealthLimits echo_limits;          // the echo VIP's check
    long fast_refusal_ms = 200;        // all-down: a refused connection ends within this

    // Times, CLOCK_REALTIME ms; 0 = did not happen.
    std::int64_t loop_start_ms = 0, loop_end_ms = 0;
    std::int64_t fault_ms = 0;         // the fault in effect (the last target's)
    std::int64_t down_ms = 0;          // the poll saw every target's web backend down
    std::int64_t engine_down_ms = 0;   // the engine marked the last of them down
    std::int64_t echo_down_ms = 0;     // the poll saw a target's echo backend down
    std::int64_t restore_ms = 0;       // the restore in effect (the last target's)
    std::int64_t up_ms = 0;            // the poll saw every target's web backend up again
    std::int64_t engine_up_ms = 0;
    std::int64_t echo_up_ms = 0;       // every target's echo backend up again (echo_follows)

    std::vector<TimedRequest> requests;
    std::vector<StateChange> changes;
    // all-down: the engine's health.resets_sent before the fault and after the restore;
    // curl's exit code, time and stderr while every server was down (-1: not run).
    long resets_before = -1, resets_after = -1;
    int curl_exit = -1;
    long curl_ms = -1;
    std::string curl_err;

    std::vector<HealthCheck> checks;
    std::vector<std::string> commands;  // as a user would type them against a lab named `lab`
    std::vector<std::string> notes;
    std::string error;
    double seconds = 0;

    long detect_ms() const { return fault_ms && down_ms ? static_cast<long>(down_ms - fault_ms) : -1; }
    long engine_detect_ms() const {
        return fault_ms && engine_down_ms ? static_cast<long>(engine_down_ms - fault_ms) : -1;
    }
    long recover_ms() const { return restore_ms && up_ms ? static_cast<long>(up_ms - restore_ms) : -1; }
    long engine_recover_ms() const {
        return restore_ms && engine_up_ms ? static_cast<long>(engine_up_ms - restore_ms) : -1;
    }
    long echo_detect_ms() const { return fault_ms && echo_down_ms ? static_cast<long>(echo_down_ms - fault_ms) : -1; }
    long echo_recover_ms() const { return restore_ms && echo_up_ms ? static_cast<long>(echo_up_ms - restore_ms) : -1; }
    // Requests that failed because of the fault before the engine was seen to react: in
    // flight when it came, or started before it was seen down (reported, not judged).
    int failed_around_fault() const;
    bool passed() const;  // no error, some checks, all ok
};

// Sets the times the poll saw (down_ms, engine_down_ms, echo_down_ms, up_ms,
// engine_up_ms, echo_up_ms) from c.changes, c.fault_ms and c.restore_ms: for each
// target its first change to down at or after the fault (before the restore), and to up
// at or after the restore; the case's time is the last target's (for echo_down_ms
// without echo_follows, the first, since any is a failure). Pure.
void set_times_from_changes(FaultCase& c);

// Fills c.checks from c's times, requests and (all-down) counters; replaces any earlier
// checks from judging. Pure.
void judge_fault_case(FaultCase& c);

struct HealthModeRun {
    std::string mode;
    std::string title;
    std::string lab;
    std::string error;
    std::string skip_reason;
    std::optional<Topology> topo;
    std::vector<FaultCase> cases;
    std::string teardown;
    double seconds = 0;
    bool skipped() const { return !skip_reason.empty(); }
    size_t failed() const;
    bool passed() const { return !skipped() && error.empty() && !cases.empty() && failed() == 0; }
    const FaultCase* find(const std::string& name) const;
};

struct HealthRun {
    std::vector<HealthModeRun> modes;
    double seconds = 0;
    // Every mode that ran passed, and at least one ran; skipped modes do not fail it.
    bool passed() const;
    bool all_skipped() const;
    size_t total_cases() const;
    size_t failed_cases() const;
};

// A row of the suite.
struct HealthCaseSpec {
    std::string name;       // "kill-server"
    std::string test_name;  // "KillServerIsDetectedAndRecovered"
    std::string title;
    std::string fault;      // lab fault action
    std::string restore;
    bool echo_follows = false;
    bool all_servers = false;
    std::vector<std::string> only_modes;  // empty: every mode
    std::string expectation;
    bool runs_in(const std::string& mode) const;
};

// kill-server, link-down, http-500 (every mode), all-down (inline).
const std::vector<HealthCaseSpec>& health_cases();

struct HealthOptions {
    std::string modes = "all";      // a mode name or "all"
    std::string name;               // lab name; empty: a unique h<pid> per mode
    std::vector<std::string> only;  // run only these cases (empty: all)
};

// Runs the suite in each selected mode, each in a lab of its own that always comes down.
// Throws Error for an unknown mode or case name, Interrupted on a signal (after cleanup).
HealthRun run_health(const Paths& paths, const HealthOptions& opt);

// The time axis of a timeline drawing: [t0, t1] ms onto [x0, x1] pixels.
struct TimeAxis {
    std::int64_t t0 = 0, t1 = 1;
    double x0 = 0, x1 = 1;
    double x(std::int64_t t) const;
    // Tick step in ms (100, 200, 500, 1000, 2000, 5000, ...) giving at most `max_ticks`
    // ticks over the span, and the ticks (ms after t0) themselves.
    long step_ms(int max_ticks) const;
    std::vector<long> ticks(int max_ticks) const;
};

// The timeline of one case as a self-contained SVG: the time axis (seconds after the
// loop started); bands for the targets' web (and echo) backend state as polled; one mark
// per request from its start to its end in its server's lane, coloured by server (failed
// ones red, in their own lane); lines where the fault was injected, the down state seen,
// the restore made and the up state seen, and the limits as shaded windows.
std::string timeline_svg(const FaultCase& c);

}  // namespace lab
