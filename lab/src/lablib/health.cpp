#include "lablib/health.hpp"

#include "client/timeline.hpp"
#include "lablib/algorithms.hpp"
#include "lablib/control.hpp"
#include "lablib/fault.hpp"
#include "lablib/lab.hpp"
#include "lablib/modes.hpp"
#include "lablib/process.hpp"
#include "lablib/run.hpp"
#include "lablib/util.hpp"

#include <signal.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>

#include <toml++/toml.h>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;

// ---- limits, requests, reasons --------------------------------------------------------

std::string HealthLimits::detect_formula() const {
    return "fall " + std::to_string(fall) + " × interval " + std::to_string(interval_ms) + " + timeout " +
           std::to_string(timeout_ms) + " + poll " + std::to_string(poll_ms) + " = " +
           std::to_string(detect_limit_ms()) + " ms";
}

std::string HealthLimits::recover_formula() const {
    return "rise " + std::to_string(rise) + " × interval " + std::to_string(interval_ms) + " + timeout " +
           std::to_string(timeout_ms) + " + poll " + std::to_string(poll_ms) + " = " +
           std::to_string(recover_limit_ms()) + " ms";
}

HealthLimits health_limits_from_config(const std::string& text, const std::string& vip, int poll_ms) {
    toml::table root;
    try {
        root = toml::parse(std::string_view(text), std::string_view("lb-a.toml"));
    } catch (const toml::parse_error& e) {
        throw Error(std::string("engine config: ") + std::string(e.description()));
    }
    HealthLimits l;
    l.poll_ms = poll_ms;
    const toml::array* vips = root["vips"].as_array();
    if (vips) {
        for (const auto& v : *vips) {
            const toml::table* t = v.as_table();
            if (!t || t->get_as<std::string>("name") == nullptr || t->get_as<std::string>("name")->get() != vip)
                continue;
            if (const toml::table* h = t->get_as<toml::table>("health")) {
                l.interval_ms = static_cast<int>(h->get_as<int64_t>("interval_ms") ? h->get_as<int64_t>("interval_ms")->get() : l.interval_ms);
                l.timeout_ms = static_cast<int>(h->get_as<int64_t>("timeout_ms") ? h->get_as<int64_t>("timeout_ms")->get() : l.timeout_ms);
                l.rise = static_cast<int>(h->get_as<int64_t>("rise") ? h->get_as<int64_t>("rise")->get() : l.rise);
                l.fall = static_cast<int>(h->get_as<int64_t>("fall") ? h->get_as<int64_t>("fall")->get() : l.fall);
            }
            return l;
        }
    }
    throw Error("engine config has no VIP named '" + vip + "'");
}

std::vector<TimedRequest> parse_timeline(const std::string& out) {
    std::vector<TimedRequest> reqs;
    for (const auto& line : split(out, '\n')) {
        auto r = lab::client::parse_timeline_record(line);
        if (!r) continue;
        reqs.push_back({r->index, r->start_ms, r->end_ms, r->ok, r->server, r->reason});
    }
    std::sort(reqs.begin(), reqs.end(), [](const TimedRequest& a, const TimedRequest& b) {
        return a.start_ms != b.start_ms ? a.start_ms < b.start_ms : a.index < b.index;
    });
    return reqs;
}

std::string failure_kind(const std::string& reason) {
    auto has = [&](const char* s) { return reason.find(s) != std::string::npos; };
    if (has("Connection refused")) return "refused";
    if (starts_with(reason, "connect: timed out")) return "connect timeout";
    if (has("Connection reset") || has("reset by peer")) return "reset";
    if (has("timed out")) return "timeout";
    if (has("No route to host")) return "no route";
    if (starts_with(reason, "HTTP status ")) return "HTTP " + reason.substr(12, 3);
    if (has("closed the connection")) return "closed";
    return reason;
}

int FaultCase::failed_around_fault() const {
    if (!fault_ms) return 0;
    return static_cast<int>(std::count_if(requests.begin(), requests.end(), [&](const TimedRequest& r) {
        return !r.ok && r.end_ms >= fault_ms && (!down_ms || r.start_ms < down_ms);
    }));
}

bool FaultCase::passed() const {
    if (!error.empty() || checks.empty()) return false;
    return std::all_of(checks.begin(), checks.end(), [](const HealthCheck& k) { return k.ok; });
}

// ---- judging --------------------------------------------------------------------------

