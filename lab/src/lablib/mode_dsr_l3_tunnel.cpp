// The dsr-l3-tunnel mode (direct server return across a router, IPIP): the LB leaves
// the client's packet untouched and wraps it in an outer IPv4 header from its own
// address to the chosen server's RIP (protocol 4, TTL 64, the inner DSCP copied). The
// remote server decapsulates (the kernel's ipip, or lab_decap), finds the VIP on its lo
// and answers from it straight to its router: the reply never crosses the LB.
// The outer header costs 20 bytes: the LB answers DF packets that would no longer fit
// its 1500-byte port with ICMP "fragmentation needed", next-hop MTU 1480, and the
// client's TCP lowers its segment size (path-MTU discovery).
//
// Expected headers:
//   1 client→lb      at lb-a.front:   router.eth1 MAC → lb MAC, CIP:cport → VIP:80, TTL 63
//   2 lb→server      at lb-a.front:   lb MAC → router.eth1 MAC, outer 203.0.113.2 → RIP ipip TTL 64,
//                                     outer DSCP = inner DSCP; inner CIP:cport → VIP:80 TTL 63
//                    at serverX.eth0: router.eth2 MAC → serverX MAC, outer TTL 63, inner as above
//   3 server→client  at serverX.eth0: VIP:80 → CIP:cport, TTL 64
//   4 router→client  at client1.eth0: VIP:80 → CIP:cport, TTL 63
// Absent: any TCP/UDP packet from VIP:80 at lb-a.front; any unencapsulated packet to
// the VIP at a server's eth0. Upload: the ICMP from the LB reached the client; no
// encapsulated packet at lb-a.front is longer than 1500 bytes.
#include "lablib/mode_table.hpp"
#include "lablib/modes.hpp"

namespace lab {

namespace {

// The client's packet as the inner one of an IPIP packet.
Match tunnelled(const Flow& f) {
    Match m = from_client(f);
    m.layer = Layer::Inner;
    return m;
}

std::vector<Expect> inner_untouched(const Flow& f) {
    return {{"inner.src_ip", "{cip}"},      {"inner.dst_ip", "{vip}"},   {"inner.src_port", "{cport}"},
            {"inner.dst_port", "80"},       {"inner.ttl", "63"},         {"inner.protocol", f.proto},
            {"inner.checksums", "valid"},   {"protocol", "ipip"},        {"checksums", "valid"}};
}

std::vector<CheckCase> dsr_l3_tunnel_flow(const Flow& f) {
    return {
        hop1_check(f),
        hop_check(f, "Hop2_LeavesTheLb_Encapsulated", kHop2,
                  "the LB sends " + f.what +
                      " to the router inside an IPIP header from its own address to the chosen server's RIP "
                      "(outer TTL 64, DSCP copied from the inner header); the inner packet is untouched",
                  "lb-a.front", tunnelled(f),
                  l2("{lb-a.front.mac}", "{router.eth1.mac}") + l3("{lb-a.front.ip}", "", "{rip}", "", "64") +
                      std::vector<Expect>{{"dscp", "{packet.inner.dscp}"}} + inner_untouched(f)),
        hop_check(f, "Hop2_LbToServer_InnerPacketIntact", kHop2,
                  "the router delivers the IPIP packet to the server (outer TTL 63); the inner packet is the "
                  "client's, still addressed to VIP:80 with TTL 63 and valid checksums",
                  "{server}.eth0", tunnelled(f),
                  l2("{router.eth2.mac}", "{rmac}") + l3("{lb-a.front.ip}", "", "{rip}", "", "63") +
                      inner_untouched(f)),
        hop_check(f, "Hop3_ServerToClient_FromTheVipStraightToTheRouter", kHop3Direct,
                  "after decapsulation the server answers from the VIP to its router, not to the LB",
                  "{server}.eth0", to_client(f),
                  l2("{rmac}", "{router.eth2.mac}") + l3("{vip}", "80", "{cip}", "{cport}", "64") +
                      std::vector<Expect>{{"encap", "none"}}),
        hop4_at_client_check(f, "Hop4_RouterToClient_SourceIsVip", kHop4Direct, "63",
                             "the reply reaches client1 from VIP:80 having crossed only the router"),
        checksums_check(f, "ChecksumsValidAtEveryPoint",
                        "every captured packet of the flow, at every capture point, has valid checksums: IP and " +
                            f.proto + ", and for IPIP packets the outer IP header and the inner packet's",
                        client_flow(f)),
        reply_never_crosses_lb_check(f),
        absent_check(f, "VipOnlyArrivesInsideTheTunnel",
                     "no unencapsulated packet addressed to the VIP reaches a server: the VIP travels only as "
                     "the inner destination",
                     "server*.eth0", Match{.dst_ip = "{vip}", .layer = Layer::Outer}),
    };
}

std::vector<CheckCase> dsr_l3_tunnel_extra(const std::string& scenario) {
    if (scenario != "upload") return {};
    Flow f{"dsr-l3-tunnel", "upload", "tcp", "the 10 MiB upload"};
    return {
        hop_check(f, "PathMtu_LbAnswersFragmentationNeeded", kHop4,
                  "a full-size DF segment would not fit the LB's port once encapsulated: the LB answers with "
                  "ICMP fragmentation needed (type 3 code 4), next-hop MTU 1480, quoting the client's segment, "
                  "and it reaches client1",
                  "client1.eth0", Match{.proto = "icmp", .dst_ip = "{cip}", .icmp_type = "3"},
                  l3("{lb-a.front.ip}", "", "{cip}", "", "") +
                      std::vector<Expect>{{"icmp_type", "3"},
                                          {"icmp_code", "4"},
                                          {"icmp_mtu", "1480"},
                                          {"quoted.src_ip", "{cip}"},
                                          {"quoted.dst_ip", "{vip}"},
                                          {"quoted.src_port", "{cport}"},
                                          {"quoted.dst_port", "80"},
                                          {"protocol", "icmp"},
                                          {"checksums", "valid"}}),
        CheckCase{case_prefix(f.mode, f.scenario) + "_EncapsulatedPacketsFitTheMtu",
                  "no IPIP packet the LB sends is longer than its port's MTU: 1500 bytes of IP", "upload", "",
                  CheckKind::Every, "lb-a.front", Match{.proto = "ipip", .layer = Layer::Outer},
                  {{"ip_len", "<= 1500"}}},
    };
}

}  // namespace

ModeSpec dsr_l3_tunnel_mode() {
    ModeSpec m;
    m.name = "dsr-l3-tunnel";
    m.title = "direct server return, L3 tunnel (IPIP)";
    m.summary = "one arm, servers behind a router: the LB wraps the untouched client packet in IPIP to the RIP; "
                "the server decapsulates and answers the client directly from the VIP";
    m.needs = {Requirement{{"ipip", "bin:lab_decap"},
                           "the servers decapsulate IPIP: the kernel's ipip, or lab_decap (lab/decap/)"}};
    m.scenarios = standard_scenarios;
    m.checks = [] {
        return standard_table(
            TableSpec{.mode = "dsr-l3-tunnel", .flow = dsr_l3_tunnel_flow, .extra = dsr_l3_tunnel_extra});
    };
    m.facts.flow = {Match{.src_ip = "{cip}", .src_port = "{cport}", .either_direction = true}};
    m.facts.reply = Match{.src_ip = "{vip}", .dst_ip = "{cip}", .src_port = "80", .dst_port = "{cport}"};
    return m;
}

}  // namespace lab
