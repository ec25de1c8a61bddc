// checks.hpp: the check engine. A mode's conformance is a TABLE of CheckCase rows
// (description, scenario, hop, capture point, packet selector, expected fields,
// expected absences); evaluate() judges one row against a scenario's captures and
// returns pass/fail with every field as name, expected, actual.
//
// Values in a row are templates: "{vip}", "{router.eth1.mac}", "{server}.eth0",
// "{cport}" are filled from a Vars map built from topology.toml (every
// <node>.<iface>.mac / .ip) and from the scenario's outcome (which server answered,
// the client port it saw). See scenario_vars() in scenario.hpp.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lablib/pcap.hpp"

namespace lab {

using Vars = std::map<std::string, std::string>;

// Replaces every {name} by vars[name]. Throws Error naming the first unknown name.
std::string expand(const std::string& text, const Vars& vars);

// Which IP header of a packet a Match looks at. Only IPIP nests headers.
enum class Layer {
    Innermost,  // the inner packet of an IPIP packet, else the packet itself (a flow in any form)
    Outer,      // the header as captured (an IPIP packet is protocol "ipip")
    Inner,      // only IPIP packets, by their inner header
};

// A packet filter: every non-empty field must hold.
struct Match {
    std::string proto = {};      // "tcp" | "udp" | "icmp" | "ipip" | "" (any IPv4 packet)
    std::string src_ip = {};     // an address or a CIDR prefix ("192.0.2.0/24")
    std::string dst_ip = {};
    std::string src_port = {};
    std::string dst_port = {};
    std::string icmp_type = {};  // "8" echo request, "0" echo reply, "3" unreachable
    bool either_direction = false;  // also matches with source and destination swapped
    Layer layer = Layer::Innermost;  // the header the fields above apply to
    std::string src_mac = {};    // the frame's, whatever the layer
    std::string dst_mac = {};

    Match resolved(const Vars& vars) const;  // every field expanded
    bool matches(const Packet& p) const;     // call on a resolved Match
    // "tcp 198.51.100.11:40000 > 203.0.113.10:80", "inner tcp ...", "... from 02:00:..."
    std::string describe() const;
};

enum class CheckKind {
    Packet,     // the FIRST packet matching `match` at `points` has the `expect` fields
    Absent,     // no packet matching `match` at any of `points`
    Checksums,  // every packet matching `match` at `points` has valid checksums (>= 1)
    Outcome,    // `expect` compares scenario values (Vars) instead of packet fields
    Every,      // EVERY packet matching `match` at `points` has the `expect` fields (>= 1)
};

const char* to_string(CheckKind k);

// One expected field. Packet fields (packet_field()):
//   src_mac dst_mac src_ip dst_ip src_port dst_port ttl protocol dscp ecn ip_len df
//   icmp_type icmp_code icmp_mtu checksums ("valid": IP and L4, and an IPIP packet's
//   inner ones), encap ("ipip" | "none"),
//   inner.<field> (the inner packet of an IPIP packet, "-" without one),
//   quoted.src_ip quoted.dst_ip quoted.src_port quoted.dst_port quoted.protocol (the
//   datagram an ICMP error is about).
// For Outcome checks the field is a Vars name.
// The value is a template; besides {vars} it may name the judged packet's own fields,
// "{packet.inner.dscp}". It is compared case-insensitively, or, when it reads
// "LO..HI", "<= N", ">= N", "< N", "> N" or "!= X", by that relation; a field named
// checksums or ending in .checksums passes when its value starts with "valid".
struct Expect {
    std::string field;
    std::string value;  // template
};

// Whether `actual` satisfies an expanded expected value (see Expect).
bool value_satisfies(const std::string& field, const std::string& expected, const std::string& actual);

struct CheckCase {
    std::string name = {};         // CamelCase, the test's name: InlineHttp_Hop2_LbToServer_DnatOnly
    std::string description = {};  // one sentence a reader understands without the code
    std::string scenario = {};     // "http"
    std::string hop = {};          // "1 client→lb" .. "4 lb→client"; "" for absences and outcomes
    CheckKind kind = CheckKind::Packet;
    // Where to look: one point "lb-a.front", a template "{server}.eth0", a glob
    // "server*.eth0", "*" for every point, or a comma-separated list of those.
    std::string points = {};
    Match match = {};
    std::vector<Expect> expect = {};
};

struct FieldResult {
    std::string name;
    std::string expected;
    std::string actual;
    bool ok = false;
};

struct CheckResult {
    std::string name;
    std::string description;
    std::string scenario;
    std::string hop;
    CheckKind kind = CheckKind::Packet;
    std::string points;      // expanded
    std::string selector;    // the resolved match, described
    bool passed = false;
    std::string error;       // why it could not be judged (no capture, no packet, ...)
    std::vector<FieldResult> fields;
    std::optional<Packet> packet;  // the selected packet, or the first offending one
    size_t matched = 0;            // Absent, Checksums, Every: packets the selector matched
    std::string packet_point;      // where that packet was captured

    // A result for `c` that names it and is not judged yet.
    static CheckResult for_case(const CheckCase& c);

    // Multi-line: verdict, then every failing field as "name: expected X, actual Y",
    // then the packet decoded and dumped.
    std::string report() const;
};

// A scenario's captures: capture point id ("lb-a.front") → its packets.
struct CaptureSet {
    std::map<std::string, std::vector<Packet>> packets;
    std::map<std::string, std::string> files;   // point → pcap path
    std::map<std::string, std::string> errors;  // point → why it could not be read

    // Loads <dir>/<point>.pcap for every point id given.
    static CaptureSet load(const std::string& dir, const std::vector<std::string>& points);
    // Point ids matching a pattern list (see CheckCase::points), in sorted order.
    std::vector<std::string> select_points(const std::string& pattern) const;
};

// The packet-field names evaluate() understands (see Expect), and one field's value
// for a packet. Throws Error for an unknown name.
std::string packet_field(const Packet& p, const std::string& field);

// Replaces {name} by vars[name], or, for "packet.<field>", by that field of `p`.
std::string expand(const std::string& text, const Vars& vars, const Packet& p);

// Judges one row. Never throws: a row that cannot be expanded or evaluated fails with
// `error` set.
CheckResult evaluate(const CheckCase& c, const CaptureSet& caps, const Vars& vars);

// Glob with '*' (any run of characters) and '?' (one character).
bool glob_match(const std::string& pattern, const std::string& text);

}  // namespace lab
