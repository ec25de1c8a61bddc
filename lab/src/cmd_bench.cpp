// lab bench: the engine against the kernel on the same topology (lablib/bench.hpp).
// Prints the table and writes bench.json and bench.html into --out.
#include "commands.hpp"

#include "lablib/bench.hpp"
#include "lablib/paths.hpp"

#include <iostream>

namespace labcli {

void setup_bench(CLI::App& app, std::shared_ptr<BenchOptions> opt) {
    auto* sub = app.add_subcommand("bench", "measure lbd and the kernel side by side (iperf3, connection rate, latency)");
    sub->add_option("--mode", opt->mode, "a mode, or all")->capture_default_str();
    sub->add_option("--seconds", opt->seconds, "seconds per iperf3 run")->check(CLI::Range(1, 60))->capture_default_str();
    sub->add_option("--connections", opt->connections, "new connections for the connection rate")
        ->check(CLI::Range(10, 100000))
        ->capture_default_str();
    sub->add_option("--rounds", opt->rounds, "measure every lab this many times, round robin, and report medians")
        ->check(CLI::Range(1, 9))
        ->capture_default_str();
    sub->add_flag("--no-batch", opt->no_batch, "lbd and lab_tapwire with --no-batch: a write() per frame");
    sub->add_flag("--no-offload", opt->no_offload,
                  "turn the veths' TX checksum offload off, as the conformance labs do (no GSO: 1500-byte frames)");
    sub->add_option("--out", opt->out, "where bench.json and bench.html go (default: the repository's reports/)");
}

int run_bench(const BenchOptions& opt) {
    auto paths = lab::Paths::discover();
    lab::BenchOptions b;
    b.modes = opt.mode;
    b.seconds = opt.seconds;
    b.connections = opt.connections;
    b.offload = !opt.no_offload;
    b.rounds = opt.rounds;
    b.no_batch = opt.no_batch;
    b.out = opt.out.empty() ? paths.reports_dir() : std::filesystem::path(opt.out);
    auto run = lab::run_bench(paths, b);
    std::cout << lab::bench_text(run) << "written: " << (b.out / "bench.json").string() << ", "
              << (b.out / "bench.html").string() << "\n";
    for (const auto& r : run.rows)
        if (!r.error.empty()) return 1;
    return 0;
}

}  // namespace labcli
