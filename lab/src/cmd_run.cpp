// lab run: for each mode, a fresh lab, the scenarios under capture, the checks, the
// report; the lab always comes down. Exit 0 only when every check passed.
#include "commands.hpp"

#include "lablib/lab.hpp"
#include "lablib/modes.hpp"
#include "lablib/run.hpp"

#include <filesystem>
#include <iostream>

namespace labcli {

void setup_run(CLI::App& app, std::shared_ptr<RunOptions> opt) {
    auto* sub = app.add_subcommand("run", "run every scenario of a mode (or all) with captures; write a report");
    sub->add_option("--mode", opt->mode, "a mode (inline, proxy, dsr-l2, dsr-l3-dscp, dsr-l3-tunnel), or all")->capture_default_str();
    sub->add_option("--out", opt->out, "report directory (default: the repository's reports/)");
    sub->add_option("--name", opt->name, "lab name (default: a unique one per mode)");
    sub->add_option("--servers", opt->servers, "number of servers")->check(CLI::Range(1, 9))->capture_default_str();
    // For development: run only some scenarios (checks of the others are left out).
    sub->add_option("--only", opt->only)->group("")->delimiter(',');
}

int run_run(const RunOptions& opt) {
    auto paths = lab::Paths::discover();
    lab::RunOptions r;
    r.modes = opt.mode;
    r.out = opt.out.empty() ? paths.reports_dir() : std::filesystem::absolute(opt.out);
    r.name = opt.name;
    r.servers = opt.servers;
    r.only = opt.only;
    auto res = lab::run_modes(paths, r);
    bool all_skipped = !res.modes.empty();
    for (const auto& m : res.modes) {
        all_skipped = all_skipped && m.skipped();
        for (const auto& c : m.checks)
            if (!c.passed && !m.skipped()) std::cout << c.report();
        if (!m.error.empty()) std::cout << "mode " << m.mode << ": error: " << m.error << "\n";
    }
    std::cout << "report: " << (r.out / "index.html").string() << "\n";
    if (all_skipped) {
        std::cout << "SKIP: " << res.modes.front().skip_reason << "\n";
        return 4;
    }
    std::cout << (res.total_checks() - res.failed_checks()) << " passed, " << res.failed_checks()
              << " failed\n";
    return res.passed() ? 0 : 1;
}

}  // namespace labcli
