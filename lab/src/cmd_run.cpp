// lab run: for each mode, a fresh lab, the scenarios under capture, the checks, the
// report; then the scheduling-algorithms suite in a lab of its own, the health suite
// in a lab per mode and the HA failover scenario in an HA lab per mode. The labs always
// come down. Exit 0 only when every check, every algorithms case, every health case and
// every HA check passed.
#include "commands.hpp"

#include "lablib/lab.hpp"
#include "lablib/modes.hpp"
#include "lablib/run.hpp"

#include <filesystem>
#include <iostream>

namespace labcli {

void setup_run(CLI::App& app, std::shared_ptr<RunOptions> opt) {
    auto* sub = app.add_subcommand(
        "run", "run every scenario of a mode (or all) with captures, the algorithms, health and HA suites; write a report");
    auto* mode = sub->add_option("--mode", opt->mode, "a mode (inline, proxy, dsr-l2, dsr-l3-dscp, dsr-l3-tunnel), or all")
                     ->capture_default_str();
    sub->add_option("--suite", opt->suite,
                    "modes (the modes of --mode), algorithms (the scheduling-algorithms suite), health (the "
                    "health-check suite in the modes of --mode), ha (the HA failover scenario in the modes of --mode), "
                    "or all (those four); default: all with --mode all, modes with one --mode")
        ->check(CLI::IsMember({"modes", "algorithms", "health", "all", "ha"}));
    sub->add_option("--out", opt->out, "report directory (default: the repository's reports/)");
    sub->add_option("--name", opt->name, "lab name (default: a unique one per mode)");
    sub->add_option("--servers", opt->servers, "number of servers (modes; the algorithms lab always has 3)")
        ->check(CLI::Range(1, 9))
        ->capture_default_str();
    // For development: run only some scenarios, algorithms or health cases (checks of the others are left out).
    sub->add_option("--only", opt->only)->group("")->delimiter(',');
    sub->callback([opt, mode] { opt->mode_given = mode->count() > 0; });
}

int run_run(const RunOptions& opt) {
    auto paths = lab::Paths::discover();
    lab::RunOptions r;
    r.suite = opt.suite.empty() ? (opt.mode == "all" ? "all" : "modes") : opt.suite;
    if (r.suite == "algorithms" && opt.mode_given)
        throw lab::Error("--mode selects the modes suite; --suite algorithms runs no mode (use --suite all)");
    r.modes = opt.mode;
    r.out = opt.out.empty() ? paths.reports_dir() : std::filesystem::absolute(opt.out);
    r.name = opt.name;
    r.servers = opt.servers;
    r.only = opt.only;
    auto res = lab::run_modes(paths, r);
    bool all_skipped = !res.modes.empty() || res.algorithms || res.health || !res.ha.empty();
    std::string skip_reason;
    for (const auto& m : res.modes) {
        all_skipped = all_skipped && m.skipped();
        if (m.skipped()) skip_reason = m.skip_reason;
        for (const auto& c : m.checks)
            if (!c.passed && !m.skipped()) std::cout << c.report();
        if (!m.error.empty()) std::cout << "mode " << m.mode << ": error: " << m.error << "\n";
    }
    if (res.algorithms) {
        const auto& a = *res.algorithms;
        all_skipped = all_skipped && a.skipped();
        if (a.skipped()) skip_reason = a.skip_reason;
        for (const auto& c : a.cases) {
            if (c.passed()) continue;
            std::cout << "algorithms " << c.name << ": FAIL" << (c.error.empty() ? "" : ": " + c.error) << "\n";
            for (const auto& k : c.checks)
                if (!k.ok)
                    std::cout << "  " << k.name << ": expected " << k.expected << "; measured " << k.actual << "\n";
        }
        if (!a.error.empty()) std::cout << "algorithms: error: " << a.error << "\n";
    }
    if (res.health) {
        const auto& h = *res.health;
        for (const auto& m : h.modes) {
            all_skipped = all_skipped && m.skipped();
            if (m.skipped()) skip_reason = m.skip_reason;
            for (const auto& c : m.cases) {
                if (c.passed()) continue;
                std::cout << "health " << m.mode << " " << c.name << ": FAIL" << (c.error.empty() ? "" : ": " + c.error)
                          << "\n";
                for (const auto& k : c.checks)
                    if (!k.ok)
                        std::cout << "  " << k.name << ": expected " << k.expected << "; measured " << k.actual << "\n";
            }
            if (!m.error.empty()) std::cout << "health " << m.mode << ": error: " << m.error << "\n";
        }
    }
    for (const auto& h : res.ha) {
        all_skipped = all_skipped && h.skipped;
        if (h.skipped) skip_reason = h.skip_reason;
        if (!h.error.empty()) std::cout << "ha " << h.mode << ": error: " << h.error << "\n";
        for (const auto& k : h.checks)
            if (!k.ok) std::cout << "ha " << h.mode << " " << k.name << ": expected " << k.expected << "; measured " << k.actual << "\n";
    }
    std::cout << "report: " << (r.out / "index.html").string() << "\n";
    if (res.algorithms) std::cout << "algorithms: " << (r.out / "algorithms.html").string() << "\n";
    if (res.health) std::cout << "health: " << (r.out / "health.html").string() << "\n";
    if (!res.ha.empty()) std::cout << "ha: " << (r.out / "ha.html").string() << "\n";
    if (all_skipped) {
        std::cout << "SKIP: " << skip_reason << "\n";
        return 4;
    }
    if (!res.modes.empty())
        std::cout << (res.total_checks() - res.failed_checks()) << " checks passed, " << res.failed_checks()
                  << " failed\n";
    if (res.algorithms && !res.algorithms->skipped())
        std::cout << (res.algorithms->cases.size() - res.algorithms->failed()) << " algorithms cases passed, "
                  << res.algorithms->failed() << " failed\n";
    if (res.health && !res.health->all_skipped())
        std::cout << (res.health->total_cases() - res.health->failed_cases()) << " health cases passed, "
                  << res.health->failed_cases() << " failed\n";
    if (!res.ha.empty()) {
        size_t ran = 0, ok = 0;
        for (const auto& h : res.ha)
            if (!h.skipped) {
                ++ran;
                ok += h.passed() ? 1 : 0;
            }
        if (ran) std::cout << ok << " HA modes passed, " << ran - ok << " failed\n";
    }
    return res.passed() ? 0 : 1;
}

}  // namespace labcli
