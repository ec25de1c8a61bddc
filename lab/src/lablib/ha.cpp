// The HA failover scenario. The request loop is the health suite's (lab_client
// http-timeline in client1, a new connection every 50 ms); the long-lived connections are
// rate-limited curl downloads in client2, started before the kill and still running after
// the preemption, so each one crosses both transitions. The VRRP state is read from the
// engines' control sockets every 20 ms; the engine's own change time is poll time minus
// last_change.ago_ms, as health.cpp does for backend states.
//
// The wire: tcpdump runs at every port of both engines (the TAPs' netdevs in the switch
// namespace) from before the request loop until after the failback. A frame an engine
// writes to its TAP is stamped as it enters the kernel, so each engine's port shows
// exactly what that engine sent and when, in every mode (a capture at the router's
// front interface would miss dsr-l2's frames to the servers, which never reach it).
#include "lablib/ha.hpp"

#include "lablib/capture.hpp"
#include "lablib/checks.hpp"
#include "lablib/control.hpp"
#include "lablib/fault.hpp"
#include "lablib/lab.hpp"
#include "lablib/manifest.hpp"
#include "lablib/process.hpp"
#include "lablib/util.hpp"
#include "lablib/vrrp_state.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr int kIntervalMs = 50;
constexpr int kConnectTimeoutMs = 500;
constexpr int kRequestTimeoutMs = 2000;
constexpr int kBaselineMs = 1500;
constexpr int kAfterFailoverMs = 2500;
constexpr int kAfterFailbackMs = 2000;
constexpr int kPollMs = 20;
constexpr long kRateBytesPerSec = 64 * 1024;
constexpr long kDownloadBytes = 9 * kRateBytesPerSec;  // ~9 s: longer than both phases together

// The idle connections are held through both transitions and asked again after them.
constexpr int kHoldSeconds = (kBaselineMs + kAfterFailoverMs + kAfterFailbackMs) / 1000 + 2;

// Polls `socket` until the engine says master (its change time), or until `deadline_ms`.
bool wait_master(const std::string& socket, std::int64_t deadline_ms, HaTransition& t) {
    auto r = poll_vrrp(socket, deadline_ms, [](const VrrpReading& x) { return x.state == "master"; }, kPollMs);
    if (!r || r->state != "master") return false;
    t.master_ms = r->changed_ms;
    t.reason = r->reason;
    return true;
}

void wait_ms(int ms) { sleep_for(milliseconds(ms)); }

// lab_client hold --again's output: "connection N SERVER ADDR" per connection opened,
// then "again N ok SERVER" / "again N failed: WHY" per connection still held.
void parse_hold(const std::string& log, HaRun& run) {
    std::map<int, std::string> again;
    for (const auto& line : split(log, '\n')) {
        auto w = split_ws(line);
        if (w.size() >= 3 && w[0] == "connection" && w[2] != "to") ++run.held;
        if (w.size() >= 3 && w[0] == "again") again[std::atoi(w[1].c_str())] = line.substr(line.find(w[2]));
    }
    for (int i = 1; i <= run.held; ++i)
        run.held_again.push_back(again.count(i) ? again[i] : "not asked (closed early, or hold did not finish)");
}

HaDownload parse_download(int index, const std::string& log) {
    HaDownload d;
    d.index = index;
    d.expected_bytes = kDownloadBytes;
    for (const auto& line : split(log, '\n')) {
        auto w = split_ws(line);
        if (w.size() == 4 && w[0] == "download") {
            d.http_code = std::atoi(w[1].c_str());
            d.bytes = std::atol(w[2].c_str());
            d.curl_exit = std::atoi(w[3].c_str());
        } else if (!trim(line).empty()) {
            d.error = trim(line);
        }
    }
    return d;
}

void first_ok_after(HaRun& run, HaTransition& t) {
    for (const auto& r : run.requests)
        if (r.ok && r.start_ms >= t.fault_ms && (!t.first_ok_ms || r.end_ms < t.first_ok_ms)) t.first_ok_ms = r.end_ms;
}

