// The HA scenario's judgement and its wire timeline (lablib/ha.hpp) on made-up runs: a
// failover told in frames written to pcap files at both engines' ports, read back as
// the scenario reads its captures. No network, no root.
#include <gtest/gtest.h>

#include "frames.hpp"
#include "lablib/ha.hpp"
#include "lablib/report.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>

namespace {

using namespace lab;
using labtest::Bytes;

constexpr std::int64_t kT0 = 1'700'000'000'000;
const std::string kMacA = "02:00:00:71:00:02", kMacB = "02:00:00:71:00:03", kRouter = "02:00:00:71:00:01";
const std::string kVip = "203.0.113.10", kPip = "203.0.113.20";

const HaCheck* check_named(const HaRun& r, const std::string& name) {
    for (const auto& c : r.checks)
        if (c.name == name) return &c;
    return nullptr;
}

// ---- frames ------------------------------------------------------------------------------

Bytes advert(const std::string& mac, const std::string& ip, int priority) {
    Tins::EthernetII eth("01:00:5e:00:00:12", mac);
    Tins::IP ipv4("224.0.0.18", ip);
    ipv4.ttl(255);
    ipv4.protocol(112);
    // Version 3, type 1; VRID 51; priority; 1 address; interval 10 cs; checksum; the VIP.
    std::vector<uint8_t> v{0x31, 51, static_cast<uint8_t>(priority), 1, 0x00, 0x0a, 0, 0, 203, 0, 113, 10};
    Tins::EthernetII pkt = eth / ipv4 / Tins::RawPDU(v.data(), static_cast<uint32_t>(v.size()));
    return pkt.serialize();
}

Bytes garp(const std::string& mac, const std::string& ip, const std::string& arp_mac = "") {
    Tins::EthernetII eth = Tins::ARP::make_arp_request(ip, ip, arp_mac.empty() ? mac : arp_mac);
    eth.src_addr(mac);
    return eth.serialize();
}

Bytes ip_frame(const std::string& src_mac, const std::string& dst_mac, const std::string& src_ip,
               const std::string& dst_ip, const std::string& proto = "tcp") {
    labtest::FrameSpec f;
    f.src_mac = src_mac;
    f.dst_mac = dst_mac;
    f.src_ip = src_ip;
    f.dst_ip = dst_ip;
    f.proto = proto;
    if (proto == "udp") f.src_port = f.dst_port = 8848;
    return labtest::build(f);
}

// One frame as captured at a point, `ms` after kT0.
struct Shot {
    std::string point;
    double ms;
    Bytes bytes;
};

// A classic pcap file (microsecond stamps), so each frame gets the time we choose.
void write_pcap(const std::filesystem::path& file, std::vector<const Shot*> shots) {
    std::sort(shots.begin(), shots.end(), [](const Shot* a, const Shot* b) { return a->ms < b->ms; });
    std::ofstream o(file, std::ios::binary);
    auto u32 = [&](uint32_t v) { o.write(reinterpret_cast<const char*>(&v), 4); };
    auto u16 = [&](uint16_t v) { o.write(reinterpret_cast<const char*>(&v), 2); };
    u32(0xa1b2c3d4);
    u16(2);
    u16(4);
    u32(0);
    u32(0);
    u32(65535);
    u32(1);  // Ethernet
    for (const Shot* s : shots) {
        const std::int64_t us = kT0 * 1000 + static_cast<std::int64_t>(std::llround(s->ms * 1000.0));
        u32(static_cast<uint32_t>(us / 1000000));
        u32(static_cast<uint32_t>(us % 1000000));
        u32(static_cast<uint32_t>(s->bytes.size()));
        u32(static_cast<uint32_t>(s->bytes.size()));
        o.write(reinterpret_cast<const char*>(s->bytes.data()), static_cast<std::streamsize>(s->bytes.size()));
    }
}

// A proxy-mode failover as the two ports see it: lb-a advertises (200) until the kill at
// 1505; lb-b, backup until then (syncing, probing), sends its first advert 365 ms after
// lb-a's last, GARPs for the VIP and the PIP, and forwards; lb-a is started at 4010,
// preempts at 4330, and lb-b falls silent. Each engine's port also sees the other's
// adverts (multicast is flooded).
std::vector<Shot> good_story() {
    std::vector<Shot> s;
    auto both = [&](double ms, const Bytes& b) {
        s.push_back({"lb-a.front", ms, b});
        s.push_back({"lb-b.front", ms + 0.02, b});
    };
    for (double t = 50; t <= 1450; t += 100) both(t, advert(kMacA, "203.0.113.2", 200));
    for (double t = 60; t < 6000; t += 500) {  // lb-b's own traffic: not forwarded data
        s.push_back({"lb-b.front", t, ip_frame(kMacB, kMacA, "203.0.113.3", "203.0.113.2", "udp")});
        s.push_back({"lb-b.front", t + 1, ip_frame(kMacB, kRouter, "203.0.113.3", "198.18.0.11")});
        s.push_back({"lb-b.front", t + 2, ip_frame(kRouter, kMacB, "198.18.0.11", "203.0.113.3")});
    }
    for (double t = 1815; t <= 4315; t += 100) both(t, advert(kMacB, "203.0.113.3", 100));
    for (double round = 0; round < 5; ++round) {
        s.push_back({"lb-b.front", 1815.1 + round * 100, garp(kMacB, kVip)});
        s.push_back({"lb-b.front", 1815.2 + round * 100, garp(kMacB, kPip)});
    }
    s.push_back({"lb-b.front", 1815.8, ip_frame(kRouter, kMacB, "198.51.100.11", kVip)});
    for (double t = 1816; t < 4330; t += 25) s.push_back({"lb-b.front", t, ip_frame(kMacB, kRouter, kPip, "198.18.0.11")});
    for (double t = 4330; t < 6000; t += 100) both(t, advert(kMacA, "203.0.113.2", 200));
    for (double round = 0; round < 5; ++round) s.push_back({"lb-a.front", 4330.1 + round * 100, garp(kMacA, kVip)});
    s.push_back({"lb-a.front", 4330.9, ip_frame(kRouter, kMacA, "198.51.100.11", kVip)});
    s.push_back({"lb-a.front", 4331.5, ip_frame(kMacA, kRouter, kPip, "198.18.0.12")});
    return s;
}

std::vector<HaPort> ports() {
    return {{"lb-a", "lb-a.front", kMacA, "203.0.113.2"}, {"lb-b", "lb-b.front", kMacB, "203.0.113.3"}};
}

// The frames of `story` written to one pcap per point and read back as the scenario does.
std::vector<HaFrame> frames_of(const std::vector<Shot>& story) {
    labtest::TempDir dir;
    std::map<std::string, std::vector<Packet>> captures;
    for (const auto& port : ports()) {
        std::vector<const Shot*> mine;
        for (const auto& s : story)
            if (s.point == port.point) mine.push_back(&s);
        auto file = dir.path / (port.point + ".pcap");
        write_pcap(file, mine);
        captures[port.point] = read_pcap(file);
    }
    return ha_frames(ports(), captures);
}

HaRun run_from(const std::vector<Shot>& story) {
    HaRun r;
    r.mode = "proxy";
    r.vip = kVip;
    r.ports = ports();
    r.master_down_ms = 360;
    r.advert_interval_ms = 100;
    r.loop_start_ms = kT0;
    r.capture_start_ms = kT0 - 100;
    r.capture_end_ms = kT0 + 6000;
    r.failover.what = "kill lb-a";
    r.failover.new_master = "lb-b";
    r.failover.old_master = "lb-a";
    r.failover.issued_ms = kT0 + 1500;
    r.failover.fault_ms = kT0 + 1505;
    r.failover.master_ms = kT0 + 1815;
    r.failover.reason = "master_down";
    r.failover.first_ok_ms = kT0 + 1860;
    r.failback.what = "start lb-a";
    r.failback.new_master = "lb-a";
    r.failback.old_master = "lb-b";
    r.failback.issued_ms = kT0 + 4000;
    r.failback.fault_ms = kT0 + 4010;
    r.failback.master_ms = kT0 + 4330;
    r.failback.reason = "preempt";
    r.failback.first_ok_ms = kT0 + 4402;
    r.failback.old_state = "backup";
    r.failback.old_change_ms = kT0 + 4330;
    r.requests.push_back({1, kT0 + 4400, kT0 + 4402, true, "server1", ""});
    r.requests.push_back({2, kT0 + 4450, kT0 + 4452, true, "server2", ""});
    HaDownload d;
    d.index = 1;
    d.expected_bytes = d.bytes = 1000;
    d.http_code = 200;
    d.curl_exit = 0;
    r.downloads.push_back(d);
    r.held = 2;
    r.held_again = {"ok server1", "ok server2"};
    ha_wire_timeline(r, frames_of(story));
    return r;
}

HaRun good_run() { return run_from(good_story()); }

// ---- decoding and the timeline -------------------------------------------------------------

TEST(HaPcap, DecodesTheVrrpPriorityAndTheArpBody) {
    Bytes a = advert(kMacB, "203.0.113.3", 100);
    Packet p = decode_frame(a.data(), a.size());
    EXPECT_EQ(p.protocol_name(), "vrrp");
    EXPECT_EQ(p.vrrp_vrid, 51);
    EXPECT_EQ(p.vrrp_priority, 100);
    EXPECT_NE(p.summary().find("priority 100"), std::string::npos) << p.summary();
    Bytes g = garp(kMacB, kVip);
    Packet q = decode_frame(g.data(), g.size());
    EXPECT_EQ(q.arp_op, 1);
    EXPECT_EQ(q.arp_sender_mac, kMacB);
    EXPECT_EQ(q.arp_sender_ip, kVip);
    EXPECT_EQ(q.arp_target_ip, kVip);
    EXPECT_TRUE(q.gratuitous_arp());
    EXPECT_EQ(q.vrrp_priority, -1);
    Tins::EthernetII who = Tins::ARP::make_arp_request(kVip, "203.0.113.1", kRouter);
    Bytes w = who.serialize();
    EXPECT_FALSE(decode_frame(w.data(), w.size()).gratuitous_arp());
}

TEST(HaFrames, AttributeFramesToTheEngineWhosePortSentThem) {
    auto frames = frames_of(good_story());
    int adverts_a = 0, adverts_b = 0, forwarded = 0, to_engine = 0;
    for (const auto& f : frames) {
        if (f.kind == HaFrame::Kind::advert) {
            (f.node == "lb-a" ? adverts_a : adverts_b) += 1;
            EXPECT_EQ(f.src_mac, f.node == "lb-a" ? kMacA : kMacB) << f.summary;
        }
        if (f.kind == HaFrame::Kind::forwarded) {
            ++forwarded;
            EXPECT_NE(f.summary.find(kPip), std::string::npos) << "sync or a probe counted as data: " << f.summary;
        }
        if (f.kind == HaFrame::Kind::to_engine) ++to_engine;
    }
    // Each advert once (at its sender's port), though both ports captured it.
    EXPECT_EQ(adverts_a, 15 + 17);
    EXPECT_EQ(adverts_b, 26);
    EXPECT_EQ(forwarded, 101 + 1);
    EXPECT_EQ(to_engine, 2);  // the health replies to lb-b's own address are not data
    for (size_t i = 1; i < frames.size(); ++i) EXPECT_LE(frames[i - 1].time, frames[i].time);
}

TEST(HaWire, TellsTheFailoverAndTheFailbackFromThePackets) {
    HaRun r = good_run();
    const HaWire& f = r.failover.wire;
    ASSERT_TRUE(f.old_last_advert.seen());
    EXPECT_DOUBLE_EQ(f.old_last_advert.ms_after(r.failover.fault_ms), -55.0);
    EXPECT_EQ(f.old_last_advert.priority, 200);
    EXPECT_EQ(f.old_last_advert.address, "203.0.113.2");
    EXPECT_DOUBLE_EQ(f.new_first_advert.ms_after(r.failover.fault_ms), 310.0);
    EXPECT_EQ(f.new_first_advert.priority, 100);
    EXPECT_EQ(f.new_first_advert.src_mac, kMacB);
    EXPECT_EQ(f.garps, 10);
    EXPECT_EQ(f.garp_addresses, (std::vector<std::string>{kVip, kPip}));
    EXPECT_EQ(f.garp_macs, std::vector<std::string>{kMacB});
    EXPECT_DOUBLE_EQ(f.first_garp.ms_after(r.failover.fault_ms), 310.1);
    EXPECT_DOUBLE_EQ(f.last_garp.ms_after(r.failover.fault_ms), 710.2);
    EXPECT_DOUBLE_EQ(f.first_forwarded.ms_after(r.failover.fault_ms), 311.0);
    EXPECT_EQ(f.forwarded_before, 0);
    EXPECT_DOUBLE_EQ(f.first_to_new.ms_after(r.failover.fault_ms), 310.8);
    EXPECT_EQ(f.priority_zero, 0);
    EXPECT_EQ(f.old_adverts_after, 0);

    const HaWire& b = r.failback.wire;
    EXPECT_DOUBLE_EQ(b.new_first_advert.ms_after(r.failback.fault_ms), 320.0);
    EXPECT_EQ(b.new_first_advert.priority, 200);
    EXPECT_DOUBLE_EQ(b.old_last_advert.ms_after(r.failback.fault_ms), 305.0);  // lb-b's at 4315
    EXPECT_DOUBLE_EQ(b.old_last_any.ms_after(r.failback.fault_ms), 305.0);
    EXPECT_EQ(b.garps, 5);
    EXPECT_EQ(b.garp_addresses, std::vector<std::string>{kVip});
    EXPECT_DOUBLE_EQ(b.first_forwarded.ms_after(r.failback.fault_ms), 321.5);
    EXPECT_EQ(b.old_adverts_after, 0);
    EXPECT_EQ(b.old_forwarded_after, 0);
    // Every advert and GARP is kept for the drawing, lb-b's sync and probes are not.
    EXPECT_EQ(r.vrrp.size(), 32u + 26u + 15u);
}

// ---- judging -------------------------------------------------------------------------------

TEST(HaJudge, AGoodRunPassesEveryCheck) {
    HaRun r = good_run();
    judge_ha(r);
    EXPECT_TRUE(r.passed());
    EXPECT_EQ(r.checks.size(), 14u);
    for (const auto& c : r.checks) EXPECT_TRUE(c.ok) << c.name << ": expected " << c.expected << ", actual " << c.actual;
    const HaCheck* k = check_named(r, "lb-b takes over one master-down interval after lb-a's last advert");
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->expected, "355.0 ms .. 510.0 ms (master-down 360 ms)");
    EXPECT_NE(k->actual.find("365.0 ms"), std::string::npos) << k->actual;
}

