// algorithms.hpp: the scheduling-algorithms suite. One inline lab; for each case the
// engine is set up at runtime with lbctl (algo, weight, drain, group, min-active,
// remove, add) and lab_server delays, real clients in client1/client2 make new
// connections (lab_client http-many) or hold some open (lab_client hold), and the
// per-server counts they measured are judged against the case's expectation.
//
// Cases are a table (algorithm_cases()): a name, what is expected, and a run function
// that issues the commands and measures. Every case starts from the same state
// (reset(): algo rr, weight 1 and group 1 for every backend, min-active 1, no
// removed backend, no server delay); the two that count live flows (wlc, lc) run
// first, while the flow table holds only the lab's start-up probe.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lablib/paths.hpp"
#include "lablib/topology.hpp"

namespace lab {

// One backend of one VIP as `lbctl backends --json` describes it. Numbers the engine did
// not report are -1.
struct BackendState {
    std::string vip;
    std::string address;  // "192.0.2.11:80"
    std::string state;    // up | draining | down | removed
    long weight = -1;
    long group = -1;
    long established = -1;
    long other = -1;
    long flows_total = -1;
    double rtt_ms = -1;  // the rtt score (connect + response)
    double connect_ms = -1;
    double response_ms = -1;
    // Health (lbd's health checks): the check type, how long the backend has been in its
    // state, the last check's result and why the state last changed.
    std::string check;
    long since_ms = -1;
    std::string last_check;
    std::string change_reason;
};

// Reads `lbctl backends --json`: {"vips": [...], "backends": [{"vip", "backend":
// "ip:port", "weight", ...}]} as lbd answers, and also VIPs that each hold their
// "backends" (an object {"vips": [...]} or an array). A backend's address is "backend"
// ("ip:port"), or "address" ("ip:port", or "ip" with "port"). Throws Error when no
// backend can be found in it.
std::vector<BackendState> parse_backends_json(const nlohmann::json& j);

// Reads lab_client http-many / hold output: the `NAME COUNT` lines up to the
// `failures N` line that ends the summary (lines of other shapes are skipped).
// Returns false when there is no `failures` line.
bool parse_counts(const std::string& out, std::map<std::string, int>& counts, int& failures);

// One measured distribution: how many connections each server got, and per server
// the range the case expects (min..max; -1: no expectation).
struct Bar {
    std::string server;
    int count = 0;
    int min = -1;
    int max = -1;
    bool expected() const { return min >= 0 || max >= 0; }
    bool within() const { return (min < 0 || count >= min) && (max < 0 || count <= max); }
};

struct Distribution {
    std::string label;     // "300 new connections, server1 delayed 50 ms"
    std::string command;   // the client command, as a user would type it
    std::vector<Bar> bars; // every server of the lab in order (0 included), then any other name
    int failures = 0;      // connections that got no proper answer
    int total() const;     // connections answered
    int count(const std::string& server) const;
    Bar* bar(const std::string& server);
};

// A judged expectation: expected vs measured, as text for the report and the tests.
struct AlgoCheck {
    std::string name;
    std::string expected;
    std::string actual;
    bool ok = false;
};

// `lbctl backends --json` at one moment of a case.
struct BackendSnapshot {
    std::string label;
    std::vector<BackendState> backends;  // of the suite's VIP only
};

struct AlgoCase {
    std::string name;         // "rr"
    std::string title;        // "round robin"
    std::string expectation;  // one sentence
    std::vector<std::string> setup;     // the reset to the common starting state
    std::vector<std::string> commands;  // what the case ran, in order
    std::vector<Distribution> measured;
    std::vector<AlgoCheck> checks;
    std::vector<std::string> notes;     // readings worth showing (rtt_ms, warm-up)
    std::vector<BackendSnapshot> snapshots;
    std::string error;  // why the case could not run to its end
    double seconds = 0;
    bool passed() const;  // no error, at least one check, every check ok
};

struct AlgoRun {
    std::string lab;
    std::string vip_name;      // the VIP the suite drives ("web")
    std::string error;         // why the suite could not run
    std::string skip_reason;   // the environment cannot run a lab
    std::optional<Topology> topo;
    std::vector<AlgoCase> cases;
    std::string teardown;
    double seconds = 0;
    bool skipped() const { return !skip_reason.empty(); }
    size_t failed() const;  // cases that did not pass
    bool passed() const { return !skipped() && error.empty() && !cases.empty() && failed() == 0; }
    const AlgoCase* find(const std::string& name) const;
};

class AlgoContext;

// A row of the suite.
struct AlgoSpec {
    std::string name;
    std::string test_name;  // what the case shows, for test names: "RoundRobinSplitsNewConnectionsExactly"
    std::string title;
    std::string expectation;
    std::function<void(AlgoContext&, AlgoCase&)> run;
};

// wlc, lc, rr, wrr, rtt, priority, sh, maglev: the order they run in.
const std::vector<AlgoSpec>& algorithm_cases();

struct AlgoOptions {
    std::string name;               // lab name; empty: a unique a<pid>
    std::vector<std::string> only;  // run only these cases (empty: all)
};

// Brings up an inline lab with 3 servers, runs every case, always brings it down.
// Throws only Interrupted (after cleanup) and Error for an unknown --only name.
AlgoRun run_algorithms(const Paths& paths, const AlgoOptions& opt);

// The chart of one distribution: one bar per server with its count, the expected
// range as a band behind it, green when within and red when not. Self-contained SVG.
std::string distribution_svg(const Distribution& d);

}  // namespace lab