void set_times_from_changes(FaultCase& c) {
    auto first = [&](const std::string& vip, const std::string& server, const std::string& state, std::int64_t from,
                     std::int64_t until) -> const StateChange* {
        if (!from) return nullptr;
        for (const auto& ch : c.changes)
            if (ch.vip == vip && ch.server == server && ch.state == state && ch.at_ms >= from &&
                (!until || ch.at_ms < until))
                return &ch;
        return nullptr;
    };
    // The last target's time (0 when one never got there); the engine's time likewise.
    auto last_of = [&](const std::string& vip, const std::string& state, std::int64_t from, std::int64_t until,
                       std::int64_t& seen, std::int64_t* engine) {
        seen = 0;
        if (engine) *engine = 0;
        std::int64_t s = 0, e = 0;
        for (const auto& t : c.targets) {
            const StateChange* ch = first(vip, t, state, from, until);
            if (!ch) return;
            s = std::max(s, ch->at_ms);
            e = std::max(e, ch->engine_ms);
        }
        seen = c.targets.empty() ? 0 : s;
        if (engine) *engine = c.targets.empty() ? 0 : e;
    };
    last_of("web", "down", c.fault_ms, c.restore_ms, c.down_ms, &c.engine_down_ms);
    last_of("web", "up", c.restore_ms, 0, c.up_ms, &c.engine_up_ms);
    if (c.echo_follows) {
        last_of("echo", "down", c.fault_ms, c.restore_ms, c.echo_down_ms, nullptr);
        last_of("echo", "up", c.restore_ms, 0, c.echo_up_ms, nullptr);
    } else {
        // Any target's echo backend seen down after the fault is what matters.
        c.echo_down_ms = 0;
        c.echo_up_ms = 0;
        for (const auto& t : c.targets)
            if (const StateChange* ch = first("echo", t, "down", c.fault_ms, 0))
                if (!c.echo_down_ms || ch->at_ms < c.echo_down_ms) c.echo_down_ms = ch->at_ms;
    }
}

namespace {

std::string ms_text(long ms) { return ms < 0 ? "-" : std::to_string(ms) + " ms"; }

// "refused 3, connect timeout 2"
std::string kinds_text(const std::vector<const TimedRequest*>& failed) {
    std::map<std::string, int> kinds;
    for (const auto* r : failed) ++kinds[failure_kind(r->reason)];
    std::vector<std::string> parts;
    for (const auto& [k, n] : kinds) parts.push_back(k + " " + std::to_string(n));
    return join(parts, ", ");
}

std::string counts_by_server(const std::vector<const TimedRequest*>& rs) {
    std::map<std::string, int> by;
    int failed = 0;
    for (const auto* r : rs) {
        if (r->ok)
            ++by[r->server];
        else
            ++failed;
    }
    std::vector<std::string> parts;
    for (const auto& [s, n] : by) parts.push_back(s + " " + std::to_string(n));
    parts.push_back("failed " + std::to_string(failed));
    return join(parts, ", ");
}

std::vector<const TimedRequest*> started_in(const FaultCase& c, std::int64_t from, std::int64_t until) {
    std::vector<const TimedRequest*> out;
    for (const auto& r : c.requests)
        if (r.start_ms >= from && (!until || r.start_ms < until)) out.push_back(&r);
    return out;
}

HealthCheck within(const std::string& name, std::int64_t from, std::int64_t seen, std::int64_t engine, long limit,
                   const std::string& formula, const std::string& what, const std::string& after) {
    HealthCheck k;
    k.name = name;
    k.expected = what + " within " + std::to_string(limit) + " ms of the " + after + " (" + formula + ")";
    if (!from) {
        k.actual = "the " + after + " was not made";
    } else if (!seen) {
        k.actual = "never seen " + what;
    } else {
        k.actual = "seen " + what + " " + std::to_string(seen - from) + " ms after the " + after;
        if (engine) k.actual += " (the engine changed it after " + std::to_string(engine - from) + " ms)";
        // Judged on the engine's own change time when it gave one (the poll period then
        // only adds slack for the engine's timers and the fault command's own latency).
        k.ok = (engine ? engine - from : seen - from) <= limit;
    }
    return k;
}

}  // namespace

