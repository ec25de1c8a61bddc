#include "lablib/algorithms.hpp"

#include "lablib/control.hpp"
#include "lablib/lab.hpp"
#include "lablib/process.hpp"
#include "lablib/run.hpp"
#include "lablib/util.hpp"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <set>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;
using nlohmann::json;

// ---- lbctl backends --json ------------------------------------------------------------

namespace {

long json_long(const json& o, const char* key) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return -1;
    if (it->is_number()) return static_cast<long>(std::llround(it->get<double>()));
    if (it->is_string()) {
        try {
            return std::stol(it->get<std::string>());
        } catch (...) {
            return -1;
        }
    }
    return -1;
}

double json_double(const json& o, const char* key) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return -1;
    if (it->is_number()) return it->get<double>();
    if (it->is_string()) {
        try {
            return std::stod(it->get<std::string>());
        } catch (...) {
            return -1;
        }
    }
    return -1;
}

std::string json_string(const json& o, const char* key) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return {};
    if (it->is_string()) return it->get<std::string>();
    return it->dump();
}

BackendState backend_from(const json& b, const std::string& vip) {
    BackendState s;
    s.vip = vip.empty() ? json_string(b, "vip") : vip;
    s.address = json_string(b, "backend");  // "ip:port"
    if (s.address.find(':') == std::string::npos) s.address = json_string(b, "address");
    if (s.address.find(':') == std::string::npos && b.contains("port"))
        s.address += ":" + std::to_string(json_long(b, "port"));
    s.state = json_string(b, "state");
    s.weight = json_long(b, "weight");
    s.group = json_long(b, "group");
    s.established = json_long(b, "established");
    s.other = json_long(b, "other");
    s.flows_total = json_long(b, "flows_total");
    s.rtt_ms = json_double(b, "rtt_ms");
    s.connect_ms = json_double(b, "connect_ms");
    s.response_ms = json_double(b, "response_ms");
    s.check = json_string(b, "check");
    s.since_ms = json_long(b, "since_ms");
    s.last_check = json_string(b, "last_check");
    s.change_reason = json_string(b, "change_reason");
    return s;
}

void collect_vip(const json& v, std::vector<BackendState>& out) {
    std::string name = json_string(v, "name");
    if (name.empty()) name = json_string(v, "vip");
    for (const auto& b : v.at("backends"))
        if (b.is_object()) out.push_back(backend_from(b, name));
}

}  // namespace

std::vector<BackendState> parse_backends_json(const json& j) {
    std::vector<BackendState> out;
    const json* list = &j;
    if (j.is_object()) {
        if (j.contains("backends") && j["backends"].is_array()) {
            list = &j["backends"];
        } else if (j.contains("vips") && j["vips"].is_array()) {
            list = &j["vips"];
        } else {
            // {"web": [...], "echo": [...]} or {"web": {"backends": [...]}}
            for (const auto& [name, v] : j.items()) {
                if (v.is_array()) {
                    for (const auto& b : v)
                        if (b.is_object()) out.push_back(backend_from(b, name));
                } else if (v.is_object() && v.contains("backends") && v["backends"].is_array()) {
                    json named = v;
                    if (!named.contains("name")) named["name"] = name;
                    collect_vip(named, out);
                }
            }
            if (out.empty()) throw Error("no backends in the answer of lbctl backends --json");
            return out;
        }
    }
    if (!list->is_array()) throw Error("lbctl backends --json: expected a list of VIPs or backends");
    for (const auto& e : *list) {
        if (!e.is_object()) continue;
        if (e.contains("backends") && e["backends"].is_array())
            collect_vip(e, out);
        else if (e.contains("address"))
            out.push_back(backend_from(e, ""));
    }
    if (out.empty()) throw Error("no backends in the answer of lbctl backends --json");
    return out;
}

