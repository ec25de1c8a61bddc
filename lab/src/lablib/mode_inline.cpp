// The inline (two-arm) mode: the LB sits between the front and back networks, rewrites
// only the destination (VIP → RIP) on the way in and the source (RIP → VIP) on the way
// out; servers route their replies through it (default gateway = the LB's back address).
//
// Expected headers, hop by hop (client sends TTL 64; the router and the LB each take one):
//   1 client→lb  at lb-a.front:   router.eth1 MAC → lb front MAC, CIP:cport → VIP:80, TTL 63
//   2 lb→server  at serverX.eth0: lb back MAC → serverX MAC, CIP:cport → RIP:80, TTL 62
//   3 server→lb  at serverX.eth0: serverX MAC → lb back MAC, RIP:80 → CIP:cport, TTL 64
//   4 lb→client  at client1.eth0: router.eth0 MAC → client1 MAC, VIP:80 → CIP:cport, TTL 62
#include "lablib/modes.hpp"

namespace lab {

namespace {

const char* kHop1 = "1 client→lb";
const char* kHop2 = "2 lb→server";
const char* kHop3 = "3 server→lb";
const char* kHop4 = "4 lb→client";

// Hops, checksums and absences of one TCP or UDP flow through the VIP. Each hop's
// selector picks the flow by the client's end only (CIP:cport), so a packet with a
// wrong address or port is still selected and shown field by field.
std::vector<CheckCase> flow_checks(const std::string& scenario, const std::string& proto,
                                   const std::string& what) {
    const std::string p = case_prefix("inline", scenario) + "_";
    std::vector<CheckCase> t;
    t.push_back({p + "Hop1_ClientToLb_RoutedToVip",
                 what + " reaches the LB's front port from the router, addressed to VIP:80",
                 scenario, kHop1, CheckKind::Packet, "lb-a.front",
                 Match{.proto = proto, .src_ip = "{cip}", .src_port = "{cport}"},
                 {{"src_mac", "{router.eth1.mac}"},
                  {"dst_mac", "{lb-a.front.mac}"},
                  {"src_ip", "{cip}"},
                  {"dst_ip", "{vip}"},
                  {"src_port", "{cport}"},
                  {"dst_port", "80"},
                  {"ttl", "63"},
                  {"protocol", proto},
                  {"checksums", "valid"}}});
    t.push_back({p + "Hop2_LbToServer_DnatOnly",
                 "the LB forwards " + what +
                     " to the chosen server rewriting only the destination (VIP → RIP); "
                     "the client address and port are unchanged",
                 scenario, kHop2, CheckKind::Packet, "{server}.eth0",
                 Match{.proto = proto, .src_ip = "{cip}", .src_port = "{cport}"},
                 {{"src_mac", "{lb-a.back.mac}"},
                  {"dst_mac", "{rmac}"},
                  {"src_ip", "{cip}"},
                  {"dst_ip", "{rip}"},
                  {"src_port", "{cport}"},
                  {"dst_port", "80"},
                  {"ttl", "62"},
                  {"protocol", proto},
                  {"checksums", "valid"}}});
    t.push_back({p + "Hop3_ServerToLb_ViaDefaultGateway",
                 "the server answers the client's own address through its default gateway, "
                 "the LB's back port",
                 scenario, kHop3, CheckKind::Packet, "{server}.eth0",
                 Match{.proto = proto, .dst_ip = "{cip}", .dst_port = "{cport}"},
                 {{"src_mac", "{rmac}"},
                  {"dst_mac", "{lb-a.back.mac}"},
                  {"src_ip", "{rip}"},
                  {"dst_ip", "{cip}"},
                  {"src_port", "80"},
                  {"dst_port", "{cport}"},
                  {"ttl", "64"},
                  {"protocol", proto},
                  {"checksums", "valid"}}});
    t.push_back({p + "Hop4_LbToClient_SourceIsVip",
                 "the reply reaches client1 from the router with its source rewritten back "
                 "to VIP:80",
                 scenario, kHop4, CheckKind::Packet, "client1.eth0",
                 Match{.proto = proto, .dst_ip = "{cip}", .dst_port = "{cport}"},
                 {{"src_mac", "{router.eth0.mac}"},
                  {"dst_mac", "{client1.eth0.mac}"},
                  {"src_ip", "{vip}"},
                  {"dst_ip", "{cip}"},
                  {"src_port", "80"},
                  {"dst_port", "{cport}"},
                  {"ttl", "62"},
                  {"protocol", proto},
                  {"checksums", "valid"}}});
    Match flow{.proto = proto, .src_ip = "{cip}", .src_port = "{cport}", .dst_port = "80",
               .either_direction = true};
    t.push_back({p + "ChecksumsValidAtEveryPoint",
                 "every captured packet of the flow, at every capture point, has valid IP and " +
                     proto + " checksums (recomputed independently)",
                 scenario, "", CheckKind::Checksums, "*", flow, {}});
    t.push_back({p + "BackAddressesStayBehindTheLb",
                 "no packet with a source address in the back network appears on the client "
                 "or front side",
                 scenario, "", CheckKind::Absent, "client1.eth0,router.eth0,router.eth1,lb-a.front",
                 Match{.src_ip = "{lb-a.back.net}"}, {}});
    t.push_back({p + "NoPacketToTheVipAtAnyServer",
                 "no packet addressed to the VIP reaches any server (the LB always rewrites it)",
                 scenario, "", CheckKind::Absent, "server*.eth0", Match{.dst_ip = "{vip}"}, {}});
    return t;
}

std::vector<CheckCase> inline_checks() {
    std::vector<CheckCase> t;
    auto add = [&](std::vector<CheckCase> v) { t.insert(t.end(), v.begin(), v.end()); };

    // http
    add(flow_checks("http", "tcp", "the HTTP request"));
    t.push_back({"InlineHttp_ServerSeesClientIp",
                 "the server's answer names the client's own address: inline does not SNAT",
                 "http", "", CheckKind::Outcome, "", {}, {{"seen_ip", "{cip}"}}});
    t.push_back({"InlineHttp_ServerSeesClientPort",
                 "the server saw the client's own source port (DNAT only)", "http", "",
                 CheckKind::Outcome, "", {}, {{"seen_port", "{cport}"}}});

    // udp
    add(flow_checks("udp", "udp", "the UDP datagram"));
    t.push_back({"InlineUdp_EchoAnswered", "the UDP echo comes back with the client's payload",
                 "udp", "", CheckKind::Outcome, "", {}, {{"echo", "hello"}, {"seen_ip", "{cip}"}}});

    // icmp: the engine answers echo requests to the VIP itself.
    t.push_back({"InlineIcmp_Hop1_EchoRequestReachesTheLb",
                 "the echo request reaches the LB's front port from the router, addressed to the VIP",
                 "icmp", kHop1, CheckKind::Packet, "lb-a.front",
                 Match{.proto = "icmp", .src_ip = "{cip}", .icmp_type = "8"},
                 {{"src_mac", "{router.eth1.mac}"},
                  {"dst_mac", "{lb-a.front.mac}"},
                  {"src_ip", "{cip}"},
                  {"dst_ip", "{vip}"},
                  {"ttl", "63"},
                  {"icmp_type", "8"},
                  {"checksums", "valid"}}});
    t.push_back({"InlineIcmp_Hop4_LbAnswersFromTheVip",
                 "the LB itself answers with an echo reply from the VIP, sent to the router",
                 "icmp", kHop4, CheckKind::Packet, "lb-a.front",
                 Match{.proto = "icmp", .dst_ip = "{cip}", .icmp_type = "0"},
                 {{"src_mac", "{lb-a.front.mac}"},
                  {"dst_mac", "{router.eth1.mac}"},
                  {"src_ip", "{vip}"},
                  {"dst_ip", "{cip}"},
                  {"icmp_type", "0"},
                  {"icmp_code", "0"},
                  {"checksums", "valid"}}});
    t.push_back({"InlineIcmp_Hop4_EchoReplyReachesTheClient",
                 "the echo reply from the VIP reaches client1 through the router", "icmp", kHop4,
                 CheckKind::Packet, "client1.eth0", Match{.proto = "icmp", .dst_ip = "{cip}", .icmp_type = "0"},
                 {{"src_mac", "{router.eth0.mac}"},
                  {"dst_mac", "{client1.eth0.mac}"},
                  {"src_ip", "{vip}"},
                  {"dst_ip", "{cip}"},
                  {"icmp_type", "0"},
                  {"checksums", "valid"}}});
    Match icmp_flow{.proto = "icmp", .src_ip = "{cip}", .dst_ip = "{vip}", .either_direction = true};
    t.push_back({"InlineIcmp_ChecksumsValidAtEveryPoint",
                 "every captured echo request and reply has valid IP and ICMP checksums", "icmp",
                 "", CheckKind::Checksums, "*", icmp_flow, {}});
    t.push_back({"InlineIcmp_NothingReachesAnyServer",
                 "no ICMP packet reaches any server: the engine answers for the VIP", "icmp", "",
                 CheckKind::Absent, "server*.eth0", Match{.proto = "icmp"}, {}});
    t.push_back({"InlineIcmp_AllRepliesReceived", "ping gets 3 replies out of 3", "icmp", "",
                 CheckKind::Outcome, "", {}, {{"received", "3"}}});

    // bulk transfers
    add(flow_checks("download", "tcp", "the 10 MiB download"));
    t.push_back({"InlineDownload_Sha256Matches",
                 "the 10 MiB body's SHA-256 equals the pattern's (lab_client pattern-sha256)",
                 "download", "", CheckKind::Outcome, "", {},
                 {{"size", "10485760"}, {"sha256", "{expected_sha256}"}}});
    add(flow_checks("upload", "tcp", "the 10 MiB upload"));
    t.push_back({"InlineUpload_ServerGotTheSameBytes",
                 "the server's answer gives the uploaded file's length and SHA-256", "upload", "",
                 CheckKind::Outcome, "", {},
                 {{"upload_length", "{file_length}"}, {"upload_sha256", "{file_sha256}"}}});
    return t;
}

std::vector<Fact> inline_facts(const Topology& topo, const std::vector<ScenarioRun>& runs) {
    std::vector<Fact> out;
    auto mac = [&](const char* point) {
        auto* i = topo.find_iface(point);
        return i ? i->mac : std::string();
    };
    for (const auto& r : runs) {
        if (r.name == "http") {
            out.push_back(fact_server_sees_client(r));
            out.push_back(fact_reply_crosses_lb(r, "lb-a.back", mac("lb-a.back")));
        }
        if (r.bulk) {
            auto t = facts_lb_traffic(r, "lb-a.front", mac("lb-a.front"), "lb-a.back", mac("lb-a.back"));
            out.insert(out.end(), t.begin(), t.end());
        }
        auto s = facts_lbctl(r);
        if (r.bulk) out.insert(out.end(), s.begin(), s.end());
    }
    return out;
}

}  // namespace

ModeSpec inline_mode() {
    ModeSpec m;
    m.name = "inline";
    m.title = "inline (two-arm)";
    m.topology_script = "topo_inline.sh";
    m.scenarios = [] {
        return std::vector<ScenarioSpec>{http_scenario(), udp_scenario(), icmp_scenario(),
                                         download_scenario(), upload_scenario()};
    };
    m.checks = inline_checks;
    m.facts = inline_facts;
    return m;
}

}  // namespace lab
