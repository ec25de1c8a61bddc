// ha.hpp: the HA failover scenario (issue 6): an HA lab (`lab up --ha`, lb-a master at
// priority 200, lb-b backup at 100), long-lived downloads and a steady request loop
// through the VIP, lb-a's engine killed (lb-b must take over within its master-down
// interval), then started again (it preempts). Measures how long traffic stopped each
// time, which requests failed, and whether any long-lived connection broke.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lablib/health.hpp"
#include "lablib/paths.hpp"

namespace lab {

struct HaOptions {
    std::string mode = "proxy";  // one-arm modes only (proxy, dsr-*)
    std::string name;            // lab name; empty: "ha" + pid
    int downloads = 4;           // long-lived rate-limited downloads from client2
    std::filesystem::path out;   // where ha-<mode>.json goes (empty: not written)
};

// One long-lived download: curl from client2, rate-limited so it spans both transitions.
struct HaDownload {
    int index = 0;
    long expected_bytes = 0;
    long bytes = -1;        // what curl received (-1: no summary line)
    int http_code = 0;
    int curl_exit = -1;     // curl's own exit code (%{exitcode})
    std::string error;      // curl's stderr, one line
    bool broken() const { return curl_exit != 0 || http_code != 200 || bytes != expected_bytes; }
};

struct HaCheck {
    std::string name;
    bool ok = false;
    std::string expected;
    std::string actual;
};

// One transition: a kill (lb-b takes over) or a start (lb-a preempts back).
struct HaTransition {
    std::string what;                 // "kill lb-a", "start lb-a"
    std::int64_t fault_ms = 0;        // lab fault's at_ms (CLOCK_REALTIME)
    std::int64_t master_ms = 0;       // the new master's own change time (poll time - ago_ms); 0: never
    std::string new_master;           // "lb-b" / "lb-a"
    std::string reason;               // the new master's last_change.reason
    std::int64_t first_ok_ms = 0;     // end of the first successful request started after fault_ms; 0: none
    long takeover_ms() const { return master_ms ? static_cast<long>(master_ms - fault_ms) : -1; }
    long traffic_gap_ms() const { return first_ok_ms ? static_cast<long>(first_ok_ms - fault_ms) : -1; }
    int failed = 0;                   // failed requests that started in [fault_ms - timeout, next phase)
};

struct HaRun {
    std::string mode;
    std::string lab;
    bool skipped = false;
    std::string skip_reason;
    std::string error;                // the scenario could not run to its end
    long master_down_ms = 0;          // lb-b's master-down interval (lbctl vrrp --json)
    long advert_interval_ms = 0;
    std::int64_t loop_start_ms = 0, loop_end_ms = 0;
    HaTransition failover, failback;
    std::vector<TimedRequest> requests;
    std::vector<HaDownload> downloads;
    int failed_outside_windows = 0;
    std::vector<HaCheck> checks;
    std::vector<std::string> notes;   // commands run and readings
    int broken_downloads() const;
    bool passed() const;
};

// Runs the scenario in its own lab, brought down on every path. Skip (lab.hpp) becomes
// HaRun::skipped; any other failure is HaRun::error plus a failed check.
HaRun run_ha_failover(const Paths& paths, const HaOptions& opt);

// The checks of a run (filled into run.checks): takeover within master-down + kTakeoverSlackMs,
// traffic again within master-down + kTrafficSlackMs, every request failed only inside a
// transition window, no broken long-lived download in proxy mode (the flows are synced).
void judge_ha(HaRun& run);

constexpr long kTakeoverSlackMs = 150;
constexpr long kTrafficSlackMs = 700;  // a request's connect timeout (500) plus the loop's interval and slack

// The run as JSON (for results files).
std::string ha_json(const HaRun& run);

// One HTML page for the runs (health.html's approach): per mode, the checks (expected vs
// actual), a timeline SVG (each request a bar, green ok / red failed, by start time;
// lines at the kill, lb-b master, the start, lb-a master) and the commands.
std::string ha_html(const std::vector<HaRun>& runs);

}  // namespace lab