// A transition's window: from a request timeout before the fault (requests in flight)
// until traffic flowed again (or the new master's change, whichever is later) plus one
// loop interval.
std::pair<std::int64_t, std::int64_t> window(const HaTransition& t) {
    std::int64_t end = std::max({t.first_ok_ms, t.master_ms, t.fault_ms}) + kIntervalMs;
    return {t.fault_ms - kRequestTimeoutMs, end};
}

}  // namespace

const char* to_string(HaFrame::Kind k) {
    switch (k) {
        case HaFrame::Kind::advert: return "advert";
        case HaFrame::Kind::garp: return "garp";
        case HaFrame::Kind::forwarded: return "forwarded";
        case HaFrame::Kind::to_engine: return "to_engine";
    }
    return "?";
}

double HaFrame::ms_after(std::int64_t ms) const {
    return std::round((time * 1000.0 - static_cast<double>(ms)) * 10.0) / 10.0;
}

std::vector<HaPort> ha_ports(const Topology& t) {
    std::vector<HaPort> out;
    for (const Node* n : t.with_role("lb"))
        for (const auto& i : n->ifaces)
            if (!i.mac.empty()) out.push_back({n->name, n->name + "." + i.name, i.mac, i.ip()});
    return out;
}

std::vector<HaFrame> ha_frames(const std::vector<HaPort>& ports,
                               const std::map<std::string, std::vector<Packet>>& captures) {
    std::set<std::string> lb_macs, lb_ips;
    for (const auto& p : ports) {
        lb_macs.insert(p.mac);
        if (!p.ip.empty()) lb_ips.insert(p.ip);
    }
    std::vector<HaFrame> out;
    for (const auto& port : ports) {
        auto it = captures.find(port.point);
        if (it == captures.end()) continue;
        for (const Packet& p : it->second) {
            HaFrame f;
            f.time = p.time;
            f.node = port.node;
            f.point = port.point;
            f.index = p.index;
            f.src_mac = p.src_mac;
            const bool vrrp = p.is_ipv4 && p.protocol == 112 && p.dst_ip == "224.0.0.18";
            if (p.src_mac == port.mac) {
                if (vrrp) {
                    f.kind = HaFrame::Kind::advert;
                    f.address = p.src_ip;
                    f.priority = p.vrrp_priority;
                } else if (p.gratuitous_arp()) {
                    f.kind = HaFrame::Kind::garp;
                    f.address = p.arp_sender_ip;
                    f.arp_mac = p.arp_sender_mac;
                } else if (p.is_ipv4 && !lb_ips.count(p.innermost().src_ip)) {
                    f.kind = HaFrame::Kind::forwarded;
                } else {
                    continue;  // other ARP, sync datagrams, health probes
                }
            } else if (p.dst_mac == port.mac && p.is_ipv4 && !vrrp && !lb_macs.count(p.src_mac) &&
                       !lb_ips.count(p.innermost().dst_ip)) {
                f.kind = HaFrame::Kind::to_engine;
            } else {
                continue;
            }
            f.summary = p.summary();
            out.push_back(std::move(f));
        }
    }
    std::stable_sort(out.begin(), out.end(), [](const HaFrame& a, const HaFrame& b) { return a.time < b.time; });
    return out;
}

