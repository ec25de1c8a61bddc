// The dsr-l2 mode (direct server return, layer 2): the servers sit on the LB's own
// segment with the VIP on their `lo` (arp_ignore=1, arp_announce=2, so only the LB
// answers ARP for it). The LB changes nothing but the destination MAC; it neither
// routes nor decrements the TTL. The server answers from the VIP straight to the
// router: the reply never crosses the LB.
//
// Expected headers:
//   1 client→lb      at lb-a.front:   router.eth1 MAC → lb MAC, CIP:cport → VIP:80, TTL 63
//   2 lb→server      at serverX.eth0: lb MAC → serverX MAC, CIP:cport → VIP:80, TTL 63
//   3 server→client  at serverX.eth0: serverX MAC → router.eth1 MAC, VIP:80 → CIP:cport, TTL 64
//   4 router→client  at client1.eth0: VIP:80 → CIP:cport, TTL 63
// Absent: any TCP/UDP packet from VIP:80 at lb-a.front.
#include "lablib/mode_table.hpp"
#include "lablib/modes.hpp"

namespace lab {

namespace {

std::vector<CheckCase> dsr_l2_flow(const Flow& f) {
    return {
        hop1_check(f),
        hop_check(f, "Hop2_LbToServer_OnlyTheMacChanges", kHop2,
                  "the LB hands " + f.what +
                      " to the chosen server by its MAC alone: CIP:cport → VIP:80 unchanged, TTL not "
                      "decremented",
                  "{server}.eth0", from_client(f),
                  l2("{lb-a.front.mac}", "{rmac}") + l3("{cip}", "{cport}", "{vip}", "80", "63")),
        hop_check(f, "Hop3_ServerToClient_FromTheVipStraightToTheRouter", kHop3Direct,
                  "the server answers from the VIP on its lo directly to the router, not to the LB", "{server}.eth0",
                  to_client(f), l2("{rmac}", "{router.eth1.mac}") + l3("{vip}", "80", "{cip}", "{cport}", "64")),
        hop4_at_client_check(f, "Hop4_RouterToClient_SourceIsVip", kHop4Direct, "63",
                             "the reply reaches client1 from VIP:80 having crossed only the router"),
        checksums_check(f, "ChecksumsValidAtEveryPoint",
                        "every captured packet of the flow, at every capture point, has valid IP and " + f.proto +
                            " checksums (recomputed independently)",
                        client_flow(f)),
        reply_never_crosses_lb_check(f),
    };
}

}  // namespace

ModeSpec dsr_l2_mode() {
    ModeSpec m;
    m.name = "dsr-l2";
    m.title = "direct server return, L2";
    m.summary = "one arm on the servers' segment: the LB rewrites only the destination MAC (the VIP is on the "
                "servers' lo); the servers answer the client directly";
    m.scenarios = standard_scenarios;
    m.checks = [] { return standard_table(TableSpec{.mode = "dsr-l2", .flow = dsr_l2_flow}); };
    m.facts.flow = {Match{.src_ip = "{cip}", .src_port = "{cport}", .either_direction = true}};
    m.facts.reply = Match{.src_ip = "{vip}", .dst_ip = "{cip}", .src_port = "80", .dst_port = "{cport}"};
    return m;
}

}  // namespace lab
