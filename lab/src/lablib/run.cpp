#include "lablib/run.hpp"

#include "lablib/capture.hpp"
#include "lablib/lab.hpp"
#include "lablib/report.hpp"
#include "lablib/util.hpp"

#include <unistd.h>

#include <algorithm>

#include <ctime>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;

size_t ModeRun::failed() const {
    size_t n = 0;
    for (const auto& c : checks)
        if (!c.passed) ++n;
    return n;
}

const ScenarioRun* ModeRun::scenario(const std::string& name) const {
    for (const auto& s : scenarios)
        if (s.name == name) return &s;
    return nullptr;
}

const CheckResult* ModeRun::check(const std::string& name) const {
    for (const auto& c : checks)
        if (c.name == name) return &c;
    return nullptr;
}

bool RunResults::passed() const {
    if (modes.empty() && !algorithms && !health && !has_ha()) return false;
    for (const auto& h : ha)
        if (!h.passed()) return false;
    if (ha_guard && !ha_guard->passed()) return false;
    for (const auto& m : modes)
        if (!m.passed()) return false;
    if (health && !health->passed()) return false;
    return !algorithms || algorithms->passed();
}

size_t RunResults::total_checks() const {
    size_t n = 0;
    for (const auto& m : modes) n += m.checks.size();
    return n;
}

size_t RunResults::failed_checks() const {
    size_t n = 0;
    for (const auto& m : modes) n += m.failed();
    return n;
}

std::string unique_lab_name(const Paths& paths, const std::string& prefix) {
    std::string base = prefix + std::to_string(::getpid());
    if (base.size() > 11) base = base.substr(0, 11);
    if (!lab_exists(paths, base)) return base;
    for (char c = 'a'; c <= 'z'; ++c) {
        std::string n = base + c;
        if (!lab_exists(paths, n)) return n;
    }
    throw Error("no free lab name for prefix " + prefix);
}

std::optional<nlohmann::json> lbctl_stats(const Paths& paths, const std::string& socket,
                                          std::string* why) {
    auto say = [&](const std::string& s) {
        if (why) *why = s;
        return std::nullopt;
    };
    if (!paths.has_tool("lbctl")) return say("lbctl is not built");
    if (socket.empty() || !fs::exists(socket)) return say("no control socket " + socket);
    auto r = run_command({paths.tool("lbctl").string(), "--socket", socket, "stats", "--json"},
                         seconds(5));
    if (!r.ok()) return say(r.describe());
    try {
        return nlohmann::json::parse(r.out);
    } catch (const std::exception& e) {
        return say(std::string("lbctl stats --json is not JSON: ") + e.what());
    }
}

namespace {

std::string now_iso() {
    std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

double since(steady_clock::time_point t0) {
    return duration_cast<milliseconds>(steady_clock::now() - t0).count() / 1000.0;
}

std::string lb_socket(const Topology& t) {
    for (const Node* n : t.with_role("lb"))
        if (!n->control_socket.empty()) return n->control_socket;
    return {};
}

ScenarioRun run_scenario(const Paths& paths, const ModeSpec& mode, const ScenarioSpec& spec,
                         const Topology& topo, const std::string& lab, const fs::path& out) {
    auto t0 = steady_clock::now();
    ScenarioRun sr;
    sr.name = spec.name;
    sr.title = spec.title;
    sr.bulk = spec.bulk;
    sr.rel_dir = mode.name + "/" + spec.name;
    fs::path dir = out / sr.rel_dir;
    fs::create_directories(dir);
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec))
        if (e.path().extension() == ".pcap") fs::remove(e.path(), ec);

    const Node& client = *topo.with_role("client").front();
    std::string sock = lb_socket(topo);
    std::string why;
    sr.stats_before = lbctl_stats(paths, sock, &why);

    auto points = topo.capture_points();
    info("scenario " + mode.name + "/" + spec.name + ": capturing on " +
         std::to_string(points.size()) + " points");
    {
        CaptureSession cap(paths, points, CaptureOptions{lab, spec.name, dir, spec.bulk});
        ScenarioContext ctx{paths, topo, client, paths.state_dir(lab)};
        try {
            sr.outcome = spec.run(ctx);
        } catch (const Interrupted&) {
            throw;
        } catch (const std::exception& e) {
            sr.outcome.ok = false;
            sr.outcome.error = e.what();
        }
        // Let the last packets of the exchange (FIN, final ACK) reach every capture.
        sleep_for(milliseconds(500));
        sr.problems = cap.stop();
        for (const auto& [id, file] : cap.files())
            sr.pcaps.emplace_back(id, sr.rel_dir + "/" + file.filename().string());
    }
    sr.stats_after = lbctl_stats(paths, sock, &why);