bool parse_counts(const std::string& out, std::map<std::string, int>& counts, int& failures) {
    bool have_failures = false;
    for (const auto& line : split(out, '\n')) {
        auto w = split_ws(line);
        if (w.size() != 2 || w[1].empty() || w[1].find_first_not_of("0123456789") != std::string::npos ||
            w[1].size() > 9)
            continue;
        int n = std::stoi(w[1]);
        if (w[0] == "failures") {
            failures = n;
            have_failures = true;
            break;  // the summary ends here (hold goes on with `holding N`)
        } else {
            counts[w[0]] = n;
        }
    }
    return have_failures;
}

int Distribution::total() const {
    int n = 0;
    for (const auto& b : bars) n += b.count;
    return n;
}

int Distribution::count(const std::string& server) const {
    for (const auto& b : bars)
        if (b.server == server) return b.count;
    return 0;
}

Bar* Distribution::bar(const std::string& server) {
    for (auto& b : bars)
        if (b.server == server) return &b;
    return nullptr;
}

bool AlgoCase::passed() const {
    if (!error.empty() || checks.empty()) return false;
    return std::all_of(checks.begin(), checks.end(), [](const AlgoCheck& c) { return c.ok; });
}

size_t AlgoRun::failed() const {
    return static_cast<size_t>(std::count_if(cases.begin(), cases.end(), [](const AlgoCase& c) { return !c.passed(); }));
}

const AlgoCase* AlgoRun::find(const std::string& name) const {
    for (const auto& c : cases)
        if (c.name == name) return &c;
    return nullptr;
}

// ---- the context a case runs in -------------------------------------------------------

namespace {

// A step of a case went wrong (lbctl refused a command, a client could not run): the
// case stops with this as its error.
class CaseFailed : public Error {
public:
    using Error::Error;
};

constexpr int kHoldSeconds = 300;  // far beyond any case; the case stops it sooner
constexpr auto kHoldReady = seconds(15);

std::string fmt_ms(double ms) {
    if (ms < 0) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", ms);
    return b;
}

}  // namespace

class AlgoContext {
public:
    AlgoContext(const Paths& paths, const Topology& topo, std::string lab)
        : paths_(paths), topo_(topo), lab_(std::move(lab)) {
        const Node& lb = node_with_role(topo_, topo_.node("lb-a") ? "lb-a" : topo_.with_role("lb").at(0)->name, "lb");
        socket_ = engine_socket(paths_, topo_, lb);
        for (const Node* n : topo_.with_role("server")) {
            if (n->ifaces.empty()) throw Error("server " + n->name + " has no interface in topology.toml");
            servers_.push_back(n->name);
            backends_[n->name] = n->ifaces.front().ip() + ":80";
        }
        if (servers_.size() != 3) throw Error("the algorithms suite needs a lab with 3 servers");
        url_ = "http://" + topo_.vip + "/";
    }

    const std::vector<std::string>& servers() const { return servers_; }
    const std::string& server(size_t i) const { return servers_.at(i); }
    const std::string& backend(const std::string& server) const { return backends_.at(server); }
    const std::string& vip_name() const { return vip_; }

    // The VIP the suite drives: "web" (netns_scripts/topo.sh names the TCP port 80 VIP
    // so), checked against what the engine lists.
    void find_vip() {
        auto r = lbctl(paths_, socket_, {"backends", "--json"});
        if (!r.ok()) throw Error("lbctl backends --json: " + answer_of(r));
        auto all = parse_backends_json(json::parse(r.out));
        std::set<std::string> names;
        for (const auto& b : all) names.insert(b.vip);
        if (names.count("web")) {
            vip_ = "web";
        } else {
            // The VIP whose backends are the servers on port 80 and that is not UDP echo.
            for (const auto& b : all)
                if (b.address == backend(server(0)) && b.vip != "echo") vip_ = b.vip;
        }
        if (vip_.empty()) throw Error("lbctl backends --json lists no VIP with the lab's servers on port 80");
    }

    // lbctl ARGS --vip VIP; the command is recorded in `log` as a user would type it.
    std::string ctl(std::vector<std::string>& log, std::vector<std::string> args, bool with_vip = true) {
        if (with_vip) {
            args.push_back("--vip");
            args.push_back(vip_);
        }
        log.push_back("lab ctl -- " + shell_join(args));
        auto r = lbctl(paths_, socket_, args);
        if (!r.ok()) throw CaseFailed("lab ctl -- " + shell_join(args) + ": " + answer_of(r));
        return trim(r.out);
    }
    std::string ctl(AlgoCase& c, std::vector<std::string> args, bool with_vip = true) {
        return ctl(c.commands, std::move(args), with_vip);
    }

