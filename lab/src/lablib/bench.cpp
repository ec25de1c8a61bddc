// `lab bench` (bench.hpp): each mode in a lab of its own, with lbd and (inline, proxy)
// with the kernel as lb-a; iperf3 and lab_client in client1 against iperf3 -s and
// lab_server behind the VIP.
#include "lablib/bench.hpp"

#include "lablib/control.hpp"
#include "lablib/health.hpp"
#include "lablib/lab.hpp"
#include "lablib/modes.hpp"
#include "lablib/process.hpp"
#include "lablib/report.hpp"
#include "lablib/report_common.hpp"
#include "lablib/run.hpp"
#include "lablib/util.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <ctime>
#include <fstream>
#include <sstream>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;
using json = nlohmann::json;
using namespace report_common;

namespace {

constexpr int kLatencyIntervalMs = 10;  // 100 requests a second
constexpr int kLatencySeconds = 3;

std::string iso_now() {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

// Runs `argv` in client1; its stdout, or Error with what went wrong.
std::string in_client(const Node& client, std::vector<std::string> argv, int seconds, BenchRow& row) {
    row.notes.push_back("lab exec client1 -- " + shell_join(argv));
    auto r = run_command(in_netns(client.netns, std::move(argv)), std::chrono::seconds(seconds));
    if (!r.ok()) throw Error(shell_join(r.argv) + ": " + trim(r.err.empty() ? r.describe() : r.err));
    return r.out;
}

// iperf3 -J's receiver rate (TCP) or datagrams received per second (UDP).
void iperf(const Node& client, const std::string& vip, int seconds, bool udp, BenchRow& row) {
    std::vector<std::string> argv{"iperf3", "-c", vip, "-p", "5201", "-t", std::to_string(seconds), "-J"};
    if (udp) argv.insert(argv.end(), {"-u", "-l", "64", "-b", "0"});
    auto out = in_client(client, argv, seconds + 20, row);
    auto j = json::parse(out);
    if (j.contains("error")) throw Error("iperf3: " + j["error"].get<std::string>());
    const auto& end = j.at("end");
    if (!udp) {
        row.tcp_gbps = end.at("sum_received").at("bits_per_second").get<double>() / 1e9;
        row.notes.push_back("tcp: " + std::to_string(row.tcp_gbps) + " Gbit/s received");
        return;
    }
    const auto& sum = end.at("sum");
    const double packets = sum.at("packets").get<double>(), lost = sum.value("lost_packets", 0.0);
    const double secs = sum.at("seconds").get<double>();
    row.udp_kpps = secs > 0 ? (packets - lost) / secs / 1000.0 : -1;
    row.udp_loss_pct = packets > 0 ? 100.0 * lost / packets : -1;
    row.notes.push_back("udp: " + std::to_string(static_cast<long>(packets)) + " sent, " +
                        std::to_string(static_cast<long>(lost)) + " lost in " + std::to_string(secs) + " s");
}

void measure(const Paths& paths, const LabHandle& h, const BenchOptions& opt, BenchRow& row) {
    const Node& client = h.topo.require_node("client1");
    const Node& server = h.topo.require_node("server1");
    // A wire has no VIP: the client talks to server1 itself, across the wire.
    const std::string vip = row.impl == "wire" ? server.ifaces.at(0).ip() : h.topo.vip, url = "http://" + vip + "/";
    auto logs = paths.state_dir(h.name) / "logs";
    // In DSR the server answers from the VIP on its lo: bound there, iperf3's UDP replies
    // leave from it too (unbound, they would leave from the server's own address).
    std::vector<std::string> sargs{"iperf3", "-s", "-p", "5201"};
    if (row.mode.rfind("dsr", 0) == 0) sargs.insert(sargs.end(), {"-B", vip});
    Proc srv = spawn_detached(in_netns(server.netns, sargs), logs / "server1.iperf3.log", paths.manifest(h.name),
                              "server1.iperf3");
    row.notes.push_back("lab exec server1 -- " + shell_join(sargs) + " &");
    sleep_for(milliseconds(300));  // iperf3 -s binds at once; give it the moment
    auto figure = [&](const char* what, auto&& f) {
        try {
            f();
        } catch (const std::exception& e) {
            row.notes.push_back(std::string(what) + ": not measured: " + e.what());
        }
    };
    figure("tcp", [&] { iperf(client, vip, opt.seconds, false, row); });
    figure("udp", [&] { iperf(client, vip, opt.seconds, true, row); });
    stop_process(srv, SIGTERM, milliseconds(2000));
    figure("conns", [&] {
        const auto t0 = steady_clock::now();
        auto out = in_client(client, {paths.tool("lab_client").string(), "http-many", url, "--count",
                                      std::to_string(opt.connections)}, 120, row);
        const double secs = duration_cast<microseconds>(steady_clock::now() - t0).count() / 1e6;
        if (out.find("failures 0") == std::string::npos) throw Error("some connections failed: " + trim(out));
        row.conns_per_s = opt.connections / secs;
        row.notes.push_back("conns: " + std::to_string(opt.connections) + " in " + std::to_string(secs) +
                            " s (lab_client's own start included)");
    });
    figure("latency", [&] {
        // curl's own clock (time_total, microseconds): connect, request, response; one
        // new connection per request, a 10 ms pause between two (so a little under 100/s,
        // each curl's start being outside its time).
        const int n = kLatencySeconds * 1000 / kLatencyIntervalMs;
        char pause[16];
        std::snprintf(pause, sizeof pause, "%.3f", kLatencyIntervalMs / 1000.0);
        const std::string script = "for i in $(seq " + std::to_string(n) +
                                   "); do curl -s -o /dev/null -m 2 -w '%{http_code} %{time_total}\\n' " + url +
                                   "; sleep " + pause + "; done";
        auto out = in_client(client, {"bash", "-c", script}, kLatencySeconds * 4 + 30, row);
        std::vector<double> ms;
        size_t failed = 0;
        for (const auto& line : split(out, '\n')) {
            auto w = split_ws(line);
            if (w.size() != 2) continue;
            if (w[0] == "200") ms.push_back(std::atof(w[1].c_str()) * 1000.0);
            else ++failed;
        }
        if (ms.empty()) throw Error("no request answered");
        row.p50_ms = percentile(ms, 50);
        row.p99_ms = percentile(ms, 99);
        row.notes.push_back("latency: " + std::to_string(ms.size()) + " requests at " +
                            std::to_string(1000 / kLatencyIntervalMs) + "/s, " + std::to_string(failed) + " failed");
    });
}

std::string fmt(double v, int decimals) {
    if (v < 0) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "%.*f", decimals, v);
    return b;
}
std::string ratio(double a, double b) { return a < 0 || b <= 0 ? "-" : fmt(100.0 * a / b, 0) + "%"; }

struct Figure {
    const char* name;
    const char* unit;
    double BenchRow::*field;
    int decimals;
    bool lower_is_better;
};
const Figure kFigures[] = {
    {"bulk TCP", "Gbit/s", &BenchRow::tcp_gbps, 2, false},
    {"64-byte UDP received", "kpps", &BenchRow::udp_kpps, 0, false},
    {"new connections", "per s", &BenchRow::conns_per_s, 0, false},
    {"latency p50 at 100/s", "ms", &BenchRow::p50_ms, 3, true},
    {"latency p99 at 100/s", "ms", &BenchRow::p99_ms, 3, true},
};

const BenchRow* find_row(const BenchRun& run, const std::string& mode, const std::string& impl) {
    for (const auto& r : run.rows)
        if (r.mode == mode && r.impl == impl && !r.skipped && r.error.empty()) return &r;
    return nullptr;
}

std::vector<std::string> modes_of(const BenchRun& run) {
    std::vector<std::string> m;
    for (const auto& r : run.rows)
        if (std::find(m.begin(), m.end(), r.mode) == m.end()) m.push_back(r.mode);
    return m;
}

// The comparison, a header row then one row per mode and figure: mode, figure, lbd,
// kernel, lbd/kernel, wire, lbd/wire ("-" for what was not measured). For latency the
// ratio is the other's time as a share of lbd's, so higher is better in every column.
std::vector<std::array<std::string, 7>> table(const BenchRun& run) {
    std::vector<std::array<std::string, 7>> out{{"mode", "figure", "lbd", "kernel", "lbd/kernel", "wire", "lbd/wire"}};
    for (const auto& mode : modes_of(run)) {
        const BenchRow* e = find_row(run, mode, "lbd");
        const BenchRow* k = find_row(run, mode, "kernel");
        const BenchRow* w = find_row(run, mode, "wire");
        for (const auto& f : kFigures) {
            const double ev = e ? e->*f.field : -1, kv = k ? k->*f.field : -1, wv = w ? w->*f.field : -1;
            auto share = [&](double other) { return f.lower_is_better ? ratio(other, ev) : ratio(ev, other); };
            out.push_back({mode, std::string(f.name) + " (" + f.unit + ")", fmt(ev, f.decimals), fmt(kv, f.decimals),
                           share(kv), fmt(wv, f.decimals), share(wv)});
        }
    }
    return out;
}

}  // namespace

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