    std::vector<std::string> ids;
    for (const auto& p : points) ids.push_back(p.id());
    sr.captures = CaptureSet::load(dir.string(), ids);
    if (mode.derive) mode.derive(topo, sr, sr.outcome.values);
    sr.vars = scenario_vars(topo, client, sr.outcome);
    if (!sr.vars.count("server")) {
        auto s = server_from_captures(topo, sr.captures, sr.vars);
        if (!s.empty()) {
            sr.outcome.values["server"] = s;
            sr.outcome.values["server_from"] = "captures";
            sr.vars = scenario_vars(topo, client, sr.outcome);
        }
    }
    sr.seconds = since(t0);
    info("scenario " + mode.name + "/" + spec.name + ": " +
         (sr.outcome.ok ? "ok" : "FAILED: " + sr.outcome.error) +
         (sr.outcome.values.count("server") ? " (server " + sr.outcome.values["server"] + ")" : ""));
    return sr;
}

void evaluate_checks(const ModeSpec& mode, ModeRun& mr, const RunOptions& opt) {
    for (const auto& c : mode.checks()) {
        if (!opt.only.empty() &&
            std::find(opt.only.begin(), opt.only.end(), c.scenario) == opt.only.end())
            continue;
        const ScenarioRun* sr = mr.scenario(c.scenario);
        if (!sr) {
            CheckResult r = CheckResult::for_case(c);
            r.error = "not run: " + (mr.skipped() ? "skipped: " + mr.skip_reason
                                                  : mr.error.empty() ? std::string("scenario did not run")
                                                                     : mr.error);
            mr.checks.push_back(r);
            continue;
        }
        auto r = evaluate(c, sr->captures, sr->vars);
        if (!r.passed && !sr->outcome.ok)
            r.error += (r.error.empty() ? "" : " ") + std::string("(scenario ") + sr->name +
                       " failed: " + sr->outcome.error + ")";
        mr.checks.push_back(std::move(r));
    }
}

}  // namespace

ModeRun run_mode(const Paths& paths, const ModeSpec& mode, const RunOptions& opt) {
    auto t0 = steady_clock::now();
    ModeRun mr;
    mr.mode = mode.name;
    mr.title = mode.title;
    mr.summary = mode.summary;
    mr.lab = opt.name.empty() ? unique_lab_name(paths, "r") : opt.name;
    fs::create_directories(opt.out);
    try {
        UpOptions up;
        up.name = mr.lab;
        up.mode = mode.name;
        up.servers = opt.servers;
        auto h = lab_up(paths, up);
        LabGuard guard(paths, mr.lab);
        mr.topo = h.topo;
        for (const auto& spec : mode.scenarios()) {
            if (!opt.only.empty() &&
                std::find(opt.only.begin(), opt.only.end(), spec.name) == opt.only.end())
                continue;
            try {
                mr.scenarios.push_back(run_scenario(paths, mode, spec, h.topo, mr.lab, opt.out));
            } catch (const Interrupted&) {
                throw;
            } catch (const std::exception& e) {
                mr.error = "scenario " + spec.name + ": " + e.what();
                break;
            }
        }
        // Processes that died during the run say more than any check.
        for (const auto& p : h.procs)
            if (!proc_alive(p))
                mr.error += (mr.error.empty() ? "" : "; ") + p.label + " (pid " +
                            std::to_string(p.pid) + ") died during the run: " +
                            trim(tail_file(p.log, 5));
        mr.teardown = guard.down();
    } catch (const Interrupted&) {
        throw;
    } catch (const Skip& e) {
        mr.skip_reason = e.what();
    } catch (const std::exception& e) {
        mr.error = e.what();
    }
    evaluate_checks(mode, mr, opt);
    if (mr.topo) mr.facts = standard_facts(*mr.topo, mr.scenarios, mode.facts);
    mr.seconds = since(t0);
    return mr;
}