    void delay(std::vector<std::string>& log, const std::string& server, int ms) {
        log.push_back("lab delay " + server + " " + std::to_string(ms));
        try {
            set_server_delay(paths_, lab_, server, ms);
        } catch (const Interrupted&) {
            throw;
        } catch (const std::exception& e) {
            throw CaseFailed(e.what());
        }
        if (ms == 0)
            delayed_.erase(server);
        else
            delayed_.insert(server);
    }
    void delay(AlgoCase& c, const std::string& server, int ms) { delay(c.commands, server, ms); }

    // The suite VIP's backends now.
    std::vector<BackendState> backends() {
        auto r = lbctl(paths_, socket_, {"backends", "--json"});
        if (!r.ok()) throw CaseFailed("lbctl backends --json: " + answer_of(r));
        std::vector<BackendState> out;
        try {
            for (auto& b : parse_backends_json(json::parse(r.out)))
                if (b.vip == vip_) out.push_back(std::move(b));
        } catch (const json::exception& e) {
            throw CaseFailed(std::string("lbctl backends --json is not JSON: ") + e.what());
        }
        return out;
    }

    const BackendState* find(const std::vector<BackendState>& bs, const std::string& server) const {
        for (const auto& b : bs)
            if (b.address == backend(server)) return &b;
        return nullptr;
    }

    // Records `lab ctl -- backends` now, under `label`.
    const BackendSnapshot& snapshot(AlgoCase& c, const std::string& label) {
        c.snapshots.push_back({label, backends()});
        return c.snapshots.back();
    }

    // The common starting state: algo rr, min-active 1, every server a backend with
    // weight 1 and group 1, no server delayed. Only what differs is changed (the engine
    // says what its backends are), except algo and min-active, which are always set.
    void reset(AlgoCase& c) {
        auto bs = backends();
        ctl(c.setup, {"algo", "rr"});
        ctl(c.setup, {"min-active", "1"});
        for (const auto& s : servers_) {
            const BackendState* b = find(bs, s);
            if (!b || b->state == "removed") {
                ctl(c.setup, {"add", backend(s), "--weight", "1", "--group", "1"});
                continue;
            }
            if (b->weight != 1 || b->state == "draining") ctl(c.setup, {"weight", backend(s), "1"});
            if (b->group != 1) ctl(c.setup, {"group", backend(s), "1"});
        }
        for (const auto& s : std::set<std::string>(delayed_)) delay(c.setup, s, 0);
    }

    // N new connections from `client`, one GET each; the per-server counts.
    Distribution connect(AlgoCase& c, const std::string& client, int n, const std::string& label) {
        std::vector<std::string> args{"lab_client", "http-many", url_, "--count", std::to_string(n)};
        std::string shown = "lab exec " + client + " -- " + shell_join(args);
        c.commands.push_back(shown);
        args[0] = paths_.tool("lab_client").string();
        const Node& node = node_with_role(topo_, client, "client");
        auto r = run_command(in_netns(node.netns, args), seconds(30) + milliseconds(100) * n);
        Distribution d = counts_of(r.out, label, shown);
        if (r.timed_out || (r.exit_code != 0 && r.exit_code != 1) || !parsed_)
            throw CaseFailed(shown + ": " + r.describe());
        return d;
    }

    // N connections held open from `client` (lab_client hold, detached and recorded in
    // the manifest), until the returned Hold is stopped or destroyed.
    class Hold {
    public:
        Hold(Proc p) : p_(std::move(p)) {}
        Hold(const Hold&) = delete;
        Hold& operator=(const Hold&) = delete;
        ~Hold() { stop(); }
        // SIGTERM; lab_client closes every connection and exits.
        void stop() {
            if (stopped_) return;
            stopped_ = true;
            stop_process(p_, SIGTERM, milliseconds(3000));
        }
        Distribution dist;