void judge_fault_case(FaultCase& c) {
    c.checks.clear();
    const std::string who = c.all_down ? "every server" : join(c.targets, ", ");
    const std::string web = c.all_down ? "web: every backend" : "web: " + who;
    c.checks.push_back(within(web + " goes down", c.fault_ms, c.down_ms, c.engine_down_ms, c.limits.detect_limit_ms(),
                              c.limits.detect_formula(), "down", "fault"));
    if (!c.all_down) {
        if (c.echo_follows) {
            c.checks.push_back(within("echo: " + who + " goes down (TCP check)", c.fault_ms, c.echo_down_ms, 0,
                                      c.echo_limits.detect_limit_ms(), c.echo_limits.detect_formula(), "down", "fault"));
        } else {
            HealthCheck k;
            k.name = "echo: " + who + " stays up (its check is a TCP connect)";
            k.expected = "up from the fault to the end";
            k.actual = !c.fault_ms       ? "the fault was not made"
                       : c.echo_down_ms ? "seen down " + std::to_string(c.echo_down_ms - c.fault_ms) + " ms after the fault"
                                        : "up throughout";
            k.ok = c.fault_ms && !c.echo_down_ms;
            c.checks.push_back(k);
        }
    }

    // Until the targets were back up in the engine (its own time when known: the poll
    // sees it up to a period later, and a request in between may rightly reach them).
    const std::int64_t back = c.engine_up_ms ? c.engine_up_ms : c.up_ms;
    if (!c.all_down) {
        HealthCheck fails;
        fails.name = "after detection: no new request fails";
        fails.expected = "every request started after " + who + " was seen down succeeds";
        HealthCheck away;
        away.name = "after detection: no new request reaches " + who;
        away.expected = "none until it is back up";
        if (!c.down_ms) {
            fails.actual = away.actual = "not detected";
        } else {
            auto after = started_in(c, c.down_ms, 0);
            std::vector<const TimedRequest*> failed;
            for (const auto* r : after)
                if (!r->ok) failed.push_back(r);
            fails.actual = std::to_string(after.size()) + " started, " + std::to_string(failed.size()) + " failed" +
                           (failed.empty() ? "" : " (" + kinds_text(failed) + ")");
            fails.ok = !after.empty() && failed.empty();
            auto window = started_in(c, c.down_ms, back);
            int reached = 0;
            for (const auto* r : window)
                if (std::find(c.targets.begin(), c.targets.end(), r->server) != c.targets.end()) ++reached;
            away.actual = std::to_string(window.size()) + " started before it was back: " + counts_by_server(window);
            away.ok = !window.empty() && reached == 0;
        }
        c.checks.push_back(fails);
        c.checks.push_back(away);
    } else {
        HealthCheck rst;
        rst.name = "all down: new connections are refused at once (a RST from the engine)";
        rst.expected = "every request started after all were seen down (until the restore) fails with "
                       "'connection refused' within " + std::to_string(c.fast_refusal_ms) + " ms";
        auto window = c.down_ms ? started_in(c, c.down_ms, c.restore_ms) : std::vector<const TimedRequest*>{};
        int refused = 0;
        long slowest = 0;
        std::vector<const TimedRequest*> other;
        for (const auto* r : window) {
            if (!r->ok && failure_kind(r->reason) == "refused") {
                ++refused;
                slowest = std::max<long>(slowest, static_cast<long>(r->end_ms - r->start_ms));
            } else {
                other.push_back(r);
            }
        }
        rst.actual = !c.down_ms ? "not all were seen down"
                                : std::to_string(window.size()) + " started: " + std::to_string(refused) +
                                      " refused (slowest " + std::to_string(slowest) + " ms)" +
                                      (other.empty() ? "" : ", " + std::to_string(other.size()) + " otherwise: " +
                                                                counts_by_server(other));
        rst.ok = !window.empty() && other.empty() && slowest <= c.fast_refusal_ms;
        c.checks.push_back(rst);

        HealthCheck curl;
        curl.name = "all down: curl fails fast (exit 7: could not connect, the RST)";
        curl.expected = "exit 7 (could not connect) within 1000 ms";
        curl.actual = c.curl_exit < 0 ? "not run"
                                      : "exit " + std::to_string(c.curl_exit) + " after " + std::to_string(c.curl_ms) +
                                            " ms" + (c.curl_err.empty() ? "" : ": " + c.curl_err);
        curl.ok = c.curl_exit == 7 && c.curl_ms >= 0 && c.curl_ms < 1000;
        c.checks.push_back(curl);

        HealthCheck resets;
        resets.name = "all down: the engine counts the resets (stats health.resets_sent)";
        const long want = refused + (c.curl_exit >= 0 ? 1 : 0);
        resets.expected = "grows by at least " + std::to_string(want) + " (the refused requests and curl)";
        resets.actual = c.resets_before < 0 || c.resets_after < 0
                            ? "not read"
                            : std::to_string(c.resets_before) + " → " + std::to_string(c.resets_after) + " (+" +
                                  std::to_string(c.resets_after - c.resets_before) + ")";
        resets.ok = c.resets_before >= 0 && c.resets_after >= 0 && want > 0 &&
                    c.resets_after - c.resets_before >= want;
        c.checks.push_back(resets);
    }

    c.checks.push_back(within(web + " comes back up", c.restore_ms, c.up_ms, c.engine_up_ms,
                              c.limits.recover_limit_ms(), c.limits.recover_formula(), "up", "restore"));
    if (c.echo_follows)
        c.checks.push_back(within("echo: " + who + " comes back up", c.restore_ms, c.echo_up_ms, 0,
                                  c.echo_limits.recover_limit_ms(), c.echo_limits.recover_formula(), "up", "restore"));

    HealthCheck again;
    auto after_up = c.up_ms ? started_in(c, c.up_ms, 0) : std::vector<const TimedRequest*>{};
    if (!c.all_down) {
        again.name = who + " gets requests again";
        again.expected = "at least one request started after it was seen up is answered by it";
        int n = 0;
        for (const auto* r : after_up)
            if (r->ok && std::find(c.targets.begin(), c.targets.end(), r->server) != c.targets.end()) ++n;
        again.actual = !c.up_ms ? "never seen up" : std::to_string(after_up.size()) + " started after: " + counts_by_server(after_up);
        again.ok = n > 0;
    } else {
        again.name = "after recovery: every new request succeeds and every server answers";
        again.expected = "0 failed; each of " + join(c.servers, ", ") + " at least 1";
        std::set<std::string> answered;
        int failed = 0;
        for (const auto* r : after_up) {
            if (r->ok)
                answered.insert(r->server);
            else
                ++failed;
        }
        again.actual = !c.up_ms ? "never seen up" : std::to_string(after_up.size()) + " started after: " + counts_by_server(after_up);
        again.ok = c.up_ms && failed == 0 &&
                   std::all_of(c.servers.begin(), c.servers.end(), [&](const std::string& s) { return answered.count(s) > 0; });
    }
    c.checks.push_back(again);
}