TEST(HaJudge, SlowTakeoverAndLateTrafficFail) {
    HaRun r = good_run();
    r.failover.master_ms = r.failover.fault_ms + 360 + kTakeoverSlackMs + 1;
    r.failover.first_ok_ms = r.failover.fault_ms + 360 + kTrafficSlackMs + 1;
    judge_ha(r);
    EXPECT_FALSE(r.passed());
    const HaCheck* k = check_named(r, "lb-b becomes master after kill lb-a");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok) << k->actual;
    k = check_named(r, "requests succeed again after kill lb-a");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok) << k->actual;
}

TEST(HaJudge, NeverMasterAndBrokenDownloadsAndStrayFailuresFail) {
    HaRun r = good_run();
    r.failover.master_ms = 0;
    r.downloads[0].bytes = 10;
    r.downloads[0].curl_exit = 18;
    r.failed_outside_windows = 2;
    judge_ha(r);
    EXPECT_EQ(r.broken_downloads(), 1);
    EXPECT_EQ(check_named(r, "lb-b becomes master after kill lb-a")->actual, "never (master_down)");
    EXPECT_FALSE(check_named(r, "no long-lived connection breaks (synced flows)")->ok);
    EXPECT_FALSE(check_named(r, "requests fail only inside a transition window")->ok);
}