    private:
        Proc p_;
        bool stopped_ = false;
    };

    std::unique_ptr<Hold> hold(AlgoCase& c, const std::string& client, int n, const std::string& label) {
        std::vector<std::string> args{"lab_client", "hold", url_, "--count", std::to_string(n), "--seconds",
                                      std::to_string(kHoldSeconds)};
        std::string shown = "lab exec " + client + " -- " + shell_join(args) + " &";
        c.commands.push_back(shown);
        args[0] = paths_.tool("lab_client").string();
        const Node& node = node_with_role(topo_, client, "client");
        auto log_file = paths_.state_dir(lab_) / "logs" / (client + ".hold-" + c.name + ".log");
        auto h = std::make_unique<Hold>(spawn_detached(in_netns(node.netns, args), log_file, paths_.manifest(lab_),
                                                       client + ".lab_client-hold"));
        auto end = steady_clock::now() + kHoldReady;
        std::string out;
        while (true) {
            out = fs::exists(log_file) ? read_file(log_file) : "";
            if (out.find("\nholding ") != std::string::npos || starts_with(out, "holding ")) break;
            if (steady_clock::now() > end)
                throw CaseFailed(shown + ": no `holding` line within " + std::to_string(kHoldReady.count()) +
                                 " s; its output: " + trim(out));
            if (out.find("closed ") != std::string::npos)
                throw CaseFailed(shown + " ended early: " + trim(out));
            sleep_for(milliseconds(50));
        }
        h->dist = counts_of(out, label, shown);
        if (!parsed_) throw CaseFailed(shown + ": no counts in its output: " + trim(out));
        return h;
    }

private:
    std::string answer_of(const CommandResult& r) const {
        std::string a = trim(r.out);
        std::string e = trim(r.err);
        if (a.empty()) a = e;
        return a.empty() ? r.describe() : a;
    }

    Distribution counts_of(const std::string& out, const std::string& label, const std::string& command) {
        std::map<std::string, int> counts;
        Distribution d;
        d.label = label;
        d.command = command;
        parsed_ = parse_counts(out, counts, d.failures);
        for (const auto& s : servers_) {
            d.bars.push_back({s, counts.count(s) ? counts[s] : 0});
            counts.erase(s);
        }
        for (const auto& [name, n] : counts) d.bars.push_back({name, n});
        return d;
    }

    const Paths& paths_;
    const Topology& topo_;
    std::string lab_;
    std::string socket_;
    std::string url_;
    std::string vip_ = "web";
    std::vector<std::string> servers_;
    std::map<std::string, std::string> backends_;
    std::set<std::string> delayed_;
    bool parsed_ = false;
};

// ---- expectations ---------------------------------------------------------------------