namespace {

// Fills t.wire from the frames in [from_ms, until_ms) (until 0: no end); the new
// master's forwarded frames before its first advert are counted from forwarded_from_ms.
void wire_transition(HaTransition& t, const std::vector<HaFrame>& frames, std::int64_t from_ms, std::int64_t until_ms,
                     std::int64_t forwarded_from_ms, long advert_interval_ms) {
    HaWire w;
    auto in = [](const HaFrame& f, std::int64_t from, std::int64_t until) {
        const double ms = f.time * 1000.0;
        return ms >= static_cast<double>(from) && (!until || ms < static_cast<double>(until));
    };
    using K = HaFrame::Kind;
    for (const auto& f : frames)
        if (f.kind == K::advert && f.node == t.new_master && in(f, from_ms, until_ms)) {
            w.new_first_advert = f;
            break;
        }
    const double quiet_from = w.new_first_advert.seen() ? w.new_first_advert.time + advert_interval_ms / 1000.0 : 0;
    // A killed master's last advert came before the fault, so this one looks back.
    for (const auto& f : frames)
        if (f.kind == K::advert && f.node == t.old_master && (!until_ms || f.time * 1000.0 < static_cast<double>(until_ms)) &&
            (!w.new_first_advert.seen() || f.time < w.new_first_advert.time))
            w.old_last_advert = f;
    std::set<std::string> addresses, macs;
    for (const auto& f : frames) {
        if (f.kind == K::forwarded && f.node == t.new_master && in(f, forwarded_from_ms, until_ms) &&
            (!w.new_first_advert.seen() || f.time < w.new_first_advert.time))
            ++w.forwarded_before;
        if (!in(f, from_ms, until_ms)) continue;
        const bool from_old = f.node == t.old_master, from_new = f.node == t.new_master;
        switch (f.kind) {
            case K::advert:
                if (f.priority == 0) ++w.priority_zero;
                if (!from_old) break;
                w.old_last_any = f;
                if (quiet_from && f.time > quiet_from) ++w.old_adverts_after;
                break;
            case K::garp:
                if (!from_new) break;
                if (!w.garps++) w.first_garp = f;
                w.last_garp = f;
                addresses.insert(f.address);
                macs.insert(f.arp_mac);
                break;
            case K::forwarded:
                if (from_old && quiet_from && f.time > quiet_from) ++w.old_forwarded_after;
                if (from_new && !w.first_forwarded.seen()) w.first_forwarded = f;
                break;
            case K::to_engine:
                if (from_new && !w.first_to_new.seen()) w.first_to_new = f;
                break;
        }
    }
    w.garp_addresses.assign(addresses.begin(), addresses.end());
    w.garp_macs.assign(macs.begin(), macs.end());
    t.wire = std::move(w);
}

}  // namespace

void ha_wire_timeline(HaRun& run, const std::vector<HaFrame>& frames) {
    // The failover's window ends where the failback's begins; lb-b has been backup since
    // the capture began, so anything it forwarded before its first advert counts.
    const std::int64_t failback_from = run.failback.issued_ms ? run.failback.issued_ms : run.failback.fault_ms;
    wire_transition(run.failover, frames, run.failover.issued_ms ? run.failover.issued_ms : run.failover.fault_ms,
                    failback_from, 0, run.advert_interval_ms);
    wire_transition(run.failback, frames, failback_from, run.capture_end_ms, failback_from, run.advert_interval_ms);
    run.vrrp.clear();
    for (const auto& f : frames)
        if (f.kind == HaFrame::Kind::advert || f.kind == HaFrame::Kind::garp) run.vrrp.push_back(f);
}

int HaRun::held_ok() const {
    return static_cast<int>(
        std::count_if(held_again.begin(), held_again.end(), [](const std::string& s) { return s.rfind("ok ", 0) == 0; }));
}

int HaRun::broken_downloads() const {
    return static_cast<int>(std::count_if(downloads.begin(), downloads.end(), [](const HaDownload& d) { return d.broken(); }));
}

bool HaRun::passed() const {
    if (skipped) return true;
    if (!error.empty() || checks.empty()) return false;
    return std::all_of(checks.begin(), checks.end(), [](const HaCheck& c) { return c.ok; });
}