namespace {
// Every figure of a row by its name in bench.json (and in a row's `rounds`).
const std::pair<const char*, double BenchRow::*> kJsonFigures[] = {
    {"tcp_gbps", &BenchRow::tcp_gbps},         {"udp_kpps", &BenchRow::udp_kpps},
    {"udp_loss_pct", &BenchRow::udp_loss_pct}, {"conns_per_s", &BenchRow::conns_per_s},
    {"latency_p50_ms", &BenchRow::p50_ms},     {"latency_p99_ms", &BenchRow::p99_ms}};
}  // namespace

BenchRow combine_rounds(std::vector<BenchRow> rs) {
    BenchRow out = rs.front();
    if (rs.size() == 1) return out;
    for (const auto& [name, field] : kJsonFigures) {
        std::vector<double> all, taken;
        for (const auto& r : rs) {
            all.push_back(r.*field);
            if (r.*field >= 0) taken.push_back(r.*field);
        }
        out.*field = percentile(taken, 50);
        out.rounds.emplace_back(name, all);
    }
    out.notes.clear();
    for (size_t i = 0; i < rs.size(); ++i) {
        for (const auto& n : rs[i].notes) out.notes.push_back("round " + std::to_string(i + 1) + ": " + n);
        if (!rs[i].error.empty()) out.notes.push_back("round " + std::to_string(i + 1) + ": error: " + rs[i].error);
    }
    // An error only when no round got through (a failed round's figures are -1, not taken).
    out.error.clear();
    const bool any_ok = std::any_of(rs.begin(), rs.end(), [](const BenchRow& r) { return r.error.empty(); });
    if (!any_ok) out.error = rs.front().error;
    return out;
}

