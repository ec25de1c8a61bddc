// The proxy mode (one arm, full NAT): the LB rewrites both ends. Toward the server the
// client's CIP:cport becomes the LB's proxy address PIP:pport (a port it allocates) and
// VIP:80 becomes RIP:80; the server answers the PIP, so the reply comes back through
// the LB, which rewrites it back to VIP:80 → CIP:cport. The LB has one port (front) and
// reaches the remote servers through the router.
//
// Expected headers (client sends TTL 64; each router hop and the LB take one):
//   1 client→lb at lb-a.front:    router.eth1 MAC → lb MAC, CIP:cport → VIP:80, TTL 63
//   2 lb→server at lb-a.front:    lb MAC → router.eth1 MAC, PIP:pport → RIP:80, TTL 62
//               at serverX.eth0:  router.eth2 MAC → serverX MAC, PIP:pport → RIP:80, TTL 61
//   3 server→lb at serverX.eth0:  RIP:80 → PIP:pport, TTL 64
//               at lb-a.front:    router.eth1 MAC → lb MAC, TTL 63
//   4 lb→client at lb-a.front:    lb MAC → router.eth1 MAC, VIP:80 → CIP:cport, TTL 62
//               at client1.eth0:  VIP:80 → CIP:cport, TTL 61
// The server sees the PIP, never the client.
#include "lablib/mode_table.hpp"
#include "lablib/modes.hpp"

namespace lab {

namespace {

Match from_proxy(const Flow& f) { return Match{.proto = f.proto, .src_ip = "{proxy_ip}", .src_port = "{pport}"}; }
Match to_proxy(const Flow& f) { return Match{.proto = f.proto, .dst_ip = "{proxy_ip}", .dst_port = "{pport}"}; }

std::vector<CheckCase> proxy_flow(const Flow& f) {
    const std::string lb = "{lb-a.front.mac}", router = "{router.eth1.mac}";
    return {
        hop1_check(f),
        hop_check(f, "Hop2_LeavesTheLb_BothEndsRewritten", kHop2,
                  "the LB sends " + f.what +
                      " back out of its port toward the chosen server, from its proxy address PIP and "
                      "an allocated port (1024..60999: the ports above belong to health probes) to RIP:80",
                  "lb-a.front", from_proxy(f),
                  l2(lb, router) + l3("{proxy_ip}", "1024..60999", "{rip}", "80", "62")),
        hop_check(f, "Hop2_LbToServer_ServerSeesTheProxyAddress", kHop2,
                  "the router delivers it to the server: PIP:pport → RIP:80, the client's address gone",
                  "{server}.eth0", from_proxy(f),
                  l2("{router.eth2.mac}", "{rmac}") + l3("{proxy_ip}", "{pport}", "{rip}", "80", "61")),
        hop_check(f, "Hop3_ServerToLb_AnswersTheProxyAddress", kHop3,
                  "the server answers PIP:pport through its default gateway, the router", "{server}.eth0",
                  to_proxy(f), l2("{rmac}", "{router.eth2.mac}") + l3("{rip}", "80", "{proxy_ip}", "{pport}", "64")),
        hop_check(f, "Hop3_ReplyReachesTheLb", kHop3, "the router delivers the answer to the LB, which owns the PIP",
                  "lb-a.front", to_proxy(f), l2(router, lb) + l3("{rip}", "80", "{proxy_ip}", "{pport}", "63")),
        hop_check(f, "Hop4_LeavesTheLb_RewrittenBackToVip", kHop4,
                  "the LB rewrites the answer back to VIP:80 → CIP:cport and sends it to the router", "lb-a.front",
                  to_client(f), l2(lb, router) + l3("{vip}", "80", "{cip}", "{cport}", "62")),
        hop4_at_client_check(f, "Hop4_LbToClient_SourceIsVip", kHop4, "61",
                             "the reply reaches client1 from VIP:80 (TTL 64 at the server, minus two routers "
                             "and the LB)"),
        checksums_check(f, "ChecksumsValidAtEveryPoint_ClientSide",
                        "every captured packet of the client's side of the flow (CIP:cport <> VIP:80) has valid "
                        "IP and " + f.proto + " checksums",
                        client_flow(f)),
        checksums_check(f, "ChecksumsValidAtEveryPoint_ServerSide",
                        "every captured packet of the server's side of the flow (PIP:pport <> RIP:80) has valid "
                        "IP and " + f.proto + " checksums",
                        Match{.proto = f.proto, .src_ip = "{proxy_ip}", .src_port = "{pport}", .dst_port = "80",
                              .either_direction = true}),
        absent_check(f, "ClientAddressNeverReachesAServer",
                     "no packet from or to the client's address appears on the server side",
                     "server*.eth0,router.eth2", Match{.src_ip = "{cip}", .either_direction = true}),
        absent_check(f, "NoPacketToTheVipAtAnyServer", "no packet addressed to the VIP reaches any server",
                     "server*.eth0", Match{.dst_ip = "{vip}"}),
    };
}

// pport: the port the LB allocated. The server's answer names it (http, udp); for the
// others it is the source port of the LB's first packet from the PIP to a server's
// port 80 (or 9, the closed port) at its front port (one flow per scenario).
void proxy_derive(const Topology& topo, const ScenarioRun& run, std::map<std::string, std::string>& values) {
    if (values.count("pport") || topo.proxy_ip.empty()) return;
    auto seen_ip = values.find("seen_ip");
    auto seen_port = values.find("seen_port");
    if (seen_ip != values.end() && seen_port != values.end() && seen_ip->second == topo.proxy_ip) {
        values["pport"] = seen_port->second;
        values["pport_from"] = "the server's answer";
        return;
    }
    auto it = run.captures.packets.find("lb-a.front");
    if (it == run.captures.packets.end()) return;
    for (const auto& p : it->second) {
        if (!p.is_ipv4 || !p.has_ports || p.src_ip != topo.proxy_ip || (p.dst_port != 80 && p.dst_port != 9))
            continue;
        values["pport"] = std::to_string(p.src_port);
        values["pport_from"] = "lb-a.front packet #" + std::to_string(p.index);
        if (!values.count("server"))
            for (const Node* n : topo.with_role("server"))
                if (!n->ifaces.empty() && n->ifaces.front().ip() == p.dst_ip) {
                    values["server"] = n->name;
                    values["server_from"] = "captures";
                }
        return;
    }
}

}  // namespace

ModeSpec proxy_mode() {
    ModeSpec m;
    m.name = "proxy";
    m.title = "proxy (one-arm, full NAT)";
    m.summary = "one arm: the LB rewrites both ends, CIP:cport → PIP:pport and VIP → RIP; the server sees the "
                "LB's address and answers it, so the reply returns through the LB";
    m.scenarios = scenarios_with_icmp_errors;
    m.checks = [] {
        auto t = standard_table(TableSpec{.mode = "proxy", .flow = proxy_flow, .server_sees = "{proxy_ip}"});
        auto e = icmp_error_table("proxy", "{proxy_ip}", "{pport}", true);
        t.insert(t.end(), e.begin(), e.end());
        return t;
    };
    m.derive = proxy_derive;
    m.facts.flow = {Match{.src_ip = "{cip}", .src_port = "{cport}", .either_direction = true},
                    Match{.src_ip = "{proxy_ip}", .src_port = "{pport}", .either_direction = true}};
    m.facts.reply = Match{.src_ip = "{rip}", .dst_ip = "{proxy_ip}", .src_port = "80", .dst_port = "{pport}"};
    return m;
}

}  // namespace lab