size_t HealthModeRun::failed() const {
    return static_cast<size_t>(std::count_if(cases.begin(), cases.end(), [](const FaultCase& c) { return !c.passed(); }));
}

const FaultCase* HealthModeRun::find(const std::string& name) const {
    for (const auto& c : cases)
        if (c.name == name) return &c;
    return nullptr;
}

bool HealthRun::passed() const {
    bool any = false;
    for (const auto& m : modes) {
        if (m.skipped()) continue;
        any = true;
        if (!m.passed()) return false;
    }
    return any;
}

bool HealthRun::all_skipped() const {
    return !modes.empty() && std::all_of(modes.begin(), modes.end(), [](const HealthModeRun& m) { return m.skipped(); });
}

size_t HealthRun::total_cases() const {
    size_t n = 0;
    for (const auto& m : modes) n += m.cases.size();
    return n;
}

size_t HealthRun::failed_cases() const {
    size_t n = 0;
    for (const auto& m : modes) n += m.failed();
    return n;
}

bool HealthCaseSpec::runs_in(const std::string& mode) const {
    return only_modes.empty() || std::find(only_modes.begin(), only_modes.end(), mode) != only_modes.end();
}

const std::vector<HealthCaseSpec>& health_cases() {
    static const std::vector<HealthCaseSpec> cases{
        {"kill-server", "KillServerIsDetectedAndRecovered", "lab_server killed (a crash), then started again",
         "kill-server", "start-server", true, false, {},
         "server1's web and echo backends go down within the limit; after that no new request fails or reaches "
         "server1; after start-server both come back up within the limit and server1 answers again"},
        {"link-down", "LinkDownIsDetectedAndRecovered", "server1's link cut (bridge side), then restored",
         "link-down", "link-up", true, false, {},
         "server1's web and echo backends go down within the limit (probes time out); after that no new request "
         "fails or reaches server1; after link-up (routes checked) both come back up and server1 answers again"},
        {"http-500", "Http500IsDetectedByTheHttpCheckOnly", "GET /health answers 500, then 200 again", "http-500",
         "http-200", false, false, {},
         "server1's web backend (HTTP check) goes down within the limit, its echo backend (TCP check) stays up; "
         "no new request fails or reaches server1 after detection; after http-200 it is back and answers again"},
        {"all-down", "AllDownRefusesNewConnectionsWithAReset", "every server answers 500, then 200 again",
         "http-500", "http-200", false, true, {"inline"},
         "every web backend goes down within the limit; new connections are refused at once (the engine's RST; "
         "curl exits 7) and counted in health.resets_sent; after http-200 on all, every server is back and "
         "every request succeeds"},
    };
    return cases;
}

// ---- the time axis --------------------------------------------------------------------