namespace {

void expect(Distribution& d, const std::string& server, int min, int max) {
    if (Bar* b = d.bar(server)) {
        b->min = min;
        b->max = max;
    }
}

void expect_exact(Distribution& d, const std::vector<int>& counts) {
    for (size_t i = 0; i < counts.size() && i < d.bars.size(); ++i) d.bars[i].min = d.bars[i].max = counts[i];
}

std::string range_text(const Bar& b) {
    if (b.min >= 0 && b.min == b.max) return b.server + " " + std::to_string(b.min);
    if (b.min <= 0 && b.max >= 0) return b.server + " <= " + std::to_string(b.max);
    if (b.max < 0) return b.server + " >= " + std::to_string(b.min);
    return b.server + " " + std::to_string(b.min) + ".." + std::to_string(b.max);
}

std::string counts_text(const Distribution& d) {
    std::vector<std::string> parts;
    for (const auto& b : d.bars) parts.push_back(b.server + " " + std::to_string(b.count));
    parts.push_back("failures " + std::to_string(d.failures));
    return join(parts, ", ");
}

// The check of a distribution: every bar within its range and no failed connection.
AlgoCheck judge(const Distribution& d) {
    AlgoCheck c;
    c.name = d.label;
    std::vector<std::string> want;
    bool ok = d.failures == 0;
    for (const auto& b : d.bars) {
        // A name that is none of the lab's servers must not appear at all.
        if (!b.expected()) continue;
        want.push_back(range_text(b));
        ok = ok && b.within();
    }
    want.push_back("failures 0");
    c.expected = join(want, ", ");
    c.actual = counts_text(d);
    c.ok = ok;
    return c;
}

// Judges `d` and keeps it with the case.
void record(AlgoCase& c, Distribution d) {
    c.checks.push_back(judge(d));
    c.measured.push_back(std::move(d));
}

int pct_of(int n, int pct) { return n * pct / 100; }

std::string rtt_text(const AlgoContext& x, const std::vector<BackendState>& bs) {
    std::vector<std::string> parts;
    for (const auto& s : x.servers()) {
        const BackendState* b = x.find(bs, s);
        if (!b) {
            parts.push_back(s + " (not listed)");
            continue;
        }
        parts.push_back(s + " rtt_ms " + fmt_ms(b->rtt_ms) + " (connect " + fmt_ms(b->connect_ms) + ", response " +
                        fmt_ms(b->response_ms) + ")");
    }
    return join(parts, "; ");
}

// ---- the cases ------------------------------------------------------------------------

void case_rr(AlgoContext& x, AlgoCase& c) {
    x.ctl(c, {"algo", "rr"});
    auto d = x.connect(c, "client1", 300, "300 new connections");
    expect_exact(d, {100, 100, 100});
    record(c, std::move(d));
}

void case_wrr(AlgoContext& x, AlgoCase& c) {
    x.ctl(c, {"weight", x.backend(x.server(0)), "3"});
    x.ctl(c, {"algo", "wrr"});
    auto d = x.connect(c, "client1", 500, "500 new connections, weights 3:1:1");
    expect_exact(d, {300, 100, 100});
    record(c, std::move(d));
}

// The rtt score's fast band, as the scheduler states it: within max(1 ms, 50 %) of the
// fastest measured backend.
bool within_fast_band(const AlgoContext& x, const std::vector<BackendState>& bs, const std::string& server,
                      double* band) {
    double fastest = -1;
    for (const auto& s : x.servers()) {
        if (s == server) continue;
        const BackendState* b = x.find(bs, s);
        if (b && b->rtt_ms >= 0 && (fastest < 0 || b->rtt_ms < fastest)) fastest = b->rtt_ms;
    }
    const BackendState* me = x.find(bs, server);
    if (fastest < 0 || !me || me->rtt_ms < 0) return false;
    *band = fastest + std::max(1.0, fastest * 0.5);
    return me->rtt_ms <= *band;
}

void case_rtt(AlgoContext& x, AlgoCase& c) {
    constexpr int kDelayMs = 50, kN = 300, kBatch = 50, kMaxWarmup = 600, kRounds = 3;
    const std::string& slow = x.server(0);
    x.ctl(c, {"algo", "rtt"});
    // Every backend measured before the delay (unmeasured ones are tried first).
    auto warm = x.connect(c, "client1", 30, "30 new connections to measure every server");
    if (warm.failures) throw CaseFailed("warm-up: " + counts_text(warm));
    c.notes.push_back("before the delay: " + rtt_text(x, x.snapshot(c, "before the delay").backends));

    x.delay(c, slow, kDelayMs);
    auto d1 = x.connect(c, "client1", kN, std::to_string(kN) + " new connections, " + slow + " delayed " +
                                              std::to_string(kDelayMs) + " ms");
    expect(d1, slow, 0, pct_of(kN, 10) - 1);  // under 10 %
    record(c, std::move(d1));
    c.notes.push_back(slow + " delayed: " + rtt_text(x, x.snapshot(c, slow + " delayed").backends));

    // Recovery: the scheduler sends one flow in 16 to the slower servers, each a new
    // sample of their moving average (alpha 1/4), so server1's score falls back into
    // the fast band after a few hundred flows. Warm up in batches until it has, then
    // measure. Every server answers in well under a millisecond here, so one late
    // answer (a busy machine) can push any server out of the 1 ms band for a while:
    // a round whose 300 were skewed that way is followed by another (warm-up and 300),
    // at most kRounds in all. A server that never recovers gets about 6 % of each.
    x.delay(c, slow, 0);
    std::vector<std::string> rounds;
    bool met = false;
    for (int round = 1; round <= kRounds && !met; ++round) {
        int warmed = 0;
        double band = -1;
        bool recovered = false;
        while (warmed < kMaxWarmup) {
            auto w = x.connect(c, "client1", kBatch, "warm-up");
            c.commands.pop_back();  // one line for the whole warm-up, below
            warmed += kBatch;
            if (w.failures) throw CaseFailed("warm-up after the delay: " + counts_text(w));
            if (within_fast_band(x, x.backends(), slow, &band)) {
                recovered = true;
                break;
            }
        }
        std::string r = kRounds > 1 ? " (round " + std::to_string(round) + ")" : "";
        c.commands.push_back("(warm-up" + r + ": lab exec client1 -- lab_client http-many ... --count " +
                             std::to_string(kBatch) + ", repeated until lab ctl -- backends puts " + slow +
                             "'s rtt_ms within max(1 ms, 50 %) of the fastest other; " + std::to_string(warmed) +
                             " connections)");
        const auto after = x.snapshot(c, "after the warm-up" + r).backends;
        c.notes.push_back("warm-up" + r + ": " + std::to_string(warmed) + " connections" +
                          (recovered ? " until " + slow + "'s score was within the fast band (<= " + fmt_ms(band) + " ms)"
                                     : ", the most allowed; " + slow + " is still outside the fast band") +
                          ": " + rtt_text(x, after));
        auto d2 = x.connect(c, "client1", kN, std::to_string(kN) + " new connections after the delay ended" + r);
        expect(d2, slow, pct_of(kN, 20), -1);  // at least 20 %
        met = d2.failures == 0 && d2.bars.front().within();
        rounds.push_back("round " + std::to_string(round) + ": " + counts_text(d2));
        c.notes.push_back("after the 300" + r + ": " + rtt_text(x, x.snapshot(c, "after the 300" + r).backends));
        c.measured.push_back(std::move(d2));
    }
    c.checks.push_back({std::to_string(kN) + " new connections after the delay ended",
                        slow + " >= " + std::to_string(pct_of(kN, 20)) + ", failures 0 (in one of at most " +
                            std::to_string(kRounds) + " rounds)",
                        join(rounds, "; "), met});
}

void case_priority(AlgoContext& x, AlgoCase& c) {
    const std::string &s1 = x.server(0), &s2 = x.server(1), &s3 = x.server(2);
    x.ctl(c, {"group", x.backend(s1), "1"});
    x.ctl(c, {"group", x.backend(s2), "1"});
    x.ctl(c, {"group", x.backend(s3), "2"});
    x.ctl(c, {"min-active", "2"});
    x.ctl(c, {"algo", "priority"});
    auto d1 = x.connect(c, "client1", 300, "300 new connections, group 1 has 2 usable members");
    expect(d1, s1, 1, -1);
    expect(d1, s2, 1, -1);
    expect(d1, s3, 0, 0);
    record(c, std::move(d1));
    x.ctl(c, {"drain", x.backend(s2)});
    x.snapshot(c, s2 + " drained");
    auto d2 = x.connect(c, "client1", 300, "300 new connections, " + s2 + " drained: group 1 has 1 < 2");
    expect(d2, s1, 1, -1);
    expect(d2, s2, 0, 0);
    expect(d2, s3, 1, -1);
    record(c, std::move(d2));
}

void case_lc(AlgoContext& x, AlgoCase& c) {
    const std::string &s1 = x.server(0), &s2 = x.server(1), &s3 = x.server(2);
    x.ctl(c, {"drain", x.backend(s2)});
    x.ctl(c, {"drain", x.backend(s3)});
    auto held = x.hold(c, "client1", 10, "10 connections held open while " + s2 + " and " + s3 + " drain");
    expect_exact(held->dist, {10, 0, 0});
    record(c, held->dist);
    x.ctl(c, {"weight", x.backend(s2), "1"});
    x.ctl(c, {"weight", x.backend(s3), "1"});
    x.ctl(c, {"algo", "lc"});
    x.snapshot(c, "10 held on " + s1 + ", weights restored");
    auto d = x.connect(c, "client1", 60, "60 new short connections while the 10 are held");
    expect(d, s1, 0, 0);
    expect(d, s2, 20, 40);
    expect(d, s3, 20, 40);
    record(c, std::move(d));
    x.snapshot(c, "after the 60");
    held->stop();
    c.commands.push_back("(stop the hold: SIGTERM to lab_client hold)");
}

void case_wlc(AlgoContext& x, AlgoCase& c) {
    const std::string& s1 = x.server(0);
    auto start = x.snapshot(c, "at the start");
    std::vector<std::string> live;
    for (const auto& s : x.servers())
        if (const BackendState* b = x.find(start.backends, s))
            live.push_back(s + " " + std::to_string(b->established) + " established + " + std::to_string(b->other) +
                           " other");
    c.notes.push_back("live flows at the start: " + join(live, ", "));
    x.ctl(c, {"weight", x.backend(s1), "3"});
    x.ctl(c, {"algo", "wlc"});
    auto held = x.hold(c, "client1", 10, "10 connections held open, weights 3:1:1");
    expect_exact(held->dist, {6, 2, 2});
    record(c, held->dist);
    x.snapshot(c, "10 held");
    held->stop();
    c.commands.push_back("(stop the hold: SIGTERM to lab_client hold)");
}

// Every connection of one client went to a single server.
AlgoCheck one_server(const Distribution& d, const std::string& client) {
    AlgoCheck k;
    k.name = d.label;
    int n = d.total() + d.failures;
    k.expected = "one server gets all " + std::to_string(n) + " from " + client + ", failures 0";
    k.actual = counts_text(d);
    k.ok = d.failures == 0 && std::any_of(d.bars.begin(), d.bars.end(), [&](const Bar& b) { return b.count == n; });
    return k;
}

void case_sh(AlgoContext& x, AlgoCase& c) {
    x.ctl(c, {"algo", "sh"});
    for (const char* client : {"client1", "client2"}) {
        auto d = x.connect(c, client, 60, std::string("60 new connections from ") + client);
        c.checks.push_back(one_server(d, client));
        c.measured.push_back(std::move(d));
    }
}

void case_maglev(AlgoContext& x, AlgoCase& c) {
    const std::string &s1 = x.server(0), &s2 = x.server(1), &s3 = x.server(2);
    x.ctl(c, {"algo", "maglev"});
    auto d1 = x.connect(c, "client1", 300, "300 new connections");
    for (const auto& s : x.servers()) expect(d1, s, pct_of(300, 20), pct_of(300, 47));
    record(c, std::move(d1));
    x.ctl(c, {"remove", x.backend(s3)});
    x.snapshot(c, s3 + " removed");
    auto d2 = x.connect(c, "client1", 150, "150 new connections, " + s3 + " removed");
    expect(d2, s1, 1, -1);
    expect(d2, s2, 1, -1);
    expect(d2, s3, 0, 0);
    record(c, std::move(d2));
}

}  // namespace