namespace {

// "+362.4 ms" after the transition's fault; "not captured" when the frame was not seen.
std::string at(const HaFrame& f, const HaTransition& t) {
    if (!f.seen()) return "not captured";
    char b[32];
    std::snprintf(b, sizeof b, "%+.1f ms", f.ms_after(t.fault_ms));
    return b;
}

std::string ms1(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f ms", v);
    return b;
}

const HaPort* port_of(const HaRun& run, const std::string& node, const std::string& mac) {
    for (const auto& p : run.ports)
        if (p.node == node && (mac.empty() || p.mac == mac)) return &p;
    return nullptr;
}

template <class Add>
void judge_wire(const HaRun& run, Add& add) {
    const double interval = static_cast<double>(run.advert_interval_ms);
    // RFC 5798 §6.4.2: a backup takes over when Master_Down_Timer, restarted by every
    // advert it hears, runs out.
    {
        const HaWire& w = run.failover.wire;
        const double lo = run.master_down_ms - kTimerToleranceMs, hi = static_cast<double>(run.master_down_ms + kTakeoverSlackMs);
        bool ok = false;
        std::string actual;
        if (!w.old_last_advert.seen() || !w.new_first_advert.seen()) {
            std::vector<std::string> missing;
            if (!w.old_last_advert.seen()) missing.push_back("no advert from " + run.failover.old_master + " captured");
            if (!w.new_first_advert.seen())
                missing.push_back("no advert from " + run.failover.new_master + " after " + run.failover.what);
            actual = join(missing, "; ");
        } else {
            double gap = (w.new_first_advert.time - w.old_last_advert.time) * 1000.0;
            ok = gap >= lo && gap <= hi;
            actual = ms1(gap) + " (" + run.failover.old_master + "'s last advert " + at(w.old_last_advert, run.failover) +
                     ", " + run.failover.new_master + "'s first " + at(w.new_first_advert, run.failover) + ", priority " +
                     std::to_string(w.new_first_advert.priority) + ")";
        }
        add(run.failover.new_master + " takes over one master-down interval after " + run.failover.old_master +
                "'s last advert",
            ok, ms1(lo) + " .. " + ms1(hi) + " (master-down " + std::to_string(run.master_down_ms) + " ms)", actual);
    }
    for (const HaTransition* t : {&run.failover, &run.failback}) {
        const HaWire& w = t->wire;
        const HaPort* own = port_of(run, t->new_master, "");
        bool own_macs = !w.garp_macs.empty();
        for (const auto& m : w.garp_macs) own_macs = own_macs && port_of(run, t->new_master, m);
        const bool has_vip = std::find(w.garp_addresses.begin(), w.garp_addresses.end(), run.vip) != w.garp_addresses.end();
        // The first round goes out with the first advert, perhaps at another port (inline:
        // the gateway's on `back`), whose capture may stamp it a hair earlier.
        const bool timely = w.first_garp.seen() && w.new_first_advert.seen() &&
                            (w.first_garp.time - w.new_first_advert.time) * 1000.0 >= -1.0 &&
                            (w.first_garp.time - w.new_first_advert.time) * 1000.0 <= interval;
        std::string actual = std::to_string(w.garps) + " GARPs";
        if (w.garps)
            actual += " for " + join(w.garp_addresses, ", ") + " from " + join(w.garp_macs, ", ") + ", " +
                      at(w.first_garp, *t) + " .. " + at(w.last_garp, *t) + "; first advert " +
                      at(w.new_first_advert, *t);
        add(t->new_master + " announces the VIP with gratuitous ARP after " + t->what,
            has_vip && own_macs && timely,
            "GARP for " + run.vip + " from " + (own ? own->mac : t->new_master + "'s MAC") +
                ", the first within " + std::to_string(run.advert_interval_ms) + " ms of its first advert",
            actual);
        actual = "first forwarded " + at(w.first_forwarded, *t) + ", first advert " + at(w.new_first_advert, *t) +
                 ", " + std::to_string(w.forwarded_before) + " forwarded before it";
        add(t->new_master + " forwards only after its first advert as master (" + t->what + ")",
            w.new_first_advert.seen() && w.first_forwarded.seen() && w.forwarded_before == 0 &&
                w.first_forwarded.time >= w.new_first_advert.time,
            "nothing forwarded before its first advert, data forwarded after it", actual);
    }
    const HaWire& b = run.failback.wire;
    add(run.failback.old_master + " goes quiet after the failback",
        b.new_first_advert.seen() && b.old_adverts_after == 0 && b.old_forwarded_after == 0,
        "no advert and no forwarded frame from " + run.failback.old_master + " later than " +
            std::to_string(run.advert_interval_ms) + " ms after " + run.failback.new_master + "'s first advert",
        !b.new_first_advert.seen()
            ? "no advert from " + run.failback.new_master + " captured"
            : std::to_string(b.old_adverts_after) + " adverts and " + std::to_string(b.old_forwarded_after) +
                  " forwarded frames (its last advert " + at(b.old_last_any, run.failback) + ", " +
                  run.failback.new_master + "'s first " + at(b.new_first_advert, run.failback) + ")");
}

}  // namespace