double TimeAxis::x(std::int64_t t) const {
    if (t1 <= t0) return x0;
    return x0 + (x1 - x0) * static_cast<double>(t - t0) / static_cast<double>(t1 - t0);
}

long TimeAxis::step_ms(int max_ticks) const {
    const long span = std::max<long>(1, static_cast<long>(t1 - t0));
    max_ticks = std::max(1, max_ticks);
    for (long decade = 100;; decade *= 10)
        for (long m : {1, 2, 5})
            if (span / (m * decade) <= max_ticks) return m * decade;
}

std::vector<long> TimeAxis::ticks(int max_ticks) const {
    std::vector<long> out;
    const long step = step_ms(max_ticks);
    for (long t = 0; t <= t1 - t0; t += step) out.push_back(t);
    return out;
}

// ---- running it in a lab ----------------------------------------------------------------

namespace {

constexpr int kPollMs = 50;
constexpr int kIntervalMs = 50;         // between request starts
constexpr int kConnectTimeoutMs = 500;  // a lost SYN fails after this
constexpr int kRequestTimeoutMs = 2000;
constexpr int kLoopSeconds = 60;        // the loop's own bound; the case stops it sooner
constexpr int kBaselineMs = 600;        // requests before the fault, at least
// ... plus up to this much at random, so the fault lands at any phase of the engine's
// check interval (the worst case, a fault just after a passing check, included).
constexpr int kBaselineJitterMs = 1000;
constexpr int kAfterMs = 800;           // requests after each detection
constexpr int kSlackMs = 3000;          // waiting beyond a limit before giving up

class CaseFailed : public Error {
public:
    using Error::Error;
};

struct Sample {
    std::int64_t at_ms = 0;     // when the answer came
    std::int64_t asked_ms = 0;  // when it was asked: the engine's answer was made in between
    std::map<std::string, BackendState> by_key;  // "web server1"
};

class HealthContext {
public:
    HealthContext(const Paths& paths, const Topology& topo, std::string lab)
        : paths_(paths), topo_(topo), lab_(std::move(lab)) {
        const auto lbs = topo_.with_role("lb");
        if (lbs.empty()) throw Error("the lab has no lb node");
        const Node& lb = topo_.node("lb-a") ? *topo_.node("lb-a") : *lbs.front();
        socket_ = engine_socket(paths_, topo_, lb);
        for (const Node* n : topo_.with_role("server")) {
            if (n->ifaces.empty()) throw Error("server " + n->name + " has no interface in topology.toml");
            servers_.push_back(n->name);
            by_address_[n->ifaces.front().ip() + ":80"] = n->name;
        }
        if (servers_.empty()) throw Error("the lab has no server");
        auto clients = topo_.with_role("client");
        if (clients.empty()) throw Error("the lab has no client");
        client_ = clients.front();
        url_ = "http://" + topo_.vip + "/";
        std::string config = lb.config.empty() ? (paths_.state_dir(lab_) / (lb.name + ".toml")).string() : lb.config;
        auto text = read_file(config);
        web_limits_ = health_limits_from_config(text, "web", kPollMs);
        echo_limits_ = health_limits_from_config(text, "echo", kPollMs);
    }

    const std::vector<std::string>& servers() const { return servers_; }
    const HealthLimits& web_limits() const { return web_limits_; }
    const HealthLimits& echo_limits() const { return echo_limits_; }
    const Node& client() const { return *client_; }

    Sample sample() {
        Sample s;
        s.asked_ms = wall_ms();
        std::string answer = unix_request_all(socket_, "backends json", seconds(5));
        s.at_ms = wall_ms();
        for (auto& b : parse_backends_json(nlohmann::json::parse(answer))) {
            auto it = by_address_.find(b.address);
            if (it == by_address_.end() || (b.vip != "web" && b.vip != "echo")) continue;
            s.by_key[b.vip + " " + it->second] = b;
        }
        return s;
    }

    static std::string state(const Sample& s, const std::string& vip, const std::string& server) {
        auto it = s.by_key.find(vip + " " + server);
        return it == s.by_key.end() ? std::string("absent") : it->second.state;
    }

    // Records every web/echo backend whose state differs from the last sample of this case.
    void record(FaultCase& c, const Sample& s) {
        for (const auto& [key, b] : s.by_key) {
            auto& last = last_state_[key];
            if (last == b.state) continue;
            last = b.state;
            auto sp = key.find(' ');
            StateChange ch;
            ch.at_ms = s.at_ms;
            // The engine's own time of the change, from the state's age it reported. Its
            // answer was made between asking and answering (the data path takes it up
            // within a loop turn); the earlier bound is taken, so that a request the engine
            // scheduled just after the change is never counted as before it (one such, 1 ms
            // before the answer-based time, failed a CI run).
            ch.engine_ms = b.since_ms >= 0 ? s.asked_ms - b.since_ms : s.at_ms;
            ch.vip = key.substr(0, sp);
            ch.server = key.substr(sp + 1);
            ch.state = b.state;
            ch.reason = b.change_reason;
            c.changes.push_back(ch);
        }
    }

