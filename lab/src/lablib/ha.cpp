// The HA failover scenario. The request loop is the health suite's (lab_client
// http-timeline in client1, a new connection every 50 ms); the long-lived connections are
// rate-limited curl downloads in client2, started before the kill and still running after
// the preemption, so each one crosses both transitions. The VRRP state is read from the
// engines' control sockets every 20 ms; the engine's own change time is poll time minus
// last_change.ago_ms, as health.cpp does for backend states.
#include "lablib/ha.hpp"

#include "lablib/control.hpp"
#include "lablib/fault.hpp"
#include "lablib/lab.hpp"
#include "lablib/manifest.hpp"
#include "lablib/process.hpp"
#include "lablib/util.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

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

struct VrrpReading {
    std::string state;
    std::string reason;
    std::int64_t changed_ms = 0;
    long master_down_ms = 0;
    long advert_interval_ms = 0;
};

std::optional<VrrpReading> read_vrrp(const std::string& socket) {
    try {
        auto j = nlohmann::json::parse(unix_request_all(socket, "vrrp json", milliseconds(500)));
        auto now = wall_ms();
        VrrpReading r;
        r.state = j.value("state", "");
        r.master_down_ms = j.value("master_down_interval_ms", 0L);
        r.advert_interval_ms = j.value("advert_interval_ms", 0L);
        if (j.contains("last_change")) {
            r.reason = j["last_change"].value("reason", "");
            r.changed_ms = now - j["last_change"].value("ago_ms", 0L);
        }
        return r;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// Polls `socket` until the engine says master (its change time), or until `deadline_ms`.
bool wait_master(const std::string& socket, std::int64_t deadline_ms, HaTransition& t) {
    while (wall_ms() < deadline_ms) {
        auto r = read_vrrp(socket);
        if (r && r->state == "master") {
            t.master_ms = r->changed_ms;
            t.reason = r->reason;
            return true;
        }
        sleep_for(milliseconds(kPollMs));
    }
    return false;
}

void wait_ms(int ms) { sleep_for(milliseconds(ms)); }

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

int HaRun::broken_downloads() const {
    return static_cast<int>(std::count_if(downloads.begin(), downloads.end(), [](const HaDownload& d) { return d.broken(); }));
}

bool HaRun::passed() const {
    if (skipped) return true;
    if (!error.empty() || checks.empty()) return false;
    return std::all_of(checks.begin(), checks.end(), [](const HaCheck& c) { return c.ok; });
}

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
        // A failback is a preemption: lb-a takes over as soon as it hears lb-b's advert.
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
    if (run.mode == "proxy") {
        std::string broken;
        for (const auto& d : run.downloads)
            if (d.broken())
                broken += " #" + std::to_string(d.index) + ": HTTP " + std::to_string(d.http_code) + ", " +
                          std::to_string(d.bytes) + " bytes, curl exit " + std::to_string(d.curl_exit) +
                          (d.error.empty() ? "" : " (" + d.error + ")");
        add("no long-lived connection breaks (synced flows, proxy)", !run.downloads.empty() && broken.empty(),
            std::to_string(run.downloads.size()) + " of " + std::to_string(run.downloads.size()) + " complete",
            std::to_string(run.downloads.size() - run.broken_downloads()) + " complete" + broken);
    }
}

HaRun run_ha_failover(const Paths& paths, const HaOptions& opt) {
    HaRun run;
    run.mode = opt.mode;
    run.lab = opt.name.empty() ? "ha" + std::to_string(::getpid()) : opt.name;
    try {
        UpOptions up;
        up.name = run.lab;
        up.mode = opt.mode;
        up.ha = true;
        run.notes.push_back("lab up --ha --mode " + opt.mode + " --name " + run.lab);
        LabGuard guard(paths, run.lab);
        LabHandle h;
        try {
            h = lab_up(paths, up);
        } catch (...) {
            guard.release();  // lab_up removed what it built
            throw;
        }
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

        auto fault = [&](const std::string& node, const std::string& action) {
            run.notes.push_back("lab fault " + node + " " + action);
            auto r = apply_fault(paths, run.lab, node, parse_fault_action(action));
            run.notes.push_back(r.message);
            return r.at_ms;
        };
        run.failover.what = "kill lb-a";
        run.failover.new_master = "lb-b";
        run.failover.fault_ms = fault("lb-a", "kill-engine");
        wait_master(sock_b, run.failover.fault_ms + 3000, run.failover);
        wait_ms(kAfterFailoverMs);

        run.failback.what = "start lb-a";
        run.failback.new_master = "lb-a";
        run.failback.fault_ms = fault("lb-a", "start-engine");
        wait_master(sock_a, run.failback.fault_ms + 3000, run.failback);
        wait_ms(kAfterFailbackMs);
        if (auto rb = read_vrrp(sock_b)) run.notes.push_back("lb-b after the failback: " + rb->state + " (" + rb->reason + ")");

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
    } catch (const Skip& e) {
        run.skipped = true;
        run.skip_reason = e.what();
    } catch (const std::exception& e) {
        run.error = e.what();
    }
    if (!run.skipped) judge_ha(run);
    if (!opt.out.empty()) {
        fs::create_directories(opt.out);
        std::ofstream(opt.out / ("ha-" + run.mode + ".json")) << ha_json(run) << "\n";
    }
    return run;
}

namespace {

std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '<') o += "&lt;";
        else if (c == '>') o += "&gt;";
        else if (c == '&') o += "&amp;";
        else if (c == '"') o += "&quot;";
        else o += c;
    }
    return o;
}