void judge_ha(HaRun& run) {
    run.checks.clear();
    auto add = [&](std::string name, bool ok, std::string expected, std::string actual) {
        run.checks.push_back({std::move(name), ok, std::move(expected), std::move(actual)});
    };
    if (!run.error.empty()) {
        add("the scenario runs to its end", false, "no error", run.error);
        return;
    }
    auto ms = [](long v) { return v < 0 ? std::string("never") : std::to_string(v) + " ms"; };
    const long takeover_limit = run.master_down_ms + kTakeoverSlackMs;
    const long traffic_limit = run.master_down_ms + kTrafficSlackMs;
    for (HaTransition* t : {&run.failover, &run.failback}) {
        bool kill = t == &run.failover;
        // A failback is a preemption: the restarted lb-a ignores lb-b's lower-priority
        // adverts and takes over when its own master-down timer (shorter than lb-b's: less
        // skew at priority 200) runs out, counted from its start.
        long limit = kill ? takeover_limit : takeover_limit + run.advert_interval_ms;
        add(t->new_master + " becomes master after " + t->what, t->takeover_ms() >= 0 && t->takeover_ms() <= limit,
            "<= " + std::to_string(limit) + " ms", ms(t->takeover_ms()) + (t->reason.empty() ? "" : " (" + t->reason + ")"));
        add("requests succeed again after " + t->what, t->traffic_gap_ms() >= 0 && t->traffic_gap_ms() <= traffic_limit,
            "<= " + std::to_string(traffic_limit) + " ms", ms(t->traffic_gap_ms()));
    }
    add("requests fail only inside a transition window", run.failed_outside_windows == 0, "0 failed outside",
        std::to_string(run.failed_outside_windows) + " failed outside (" + std::to_string(run.failover.failed) +
            " in the failover window, " + std::to_string(run.failback.failed) + " in the failback window)");
    long ok_after = std::count_if(run.requests.begin(), run.requests.end(), [&](const TimedRequest& r) {
        return r.ok && r.start_ms > run.failback.first_ok_ms && run.failback.first_ok_ms;
    });
    add("requests flow after the failback", ok_after > 0, "> 0 successful", std::to_string(ok_after));
    std::string broken;
    for (const auto& d : run.downloads)
        if (d.broken())
            broken += " #" + std::to_string(d.index) + ": HTTP " + std::to_string(d.http_code) + ", " +
                      std::to_string(d.bytes) + " bytes, curl exit " + std::to_string(d.curl_exit) +
                      (d.error.empty() ? "" : " (" + d.error + ")");
    add(std::string("no long-lived connection breaks (") + (run.sync ? "synced flows" : "consistent hash, no sync") + ")",
        !run.downloads.empty() && broken.empty(),
        std::to_string(run.downloads.size()) + " of " + std::to_string(run.downloads.size()) + " complete",
        std::to_string(run.downloads.size() - run.broken_downloads()) + " complete" + broken);
    std::string held_bad;
    for (size_t i = 0; i < run.held_again.size(); ++i)
        if (run.held_again[i].rfind("ok ", 0) != 0) held_bad += " #" + std::to_string(i + 1) + ": " + run.held_again[i];
    add("idle held connections answer again, from the same server, after both transitions",
        run.held > 0 && run.held_ok() == run.held,
        std::to_string(run.held) + " of " + std::to_string(run.held) + " answer",
        std::to_string(run.held_ok()) + " of " + std::to_string(run.held) + " answer" + held_bad);
    judge_wire(run, add);
}

