// scenario.hpp: what a scenario is (a client command run in client1 while every
// capture point records), what it reports (ScenarioOutcome: named values such as the
// server that answered and the client port it saw), and the Vars a check table is
// filled from.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lablib/checks.hpp"
#include "lablib/paths.hpp"
#include "lablib/topology.hpp"

namespace lab {

struct ScenarioContext {
    const Paths& paths;
    const Topology& topo;
    const Node& client;               // where the client command runs (client1)
    std::filesystem::path scratch;    // a directory for files the scenario makes
};

struct ScenarioOutcome {
    bool ok = false;     // the client command worked and its answer parsed
    std::string error;   // why not
    std::vector<std::string> commands;  // what ran, for the report
    std::string output;  // the client's answer (bounded)
    // Named results: server (which one answered), seen_ip / seen_port (the client
    // address the server saw), cport (the client's own port), sha256, ...
    std::map<std::string, std::string> values;
};

struct ScenarioSpec {
    std::string name;   // "http": also the directory of its pcaps
    std::string title;  // one line for the report
    bool bulk = false;  // captures keep 256 bytes a packet
    std::function<ScenarioOutcome(const ScenarioContext&)> run;
};

// Vars for a scenario's checks: from the topology, <node>.<iface>.mac / .ip / .net for
// every interface, vip, mode, proxy_ip and dscp (when the topology has them), cip (the
// client's address) and client; then every outcome value; then, once `server` is known,
// rip / rmac (that server's eth0 address and MAC).
Vars scenario_vars(const Topology& topo, const Node& client, const ScenarioOutcome& out);

// When the client's answer did not name the server (a download), the server whose
// capture holds the client's flow (cip:cport, also inside IPIP): its name, or "".
std::string server_from_captures(const Topology& topo, const CaptureSet& caps, const Vars& vars);

// Helpers for scenario implementations.
// Parses "serverN a.b.c.d:port[ rest]" into server, seen_ip, seen_port (and `rest`).
bool parse_server_answer(const std::string& line, std::map<std::string, std::string>& values,
                         std::string* rest = nullptr);

}  // namespace lab

namespace lab {

// One scenario as it ran: its outcome, the values its checks were filled from, its
// captures, and the engine's counters before and after (lbctl stats --json).
struct ScenarioRun {
    std::string name;
    std::string title;
    bool bulk = false;
    ScenarioOutcome outcome;
    Vars vars;
    std::string rel_dir;  // "<mode>/<scenario>", relative to the output directory
    std::vector<std::pair<std::string, std::string>> pcaps;  // point → path relative to out
    std::vector<std::string> problems;  // capture problems (drops, kills)
    CaptureSet captures;
    std::optional<nlohmann::json> stats_before;
    std::optional<nlohmann::json> stats_after;
    double seconds = 0;
};

}  // namespace lab

namespace lab {

// The client scenarios every mode runs (client1 → VIP), with the Outcome values each
// sets. http: server, seen_ip, seen_port, cport, http_code.
ScenarioSpec http_scenario();
// udp: server, seen_ip, seen_port, cport (the source port it sends from), echo.
ScenarioSpec udp_scenario();
// icmp: transmitted, received.
ScenarioSpec icmp_scenario();
// download: 10 MiB GET /bytes/N; cport, http_code, size, sha256, expected_sha256,
// server (from the X-Server header when present).
ScenarioSpec download_scenario(uint64_t bytes = 10u << 20);
// upload: 10 MiB POST /upload; cport, http_code, server, upload_length,
// upload_sha256, file_length, file_sha256.
ScenarioSpec upload_scenario(uint64_t bytes = 10u << 20);

// ICMP errors about a flow (the modes that translate them: inline, proxy).
// unreachable: one datagram to VIP:9, where no server listens; the server's port
// unreachable must come back translated, so client1's connected socket reports
// ECONNREFUSED. Values: cport, refused ("yes" | "no").
ScenarioSpec unreachable_scenario();
// client-gone: one datagram to VIP:80 from a port no socket holds (a raw socket); the
// echo finds the port closed and client1's kernel answers it with port unreachable, which the LB must
// pass to the server translated. Values: cport.
ScenarioSpec client_gone_scenario();

}  // namespace lab
