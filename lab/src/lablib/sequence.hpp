// sequence.hpp: a sequence diagram of a scenario, drawn from its captures. Every
// captured frame of the flow is one arrow from the node whose MAC sent it to the node
// whose MAC it was addressed to; a frame seen at both ends of a link is one arrow (at
// its earliest capture time). Lifelines: client, router, LB, server.
#pragma once

#include <string>
#include <vector>

#include "lablib/checks.hpp"
#include "lablib/scenario.hpp"
#include "lablib/topology.hpp"

namespace lab {

struct SeqArrow {
    int from = 0;          // lifeline index
    int to = 0;
    double time = 0;       // seconds since the epoch, earliest capture
    std::string label;     // "S 198.51.100.11:40312 → 203.0.113.10:80 ttl 63"
    std::string inner;     // IPIP: the inner packet, same format; "" otherwise
    std::string points;    // where it was captured, "client1.eth0, router.eth0"
    bool upstream = true;  // toward the service (destination port 80)
};

struct SequenceDiagram {
    std::vector<std::string> lifelines;  // "client1", "router", "lb-a", "server2"
    std::vector<SeqArrow> arrows;        // capture-time order
    size_t total = 0;                    // arrows before truncation to `max`
};

// The first `max` arrows of the frames matching any of `flow` (resolved Matches,
// innermost header) in `run`'s captures.
SequenceDiagram sequence_from_captures(const Topology& topo, const ScenarioRun& run, const std::vector<Match>& flow,
                                       size_t max);

// The diagram as inline SVG (no script, no external reference); `id` prefixes its
// element ids, unique per page.
std::string sequence_svg(const SequenceDiagram& d, const std::string& id);

}  // namespace lab