HaRun run_ha_failover(const Paths& paths, const HaOptions& opt) {
    const auto t0 = steady_clock::now();
    HaRun run;
    run.mode = opt.mode;
    run.sync = opt.sync;
    run.algorithm = !opt.algorithm.empty() ? opt.algorithm : opt.sync ? "rr" : "maglev";
    run.lab = opt.name.empty() ? "ha" + std::to_string(::getpid()) : opt.name;
    try {
        UpOptions up;
        up.name = run.lab;
        up.mode = opt.mode;
        up.ha = true;
        up.sync = opt.sync;
        if (run.algorithm != "rr") up.algorithm = run.algorithm;
        run.notes.push_back("lab up --ha --mode " + opt.mode + (opt.sync ? "" : " --no-sync") +
                            (up.algorithm.empty() ? "" : " --algorithm " + up.algorithm) + " --name " + run.lab);
        auto h = lab_up(paths, up);  // on failure it removes what it built
        LabGuard guard(paths, run.lab);
        const Node& lba = node_with_role(h.topo, "lb-a", "lb");
        const Node& lbb = node_with_role(h.topo, "lb-b", "lb");
        const Node& client1 = h.topo.require_node("client1");
        const Node& client2 = h.topo.require_node("client2");
        auto sock_a = engine_socket(paths, h.topo, lba), sock_b = engine_socket(paths, h.topo, lbb);
        auto logs = paths.state_dir(run.lab) / "logs";

        // lb-a must be master (it has the higher priority) before anything starts.
        HaTransition start;
        if (!wait_master(sock_a, wall_ms() + 3000, start)) throw Error("lb-a did not become master within 3 s of lab up");
        auto b = read_vrrp(sock_b);
        if (!b || b->state != "backup") throw Error("lb-b is not backup after lab up (" + (b ? b->state : "no answer") + ")");
        run.master_down_ms = b->master_down_ms;
        run.advert_interval_ms = b->advert_interval_ms;

        // The capture runs from before the first request until after the failback.
        run.vip = h.topo.vip;
        run.ports = ha_ports(h.topo);
        std::vector<CapturePoint> points;
        std::vector<std::string> ids;
        for (const auto& cp : h.topo.capture_points())
            if (std::any_of(run.ports.begin(), run.ports.end(), [&](const HaPort& p) { return p.point == cp.id(); })) {
                points.push_back(cp);
                ids.push_back(cp.id());
            }
        const std::string rel_dir = "ha-" + run.id();
        const fs::path cap_dir = opt.out.empty() ? paths.state_dir(run.lab) / "captures" : opt.out / rel_dir;
        std::vector<std::string> devs;
        for (const auto& cp : points) devs.push_back(cp.dev + " in " + cp.netns);
        run.notes.push_back("tcpdump -s 256 at " + join(ids, ", ") + " (" + join(devs, ", ") + ") for the whole scenario");
        std::optional<CaptureSession> cap;
        cap.emplace(paths, points, CaptureOptions{run.lab, "ha", cap_dir, true});
        run.capture_start_ms = wall_ms();

        std::string url = "http://" + h.topo.vip + "/";
        std::vector<Proc> downloads;
        for (int i = 1; i <= opt.downloads; ++i) {
            std::vector<std::string> argv{"curl", "-sS", "-o", "/dev/null", "--limit-rate", std::to_string(kRateBytesPerSec),
                                          "--max-time", "60", "-w", "download %{http_code} %{size_download} %{exitcode}\\n",
                                          url + "bytes/" + std::to_string(kDownloadBytes)};
            if (i == 1) run.notes.push_back("lab exec client2 -- " + shell_join(argv) + " &   # x" + std::to_string(opt.downloads));
            downloads.push_back(spawn_detached(in_netns(client2.netns, argv), logs / ("client2.download" + std::to_string(i) + ".log"),
                                               paths.manifest(run.lab), "client2.download" + std::to_string(i)));
        }
        std::optional<Proc> hold;
        if (opt.held > 0) {
            std::vector<std::string> hargs{"hold", url, "--count", std::to_string(opt.held), "--seconds",
                                           std::to_string(kHoldSeconds), "--again"};
            std::vector<std::string> hv{paths.tool("lab_client").string()};
            hv.insert(hv.end(), hargs.begin(), hargs.end());
            run.notes.push_back("lab exec client2 -- lab_client " + shell_join(hargs) + " &");
            hold = spawn_detached(in_netns(client2.netns, hv), logs / "client2.hold-ha.log", paths.manifest(run.lab),
                                  "client2.hold-ha");
        }
        std::vector<std::string> largs{"http-timeline", url, "--interval-ms", std::to_string(kIntervalMs), "--seconds", "60",
                                       "--connect-timeout-ms", std::to_string(kConnectTimeoutMs), "--timeout-ms",
                                       std::to_string(kRequestTimeoutMs)};
        std::vector<std::string> argv{paths.tool("lab_client").string()};
        argv.insert(argv.end(), largs.begin(), largs.end());
        run.notes.push_back("lab exec client1 -- lab_client " + shell_join(largs) + " &   # stopped with SIGTERM");
        Proc loop = spawn_detached(in_netns(client1.netns, argv), logs / "client1.timeline-ha.log", paths.manifest(run.lab),
                                   "client1.timeline-ha");
        run.loop_start_ms = wall_ms();
        wait_ms(kBaselineMs);

        auto fault = [&](HaTransition& t, const std::string& node, const std::string& action) {
            run.notes.push_back("lab fault " + node + " " + action);
            t.issued_ms = wall_ms();
            auto r = apply_fault(paths, run.lab, node, parse_fault_action(action));
            run.notes.push_back(r.message);
            t.fault_ms = r.at_ms;
        };
        run.failover.what = "kill lb-a";
        run.failover.new_master = "lb-b";
        run.failover.old_master = "lb-a";
        fault(run.failover, "lb-a", "kill-engine");
        wait_master(sock_b, run.failover.fault_ms + 3000, run.failover);
        wait_ms(kAfterFailoverMs);

        run.failback.what = "start lb-a";
        run.failback.new_master = "lb-a";
        run.failback.old_master = "lb-b";
        fault(run.failback, "lb-a", "start-engine");
        wait_master(sock_a, run.failback.fault_ms + 3000, run.failback);
        wait_ms(kAfterFailbackMs);
        if (auto rb = read_vrrp(sock_b)) {
            run.failback.old_state = rb->state;
            run.failback.old_change_ms = rb->changed_ms;
            run.notes.push_back("lb-b after the failback: " + rb->state + " (" + rb->reason + ")");
        }

        for (const auto& p : cap->stop()) run.notes.push_back("capture: " + p);
        run.capture_end_ms = wall_ms();
        cap.reset();
        auto captures = CaptureSet::load(cap_dir.string(), ids);
        for (const auto& [pt, why] : captures.errors) run.notes.push_back("capture " + pt + ": " + why);
        if (!opt.out.empty())
            for (const auto& id : ids) run.pcaps.emplace_back(id, rel_dir + "/" + id + ".pcap");
        ha_wire_timeline(run, ha_frames(run.ports, captures.packets));

        stop_process(loop, SIGTERM, milliseconds(kRequestTimeoutMs + 3000));
        run.requests = parse_timeline(tail_file(loop.log, 1000000));
        run.loop_end_ms = wall_ms();
        // The downloads end by themselves (their size at their rate); a broken one ends early.
        auto end = steady_clock::now() + seconds(30);
        for (const auto& d : downloads)
            while (proc_alive(d) && steady_clock::now() < end) {
                reap(d.pid);
                sleep_for(milliseconds(50));
            }
        for (size_t i = 0; i < downloads.size(); ++i) {
            if (proc_alive(downloads[i])) stop_process(downloads[i], SIGKILL, milliseconds(1000));
            reap(downloads[i].pid);
            run.downloads.push_back(parse_download(static_cast<int>(i + 1), tail_file(downloads[i].log, 50)));
        }
        if (hold) {  // it ends by itself kHoldSeconds after it started, after the failback
            while (proc_alive(*hold) && steady_clock::now() < end) {
                reap(hold->pid);
                sleep_for(milliseconds(50));
            }
            if (proc_alive(*hold)) stop_process(*hold, SIGKILL, milliseconds(1000));
            reap(hold->pid);
            parse_hold(tail_file(hold->log, 200), run);
        }

        first_ok_after(run, run.failover);
        first_ok_after(run, run.failback);
        auto w1 = window(run.failover), w2 = window(run.failback);
        for (const auto& r : run.requests) {
            if (r.ok) continue;
            if (r.start_ms >= w1.first && r.start_ms <= w1.second) ++run.failover.failed;
            else if (r.start_ms >= w2.first && r.start_ms <= w2.second) ++run.failback.failed;
            else ++run.failed_outside_windows;
        }
        guard.down();
    } catch (const Interrupted&) {
        throw;
    } catch (const Skip& e) {
        run.skipped = true;
        run.skip_reason = e.what();
    } catch (const std::exception& e) {
        run.error = e.what();
    }
    if (!run.skipped) judge_ha(run);
    run.seconds = duration_cast<milliseconds>(steady_clock::now() - t0).count() / 1000.0;
    if (!opt.out.empty()) {
        fs::create_directories(opt.out);
        std::ofstream(opt.out / ("ha-" + run.id() + ".json")) << ha_json(run).dump(1) << "\n";
    }
    return run;
}

}  // namespace lab
