// facts.hpp: measured facts about a mode, for the report and its comparison table: does
// the server see the client's address, does the reply cross the LB, how many packets
// and bytes did the LB carry each way for the bulk transfers (from the captures at its
// ports, and from lbctl).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lablib/scenario.hpp"
#include "lablib/topology.hpp"

namespace lab {

struct Fact {
    std::string name;      // "server sees the client IP"
    std::string scenario;  // where it was measured
    std::string value;     // "yes: server2 saw 198.51.100.11:40312"
    std::map<std::string, double> numbers;  // the same as numbers, for results.json
    std::string summary = {};  // short, for the comparison table ("yes", "7412 pkts, 10.61 MiB")
};

// What a mode's facts need to know about its flows; values are templates (Vars).
struct FactSpec {
    // Every form the scenario's flow takes on the wire (client side; proxy adds the
    // server side PIP:pport). Matched against the innermost header.
    std::vector<Match> flow;
    // The server's reply as it leaves the server.
    Match reply;
};

// The flow's packets at the LB's ports, by direction: "up" is toward the service
// (destination port 80 in the innermost header), "down" toward the client; "in" is a
// frame addressed to the port's MAC, "out" one sent from it. Bytes are IP total
// lengths of the frame as it crossed the port (outer header for IPIP): a snap length
// does not change them.
struct LbTraffic {
    bool measured = false;  // at least one LB port had a capture
    uint64_t up_in_packets = 0, up_in_bytes = 0;      // client → LB
    uint64_t up_out_packets = 0, up_out_bytes = 0;    // LB → server
    uint64_t down_in_packets = 0, down_in_bytes = 0;  // server → LB
    uint64_t down_out_packets = 0, down_out_bytes = 0;  // LB → client
    std::vector<std::string> points;  // the LB ports measured
};
LbTraffic lb_traffic(const Topology& topo, const ScenarioRun& run, const std::vector<Match>& flow);

// "server sees the client IP": seen_ip against cip.
Fact fact_server_sees_client(const ScenarioRun& run);
// "reply crosses the LB": packets of the server's reply (spec.reply, innermost header)
// that reach an LB port addressed to its MAC, against those that left the server.
Fact fact_reply_crosses_lb(const Topology& topo, const ScenarioRun& run, const Match& reply);
// Four facts (client→LB, LB→server, server→LB, LB→client) and the total.
std::vector<Fact> facts_lb_traffic(const Topology& topo, const ScenarioRun& run, const std::vector<Match>& flow);
// The change of lbctl's counters over the scenario (ports and drops), if both
// snapshots exist.
std::vector<Fact> facts_lbctl(const ScenarioRun& run);
// http: sees the client, reply crosses; download and upload: LB traffic and lbctl.
std::vector<Fact> standard_facts(const Topology& topo, const std::vector<ScenarioRun>& runs, const FactSpec& spec);

std::string human_bytes(uint64_t n);

}  // namespace lab
