// The inline (two-arm) mode: the LB sits between the front and back networks, rewrites
// only the destination (VIP → RIP) on the way in and the source (RIP → VIP) on the way
// out; servers route their replies through it (default gateway = the LB's back address).
//
// Expected headers, hop by hop (client sends TTL 64; the router and the LB each take one):
//   1 client→lb  at lb-a.front:   router.eth1 MAC → lb front MAC, CIP:cport → VIP:80, TTL 63
//   2 lb→server  at serverX.eth0: lb back MAC → serverX MAC, CIP:cport → RIP:80, TTL 62
//   3 server→lb  at serverX.eth0: serverX MAC → lb back MAC, RIP:80 → CIP:cport, TTL 64
//   4 lb→client  at client1.eth0: router.eth0 MAC → client1 MAC, VIP:80 → CIP:cport, TTL 62
#include "lablib/mode_table.hpp"
#include "lablib/modes.hpp"

namespace lab {

namespace {

std::vector<CheckCase> inline_flow(const Flow& f) {
    return {
        hop1_check(f),
        hop_check(f, "Hop2_LbToServer_DnatOnly", kHop2,
                  "the LB forwards " + f.what +
                      " to the chosen server rewriting only the destination (VIP → RIP); "
                      "the client address and port are unchanged",
                  "{server}.eth0", from_client(f),
                  l2("{lb-a.back.mac}", "{rmac}") + l3("{cip}", "{cport}", "{rip}", "80", "62")),
        hop_check(f, "Hop3_ServerToLb_ViaDefaultGateway", kHop3,
                  "the server answers the client's own address through its default gateway, "
                  "the LB's back port",
                  "{server}.eth0", to_client(f),
                  l2("{rmac}", "{lb-a.back.mac}") + l3("{rip}", "80", "{cip}", "{cport}", "64")),
        hop_check(f, "Hop4_LbToClient_SourceIsVip", kHop4,
                  "the reply reaches client1 from the router with its source rewritten back to VIP:80",
                  "client1.eth0", to_client(f),
                  l2("{router.eth0.mac}", "{client1.eth0.mac}") + l3("{vip}", "80", "{cip}", "{cport}", "62")),
        checksums_check(f, "ChecksumsValidAtEveryPoint",
                        "every captured packet of the flow, at every capture point, has valid IP and " + f.proto +
                            " checksums (recomputed independently)",
                        client_flow(f)),
        absent_check(f, "BackAddressesStayBehindTheLb",
                     "no packet with a source address in the back network appears on the client or front side",
                     "client1.eth0,router.eth0,router.eth1,lb-a.front", Match{.src_ip = "{lb-a.back.net}"}),
        absent_check(f, "NoPacketToTheVipAtAnyServer",
                     "no packet addressed to the VIP reaches any server (the LB always rewrites it)", "server*.eth0",
                     Match{.dst_ip = "{vip}"}),
    };
}

}  // namespace

ModeSpec inline_mode() {
    ModeSpec m;
    m.name = "inline";
    m.title = "inline (two-arm)";
    m.summary = "two arms: the LB rewrites the destination VIP → RIP on the way in and the source RIP → VIP "
                "on the way out; the servers' default gateway is the LB";
    m.scenarios = scenarios_with_icmp_errors;
    m.checks = [] {
        auto t = standard_table(TableSpec{.mode = "inline", .flow = inline_flow});
        auto e = icmp_error_table("inline", "{cip}", "{cport}", false);
        t.insert(t.end(), e.begin(), e.end());
        return t;
    };
    m.facts.flow = {Match{.src_ip = "{cip}", .src_port = "{cport}", .either_direction = true}};
    m.facts.reply = Match{.src_ip = "{rip}", .dst_ip = "{cip}", .src_port = "80", .dst_port = "{cport}"};
    return m;
}

}  // namespace lab