    void begin(FaultCase&) { last_state_.clear(); }

    // Polls every kPollMs until `done` holds for a sample (true) or the wall clock passes
    // `deadline_ms` (false).
    bool poll_until(FaultCase& c, const std::function<bool(const Sample&)>& done, std::int64_t deadline_ms) {
        while (true) {
            auto t = steady_clock::now();
            Sample s = sample();
            record(c, s);
            if (done && done(s)) return true;
            if (s.at_ms >= deadline_ms) return false;
            auto next = t + milliseconds(kPollMs);
            auto now = steady_clock::now();
            if (next > now) sleep_for(duration_cast<milliseconds>(next - now));
        }
    }
    void poll_for(FaultCase& c, int ms) { poll_until(c, nullptr, wall_ms() + ms); }

    FaultResult fault(FaultCase& c, const std::string& server, const std::string& action) {
        c.commands.push_back("lab fault " + server + " " + action);
        auto r = apply_fault(paths_, lab_, server, parse_fault_action(action));
        c.notes.push_back(r.message + (r.notes.empty() ? "" : " [" + join(r.notes, "; ") + "]"));
        return r;
    }

    // The request loop: lab_client http-timeline in the client, detached and recorded.
    Proc start_loop(FaultCase& c) {
        std::vector<std::string> args{"http-timeline",        url_,
                                      "--interval-ms",        std::to_string(kIntervalMs),
                                      "--seconds",            std::to_string(kLoopSeconds),
                                      "--connect-timeout-ms", std::to_string(kConnectTimeoutMs),
                                      "--timeout-ms",         std::to_string(kRequestTimeoutMs)};
        std::vector<std::string> argv{paths_.tool("lab_client").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        std::string label = client_->name + ".timeline-" + c.name;
        auto log = paths_.state_dir(lab_) / "logs" / (label + ".log");
        c.commands.push_back("lab exec " + client_->name + " -- lab_client " + shell_join(args) +
                             " &   # stopped with SIGTERM at the end");
        return spawn_detached(in_netns(client_->netns, argv), log, paths_.manifest(lab_), label);
    }

    long resets_sent() {
        auto answer = unix_request_all(socket_, "stats json", seconds(5));
        auto j = nlohmann::json::parse(answer);
        if (!j.contains("health") || !j["health"].contains("resets_sent")) return -1;
        return j["health"]["resets_sent"].get<long>();
    }

    void curl_refused(FaultCase& c) {
        std::vector<std::string> argv{"curl", "-sS", "-o", "/dev/null", "--max-time", "3", url_};
        c.commands.push_back("lab exec " + client_->name + " -- " + shell_join(argv));
        auto t0 = steady_clock::now();
        auto r = run_command(in_netns(client_->netns, argv), seconds(10));
        c.curl_ms = static_cast<long>(duration_cast<milliseconds>(steady_clock::now() - t0).count());
        c.curl_exit = r.exit_code;
        c.curl_err = trim(r.err);
    }

    // Every web and echo backend up (the state every case starts from).
    void wait_all_up(FaultCase& c, milliseconds limit) {
        std::string last;
        bool ok = poll_until(
            c,
            [&](const Sample& s) {
                std::vector<std::string> not_up;
                for (const auto& srv : servers_)
                    for (const char* vip : {"web", "echo"})
                        if (state(s, vip, srv) != "up") not_up.push_back(std::string(vip) + " " + srv + " " + state(s, vip, srv));
                last = join(not_up, ", ");
                return not_up.empty();
            },
            wall_ms() + limit.count());
        if (!ok) throw CaseFailed("not every backend was up at the start: " + last);
    }

private:
    const Paths& paths_;
    const Topology& topo_;
    std::string lab_;
    std::string socket_;
    std::string url_;
    const Node* client_ = nullptr;
    std::vector<std::string> servers_;
    std::map<std::string, std::string> by_address_;  // "192.0.2.11:80" → server1
    std::map<std::string, std::string> last_state_;
    HealthLimits web_limits_, echo_limits_;
};

// Stops the request loop (SIGTERM: it finishes the requests in flight) on every path.
class LoopGuard {
public:
    explicit LoopGuard(Proc p) : p_(std::move(p)) {}
    ~LoopGuard() { stop(); }
    // Returns the loop's output.
    std::string stop() {
        if (stopped_) return {};
        stopped_ = true;
        stop_process(p_, SIGTERM, milliseconds(kRequestTimeoutMs + 3000));
        return tail_file(p_.log, 100000);
    }

private:
    Proc p_;
    bool stopped_ = false;
};

// Puts the servers back on every path out of a case (so the next case starts whole).
class RestoreGuard {
public:
    RestoreGuard(HealthContext& x, FaultCase& c) : x_(x), c_(c) {}
    ~RestoreGuard() {
        if (!armed_) return;
        for (const auto& t : c_.targets) {
            try {
                x_.fault(c_, t, c_.restore_action);
            } catch (const std::exception& e) {
                c_.notes.push_back("restoring " + t + " after the error: " + e.what());
            }
        }
    }
    void arm() { armed_ = true; }
    void disarm() { armed_ = false; }

private:
    HealthContext& x_;
    FaultCase& c_;
    bool armed_ = false;
};

void run_case(HealthContext& x, const HealthCaseSpec& spec, FaultCase& c) {
    const auto& servers = x.servers();
    c.targets = spec.all_servers ? servers : std::vector<std::string>{servers.front()};
    x.begin(c);
    x.wait_all_up(c, seconds(10));

    auto all = [&](const Sample& s, const char* vip, const char* state) {
        return std::all_of(c.targets.begin(), c.targets.end(),
                           [&](const std::string& t) { return HealthContext::state(s, vip, t) == state; });
    };

    LoopGuard loop(x.start_loop(c));
    c.loop_start_ms = wall_ms();
    static std::mt19937 rng{std::random_device{}()};
    x.poll_for(c, kBaselineMs + static_cast<int>(rng() % kBaselineJitterMs));
    if (c.all_down) c.resets_before = x.resets_sent();

    RestoreGuard restore(x, c);
    restore.arm();
    for (const auto& t : c.targets) c.fault_ms = x.fault(c, t, c.fault_action).at_ms;
    long wait_down = std::max(c.limits.detect_limit_ms(), c.echo_follows ? c.echo_limits.detect_limit_ms() : 0L);
    x.poll_until(c, [&](const Sample& s) { return all(s, "web", "down") && (!c.echo_follows || all(s, "echo", "down")); },
                 c.fault_ms + wait_down + kSlackMs);
    x.poll_for(c, kAfterMs);
    if (c.all_down) {
        x.curl_refused(c);
        x.poll_for(c, 200);
    }

    for (const auto& t : c.targets) c.restore_ms = x.fault(c, t, c.restore_action).at_ms;
    restore.disarm();
    long wait_up = std::max(c.limits.recover_limit_ms(), c.echo_follows ? c.echo_limits.recover_limit_ms() : 0L);
    x.poll_until(c, [&](const Sample& s) { return all(s, "web", "up") && (!c.echo_follows || all(s, "echo", "up")); },
                 c.restore_ms + wait_up + kSlackMs);
    x.poll_for(c, kAfterMs);
    if (c.all_down) c.resets_after = x.resets_sent();

    c.requests = parse_timeline(loop.stop());
    c.loop_end_ms = wall_ms();
    if (!c.requests.empty()) c.loop_end_ms = std::max(c.loop_end_ms, c.requests.back().end_ms);
    for (const auto& r : c.requests) c.loop_end_ms = std::max(c.loop_end_ms, r.end_ms);
}

// Notes a reader wants next to the checks: where requests went in each phase, and why
// the engine changed the targets' state.
void add_readings(FaultCase& c) {
    auto phase = [&](const std::string& label, std::int64_t from, std::int64_t until) {
        if (!from) return;
        auto rs = started_in(c, from, until);
        std::vector<const TimedRequest*> failed;
        for (const auto* r : rs)
            if (!r->ok) failed.push_back(r);
        c.notes.push_back(label + ": " + std::to_string(rs.size()) + " requests: " + counts_by_server(rs) +
                          (failed.empty() ? "" : " (" + kinds_text(failed) + ")"));
    };
    phase("before the fault", 1, c.fault_ms);
    phase("between the fault and its detection (in flight or sent to the failed server)", c.fault_ms, c.down_ms);
    phase("after detection, until the restore", c.down_ms, c.restore_ms);
    phase("between the restore and the server seen up", c.restore_ms, c.up_ms);
    phase("after it was seen up", c.up_ms, 0);
    for (const auto& ch : c.changes)
        if (ch.at_ms >= c.fault_ms && std::find(c.targets.begin(), c.targets.end(), ch.server) != c.targets.end())
            c.notes.push_back(ch.vip + " " + ch.server + " " + ch.state + " (seen +" +
                              std::to_string(ch.at_ms - c.fault_ms) + " ms after the fault): " + ch.reason);
}

HealthModeRun run_health_mode(const Paths& paths, const ModeSpec& mode, const HealthOptions& opt) {
    auto t0 = steady_clock::now();
    auto since = [](steady_clock::time_point t) {
        return duration_cast<milliseconds>(steady_clock::now() - t).count() / 1000.0;
    };
    HealthModeRun mr;
    mr.mode = mode.name;
    mr.title = mode.title;
    mr.lab = opt.name.empty() ? unique_lab_name(paths, "h") : opt.name;
    try {
        paths.tool("lab_client");
        UpOptions up;
        up.name = mr.lab;
        up.mode = mode.name;
        up.servers = 3;
        auto h = lab_up(paths, up);
        LabGuard guard(paths, mr.lab);
        mr.topo = h.topo;
        try {
            HealthContext x(paths, *mr.topo, mr.lab);
            for (const auto& spec : health_cases()) {
                if (!spec.runs_in(mode.name)) continue;
                if (!opt.only.empty() && std::find(opt.only.begin(), opt.only.end(), spec.name) == opt.only.end())
                    continue;
                FaultCase c;
                c.mode = mode.name;
                c.name = spec.name;
                c.title = spec.title;
                c.fault_action = spec.fault;
                c.restore_action = spec.restore;
                c.echo_follows = spec.echo_follows;
                c.all_down = spec.all_servers;
                c.limits = x.web_limits();
                c.echo_limits = x.echo_limits();
                c.servers = x.servers();
                auto tc = steady_clock::now();
                try {
                    run_case(x, spec, c);
                } catch (const Interrupted&) {
                    throw;
                } catch (const std::exception& e) {
                    c.error = e.what();
                }
                set_times_from_changes(c);
                judge_fault_case(c);
                add_readings(c);
                c.seconds = since(tc);
                info("health/" + mode.name + "/" + c.name + ": " + (c.passed() ? "pass" : "FAIL") + " (detected " +
                     ms_text(c.detect_ms()) + ", recovered " + ms_text(c.recover_ms()) + ")" +
                     (c.error.empty() ? "" : " (" + c.error + ")"));
                mr.cases.push_back(std::move(c));
            }
        } catch (const Interrupted&) {
            throw;
        } catch (const std::exception& e) {
            mr.error = e.what();
        }
        // The engine must have lived through it; each server must run (again) at the end.
        for (const auto& p : h.procs)
            if (p.label.find(".lbd") != std::string::npos && !proc_alive(p))
                mr.error += (mr.error.empty() ? "" : "; ") + p.label + " (pid " + std::to_string(p.pid) +
                            ") died during the run: " + trim(tail_file(p.log, 5));
        for (const Node* n : mr.topo->with_role("server"))
            if (!running_lab_server(paths, mr.lab, n->name))
                mr.error += (mr.error.empty() ? "" : "; ") + n->name + "'s lab_server is not running at the end";
        mr.teardown = guard.down();
    } catch (const Interrupted&) {
        throw;
    } catch (const Skip& e) {
        mr.skip_reason = e.what();
    } catch (const std::exception& e) {
        mr.error = e.what();
    }
    mr.seconds = since(t0);
    return mr;
}

}  // namespace

HealthRun run_health(const Paths& paths, const HealthOptions& opt) {
    for (const auto& o : opt.only) {
        const auto& all = health_cases();
        if (std::none_of(all.begin(), all.end(), [&](const HealthCaseSpec& s) { return s.name == o; })) {
            std::vector<std::string> names;
            for (const auto& s : all) names.push_back(s.name);
            throw Error("no health case '" + o + "' (cases: " + join(names, ", ") + ")");
        }
    }
    auto modes = select_modes(opt.modes);
    auto t0 = steady_clock::now();
    HealthRun run;
    for (const ModeSpec* m : modes) {
        run.modes.push_back(run_health_mode(paths, *m, opt));
        const auto& mr = run.modes.back();
        info("health " + mr.mode + ": " +
             (mr.skipped() ? "SKIPPED (" + mr.skip_reason + ")"
                           : std::to_string(mr.cases.size() - mr.failed()) + "/" + std::to_string(mr.cases.size()) +
                                 " cases passed" + (mr.error.empty() ? "" : "; error: " + mr.error)));
    }
    run.seconds = duration_cast<milliseconds>(steady_clock::now() - t0).count() / 1000.0;
    return run;
}

}  // namespace lab
