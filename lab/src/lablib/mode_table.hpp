// mode_table.hpp: what every mode's check table has in common, so that each
// mode_<name>.cpp states only what its LB does differently.
//
// A mode's table is built by standard_table() from a TableSpec:
//   - for each TCP/UDP scenario (http, udp, download, upload): the mode's flow checks
//     (TableSpec::flow: hops, checksums, absences of one flow through the VIP), the
//     scenario's outcome (the answer's content), then the mode's extras;
//   - for icmp: the same checks in every mode (the engine answers echo to the VIP).
// Check names are <Mode><Scenario>_<Id>: InlineHttp_Hop2_LbToServer_DnatOnly.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lablib/checks.hpp"

namespace lab {

// Hop names in path order (ARCHITECTURE.md, "Hops and captures").
inline constexpr const char* kHop1 = "1 client→lb";
inline constexpr const char* kHop2 = "2 lb→server";
inline constexpr const char* kHop3 = "3 server→lb";
inline constexpr const char* kHop3Direct = "3 server→client";
inline constexpr const char* kHop4 = "4 lb→client";
inline constexpr const char* kHop4Direct = "4 router→client";

// One TCP or UDP flow of a scenario, as a table sees it.
struct Flow {
    std::string mode;      // "dsr-l2"
    std::string scenario;  // "http"
    std::string proto;     // "tcp" | "udp"
    std::string what;      // "the HTTP request", for descriptions
    std::string prefix() const;  // "DsrL2Http_"
};

// Headers as a hop's expectation lists them. Empty values are left out.
std::vector<Expect> l2(const std::string& src_mac, const std::string& dst_mac);
std::vector<Expect> l3(const std::string& src_ip, const std::string& src_port,
                       const std::string& dst_ip, const std::string& dst_port, const std::string& ttl);
std::vector<Expect> operator+(std::vector<Expect> a, const std::vector<Expect>& b);

// Selectors of a flow by the client's end, CIP:cport, as the source (toward the
// service) or as the destination (the reply); layer Innermost, so a tunnelled packet
// is selected by its inner header. Selecting by one end only means a packet with a
// wrong other end is still selected and shown field by field.
Match from_client(const Flow& f);
Match to_client(const Flow& f);
// Both directions of the flow CIP:cport <> any:80 (for checksums and traffic).
Match client_flow(const Flow& f);

// A Packet check: "<prefix><id>". Unless `expect` names them, appends `protocol` =
// the flow's protocol and `checksums` = valid.
CheckCase hop_check(const Flow& f, const std::string& id, const char* hop, const std::string& description,
                    const std::string& points, Match match, std::vector<Expect> expect);
// Every packet of `flow` at every capture point has valid checksums.
CheckCase checksums_check(const Flow& f, const std::string& id, const std::string& description, Match flow);
CheckCase absent_check(const Flow& f, const std::string& id, const std::string& description,
                       const std::string& points, Match match);
// Checks of scenario values (Vars): "<Mode><Scenario>_<id>".
CheckCase outcome_check(const std::string& mode, const std::string& scenario, const std::string& id,
                        const std::string& description, std::vector<Expect> expect);

// Hop 1 is the same in every mode: the router delivers the client's packet to the LB's
// front port, addressed to VIP:80 (TTL 63: the router took one). `more` is appended.
CheckCase hop1_check(const Flow& f, std::vector<Expect> more = {});
// "<prefix><id>": the reply reaches client1 from the router, from VIP:80, with `ttl`.
CheckCase hop4_at_client_check(const Flow& f, const std::string& id, const char* hop, const std::string& ttl,
                               const std::string& description);
// DSR: the server's reply never crosses the LB (no TCP/UDP packet from VIP:80 at any
// LB port).
CheckCase reply_never_crosses_lb_check(const Flow& f);

struct TableSpec {
    std::string mode;
    // Hops, checksums and absences of one TCP or UDP flow.
    std::function<std::vector<CheckCase>(const Flow&)> flow;
    // The address the server sees as the client's ("{cip}", or "{proxy_ip}").
    std::string server_sees = "{cip}";
    // Mode-only checks of a scenario, appended after its common ones (may be empty).
    std::function<std::vector<CheckCase>(const std::string& scenario)> extra = {};
};

// http, udp, icmp, download, upload: the whole table of a mode.
std::vector<CheckCase> standard_table(const TableSpec& spec);

// The ICMP error scenarios (unreachable, client-gone) of a mode that translates errors
// about its flows. The server sees the client as `peer_ip`:`peer_port` ("{cip}" and
// "{cport}" in inline, "{proxy_ip}" and "{pport}" in proxy); `hides_client`: no packet
// from the client's address may reach a server (proxy).
std::vector<CheckCase> icmp_error_table(const std::string& mode, const std::string& peer_ip,
                                        const std::string& peer_port, bool hides_client);

}  // namespace lab