const std::vector<AlgoSpec>& algorithm_cases() {
    static const std::vector<AlgoSpec> cases{
        {"wlc", "WeightedLeastConnectionsSpreadsHeldConnectionsByWeight", "weighted least connections",
         "weights 3:1:1: 10 connections held open one after another spread 6/2/2 "
         "(established count divided by weight stays level)",
         case_wlc},
        {"lc", "LeastConnectionsAvoidsTheServerHoldingConnections", "least connections",
         "10 connections held on server1 (server2, server3 drained), weights restored: 60 new connections all go "
         "to server2 and server3, none to server1 (an established flow counts 256 short-lived ones)",
         case_lc},
        {"rr", "RoundRobinSplitsNewConnectionsExactly", "round robin", "300 new connections: exactly 100/100/100", case_rr},
        {"wrr", "WeightedRoundRobinFollowsTheWeightsExactly", "weighted round robin", "weights 3:1:1 (lab ctl -- weight): 500 new connections give exactly 300/100/100",
         case_wrr},
        {"rtt", "FastestResponseAvoidsADelayedServerAndWinsItBack", "fastest response time",
         "server1 delayed 50 ms: under 10 % of 300 new connections; delay back to 0 and a warm-up until its score "
         "is back in the fast band: at least 20 % of the next 300 (at most 3 rounds of warm-up and 300)",
         case_rtt},
        {"priority", "PriorityGroupsSpillOverBelowMinActive", "priority groups",
         "server1, server2 in group 1, server3 in group 2, min-active 2: 300 connections all in group 1; "
         "server2 drained (group 1 has 1 < 2 usable): server1 and server3 share, server2 gets none",
         case_priority},
        {"sh", "SourceHashKeepsEachClientOnOneServer", "source hash", "every connection from one client address lands on one server (60 from client1, 60 from client2)",
         case_sh},
        {"maglev", "MaglevSpreadsEvenlyAndSkipsARemovedBackend", "Maglev consistent hashing",
         "300 new connections: each server gets 20 % to 47 %; after `remove` of server3, new connections only "
         "go to server1 and server2",
         case_maglev},
    };
    return cases;
}

