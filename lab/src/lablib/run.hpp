// run.hpp: `lab run`: for each mode, a fresh lab, every scenario under capture, the
// mode's check table evaluated, facts measured, the lab brought down (always); then,
// when selected, the scheduling-algorithms suite in a lab of its own (algorithms.hpp),
// the health suite in a lab per mode (health.hpp) and the HA failover scenario in an
// HA lab per mode (ha.hpp); and a report written (report.hpp).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lablib/algorithms.hpp"
#include "lablib/checks.hpp"
#include "lablib/facts.hpp"
#include "lablib/health.hpp"
#include "lablib/ha.hpp"
#include "lablib/ha_guard.hpp"
#include "lablib/modes.hpp"
#include "lablib/paths.hpp"
#include "lablib/scenario.hpp"
#include "lablib/topology.hpp"

namespace lab {

struct RunOptions {
    std::string suite = "modes";     // "modes", "algorithms", "health", "ha" or "all" (those four)
    std::string modes = "all";       // a mode name or "all" (the modes, health and ha suites)
    std::filesystem::path out;       // the report directory
    std::string name;                // lab name; empty: a unique one per mode
    int servers = 3;
    std::vector<std::string> only;   // run only these scenarios, algorithms and health cases, and "ha" (empty: all)
};

struct ModeRun {
    std::string mode;
    std::string title;
    std::string summary;         // what the LB does to a packet (ModeSpec::summary)
    std::string lab;             // the lab's name
    std::string error;           // why the mode could not run to the end
    std::string skip_reason;     // set when the environment cannot run a lab
    std::optional<Topology> topo;
    std::vector<ScenarioRun> scenarios;
    std::vector<CheckResult> checks;
    std::vector<Fact> facts;
    std::string teardown;        // down.sh's summary
    double seconds = 0;

    bool skipped() const { return !skip_reason.empty(); }
    size_t failed() const;
    bool passed() const { return !skipped() && error.empty() && failed() == 0; }
    const ScenarioRun* scenario(const std::string& name) const;
    const CheckResult* check(const std::string& name) const;
};

struct RunResults {
    std::string started_at;  // ISO 8601, UTC
    double seconds = 0;
    std::vector<ModeRun> modes;
    std::optional<AlgoRun> algorithms;  // when the algorithms suite ran
    std::optional<HealthRun> health;    // when the health suite ran
    std::vector<HaRun> ha;              // when the HA suite ran: the failover scenario per mode of --mode
    std::optional<HaGuardRun> ha_guard; // ... and the bad-input/partition scenario (with proxy in --mode)
    bool has_ha() const { return !ha.empty() || ha_guard.has_value(); }
    const HaGuardRun* guard() const { return ha_guard ? &*ha_guard : nullptr; }
    // Every mode and the algorithms, health and HA suites (what of them ran) passed;
    // false when nothing ran.
    bool passed() const;
    size_t total_checks() const;
    size_t failed_checks() const;
};

// A lab name not in use under run_dir: prefix + pid (+ a letter if taken).
std::string unique_lab_name(const Paths& paths, const std::string& prefix);

// Runs one mode end to end; never leaves the lab up. Throws only Interrupted.
ModeRun run_mode(const Paths& paths, const ModeSpec& mode, const RunOptions& opt);

// Runs every selected mode, then the algorithms, health and HA suites when opt.suite
// asks for them, and writes index.html, results.json and junit.xml (and
// algorithms.html, health.html, ha.html; ha-<mode>.json and ha-<mode>/*.pcap) into opt.out.
// Throws Error for a bad mode or suite name, Interrupted on a signal (after cleanup).
RunResults run_modes(const Paths& paths, const RunOptions& opt);

// lbctl --socket SOCK stats --json, parsed; nullopt when lbctl or the socket is missing
// or the answer is not JSON (the reason goes to `why`).
std::optional<nlohmann::json> lbctl_stats(const Paths& paths, const std::string& socket,
                                          std::string* why = nullptr);

}  // namespace lab