TEST(HaJudge, AnErrorIsOneFailedCheckAndEveryModeJudgesTheLongLivedConnections) {
    HaRun e = good_run();
    e.error = "lb-a did not become master";
    judge_ha(e);
    ASSERT_EQ(e.checks.size(), 1u);
    EXPECT_FALSE(e.passed());
    for (const char* mode : {"inline", "dsr-l2", "dsr-l3-tunnel"}) {
        HaRun d = good_run();
        d.mode = mode;
        d.downloads[0].curl_exit = 56;
        judge_ha(d);
        const HaCheck* k = check_named(d, "no long-lived connection breaks (synced flows)");
        ASSERT_NE(k, nullptr) << mode;
        EXPECT_FALSE(k->ok) << mode;
    }
}

TEST(HaJudge, ATakeoverBeforeTheMasterDownIntervalFails) {
    auto story = good_story();
    story.push_back({"lb-b.front", 1700, advert(kMacB, "203.0.113.3", 100)});  // 250 ms after lb-a's last
    HaRun r = run_from(story);
    judge_ha(r);
    const HaCheck* k = check_named(r, "lb-b takes over one master-down interval after lb-a's last advert");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok);
    EXPECT_NE(k->actual.find("250.0 ms"), std::string::npos) << k->actual;
}

