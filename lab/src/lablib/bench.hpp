// bench.hpp: `lab bench` (make bench): the engine measured in the lab, side by side with
// the Linux kernel doing the same job on the same topology (topo.sh --kernel: nftables
// DNAT for inline, DNAT + SNAT for proxy), and (inline) with a raw TAP-to-TAP wire
// (topo.sh --wire, lab_tapwire: the ceiling of any TAP-based engine). Per mode and
// implementation, in a lab of its
// own (topo.sh --bench: VIP port 5201 to server1, where iperf3 -s runs):
//   tcp     iperf3 -c VIP -p 5201 -t S            bulk TCP, receiver's bits per second
//   udp     iperf3 -u -l 64 -b 0 -t S             64-byte datagrams, received per second
//   conns   lab_client http-many --count N        new HTTP connections per second
//   latency curl, a new connection each, 100/s    request latency p50 and p99 (curl time_total, ms)
// Every figure is bounded in time; a figure that could not be taken is -1 with its reason
// in the notes. Numbers only: nothing here passes or fails.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lablib/paths.hpp"

namespace lab {

struct BenchOptions {
    std::string modes = "all";  // a mode or "all"
    int seconds = 4;            // per iperf3 run
    int connections = 1000;     // for the connection rate
    bool offload = true;        // the labs' veths keep their offloads (GSO super-frames)
    int rounds = 1;             // every lab measured this many times, round robin; medians reported
    bool no_batch = false;      // lbd and lab_tapwire without io_uring write batching
    std::filesystem::path out;  // bench.json, bench.html (empty: not written)
};

struct BenchRow {
    std::string mode;
    std::string impl;           // "lbd", "kernel" or "wire"
    bool skipped = false;
    std::string skip_reason;
    std::string error;
    double tcp_gbps = -1;
    double udp_kpps = -1;       // received
    double udp_loss_pct = -1;
    double conns_per_s = -1;
    double p50_ms = -1, p99_ms = -1;
    // With several rounds each figure above is the median, and here are all the readings
    // ("tcp_gbps": [r1, r2, ...]), in round order.
    std::vector<std::pair<std::string, std::vector<double>>> rounds;
    std::vector<std::string> notes;  // commands and readings
};

struct BenchRun {
    std::string started_at;
    std::vector<BenchRow> rows;
};

BenchRun run_bench(const Paths& paths, const BenchOptions& opt);

// One row from the rows of the rounds of one mode and implementation (at least one): each
// figure is the median of the rounds that took it (-1 when none did), every reading is
// kept in `rounds`, and there is an error only when no round got through.
BenchRow combine_rounds(std::vector<BenchRow> rounds);

nlohmann::json bench_json(const BenchRun& run);
// The table: per mode and figure lbd, kernel and lbd/kernel.
std::string bench_text(const BenchRun& run);
std::string bench_html(const BenchRun& run);

// The p-th percentile (0..100) of `v` by nearest rank; -1 for none.
double percentile(std::vector<double> v, double p);

}  // namespace lab