BenchRun run_bench(const Paths& paths, const BenchOptions& opt) {
    BenchRun run;
    run.started_at = iso_now();
    if (find_on_path("iperf3").empty()) throw Skip("command 'iperf3' not found");
    std::vector<std::vector<BenchRow>> by_lab;  // [mode and implementation][round]
    for (int round = 0; round < std::max(1, opt.rounds); ++round) {
    size_t lab_index = 0;
    for (const ModeSpec* m : select_modes(opt.modes)) {
        std::vector<std::string> impls{"lbd"};
        if (m->name == "inline" || m->name == "proxy") impls.push_back("kernel");
        if (m->name == "inline") impls.push_back("wire");
        for (const auto& impl : impls) {
            BenchRow row;
            row.mode = m->name;
            row.impl = impl;
            try {
                UpOptions up;
                up.name = unique_lab_name(paths, "b");
                up.mode = m->name;
                up.bench = true;
                up.kernel = impl == "kernel";
                up.wire = impl == "wire";
                up.offload = opt.offload;
                up.no_batch = opt.no_batch;
                row.notes.push_back("lab up --mode " + m->name + " --bench" + (up.kernel ? " --kernel" : "") +
                                    (up.wire ? " --wire" : "") + (up.offload ? " --offload" : "") + " --name " + up.name +
                                    (up.no_batch ? " (lbd/lab_tapwire --no-batch)" : ""));
                auto h = lab_up(paths, up);  // on failure it removes what it built
                LabGuard guard(paths, up.name);
                measure(paths, h, opt, row);
                guard.down();
            } catch (const Interrupted&) {
                throw;
            } catch (const Skip& e) {
                row.skipped = true;
                row.skip_reason = e.what();
            } catch (const std::exception& e) {
                row.error = e.what();
            }
            info("bench " + (opt.rounds > 1 ? "round " + std::to_string(round + 1) + " " : "") + row.mode + " " + row.impl + ": " +
                 (row.skipped ? "SKIPPED (" + row.skip_reason + ")"
                  : !row.error.empty() ? "error: " + row.error
                                       : "tcp " + fmt(row.tcp_gbps, 2) + " Gbit/s, udp " + fmt(row.udp_kpps, 0) +
                                             " kpps, " + fmt(row.conns_per_s, 0) + " conn/s, p50 " + fmt(row.p50_ms, 1) +
                                             " ms, p99 " + fmt(row.p99_ms, 1) + " ms"));
            if (by_lab.size() <= lab_index) by_lab.emplace_back();
            by_lab[lab_index++].push_back(std::move(row));
        }
    }
    }
    for (auto& rs : by_lab) run.rows.push_back(combine_rounds(std::move(rs)));
    if (!opt.out.empty()) {
        fs::create_directories(opt.out);
        std::ofstream(opt.out / "bench.json") << bench_json(run).dump(1) << "\n";
        std::ofstream(opt.out / "bench.html") << bench_html(run);
    }
    return run;
}