TEST(HaJudge, GarpsFromAnotherMacOrWithoutTheVipOrLateFail) {
    // lb-b's GARPs replaced by one carrying another sender MAC in the ARP body.
    auto story = good_story();
    std::erase_if(story, [](const Shot& s) { return s.point == "lb-b.front" && s.bytes[12] == 0x08 && s.bytes[13] == 0x06; });
    story.push_back({"lb-b.front", 1815.1, garp(kMacB, kVip, "02:00:00:71:00:99")});
    HaRun r = run_from(story);
    judge_ha(r);
    const std::string name = "lb-b announces the VIP with gratuitous ARP after kill lb-a";
    EXPECT_FALSE(check_named(r, name)->ok) << check_named(r, name)->actual;

    story = good_story();
    std::erase_if(story, [](const Shot& s) { return s.point == "lb-b.front" && s.bytes[12] == 0x08 && s.bytes[13] == 0x06; });
    story.push_back({"lb-b.front", 1815.1, garp(kMacB, kPip)});
    r = run_from(story);
    judge_ha(r);
    EXPECT_FALSE(check_named(r, name)->ok) << "no GARP for the VIP: " << check_named(r, name)->actual;

    story = good_story();
    std::erase_if(story, [](const Shot& s) { return s.point == "lb-b.front" && s.bytes[12] == 0x08 && s.bytes[13] == 0x06; });
    story.push_back({"lb-b.front", 1915.5, garp(kMacB, kVip)});  // 100.5 ms after its first advert
    r = run_from(story);
    judge_ha(r);
    EXPECT_FALSE(check_named(r, name)->ok) << check_named(r, name)->actual;
    EXPECT_TRUE(check_named(r, "lb-a announces the VIP with gratuitous ARP after start lb-a")->ok);

    story = good_story();
    std::erase_if(story, [](const Shot& s) { return s.point == "lb-b.front" && s.bytes[12] == 0x08 && s.bytes[13] == 0x06; });
    story.push_back({"lb-b.front", 1812, garp(kMacB, kVip)});  // claims the VIP 3 ms before it is master
    r = run_from(story);
    judge_ha(r);
    EXPECT_FALSE(check_named(r, name)->ok) << check_named(r, name)->actual;
}