AlgoRun run_algorithms(const Paths& paths, const AlgoOptions& opt) {
    for (const auto& o : opt.only) {
        const auto& all = algorithm_cases();
        if (std::none_of(all.begin(), all.end(), [&](const AlgoSpec& s) { return s.name == o; })) {
            std::vector<std::string> names;
            for (const auto& s : all) names.push_back(s.name);
            throw Error("no algorithms case '" + o + "' (cases: " + join(names, ", ") + ")");
        }
    }
    auto t0 = steady_clock::now();
    auto since = [](steady_clock::time_point t) {
        return duration_cast<milliseconds>(steady_clock::now() - t).count() / 1000.0;
    };
    AlgoRun ar;
    ar.lab = opt.name.empty() ? unique_lab_name(paths, "a") : opt.name;
    try {
        paths.tool("lbctl");
        paths.tool("lab_client");
        UpOptions up;
        up.name = ar.lab;
        up.mode = "inline";
        up.servers = 3;
        auto h = lab_up(paths, up);
        LabGuard guard(paths, ar.lab);
        ar.topo = h.topo;
        try {
            AlgoContext x(paths, *ar.topo, ar.lab);
            x.find_vip();
            ar.vip_name = x.vip_name();
            for (const auto& spec : algorithm_cases()) {
                if (!opt.only.empty() && std::find(opt.only.begin(), opt.only.end(), spec.name) == opt.only.end())
                    continue;
                AlgoCase c;
                c.name = spec.name;
                c.title = spec.title;
                c.expectation = spec.expectation;
                auto tc = steady_clock::now();
                try {
                    x.reset(c);
                    spec.run(x, c);
                } catch (const Interrupted&) {
                    throw;
                } catch (const std::exception& e) {
                    c.error = e.what();
                }
                c.seconds = since(tc);
                info("algorithms/" + c.name + ": " + (c.passed() ? "pass" : "FAIL") +
                     (c.error.empty() ? "" : " (" + c.error + ")"));
                ar.cases.push_back(std::move(c));
            }
        } catch (const Interrupted&) {
            throw;
        } catch (const std::exception& e) {
            ar.error = e.what();
        }
        for (const auto& p : h.procs)
            if (!proc_alive(p))
                ar.error += (ar.error.empty() ? "" : "; ") + p.label + " (pid " + std::to_string(p.pid) +
                            ") died during the run: " + trim(tail_file(p.log, 5));
        ar.teardown = guard.down();
    } catch (const Interrupted&) {
        throw;
    } catch (const Skip& e) {
        ar.skip_reason = e.what();
    } catch (const std::exception& e) {
        ar.error = e.what();
    }
    ar.seconds = since(t0);
    return ar;
}

}  // namespace lab
