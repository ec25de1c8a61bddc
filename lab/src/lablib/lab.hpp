// lab.hpp: bringing a lab up and down, running a command in one of its nodes, and
// describing it. Everything network is done by netns_scripts/ (docs/lab.md); this
// file starts and records the processes (lbd, lab_server) and waits for the VIP.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "lablib/paths.hpp"
#include "lablib/process.hpp"
#include "lablib/topology.hpp"
#include "lablib/util.hpp"

namespace lab {

// The environment cannot run a lab (not root, a missing command or kernel feature):
// kselftest's SKIP, never a pass and never a crash.
class Skip : public Error {
public:
    using Error::Error;
};

struct UpOptions {
    std::string name = "lab";
    std::string mode = "inline";
    int servers = 3;
    bool ha = false;   // a second engine lb-b; both with [vrrp] and (unless !sync) [sync]
    bool sync = true;  // with ha: connection sync between the two
    std::string algorithm;  // the VIPs' algorithm (empty: the topology's default, rr)
    bool bench = false;     // the iperf3 VIP port 5201 (TCP, UDP) to server1
    bool kernel = false;    // lb-a is the kernel (nftables DNAT/SNAT), no lbd: inline, proxy
    bool wire = false;      // inline: lb-a's TAPs joined by lab_tapwire, no lbd, no VIP (bench)
    bool offload = false;   // veths keep their offloads (GSO super-frames; captures not final)
    bool no_batch = false;  // lbd and lab_tapwire with --no-batch: a write() per frame
    bool wait = true;  // wait until the VIP answers HTTP from client1
    std::chrono::seconds wait_timeout{15};
};

struct LabHandle {
    std::string name;
    Topology topo;
    std::vector<Proc> procs;  // lbd and lab_server processes started by lab_up
};

// Builds the topology (netns_scripts/topo.sh up NAME MODE SERVERS [--ha [--no-sync]]
// [--algorithm A]; topo_inline.sh while topo.sh is absent), has `lbd --check` judge the
// engine config it wrote, starts
// lab_decap in each server whose node says decap = "user", lbd in each lb node and
// lab_server in each server node (detached, logged, recorded), then waits for the VIP.
// On any failure the lab is brought down and Error (or Skip) says why, with the
// engine's log tail when the VIP never answered. Refuses a name that already exists.
LabHandle lab_up(const Paths& paths, const UpOptions& opt);

// Starts lab_server in server node `n` of lab `lab` as `lab up` does: in n.netns,
// `lab_server --name NODE --control STATE/NODE.ctl --idle-timeout-ms 600000`, logged to
// STATE/logs/NODE.lab_server.log (an existing log is kept as NODE.lab_server.log.1,
// .2, ...), recorded in the manifest as `NODE.lab_server`. Does not wait for it.
Proc start_lab_server(const Paths& paths, const std::string& lab, const Node& n);

// Starts lbd in lb node `n` of lab `lab` as `lab up` does: in n.netns, `lbd --config
// CONFIG` (n.config, else STATE/NODE.toml), logged to STATE/logs/NODE.lbd.log (an
// existing log is kept as NODE.lbd.log.1, ...), recorded as `NODE.lbd`. Does not wait.
Proc start_lbd(const Paths& paths, const std::string& lab, const Node& n, bool no_batch = false);
// lab_tapwire for a wire lab's lb node (topo.sh --wire), recorded like lbd.
Proc start_tapwire(const Paths& paths, const std::string& lab, const Node& n, bool no_batch = false);

// netns_scripts/down.sh NAME (or --all); reaps the processes it stopped if they were
// our children. Throws Error when down.sh fails; returns its summary line.
std::string lab_down(const Paths& paths, const std::string& name);
std::string lab_down_all(const Paths& paths);

bool lab_exists(const Paths& paths, const std::string& name);
// Names of every lab with a state dir under run_dir, sorted.
std::vector<std::string> list_labs(const Paths& paths);

// Human-readable status of a lab: nodes, interfaces, processes, control sockets.
// Throws Error listing the labs that exist when `name` does not.
std::string lab_status(const Paths& paths, const std::string& name);

// `ip netns exec NS argv...`
std::vector<std::string> in_netns(const std::string& ns, std::vector<std::string> argv);

// The namespace of NODE in lab NAME (checks that it exists). Throws Error.
std::string node_netns(const Paths& paths, const std::string& name, const std::string& node);

// Brings a lab down when it goes out of scope, unless released: every exit path of
// `lab run`, exceptions and SIGINT included, removes what it built.
class LabGuard {
public:
    LabGuard(const Paths& paths, std::string name) : paths_(paths), name_(std::move(name)) {}
    LabGuard(const LabGuard&) = delete;
    LabGuard& operator=(const LabGuard&) = delete;
    ~LabGuard();
    void release() { armed_ = false; }
    // Brings it down now; returns down.sh's summary or the error text.
    std::string down();

private:
    const Paths& paths_;
    std::string name_;
    bool armed_ = true;
};

}  // namespace lab