std::string timeline_svg(const HaRun& run) {
    if (run.requests.empty()) return "<p>(no requests)</p>";
    const double W = 900, H = 150, left = 10;
    std::int64_t t0 = run.requests.front().start_ms, t1 = t0 + 1;
    for (const auto& r : run.requests) t1 = std::max(t1, r.end_ms);
    auto x = [&](std::int64_t t) { return left + (W - 2 * left) * double(t - t0) / double(t1 - t0); };
    std::ostringstream o;
    o << "<svg width=\"" << W << "\" height=\"" << H + 30 << "\" style=\"border:1px solid #ccc;font:11px sans-serif\">";
    int n = 0;
    for (const auto& r : run.requests) {
        double y = 20 + (n++ % 40) * 2.6;
        o << "<line x1=\"" << x(r.start_ms) << "\" x2=\"" << std::max(x(r.end_ms), x(r.start_ms) + 1) << "\" y1=\"" << y
          << "\" y2=\"" << y << "\" stroke=\"" << (r.ok ? "#2a2" : "#d22") << "\" stroke-width=\"2\"><title>#" << r.index
          << " " << (r.ok ? "ok " + r.server : "failed: " + esc(r.reason)) << "</title></line>";
    }
    auto mark = [&](std::int64_t t, const std::string& label, const char* color, int row) {
        if (!t) return;
        o << "<line x1=\"" << x(t) << "\" x2=\"" << x(t) << "\" y1=\"12\" y2=\"" << H << "\" stroke=\"" << color
          << "\" stroke-dasharray=\"4,2\"/><text x=\"" << x(t) + 2 << "\" y=\"" << H + 12 + row * 12 << "\" fill=\"" << color
          << "\">" << esc(label) << "</text>";
    };
    mark(run.failover.fault_ms, "kill lb-a", "#a00", 0);
    mark(run.failover.master_ms, "lb-b master +" + std::to_string(run.failover.takeover_ms()) + " ms", "#06c", 1);
    mark(run.failback.fault_ms, "start lb-a", "#a60", 0);
    mark(run.failback.master_ms, "lb-a master +" + std::to_string(run.failback.takeover_ms()) + " ms", "#06c", 1);
    o << "<text x=\"" << left << "\" y=\"10\">" << (t1 - t0) << " ms, " << run.requests.size()
      << " requests (one every 50 ms, new connection each)</text></svg>";
    return o.str();
}

}  // namespace

