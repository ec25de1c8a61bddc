// modes.hpp: the forwarding modes the lab knows: for each, its topology script, its
// scenarios, its check table and its facts. Only `inline` is available now; the
// others are listed so they are rejected with a clear message.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lablib/checks.hpp"
#include "lablib/facts.hpp"
#include "lablib/scenario.hpp"
#include "lablib/topology.hpp"

namespace lab {

struct ModeSpec {
    std::string name;             // "inline"
    std::string title;            // "inline (two-arm)"
    std::string topology_script;  // "topo_inline.sh"; empty while the mode is pending
    std::function<std::vector<ScenarioSpec>()> scenarios;
    std::function<std::vector<CheckCase>()> checks;  // the mode's conformance table
    std::function<std::vector<Fact>(const Topology&, const std::vector<ScenarioRun>&)> facts;

    bool available() const { return !topology_script.empty(); }
};

const std::vector<ModeSpec>& all_modes();
// Throws Error for a name that is no mode (listing the known ones).
const ModeSpec& find_mode(const std::string& name);
// Throws Error for an unknown mode and for one that is not implemented yet.
const ModeSpec& find_available_mode(const std::string& name);
// "all" → every available mode; otherwise the one named (which must be available).
std::vector<const ModeSpec*> select_modes(const std::string& arg);

// The inline (two-arm) mode: mode_inline.cpp.
ModeSpec inline_mode();

// The check-table name prefix of a mode and scenario: ("inline", "http") → "InlineHttp".
std::string case_prefix(const std::string& mode, const std::string& scenario);

}  // namespace lab