TEST(HaJudge, ForwardingBeforeTheFirstAdvertOrNeverFails) {
    auto story = good_story();
    story.push_back({"lb-b.front", 900, ip_frame(kMacB, kRouter, kPip, "198.18.0.11")});  // lb-b still backup
    HaRun r = run_from(story);
    judge_ha(r);
    const HaCheck* k = check_named(r, "lb-b forwards only after its first advert as master (kill lb-a)");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok);
    EXPECT_EQ(r.failover.wire.forwarded_before, 1);

    story = good_story();
    std::erase_if(story, [](const Shot& s) { return s.point == "lb-a.front" && s.ms > 4331 && s.ms < 4332; });
    r = run_from(story);
    judge_ha(r);
    k = check_named(r, "lb-a forwards only after its first advert as master (start lb-a)");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok) << "nothing forwarded after the failback: " << k->actual;
}

TEST(HaJudge, AnOldMasterThatKeepsAdvertisingOrForwardingFails) {
    const std::string name = "lb-b goes quiet after the failback";
    auto story = good_story();
    story.push_back({"lb-b.front", 4500, advert(kMacB, "203.0.113.3", 100)});
    HaRun r = run_from(story);
    judge_ha(r);
    EXPECT_FALSE(check_named(r, name)->ok);
    EXPECT_EQ(r.failback.wire.old_adverts_after, 1);

    story = good_story();
    story.push_back({"lb-b.front", 4600, ip_frame(kMacB, kRouter, kPip, "198.18.0.13")});
    r = run_from(story);
    judge_ha(r);
    EXPECT_FALSE(check_named(r, name)->ok);
    EXPECT_EQ(r.failback.wire.old_forwarded_after, 1);

    // Within one advert interval of lb-a's first advert lb-b may still be heard.
    story = good_story();
    story.push_back({"lb-b.front", 4415, advert(kMacB, "203.0.113.3", 100)});
    r = run_from(story);
    judge_ha(r);
    EXPECT_TRUE(check_named(r, name)->ok) << check_named(r, name)->actual;
}