std::string ha_html(const std::vector<HaRun>& runs) {
    std::ostringstream o;
    o << "<!doctype html><html><head><meta charset=\"utf-8\"><title>lblab: HA failover</title>"
         "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
         "padding:3px 8px;text-align:left}.ok{color:#080}.bad{color:#c00}</style></head><body>"
         "<h1>HA failover: lb-a (VRRP 200) and lb-b (100)</h1>"
         "<p>lb-a's engine is SIGKILLed while a request loop and long-lived rate-limited downloads run through the "
         "VIP; lb-b takes over after its master-down interval; lb-a is started again and preempts.</p>";
    for (const auto& r : runs) {
        o << "<h2>" << esc(r.mode) << (r.skipped ? " (skipped)" : r.passed() ? " <span class=ok>pass</span>" : " <span class=bad>FAIL</span>")
          << "</h2>";
        if (r.skipped) {
            o << "<p>" << esc(r.skip_reason) << "</p>";
            continue;
        }
        if (!r.error.empty()) o << "<p class=bad>" << esc(r.error) << "</p>";
        o << "<p>master-down interval " << r.master_down_ms << " ms (adverts every " << r.advert_interval_ms
          << " ms). Failover: lb-b master " << r.failover.takeover_ms() << " ms after the kill, first successful request "
          << r.failover.traffic_gap_ms() << " ms after it, " << r.failover.failed << " failed requests. Failback: lb-a master "
          << r.failback.takeover_ms() << " ms after its start (" << esc(r.failback.reason) << "), " << r.failback.failed
          << " failed. Long-lived downloads: " << r.downloads.size() - r.broken_downloads() << " of " << r.downloads.size()
          << " complete.</p>" << timeline_svg(r) << "<table><tr><th>check</th><th>expected</th><th>actual</th></tr>";
        for (const auto& c : r.checks)
            o << "<tr><td class=" << (c.ok ? "ok" : "bad") << ">" << esc(c.name) << "</td><td>" << esc(c.expected)
              << "</td><td>" << esc(c.actual) << "</td></tr>";
        o << "</table><details><summary>commands</summary><pre>";
        for (const auto& n : r.notes) o << esc(n) << "\n";
        o << "</pre></details>";
    }
    o << "</body></html>\n";
    return o.str();
}

std::string ha_json(const HaRun& run) {
    nlohmann::json j;
    j["suite"] = "ha";
    j["mode"] = run.mode;
    j["lab"] = run.lab;
    j["skipped"] = run.skipped;
    if (run.skipped) j["skip_reason"] = run.skip_reason;
    if (!run.error.empty()) j["error"] = run.error;
    j["passed"] = run.passed();
    j["master_down_interval_ms"] = run.master_down_ms;
    j["advert_interval_ms"] = run.advert_interval_ms;
    for (const HaTransition* t : {&run.failover, &run.failback}) {
        nlohmann::json tj{{"what", t->what},           {"new_master", t->new_master}, {"reason", t->reason},
                          {"fault_ms", t->fault_ms},   {"master_ms", t->master_ms},   {"first_ok_ms", t->first_ok_ms},
                          {"takeover_ms", t->takeover_ms()}, {"traffic_gap_ms", t->traffic_gap_ms()},
                          {"failed_requests", t->failed}};
        j[t == &run.failover ? "failover" : "failback"] = tj;
    }
    j["requests"] = run.requests.size();
    j["failed_outside_windows"] = run.failed_outside_windows;
    j["long_lived"] = run.downloads.size();
    j["long_lived_broken"] = run.broken_downloads();
    auto& tl = j["timeline"] = nlohmann::json::array();
    for (const auto& r : run.requests)
        tl.push_back({{"start_ms", r.start_ms}, {"end_ms", r.end_ms}, {"ok", r.ok}, {"server", r.server}, {"reason", r.reason}});
    auto& cj = j["checks"] = nlohmann::json::array();
    for (const auto& c : run.checks)
        cj.push_back({{"name", c.name}, {"ok", c.ok}, {"expected", c.expected}, {"actual", c.actual}});
    j["notes"] = run.notes;
    return j.dump(1);
}

}  // namespace lab