RunResults run_modes(const Paths& paths, const RunOptions& opt) {
    if (opt.suite != "modes" && opt.suite != "algorithms" && opt.suite != "health" && opt.suite != "all" &&
        opt.suite != "ha")
        throw Error("unknown suite '" + opt.suite + "' (modes, algorithms, health, all or ha)");
    std::vector<const ModeSpec*> modes;
    if (opt.suite == "modes" || opt.suite == "all") modes = select_modes(opt.modes);
    RunResults res;
    res.started_at = now_iso();
    auto t0 = steady_clock::now();
    for (const ModeSpec* m : modes) {
        res.modes.push_back(run_mode(paths, *m, opt));
        const auto& mr = res.modes.back();
        info("mode " + mr.mode + ": " +
             (mr.skipped() ? "SKIPPED (" + mr.skip_reason + ")"
                           : std::to_string(mr.checks.size() - mr.failed()) + "/" +
                                 std::to_string(mr.checks.size()) + " checks passed" +
                                 (mr.error.empty() ? "" : "; error: " + mr.error)));
    }
    if (opt.suite == "algorithms" || opt.suite == "all") {
        AlgoOptions ao;
        // A --name given for one mode's lab names the algorithms lab too (they never overlap).
        ao.name = opt.name;
        for (const auto& o : opt.only) {
            const auto& cases = algorithm_cases();
            if (std::any_of(cases.begin(), cases.end(), [&](const AlgoSpec& c) { return c.name == o; }))
                ao.only.push_back(o);
        }
        if (!opt.only.empty() && ao.only.empty() && opt.suite == "algorithms")
            ao.only = opt.only;  // names no case: run_algorithms says which exist
        if (opt.only.empty() || !ao.only.empty()) {
            res.algorithms = run_algorithms(paths, ao);
            const auto& a = *res.algorithms;
            info("algorithms: " + (a.skipped() ? "SKIPPED (" + a.skip_reason + ")"
                                               : std::to_string(a.cases.size() - a.failed()) + "/" +
                                                     std::to_string(a.cases.size()) + " cases passed" +
                                                     (a.error.empty() ? "" : "; error: " + a.error)));
        }
    }
    if (opt.suite == "health" || opt.suite == "all") {
        HealthOptions ho;
        ho.modes = opt.modes;
        ho.name = opt.name;
        for (const auto& o : opt.only) {
            const auto& cases = health_cases();
            if (std::any_of(cases.begin(), cases.end(), [&](const HealthCaseSpec& c) { return c.name == o; }))
                ho.only.push_back(o);
        }
        if (!opt.only.empty() && ho.only.empty() && opt.suite == "health")
            ho.only = opt.only;  // names no case: run_health says which exist
        if (opt.only.empty() || !ho.only.empty()) {
            res.health = run_health(paths, ho);
            const auto& h = *res.health;
            info("health: " + (h.all_skipped() ? std::string("SKIPPED")
                                                : std::to_string(h.total_cases() - h.failed_cases()) + "/" +
                                                      std::to_string(h.total_cases()) + " cases passed"));
        }
    }
    // The HA suite: an HA lab per mode of --mode; it has no cases, so --only leaves it
    // out of "all" unless it names "ha".
    if (opt.suite == "ha" ||
        (opt.suite == "all" && (opt.only.empty() || std::find(opt.only.begin(), opt.only.end(), "ha") != opt.only.end()))) {
        // Each mode with its flows synced; dsr-l2 once more without sync (Maglev keeps the
        // flows); then, with proxy among the modes, the bad-input and partition scenario.
        std::vector<HaOptions> runs;
        for (const ModeSpec* m : select_modes(opt.modes)) {
            HaOptions ho;
            ho.mode = m->name;
            runs.push_back(ho);
            if (m->name == "dsr-l2") {
                ho.sync = false;
                runs.push_back(ho);
            }
        }
        for (HaOptions& ho : runs) {
            ho.name = opt.name.empty() ? unique_lab_name(paths, "ha") : opt.name;
            ho.out = opt.out;
            res.ha.push_back(run_ha_failover(paths, ho));
            const auto& h = res.ha.back();
            info("ha " + h.title() + ": " +
                 (h.skipped ? "SKIPPED (" + h.skip_reason + ")"
                            : std::string(h.passed() ? "pass" : "FAIL") + ", failover " +
                                  std::to_string(h.failover.takeover_ms()) + " ms (traffic again after " +
                                  std::to_string(h.failover.traffic_gap_ms()) + " ms), failback " +
                                  std::to_string(h.failback.takeover_ms()) + " ms, " +
                                  std::to_string(h.broken_downloads()) + "/" + std::to_string(h.downloads.size()) +
                                  " long-lived broken, " + std::to_string(h.held_ok()) + "/" + std::to_string(h.held) +
                                  " idle held answer"));
        }
        const auto sel = select_modes(opt.modes);
        if (std::any_of(sel.begin(), sel.end(), [](const ModeSpec* m) { return m->name == "proxy"; })) {
            HaGuardOptions go;
            go.name = opt.name.empty() ? unique_lab_name(paths, "hg") : opt.name;
            go.out = opt.out;
            res.ha_guard = run_ha_guard(paths, go);
            const auto& g = *res.ha_guard;
            info("ha guard: " + (g.skipped ? "SKIPPED (" + g.skip_reason + ")"
                                           : std::string(g.passed() ? "pass" : "FAIL") + ", " +
                                                 std::to_string(g.checks.size()) + " checks, partition -> lb-b master " +
                                                 std::to_string(g.split_master_ms) + " ms, heal -> one master " +
                                                 std::to_string(g.heal_resolved_ms) + " ms"));
        }
    }
    res.seconds = since(t0);
    write_report(res, opt.out);
    return res;
}

}  // namespace lab