TEST(HaJudge, NothingCapturedFailsThePacketChecks) {
    HaRun r = run_from({});
    judge_ha(r);
    EXPECT_FALSE(r.passed());
    const HaCheck* k = check_named(r, "lb-b takes over one master-down interval after lb-a's last advert");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok);
    EXPECT_EQ(k->actual, "no advert from lb-a captured; no advert from lb-b after kill lb-a");
    EXPECT_FALSE(check_named(r, "lb-b goes quiet after the failback")->ok);
}

// ---- reports -------------------------------------------------------------------------------

TEST(HaJson, CarriesTheTransitionsTheWireAndTheChecks) {
    HaRun r = good_run();
    r.pcaps = {{"lb-a.front", "ha-proxy/lb-a.front.pcap"}, {"lb-b.front", "ha-proxy/lb-b.front.pcap"}};
    judge_ha(r);
    auto j = ha_json(r);
    EXPECT_EQ(j["failover"]["takeover_ms"], 310);
    EXPECT_EQ(j["long_lived_broken"], 0);
    const auto& w = j["failover"]["wire"];
    EXPECT_DOUBLE_EQ(w["new_first_advert"]["t_ms"].get<double>(), 310.0);
    EXPECT_EQ(w["new_first_advert"]["priority"], 100);
    EXPECT_EQ(w["garps"]["count"], 10);
    EXPECT_EQ(w["garps"]["sender_macs"][0], kMacB);
    EXPECT_DOUBLE_EQ(w["first_forwarded"]["t_ms"].get<double>(), 311.0);
    EXPECT_EQ(j["failback"]["wire"]["first_to_new"]["point"], "lb-a.front");
    EXPECT_EQ(j["pcaps"]["lb-b.front"], "ha-proxy/lb-b.front.pcap");
    EXPECT_EQ(j["vrrp"].size(), r.vrrp.size());
    EXPECT_EQ(j["checks"].size(), r.checks.size());
    EXPECT_TRUE(j["failover"]["wire"]["old_last_any"].is_null());  // lb-a was dead throughout
    EXPECT_EQ(j["failback"]["wire"]["old_last_any"]["node"], "lb-b");
    EXPECT_TRUE(ha_json(run_from({}))["failover"]["wire"]["new_first_advert"].is_null());
}

TEST(HaJudge, AnIdleHeldConnectionThatDoesNotAnswerAgainFails) {
    HaRun r = good_run();
    r.held_again[1] = "failed: waiting for the response: timed out";
    judge_ha(r);
    EXPECT_FALSE(r.passed());
    const HaCheck* k = check_named(r, "idle held connections answer again, from the same server, after both transitions");
    ASSERT_NE(k, nullptr);
    EXPECT_FALSE(k->ok);
    EXPECT_EQ(k->actual, "1 of 2 answer #2: failed: waiting for the response: timed out");
    HaRun none = good_run();
    none.held = 0;
    none.held_again.clear();
    judge_ha(none);
    EXPECT_FALSE(check_named(none, "idle held connections answer again, from the same server, after both transitions")->ok)
        << "no connection held proves nothing";
}

TEST(HaJudge, ANoSyncRunIsNamedForItAndKeepsItsFilesApart) {
    HaRun r = good_run();
    r.mode = "dsr-l2";
    r.sync = false;
    r.algorithm = "maglev";
    judge_ha(r);
    EXPECT_EQ(r.id(), "dsr-l2-nosync");
    EXPECT_EQ(r.title(), "dsr-l2 (no sync, maglev)");
    EXPECT_NE(check_named(r, "no long-lived connection breaks (consistent hash, no sync)"), nullptr);
    auto j = ha_json(r);
    EXPECT_EQ(j["id"], "dsr-l2-nosync");
    EXPECT_EQ(j["sync"], false);
    EXPECT_EQ(j["algorithm"], "maglev");
}

