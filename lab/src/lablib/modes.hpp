// modes.hpp: the forwarding modes the lab knows: for each, what it needs from the
// machine, its scenarios, its check table (built from mode_table.hpp) and its facts.
// One file per mode, mode_<name>.cpp, states only what its LB does differently.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "lablib/checks.hpp"
#include "lablib/facts.hpp"
#include "lablib/scenario.hpp"
#include "lablib/topology.hpp"

namespace lab {

// Something a mode's lab needs beyond what every lab needs (root, netns, veth,
// bridge, tun, tcpdump, ethtool): any one of `any_of`, each a netns_scripts/features.sh
// key ("nftables", "ipip") or "bin:<program>" (a program built beside `lab`).
struct Requirement {
    std::vector<std::string> any_of;
    std::string why;  // "the servers map the DSCP back to the VIP with nftables"
};

struct ModeSpec {
    std::string name;     // "inline"
    std::string title;    // "inline (two-arm)"
    std::string summary;  // one sentence: what the LB does to a packet, for the report
    std::vector<Requirement> needs;
    std::function<std::vector<ScenarioSpec>()> scenarios;
    std::function<std::vector<CheckCase>()> checks;  // the mode's conformance table
    // Values only the captures tell (proxy: the port the LB allocated): added to the
    // scenario's outcome values after it ran, before its Vars are built; may be empty.
    std::function<void(const Topology&, const ScenarioRun&, std::map<std::string, std::string>&)> derive;
    FactSpec facts;
};

// inline, proxy, dsr-l2, dsr-l3-dscp, dsr-l3-tunnel: the order of `lab run --mode all`.
const std::vector<ModeSpec>& all_modes();
// Throws Error for a name that is no mode (listing the known ones).
const ModeSpec& find_mode(const std::string& name);
// "all" → every mode, in order; otherwise the one named. Throws Error.
std::vector<const ModeSpec*> select_modes(const std::string& arg);

// The modes, one file each (mode_<name>.cpp).
ModeSpec inline_mode();
ModeSpec proxy_mode();
ModeSpec dsr_l2_mode();
ModeSpec dsr_l3_dscp_mode();
ModeSpec dsr_l3_tunnel_mode();

// The five client scenarios every mode runs: http, udp, icmp, download, upload.
std::vector<ScenarioSpec> standard_scenarios();
// Those and the ICMP error scenarios (unreachable, client-gone): inline and proxy.
std::vector<ScenarioSpec> scenarios_with_icmp_errors();

// The check-table name prefix of a mode and scenario: ("dsr-l2", "http") → "DsrL2Http".
std::string case_prefix(const std::string& mode, const std::string& scenario);

}  // namespace lab
