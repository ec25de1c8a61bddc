#include "lablib/mode_table.hpp"

#include "lablib/modes.hpp"

#include <algorithm>

namespace lab {

std::string Flow::prefix() const { return case_prefix(mode, scenario) + "_"; }

std::vector<Expect> l2(const std::string& src_mac, const std::string& dst_mac) {
    return {{"src_mac", src_mac}, {"dst_mac", dst_mac}};
}

std::vector<Expect> l3(const std::string& src_ip, const std::string& src_port,
                       const std::string& dst_ip, const std::string& dst_port, const std::string& ttl) {
    std::vector<Expect> out;
    auto add = [&](const char* f, const std::string& v) {
        if (!v.empty()) out.push_back({f, v});
    };
    add("src_ip", src_ip);
    add("dst_ip", dst_ip);
    add("src_port", src_port);
    add("dst_port", dst_port);
    add("ttl", ttl);
    return out;
}

std::vector<Expect> operator+(std::vector<Expect> a, const std::vector<Expect>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

Match from_client(const Flow& f) { return Match{.proto = f.proto, .src_ip = "{cip}", .src_port = "{cport}"}; }

Match to_client(const Flow& f) { return Match{.proto = f.proto, .dst_ip = "{cip}", .dst_port = "{cport}"}; }

Match client_flow(const Flow& f) {
    return Match{.proto = f.proto, .src_ip = "{cip}", .src_port = "{cport}", .dst_port = "80",
                 .either_direction = true};
}

CheckCase hop_check(const Flow& f, const std::string& id, const char* hop, const std::string& description,
                    const std::string& points, Match match, std::vector<Expect> expect) {
    auto has = [&](const char* field) {
        return std::any_of(expect.begin(), expect.end(), [&](const Expect& e) { return e.field == field; });
    };
    if (!has("protocol")) expect.push_back({"protocol", f.proto});
    if (!has("checksums")) expect.push_back({"checksums", "valid"});
    return CheckCase{f.prefix() + id, description, f.scenario, hop, CheckKind::Packet, points,
                     std::move(match), std::move(expect)};
}

CheckCase checksums_check(const Flow& f, const std::string& id, const std::string& description, Match flow) {
    return CheckCase{f.prefix() + id, description, f.scenario, "", CheckKind::Checksums, "*", std::move(flow), {}};
}

CheckCase absent_check(const Flow& f, const std::string& id, const std::string& description,
                       const std::string& points, Match match) {
    return CheckCase{f.prefix() + id, description, f.scenario, "", CheckKind::Absent, points, std::move(match), {}};
}

CheckCase outcome_check(const std::string& mode, const std::string& scenario, const std::string& id,
                        const std::string& description, std::vector<Expect> expect) {
    return CheckCase{case_prefix(mode, scenario) + "_" + id, description, scenario, "", CheckKind::Outcome,
                     "", {}, std::move(expect)};
}

CheckCase hop1_check(const Flow& f, std::vector<Expect> more) {
    return hop_check(f, "Hop1_ClientToLb_RoutedToVip",
                     kHop1, f.what + " reaches the LB's front port from the router, addressed to VIP:80",
                     "lb-a.front", from_client(f),
                     l2("{router.eth1.mac}", "{lb-a.front.mac}") + l3("{cip}", "{cport}", "{vip}", "80", "63") +
                         more);
}

CheckCase hop4_at_client_check(const Flow& f, const std::string& id, const char* hop, const std::string& ttl,
                               const std::string& description) {
    return hop_check(f, id, hop, description, "client1.eth0", to_client(f),
                     l2("{router.eth0.mac}", "{client1.eth0.mac}") + l3("{vip}", "80", "{cip}", "{cport}", ttl));
}

CheckCase reply_never_crosses_lb_check(const Flow& f) {
    return absent_check(f, "ReplyNeverCrossesTheLb",
                        "the server's reply goes straight to the router: no packet from VIP:80 to the client "
                        "appears at the LB's port (the health checks' answers from the VIP to the LB's own "
                        "address do)",
                        "lb-a.front", Match{.src_ip = "{vip}", .dst_ip = "{cip}", .src_port = "80"});
}

namespace {

std::vector<CheckCase> icmp_checks(const std::string& mode) {
    const std::string p = case_prefix(mode, "icmp") + "_";
    std::vector<CheckCase> t;
    t.push_back({p + "Hop1_EchoRequestReachesTheLb",
                 "the echo request reaches the LB's front port from the router, addressed to the VIP",
                 "icmp", kHop1, CheckKind::Packet, "lb-a.front",
                 Match{.proto = "icmp", .src_ip = "{cip}", .icmp_type = "8"},
                 l2("{router.eth1.mac}", "{lb-a.front.mac}") + l3("{cip}", "", "{vip}", "", "63") +
                     std::vector<Expect>{{"icmp_type", "8"}, {"checksums", "valid"}}});
    t.push_back({p + "Hop4_LbAnswersFromTheVip",
                 "the LB itself answers with an echo reply from the VIP, sent to the router", "icmp", kHop4,
                 CheckKind::Packet, "lb-a.front", Match{.proto = "icmp", .dst_ip = "{cip}", .icmp_type = "0"},
                 l2("{lb-a.front.mac}", "{router.eth1.mac}") + l3("{vip}", "", "{cip}", "", "") +
                     std::vector<Expect>{{"icmp_type", "0"}, {"icmp_code", "0"}, {"checksums", "valid"}}});
    t.push_back({p + "Hop4_EchoReplyReachesTheClient", "the echo reply from the VIP reaches client1 through the router",
                 "icmp", kHop4, CheckKind::Packet, "client1.eth0",
                 Match{.proto = "icmp", .dst_ip = "{cip}", .icmp_type = "0"},
                 l2("{router.eth0.mac}", "{client1.eth0.mac}") + l3("{vip}", "", "{cip}", "", "") +
                     std::vector<Expect>{{"icmp_type", "0"}, {"checksums", "valid"}}});
    Match icmp_flow{.proto = "icmp", .src_ip = "{cip}", .dst_ip = "{vip}", .either_direction = true};
    t.push_back({p + "ChecksumsValidAtEveryPoint",
                 "every captured echo request and reply has valid IP and ICMP checksums", "icmp", "",
                 CheckKind::Checksums, "*", icmp_flow, {}});
    t.push_back({p + "NothingReachesAnyServer", "no ICMP packet reaches any server: the engine answers for the VIP",
                 "icmp", "", CheckKind::Absent, "server*.eth0", Match{.proto = "icmp"}, {}});
    t.push_back({p + "AllRepliesReceived", "ping gets 3 replies out of 3", "icmp", "", CheckKind::Outcome, "",
                 {}, {{"received", "3"}}});
    return t;
}

}  // namespace

std::vector<CheckCase> standard_table(const TableSpec& spec) {
    std::vector<CheckCase> t;
    auto add = [&](std::vector<CheckCase> v) { t.insert(t.end(), v.begin(), v.end()); };
    auto extra = [&](const std::string& scenario) {
        if (spec.extra) add(spec.extra(scenario));
    };
    const std::string& m = spec.mode;
    const bool sees_client = spec.server_sees == "{cip}";

    add(spec.flow(Flow{m, "http", "tcp", "the HTTP request"}));
    if (sees_client) {
        t.push_back(outcome_check(m, "http", "ServerSeesClientIp",
                                  "the server's answer names the client's own address: the LB does not SNAT",
                                  {{"seen_ip", "{cip}"}}));
        t.push_back(outcome_check(m, "http", "ServerSeesClientPort",
                                  "the server saw the client's own source port", {{"seen_port", "{cport}"}}));
    } else {
        t.push_back(outcome_check(m, "http", "ServerSeesTheLbAddressNotTheClient",
                                  "the server's answer names the LB's address " + spec.server_sees +
                                      ", not the client's: the LB replaced the source",
                                  {{"seen_ip", spec.server_sees}}));
    }
    extra("http");

    add(spec.flow(Flow{m, "udp", "udp", "the UDP datagram"}));
    t.push_back(outcome_check(m, "udp", "EchoAnswered", "the UDP echo comes back with the client's payload",
                              {{"echo", "hello"}, {"seen_ip", spec.server_sees}}));
    extra("udp");

    add(icmp_checks(m));
    extra("icmp");

    add(spec.flow(Flow{m, "download", "tcp", "the 10 MiB download"}));
    t.push_back(outcome_check(m, "download", "Sha256Matches",
                              "the 10 MiB body's SHA-256 equals the pattern's (lab_client pattern-sha256)",
                              {{"size", "10485760"}, {"sha256", "{expected_sha256}"}}));
    extra("download");

    add(spec.flow(Flow{m, "upload", "tcp", "the 10 MiB upload"}));
    t.push_back(outcome_check(m, "upload", "ServerGotTheSameBytes",
                              "the server's answer gives the uploaded file's length and SHA-256",
                              {{"upload_length", "{file_length}"}, {"upload_sha256", "{file_sha256}"}}));
    extra("upload");
    return t;
}

std::vector<CheckCase> icmp_error_table(const std::string& mode, const std::string& peer_ip,
                                        const std::string& peer_port, bool hides_client) {
    const std::string lb = "{lb-a.front.mac}", router = "{router.eth1.mac}";
    std::vector<CheckCase> t;
    auto unreachable = [](std::vector<Expect> more) {
        return std::vector<Expect>{{"protocol", "icmp"}, {"icmp_type", "3"}, {"icmp_code", "3"},
                                   {"quoted.protocol", "udp"}, {"checksums", "valid"}} +
               more;
    };
    auto quoted = [](const std::string& sip, const std::string& sport, const std::string& dip,
                     const std::string& dport) {
        return std::vector<Expect>{
            {"quoted.src_ip", sip}, {"quoted.src_port", sport}, {"quoted.dst_ip", dip}, {"quoted.dst_port", dport}};
    };

    // A server's error about a flow reaches the client as if the VIP had sent it.
    Flow u{mode, "unreachable", "udp", "the datagram to VIP:9"};
    t.push_back(hop_check(u, "Hop2_DatagramReachesAServerOnPort9", kHop2,
                          "the datagram reaches a server's port 9, where nothing listens", "{server}.eth0",
                          Match{.proto = "udp", .dst_port = "9"},
                          l3(peer_ip, peer_port, "{rip}", "9", "")));
    t.push_back(hop_check(u, "Hop3_ServerAnswersPortUnreachable", kHop3,
                          "the server's kernel answers with ICMP port unreachable (type 3 code 3) to the "
                          "address it saw, quoting the datagram as it arrived",
                          "{server}.eth0", Match{.proto = "icmp", .src_ip = "{rip}", .icmp_type = "3"},
                          unreachable(l3("{rip}", "", peer_ip, "", "") + quoted(peer_ip, peer_port, "{rip}", "9"))));
    t.push_back(hop_check(u, "Hop4_LbSendsTheErrorFromTheVip", kHop4,
                          "the LB translates the error like a reply of the flow: from the VIP to the client, "
                          "the quoted datagram rewritten back to CIP:cport → VIP:9, checksums recomputed",
                          "lb-a.front", Match{.proto = "icmp", .dst_ip = "{cip}", .icmp_type = "3"},
                          unreachable(l2(lb, router) + l3("{vip}", "", "{cip}", "", "") +
                                      quoted("{cip}", "{cport}", "{vip}", "9"))));
    t.push_back(hop_check(u, "Hop4_ErrorReachesTheClient", kHop4,
                          "the translated error reaches client1 through the router",
                          "client1.eth0", Match{.proto = "icmp", .dst_ip = "{cip}", .icmp_type = "3"},
                          unreachable(l2("{router.eth0.mac}", "{client1.eth0.mac}") +
                                      l3("{vip}", "", "{cip}", "", "") + quoted("{cip}", "{cport}", "{vip}", "9"))));
    t.push_back(absent_check(u, "ServerAddressNeverReachesTheClient",
                             "no packet from a server's own address reaches client1", "client1.eth0",
                             Match{.src_ip = "{rip}"}));
    t.push_back(outcome_check(mode, "unreachable", "ClientSocketGetsConnectionRefused",
                              "client1's connected UDP socket reports ECONNREFUSED: its kernel matched the "
                              "translated quote to the socket",
                              {{"refused", "yes"}}));

    // An error from outside about a flow reaches its server, in the server's view.
    Flow g{mode, "client-gone", "udp", "the datagram to VIP:80"};
    t.push_back(hop_check(g, "Hop4_EchoFindsThePortClosed", kHop4,
                          "the server's echo reaches client1 from VIP:80 after its socket closed",
                          "client1.eth0", to_client(g), l3("{vip}", "80", "{cip}", "{cport}", "")));
    t.push_back(hop_check(g, "Hop1_ClientAnswersPortUnreachable", kHop1,
                          "client1's kernel answers the echo with ICMP port unreachable to the VIP, quoting "
                          "VIP:80 → CIP:cport",
                          "client1.eth0", Match{.proto = "icmp", .src_ip = "{cip}", .icmp_type = "3"},
                          unreachable(l3("{cip}", "", "{vip}", "", "") + quoted("{vip}", "80", "{cip}", "{cport}"))));
    t.push_back(hop_check(g, "Hop2_ErrorReachesTheServer", kHop2,
                          std::string("the LB passes the error to the flow's server, translated into the "
                                      "server's view: ") +
                              (hides_client ? "from PIP to RIP, quoting RIP:80 → PIP:pport"
                                            : "from CIP to RIP, quoting RIP:80 → CIP:cport"),
                          "{server}.eth0", Match{.proto = "icmp", .dst_ip = "{rip}", .icmp_type = "3"},
                          unreachable(l3(peer_ip, "", "{rip}", "", "") + quoted("{rip}", "80", peer_ip, peer_port))));
    if (hides_client)
        t.push_back(absent_check(g, "ClientAddressNeverReachesAServer",
                                 "not even an ICMP error carries the client's address to a server",
                                 "server*.eth0,router.eth2", Match{.src_ip = "{cip}", .either_direction = true}));
    return t;
}

}  // namespace lab
