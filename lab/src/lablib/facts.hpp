// facts.hpp: measured facts about a mode, for the report: does the server see the
// client's address, does the reply cross the LB, how many packets and bytes did the
// LB carry each way for the bulk transfers (from its own captures, and from lbctl).
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
};

// Packets and bytes (sum of IP total lengths: a snap length does not change them)
// of one flow seen at one capture point, split by whether the LB's MAC is the
// destination (into the LB) or the source (out of it).
struct PortTraffic {
    uint64_t in_packets = 0, in_bytes = 0;
    uint64_t out_packets = 0, out_bytes = 0;
};
// The flow is cip:cport <-> any:<service_port>.
PortTraffic flow_traffic(const std::vector<Packet>& packets, const std::string& lb_mac,
                         const Vars& vars, const std::string& proto);

// "server sees the client IP": seen_ip against cip.
Fact fact_server_sees_client(const ScenarioRun& run);
// "reply crosses the LB": replies from the answering server at `lb_point` addressed
// to `lb_mac`.
Fact fact_reply_crosses_lb(const ScenarioRun& run, const std::string& lb_point,
                           const std::string& lb_mac);
// Four facts: client→LB, LB→server, server→LB, LB→client, from the LB's captures.
std::vector<Fact> facts_lb_traffic(const ScenarioRun& run, const std::string& front_point,
                                   const std::string& front_mac, const std::string& back_point,
                                   const std::string& back_mac);
// The change of lbctl's counters over the scenario (ports and drops), if both
// snapshots exist.
std::vector<Fact> facts_lbctl(const ScenarioRun& run);

std::string human_bytes(uint64_t n);

}  // namespace lab