json bench_json(const BenchRun& run) {
    json j{{"started_at", run.started_at}, {"rows", json::array()}};
    for (const auto& r : run.rows) {
        json rj{{"mode", r.mode}, {"impl", r.impl}, {"skipped", r.skipped}};
        if (r.skipped) rj["skip_reason"] = r.skip_reason;
        if (!r.error.empty()) rj["error"] = r.error;
        for (const auto& [name, field] : kJsonFigures) rj[name] = r.*field;
        if (!r.rounds.empty()) {
            json rounds = json::object();
            for (const auto& [name, values] : r.rounds) rounds[name] = values;
            rj["rounds"] = rounds;  // every reading; the figures above are their medians
        }
        rj["notes"] = r.notes;
        j["rows"].push_back(rj);
    }
    return j;
}

std::string bench_text(const BenchRun& run) {
    std::ostringstream o;
    char line[160];
    for (const auto& c : table(run)) {
        std::snprintf(line, sizeof line, "%-14s %-28s %10s %10s %10s %10s %10s\n", c[0].c_str(), c[1].c_str(),
                      c[2].c_str(), c[3].c_str(), c[4].c_str(), c[5].c_str(), c[6].c_str());
        o << line;
    }
    for (const auto& r : run.rows)
        if (r.skipped || !r.error.empty())
            o << r.mode << " " << r.impl << ": " << (r.skipped ? "skipped: " + r.skip_reason : "error: " + r.error) << "\n";
    for (const auto& r : run.rows)
        if (!r.rounds.empty()) {
            o << "figures are medians of " << r.rounds.front().second.size()
              << " rounds (every reading is in bench.json, \"rounds\")\n";
            break;
        }
    return o.str();
}

std::string bench_html(const BenchRun& run) {
    std::ostringstream o;
    page_start(o, "lblab: benchmarks", "", "");
    o << "<p class=\"small\"><a href=\"index.html\">index.html</a> (when make lab wrote it here). Generated "
      << html_escape(run.started_at)
      << ". Each mode in a lab of its own on this machine, lbd and (inline, proxy) the kernel as lb-a (nftables DNAT, "
         "DNAT + SNAT) and (inline) a wire: lb-a's two TAPs joined by lab_tapwire, which copies frames and nothing "
         "else, the ceiling of any TAP-based engine (no VIP: client1 talks to server1 across it). iperf3 and lab_client "
         "in client1. Ratios: lbd as a share of the other (for latency, the other's time as a share of lbd's). Numbers "
         "only; nothing here passes or fails.</p>\n";
    const auto rows = table(run);
    o << "<table>\n";
    for (size_t i = 0; i < rows.size(); ++i) {
        o << "<tr>";
        for (size_t c = 0; c < rows[i].size(); ++c)
            o << (i == 0 ? "<th>" : c < 2 ? "<td>" : "<td class=\"num\">") << html_escape(rows[i][c])
              << (i == 0 ? "</th>" : "</td>");
        o << "</tr>\n";
    }
    o << "</table>\n";
    for (const auto& r : run.rows) {
        o << "<h3>" << html_escape(r.mode + " " + r.impl) << "</h3>\n";
        if (r.skipped) o << "<p>skipped: " << html_escape(r.skip_reason) << "</p>\n";
        if (!r.error.empty()) o << "<p class=\"diff\">" << html_escape(r.error) << "</p>\n";
        o << commands_pre(r.notes);
    }
    o << "</body></html>\n";
    return o.str();
}

}  // namespace lab
