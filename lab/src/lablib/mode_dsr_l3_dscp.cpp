// The dsr-l3-dscp mode (direct server return across a router, DSCP-marked): the LB
// rewrites the destination VIP → RIP and marks the packet with the VIP's DSCP code; the
// remote server maps (DSCP, RIP) back to the VIP statelessly (nftables, raw prerouting,
// notrack) and answers from the VIP straight to its router: the reply never crosses
// the LB. The LB routes: it decrements the TTL.
//
// Expected headers (the code is topology.toml's `dscp`, 10 by default):
//   1 client→lb      at lb-a.front:   router.eth1 MAC → lb MAC, CIP:cport → VIP:80, DSCP 0, TTL 63
//   2 lb→server      at lb-a.front:   lb MAC → router.eth1 MAC, CIP:cport → RIP:80, DSCP 10, TTL 62
//                    at serverX.eth0: router.eth2 MAC → serverX MAC, CIP:cport → RIP:80, DSCP 10, TTL 61
//   3 server→client  at serverX.eth0: serverX MAC → router.eth2 MAC, VIP:80 → CIP:cport, TTL 64
//   4 router→client  at client1.eth0: VIP:80 → CIP:cport, TTL 63
// Absent: any TCP/UDP packet from VIP:80 at lb-a.front; any packet to the VIP at a
// server's eth0 (the mapping back happens after the capture point).
#include "lablib/mode_table.hpp"
#include "lablib/modes.hpp"

namespace lab {

namespace {

std::vector<CheckCase> dsr_l3_dscp_flow(const Flow& f) {
    Match leaving = from_client(f);
    leaving.src_mac = "{lb-a.front.mac}";
    return {
        hop1_check(f, {{"dscp", "0"}}),
        hop_check(f, "Hop2_LeavesTheLb_RipAndDscpSet", kHop2,
                  "the LB sends " + f.what +
                      " back out to the router addressed to the chosen server's RIP:80 and marked with the "
                      "VIP's DSCP code; the client's end is unchanged",
                  "lb-a.front", leaving,
                  l2("{lb-a.front.mac}", "{router.eth1.mac}") + l3("{cip}", "{cport}", "{rip}", "80", "62") +
                      std::vector<Expect>{{"dscp", "{dscp}"}}),
        hop_check(f, "Hop2_LbToServer_MarkedForTheVip", kHop2,
                  "the router delivers it to the server: CIP:cport → RIP:80 with the VIP's DSCP code",
                  "{server}.eth0", from_client(f),
                  l2("{router.eth2.mac}", "{rmac}") + l3("{cip}", "{cport}", "{rip}", "80", "61") +
                      std::vector<Expect>{{"dscp", "{dscp}"}}),
        hop_check(f, "Hop3_ServerToClient_FromTheVipStraightToTheRouter", kHop3Direct,
                  "the server answers from the VIP (mapped back from the DSCP code) to its router, not to the LB",
                  "{server}.eth0", to_client(f),
                  l2("{rmac}", "{router.eth2.mac}") + l3("{vip}", "80", "{cip}", "{cport}", "64")),
        hop4_at_client_check(f, "Hop4_RouterToClient_SourceIsVip", kHop4Direct, "63",
                             "the reply reaches client1 from VIP:80 having crossed only the router"),
        checksums_check(f, "ChecksumsValidAtEveryPoint",
                        "every captured packet of the flow, at every capture point, has valid IP and " + f.proto +
                            " checksums (recomputed independently)",
                        client_flow(f)),
        reply_never_crosses_lb_check(f),
        absent_check(f, "NoPacketToTheVipAtAnyServer",
                     "no packet arrives at a server addressed to the VIP: the LB addresses the RIP and the "
                     "server maps it back only after it arrived",
                     "server*.eth0", Match{.dst_ip = "{vip}"}),
    };
}

}  // namespace

ModeSpec dsr_l3_dscp_mode() {
    ModeSpec m;
    m.name = "dsr-l3-dscp";
    m.title = "direct server return, L3 with DSCP";
    m.summary = "one arm, servers behind a router: the LB rewrites VIP → RIP and marks the VIP's DSCP code; the "
                "server maps it back to the VIP (nftables, no conntrack) and answers the client directly";
    m.needs = {Requirement{{"nftables"}, "the servers map the DSCP code back to the VIP with nftables"}};
    m.scenarios = standard_scenarios;
    m.checks = [] { return standard_table(TableSpec{.mode = "dsr-l3-dscp", .flow = dsr_l3_dscp_flow}); };
    m.facts.flow = {Match{.src_ip = "{cip}", .src_port = "{cport}", .either_direction = true}};
    m.facts.reply = Match{.src_ip = "{vip}", .dst_ip = "{cip}", .src_port = "80", .dst_port = "{cport}"};
    return m;
}

}  // namespace lab