TEST(HaReport, TheRunsGoIntoResultsJunitAndIndex) {
    RunResults res;
    res.started_at = "2024-01-01T00:00:00Z";
    HaRun good = good_run();
    judge_ha(good);
    HaRun bad = good_run();
    bad.mode = "dsr-l2";
    bad.failed_outside_windows = 3;
    judge_ha(bad);
    HaRun skipped;
    skipped.mode = "inline";
    skipped.skipped = true;
    skipped.skip_reason = "not root";
    res.ha = {good, bad, skipped};
    EXPECT_FALSE(res.passed());

    auto j = results_json(res);
    ASSERT_TRUE(j.contains("ha"));
    EXPECT_FALSE(j["ha"]["passed"].get<bool>());
    ASSERT_EQ(j["ha"]["modes"].size(), 3u);
    EXPECT_EQ(j["ha"]["modes"][1]["mode"], "dsr-l2");

    auto x = junit_xml(res);
    const size_t n = good.checks.size();
    EXPECT_NE(x.find("<testsuite name=\"ha\" tests=\"" + std::to_string(2 * n + 1) + "\" failures=\"1\" skipped=\"1\""),
              std::string::npos)
        << x;
    EXPECT_NE(x.find("classname=\"ha.dsr-l2\" name=\"requests fail only inside a transition window\"><failure "
                     "message=\"expected 0 failed outside; measured 3 failed outside"),
              std::string::npos)
        << x;
    EXPECT_NE(x.find("classname=\"ha.proxy\" name=\"lb-b goes quiet after the failback\"></testcase>"), std::string::npos);
    EXPECT_NE(x.find("classname=\"ha.inline\" name=\"lab\"><skipped message=\"not root\"/>"), std::string::npos);

    auto h = html_report(res);
    EXPECT_NE(h.find("<h2 id=\"ha\">"), std::string::npos);
    EXPECT_NE(h.find("href=\"ha.html#ha-dsr-l2\""), std::string::npos);
    EXPECT_NE(h.find("HA failover: 1 of 2 runs passed"), std::string::npos);

    // The guard scenario: its own section, testcases and summary line.
    HaGuardRun g;
    g.checks = {{"advert with TTL 64: dropped as ttl, nothing changes", true, "3", "3"},
                {"healed, one master again: lb-a (priority 200), lb-b backup", false, "<= 400 ms", "never"}};
    g.heal_resolved_ms = -1;
    res.ha_guard = g;
    j = results_json(res);
    ASSERT_TRUE(j["ha"].contains("guard"));
    EXPECT_EQ(j["ha"]["guard"]["checks"].size(), 2u);
    EXPECT_FALSE(j["ha"]["guard"]["passed"].get<bool>());
    x = junit_xml(res);
    EXPECT_NE(x.find("<testsuite name=\"ha\" tests=\"" + std::to_string(2 * n + 3) + "\" failures=\"2\" skipped=\"1\""),
              std::string::npos)
        << x;
    EXPECT_NE(x.find("classname=\"ha.guard\" name=\"healed, one master again: lb-a (priority 200), lb-b backup\"><failure "),
              std::string::npos)
        << x;
    h = html_report(res);
    EXPECT_NE(h.find("bad input and a split segment: FAILED"), std::string::npos);
    const std::string page = ha_html(res.ha, "2024-01-01T00:00:00Z", res.guard());
    EXPECT_NE(page.find("<h2 id=\"ha-guard\">"), std::string::npos);
    EXPECT_NE(page.find("Heal &rarr; one master: -"), std::string::npos);
}

TEST(HaReport, ThePageShowsTheWireAndLinksThePcaps) {
    HaRun r = good_run();
    r.pcaps = {{"lb-b.front", "ha-proxy/lb-b.front.pcap"}};
    judge_ha(r);
    auto h = ha_html({r}, "2024-01-01T00:00:00Z");
    EXPECT_NE(h.find("lb-b master +310 ms"), std::string::npos);
    EXPECT_NE(h.find("href=\"ha-proxy/lb-b.front.pcap\""), std::string::npos);
    EXPECT_NE(h.find("lb-b&#39;s first advert"), std::string::npos);
    EXPECT_NE(h.find("+310.1 ms"), std::string::npos);  // the first GARP, in the table
    EXPECT_NE(h.find("href=\"index.html\""), std::string::npos);
    EXPECT_EQ(h.find("http://"), std::string::npos);
    EXPECT_EQ(ha_html({r}).find("href=\"index.html\""), std::string::npos);  // a page of its own
}

}  // namespace
