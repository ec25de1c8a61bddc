// lab up: build a topology, start lbd and the servers, wait until the VIP answers.
#include "commands.hpp"

#include "lablib/lab.hpp"
#include "lablib/modes.hpp"

#include <iostream>

namespace labcli {

void setup_up(CLI::App& app, std::shared_ptr<UpOptions> opt) {
    auto* sub = app.add_subcommand("up", "bring a lab up: namespaces, lbd, lab_server; waits for the VIP");
    sub->add_option("--mode", opt->mode, "forwarding mode: inline, proxy, dsr-l2, dsr-l3-dscp, dsr-l3-tunnel")
        ->capture_default_str();
    sub->add_option("--name", opt->name, "lab name (1-12 letters, digits, dashes)")->capture_default_str();
    sub->add_option("--servers", opt->servers, "number of servers")->check(CLI::Range(1, 9))->capture_default_str();
    sub->add_flag("--ha", opt->ha,
                  "two engines, lb-a and lb-b, sharing the VIP with VRRP and syncing flows (inline: the servers' "
                  "gateway moves with the VIP)");
    sub->add_flag("--no-sync", opt->no_sync, "with --ha: no connection sync between the two engines");
    sub->add_flag("--bench", opt->bench, "VIP port 5201 (TCP, UDP) to server1, for iperf3");
    sub->add_flag("--kernel", opt->kernel, "lb-a is the Linux kernel (nftables DNAT/SNAT), not lbd: inline, proxy");
    sub->add_flag("--wire", opt->wire, "inline: lb-a's TAPs joined by lab_tapwire (no lbd, no VIP): the TAP ceiling");
    sub->add_option("--algorithm", opt->algorithm, "the VIPs' scheduling algorithm (default rr)")
        ->check(CLI::IsMember({"rr", "wrr", "lc", "wlc", "rtt", "priority", "sh", "maglev"}));
    sub->add_option("--wait", opt->wait_seconds, "seconds to wait for the VIP to answer")
        ->check(CLI::Range(1, 300))
        ->capture_default_str();
    // For testing the lab without an engine: return once the processes are started.
    sub->add_flag("--no-wait", opt->no_wait)->group("");
}

int run_up(const UpOptions& opt) {
    auto paths = lab::Paths::discover();
    lab::UpOptions up;
    up.name = opt.name;
    up.mode = opt.mode;
    up.servers = opt.servers;
    up.ha = opt.ha;
    up.sync = !opt.no_sync;
    up.algorithm = opt.algorithm;
    up.bench = opt.bench;
    up.kernel = opt.kernel;
    up.wire = opt.wire;
    up.wait = !opt.no_wait;
    up.wait_timeout = std::chrono::seconds(opt.wait_seconds);
    auto h = lab::lab_up(paths, up);
    std::cout << "lab " << h.name << " is up (mode " << opt.mode << ", VIP " << h.topo.vip << ")\n";
    for (const auto& p : h.procs) std::cout << "  " << p.label << " pid " << p.pid << ", log " << p.log.string() << "\n";
    std::cout << "try: lab exec --name " << h.name << " client1 -- curl -s http://" << h.topo.vip << "/\n"
              << "stop: lab down --name " << h.name << "\n";
    return 0;
}

}  // namespace labcli
