#include "lablib/lab.hpp"

#include "lablib/control.hpp"
#include "lablib/manifest.hpp"
#include "lablib/modes.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <sstream>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr auto kScriptTimeout = seconds(120);
constexpr auto kDownTimeout = seconds(60);
constexpr auto kServerIdleTimeout = minutes(10);

bool netns_exists(const std::string& ns) { return fs::exists(fs::path("/run/netns") / ns); }

void require_root() {
    if (::geteuid() != 0) throw Skip("needs root (network namespaces, veths, bridges, TAPs)");
}

std::string script_error(const CommandResult& r) {
    std::string err = trim(r.err);
    if (err.empty()) err = trim(r.out);
    auto lines = split(err, '\n');
    std::string last = lines.empty() ? "" : trim(lines.back());
    if (r.timed_out) return shell_join(r.argv) + " timed out";
    return last.empty() ? r.describe() : last;
}

// The first client node: where `lab up` checks that the VIP answers.
const Node& first_client(const Topology& t) {
    auto clients = t.with_role("client");
    if (clients.empty()) throw Error("topology of lab " + t.lab + " has no client node");
    return *clients.front();
}

}  // namespace

std::vector<std::string> in_netns(const std::string& ns, std::vector<std::string> argv) {
    std::vector<std::string> out{"ip", "netns", "exec", ns};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

bool lab_exists(const Paths& paths, const std::string& name) {
    return fs::exists(paths.state_dir(name));
}

std::vector<std::string> list_labs(const Paths& paths) {
    std::vector<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(paths.run_dir, ec)) {
        if (e.is_directory()) out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string lab_down(const Paths& paths, const std::string& name) {
    if (!valid_lab_name(name)) throw Error("invalid lab name '" + name + "'");
    auto script = paths.script("down.sh");
    if (!fs::exists(script)) throw Error(script.string() + " is missing");
    auto before = Manifest::load(paths.manifest(name));
    auto r = run_command({"bash", script.string(), name}, kDownTimeout, false);
    for (const auto& p : before.procs) reap(p.pid);
    if (!r.ok()) throw Error("lab down " + name + " failed: " + script_error(r));
    return trim(r.err.empty() ? r.out : r.err + r.out);
}

std::string lab_down_all(const Paths& paths) {
    auto script = paths.script("down.sh");
    if (!fs::exists(script)) throw Error(script.string() + " is missing");
    std::vector<Manifest> before;
    for (const auto& n : list_labs(paths)) before.push_back(Manifest::load(paths.manifest(n)));
    auto r = run_command({"bash", script.string(), "--all"}, kDownTimeout, false);
    for (const auto& m : before)
        for (const auto& p : m.procs) reap(p.pid);
    if (!r.ok()) throw Error("lab down --all failed: " + script_error(r));
    return trim(r.err.empty() ? r.out : r.err + r.out);
}

LabGuard::~LabGuard() {
    if (armed_) {
        auto msg = down();
        if (!msg.empty()) info("brought the lab down (" + msg + ")");
    }
}

std::string LabGuard::down() {
    armed_ = false;
    if (!lab_exists(paths_, name_)) return {};
    try {
        return lab_down(paths_, name_);
    } catch (const std::exception& e) {
        info(std::string("warning: ") + e.what());
        return e.what();
    }
}

namespace {

// netns_scripts/topo.sh builds every mode; before it existed, topo_inline.sh built the
// inline lab (it stays, as a wrapper).
std::vector<std::string> topology_command(const Paths& paths, const ModeSpec& mode, const UpOptions& opt,
                                          std::string& script_name) {
    auto topo = paths.script("topo.sh");
    if (fs::exists(topo)) {
        script_name = "topo.sh";
        std::vector<std::string> argv{"bash", topo.string(), "up", opt.name, mode.name, std::to_string(opt.servers)};
        if (opt.ha) argv.push_back("--ha");
        if (opt.ha && !opt.sync) argv.push_back("--no-sync");
        if (!opt.algorithm.empty()) argv.insert(argv.end(), {"--algorithm", opt.algorithm});
        if (opt.bench) argv.push_back("--bench");
        if (opt.kernel) argv.push_back("--kernel");
        if (opt.wire) argv.push_back("--wire");
        if (opt.offload) argv.push_back("--offload");
        return argv;
    }
    if (opt.ha || !opt.algorithm.empty() || opt.bench || opt.kernel || opt.wire || opt.offload)
        throw Error(topo.string() + " is missing: only topo.sh builds an HA lab or sets the algorithm");
    auto legacy = paths.script("topo_" + mode.name + ".sh");
    if (fs::exists(legacy)) {
        script_name = legacy.filename().string();
        return {"bash", legacy.string(), "up", opt.name, std::to_string(opt.servers)};
    }
    throw Error(topo.string() + " is missing: netns_scripts/ builds the topology of mode " + mode.name);
}

// lbd --check on the config the topology script wrote: an engine that does not know
// the mode says so here, in one line, before anything is started.
void check_engine_config(const Paths& paths, const Node& lb, const std::string& config) {
    auto r = run_command(in_netns(lb.netns, {paths.tool("lbd").string(), "--config", config, "--check"}),
                         seconds(20));
    if (r.ok()) return;
    std::string text = trim(r.err.empty() ? r.out : r.err);
    throw Error("lbd --check rejects " + config + ": " + (text.empty() ? r.describe() : text));
}

}  // namespace

LabHandle lab_up(const Paths& paths, const UpOptions& opt) {
    const ModeSpec& mode = find_mode(opt.mode);
    if (!valid_lab_name(opt.name))
        throw Error("invalid lab name '" + opt.name +
                    "': use 1 to 12 letters, digits or dashes, not starting with a dash");
    if (opt.servers < 1 || opt.servers > 9) throw Error("--servers must be between 1 and 9");
    if (!opt.ha && !opt.sync) throw Error("--no-sync needs --ha (only an HA pair syncs)");
    require_root();
    std::string script_name;
    auto script_cmd = topology_command(paths, mode, opt, script_name);
    paths.tool("lbd");
    paths.tool("lab_server");  // named before anything is built when it is missing
    if (find_on_path("curl").empty()) throw Skip("command 'curl' not found");
    if (lab_exists(paths, opt.name))
        throw Error("lab " + opt.name + " already exists: `lab down --name " + opt.name +
                    "` first, or pick another --name");

    LabGuard guard(paths, opt.name);
    info("bringing up lab " + opt.name + " (mode " + mode.name + ", " +
         std::to_string(opt.servers) + " servers" + (opt.ha ? ", HA: lb-a + lb-b" : "") + ")");
    auto r = run_command(script_cmd, kScriptTimeout);
    if (r.exit_code == 4) throw Skip(script_error(r));
    if (!r.ok()) throw Error(script_name + " failed: " + script_error(r));

    LabHandle h;
    h.name = opt.name;
    h.topo = Topology::load(paths.topology(opt.name));
    if (!h.topo.mode.empty() && h.topo.mode != mode.name)
        throw Error(script_name + " built a lab of mode '" + h.topo.mode + "', not '" + mode.name + "'");
    if (opt.ha && h.topo.with_role("lb").size() < 2)
        throw Error(script_name + " built no second lb node for --ha");
    auto state = paths.state_dir(opt.name);
    auto logs = state / "logs";
    fs::create_directories(logs);
    auto manifest = paths.manifest(opt.name);

    auto config_of = [&](const Node& n) {
        return n.config.empty() ? (state / (n.name + ".toml")).string() : n.config;
    };
    for (const Node* n : h.topo.with_role("lb"))
        if (n->engine.empty()) check_engine_config(paths, *n, config_of(*n));

    // Servers that decapsulate IPIP in user space get the project's decapsulator first.
    for (const Node* n : h.topo.with_role("server")) {
        if (n->decap != "user") continue;
        auto decap = paths.tool("lab_decap");
        auto p = spawn_detached(
            in_netns(n->netns, {decap.string(), "--tun", "decap0", "--vip", h.topo.vip}),
            logs / (n->name + ".lab_decap.log"), manifest, n->name + ".lab_decap");
        log("started lab_decap in " + n->netns + " (pid " + std::to_string(p.pid) + ")");
        h.procs.push_back(p);
    }
    for (const Node* n : h.topo.with_role("lb")) {
        if (n->engine.empty()) h.procs.push_back(start_lbd(paths, opt.name, *n, opt.no_batch));
        if (n->engine == "wire") h.procs.push_back(start_tapwire(paths, opt.name, *n, opt.no_batch));
    }
    for (const Node* n : h.topo.with_role("server")) h.procs.push_back(start_lab_server(paths, opt.name, *n));

    if (opt.wait) {
        const Node& client = first_client(h.topo);
        // A wire lab has no VIP: its servers are reached by their own addresses.
        std::string url = "http://" + (opt.wire ? h.topo.require_node("server1").ifaces.at(0).ip() : h.topo.vip) + "/";
        auto end = steady_clock::now() + opt.wait_timeout;
        std::string last;
        bool answered = false;
        while (steady_clock::now() < end) {
            for (const auto& p : h.procs) {
                if (!proc_alive(p)) {
                    reap(p.pid);
                    throw Error(p.label + " (pid " + std::to_string(p.pid) +
                                ") exited during startup; last lines of " + p.log.string() +
                                ":\n" + tail_file(p.log, 15));
                }
            }
            auto c = run_command(
                in_netns(client.netns, {"curl", "-s", "--max-time", "1", url}), seconds(4));
            if (c.ok() && !trim(c.out).empty()) {
                answered = true;
                log("VIP answered: " + trim(c.out));
                break;
            }
            last = c.describe();
            sleep_for(milliseconds(300));
        }
        if (!answered) {
            std::string tails;
            for (const auto& p : h.procs) {
                if (p.label.find("lbd") == std::string::npos && p.label.find("lab_decap") == std::string::npos)
                    continue;
                tails += "\nlast lines of " + p.log.string() + ":\n" + tail_file(p.log, 15);
            }
            throw Error("the VIP " + h.topo.vip + " did not answer HTTP from " + client.name +
                        " within " + std::to_string(opt.wait_timeout.count()) + " s (" + last +
                        ")" + tails);
        }
    }
    guard.release();
    info("lab " + opt.name + " is up");
    return h;
}

namespace {

// A restart (lab fault NODE start-server / start-engine) keeps the log of the earlier
// run as LOG.1, LOG.2, ...
void keep_old_log(const fs::path& log_path) {
    if (!fs::exists(log_path)) return;
    for (int i = 1; i < 1000; ++i) {
        auto kept = log_path;
        kept += "." + std::to_string(i);
        if (fs::exists(kept)) continue;
        std::error_code ec;
        fs::rename(log_path, kept, ec);
        return;
    }
}

}  // namespace

Proc start_lbd(const Paths& paths, const std::string& lab, const Node& n, bool no_batch) {
    auto lbd = paths.tool("lbd");
    auto state = paths.state_dir(lab);
    auto logs = state / "logs";
    fs::create_directories(logs);
    auto log_path = logs / (n.name + ".lbd.log");
    keep_old_log(log_path);
    std::string config = n.config.empty() ? (state / (n.name + ".toml")).string() : n.config;
    std::vector<std::string> argv{lbd.string(), "--config", config};
    if (no_batch) argv.push_back("--no-batch");
    auto p = spawn_detached(in_netns(n.netns, argv), log_path, paths.manifest(lab), n.name + ".lbd");
    log("started lbd in " + n.netns + " (pid " + std::to_string(p.pid) + ")");
    return p;
}

// The wire of topo.sh --wire: lab_tapwire joins the lb node's two TAPs.
Proc start_tapwire(const Paths& paths, const std::string& lab, const Node& n, bool no_batch) {
    if (n.ifaces.size() != 2) throw Error(n.name + ": a wire needs two TAPs, topology.toml lists " +
                                          std::to_string(n.ifaces.size()));
    auto logs = paths.state_dir(lab) / "logs";
    fs::create_directories(logs);
    std::vector<std::string> argv{paths.tool("lab_tapwire").string(), "--a", n.ifaces[0].dev, "--b", n.ifaces[1].dev,
                                  "--netns", n.ifaces[0].netns};
    if (no_batch) argv.push_back("--no-batch");
    auto p = spawn_detached(argv,
                            logs / (n.name + ".tapwire.log"), paths.manifest(lab), n.name + ".tapwire");
    log("started lab_tapwire for " + n.ifaces[0].dev + " and " + n.ifaces[1].dev + " (pid " + std::to_string(p.pid) + ")");
    return p;
}

Proc start_lab_server(const Paths& paths, const std::string& lab, const Node& n) {
    auto server = paths.tool("lab_server");
    auto logs = paths.state_dir(lab) / "logs";
    fs::create_directories(logs);
    auto log_path = logs / (n.name + ".lab_server.log");
    keep_old_log(log_path);
    auto ctl = server_control_socket(paths, lab, n.name).string();
    // Idle keep-alive connections stay for kServerIdleTimeout, so connections a
    // client holds open (lab_client hold) stay established as long as a test needs.
    auto p = spawn_detached(
        in_netns(n.netns, {server.string(), "--name", n.name, "--control", ctl, "--idle-timeout-ms",
                           std::to_string(duration_cast<milliseconds>(kServerIdleTimeout).count())}),
        log_path, paths.manifest(lab), n.name + ".lab_server");
    log("started lab_server in " + n.netns + " (pid " + std::to_string(p.pid) + ")");
    return p;
}

std::string node_netns(const Paths& paths, const std::string& name, const std::string& node) {
    if (!lab_exists(paths, name)) {
        auto labs = list_labs(paths);
        throw Error("lab " + name + " does not exist" +
                    (labs.empty() ? std::string(" (no labs found)")
                                  : " (labs found: " + join(labs, ", ") + ")"));
    }
    std::string ns = name + "-" + node;
    auto topo_file = paths.topology(name);
    if (fs::exists(topo_file)) {
        auto t = Topology::load(topo_file);
        if (auto* n = t.node(node)) {
            ns = n->netns;
        } else if (node != "sw") {
            std::vector<std::string> names;
            for (const auto& n2 : t.nodes) names.push_back(n2.name);
            throw Error("lab " + name + " has no node '" + node + "' (nodes: " + join(names, ", ") +
                        ")");
        }
    }
    if (!netns_exists(ns)) throw Error("namespace " + ns + " does not exist");
    return ns;
}

std::string lab_status(const Paths& paths, const std::string& name) {
    if (!lab_exists(paths, name)) {
        auto labs = list_labs(paths);
        throw Error("lab " + name + " does not exist; " +
                    (labs.empty() ? std::string("no labs found under ") + paths.run_dir.string()
                                  : "labs found: " + join(labs, ", ")));
    }
    std::ostringstream o;
    auto state = paths.state_dir(name);
    auto topo_file = paths.topology(name);
    auto m = Manifest::load(paths.manifest(name));
    if (!fs::exists(topo_file)) {
        o << "lab " << name << ": state " << state.string() << " (no topology.toml yet)\n";
    } else {
        auto t = Topology::load(topo_file);
        o << "lab " << t.lab << ": mode " << t.mode << ", " << t.servers << " servers, VIP "
          << t.vip << (t.ha ? ", HA (VRRP: lb-a + lb-b)" : "") << ", state " << state.string() << "\n";
        o << "nodes:\n";
        for (const auto& n : t.nodes) {
            o << "  " << n.name << " (" << (n.role.empty() ? "?" : n.role) << ", netns " << n.netns
              << (netns_exists(n.netns) ? "" : " MISSING") << ")\n";
            for (const auto& i : n.ifaces) {
                std::string where = i.dev + (i.netns != n.netns ? " in " + i.netns : "");
                char line[256];
                std::snprintf(line, sizeof line, "    %-6s %-22s %-18s %s\n", i.name.c_str(),
                              where.c_str(), i.address.empty() ? "-" : i.address.c_str(),
                              i.mac.empty() ? "-" : i.mac.c_str());
                o << line;
            }
        }
        auto lbs = t.with_role("lb");
        if (!lbs.empty()) {
            o << "engines:\n";
            for (const Node* n : lbs) {
                o << "  " << n->name << ": control socket "
                  << (n->control_socket.empty() ? "-" : n->control_socket)
                  << (n->control_socket.empty()
                          ? ""
                          : (fs::exists(n->control_socket) ? " (present)" : " (missing)"))
                  << ", config " << (n->config.empty() ? "-" : n->config) << "\n";
                // An HA pair: who is master, in lbctl vrrp's first line.
                if (t.ha && !n->control_socket.empty() && fs::exists(n->control_socket)) {
                    try {
                        auto lines = split(unix_request_all(n->control_socket, "vrrp", milliseconds(1000)), '\n');
                        if (!lines.empty()) o << "    " << trim(lines.front()) << "\n";
                    } catch (const std::exception& e) {
                        o << "    vrrp: no answer (" << e.what() << ")\n";
                    }
                }
            }
        }
        auto servers = t.with_role("server");
        if (!servers.empty()) {
            o << "servers (lab delay NODE MS, lab fault NODE ACTION):\n";
            for (const Node* n : servers) {
                auto ctl = server_control_socket(paths, name, n->name);
                o << "  " << n->name << ": control socket " << ctl.string()
                  << (fs::exists(ctl) ? " (present)" : " (missing)") << "\n";
            }
        }
    }
    o << "processes:\n";
    if (m.procs.empty()) o << "  (none recorded)\n";
    for (const auto& p : m.procs) {
        o << "  " << p.pid << "  " << (proc_alive(p) ? "alive" : "dead ") << "  " << p.label << "\n";
    }
    std::vector<std::string> missing;
    for (const auto& ns : m.netns)
        if (!netns_exists(ns)) missing.push_back(ns);
    o << "namespaces: " << m.netns.size() << " recorded";
    if (!missing.empty()) o << ", missing: " << join(missing, ", ");
    o << "\n";
    return o.str();
}

}  // namespace lab
