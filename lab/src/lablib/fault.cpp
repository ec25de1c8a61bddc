#include "lablib/fault.hpp"

#include "lablib/control.hpp"
#include "lablib/lab.hpp"
#include "lablib/manifest.hpp"
#include "lablib/util.hpp"

#include <signal.h>

#include <algorithm>
#include <set>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

constexpr auto kIpTimeout = seconds(10);
constexpr auto kServerStart = seconds(5);
constexpr auto kEngineStart = seconds(10);
constexpr auto kCarrier = seconds(3);

const std::vector<FaultActionSpec> kActions{
    {FaultAction::kill_server, "kill-server", "SIGKILL to the server's lab_server (its recorded pid): a crash"},
    {FaultAction::start_server, "start-server", "start lab_server again as `lab up` does (recorded in the manifest)"},
    {FaultAction::link_down, "link-down", "set the bridge-side end of the server's veth down (it keeps addresses and routes)"},
    {FaultAction::link_up, "link-up", "set it up again; wait for carrier; restore any route lost with the link"},
    {FaultAction::http_500, "http-500", "GET / and GET /health answer 500 (control socket: status 500)"},
    {FaultAction::http_200, "http-200", "GET / and GET /health answer 200 again (status 200)"},
    {FaultAction::kill_engine, "kill-engine", "lb nodes: SIGKILL to the node's lbd (its recorded pid): a crash"},
    {FaultAction::start_engine, "start-engine", "lb nodes: start lbd again as `lab up` does (recorded); waits for its control socket"},
    {FaultAction::partition, "partition",
     "lb nodes (HA): the lbs' front TAPs isolated from each other on the bridge (VRRP and sync cut; router and servers reach both)"},
    {FaultAction::heal, "heal", "lb nodes (HA): the lbs' front TAPs talk to each other again"},
};

std::vector<std::string> action_names() {
    std::vector<std::string> names;
    for (const auto& a : kActions) names.push_back(a.name);
    return names;
}

CommandResult ip(const std::vector<std::string>& args) {
    std::vector<std::string> argv{"ip"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, kIpTimeout);
}

void ip_or_throw(const std::vector<std::string>& args) {
    auto r = ip(args);
    if (!r.ok()) throw Error(shell_join(r.argv) + ": " + trim(r.err.empty() ? r.describe() : r.err));
}

// The flags of `ip -o link show DEV` ("<BROADCAST,MULTICAST,UP,LOWER_UP>"), or nullopt
// when there is no such device.
std::optional<std::set<std::string>> link_flags(const std::string& ns, const std::string& dev) {
    auto r = ip({"-n", ns, "-o", "link", "show", "dev", dev});
    if (!r.ok()) return std::nullopt;
    auto lt = r.out.find('<'), gt = r.out.find('>');
    std::set<std::string> flags;
    if (lt == std::string::npos || gt == std::string::npos || gt < lt) return flags;
    for (const auto& f : split(r.out.substr(lt + 1, gt - lt - 1), ',')) flags.insert(f);
    return flags;
}

std::vector<std::string> routes_of(const std::string& ns) {
    auto r = ip({"-n", ns, "route", "show", "table", "main"});
    if (!r.ok()) throw Error(shell_join(r.argv) + ": " + trim(r.err));
    return normalize_routes(r.out);
}

struct ServerLink {
    const Node* node = nullptr;
    const Iface* iface = nullptr;
    std::string sw_netns;  // where the bridge-side end lives
    std::string peer;      // the bridge-side end: <node>-<if>
    bool peer_exists = false;
};

ServerLink server_link(const Topology& t, const Node& n) {
    if (n.ifaces.empty()) throw Error("server " + n.name + " has no interface in topology.toml");
    ServerLink l;
    l.node = &n;
    l.iface = &n.ifaces.front();
    l.sw_netns = t.switch_netns.empty() ? t.lab + "-sw" : t.switch_netns;
    l.peer = n.name + "-" + l.iface->name;
    l.peer_exists = link_flags(l.sw_netns, l.peer).has_value();
    return l;
}

fs::path saved_routes_file(const Paths& paths, const std::string& lab, const std::string& node) {
    return paths.state_dir(lab) / "faults" / (node + ".routes");
}

// Waits for lab_server's startup line in its (fresh) log; Error with the log's tail when
// it exits first or says nothing within kServerStart.
void wait_listening(const Proc& p) {
    auto end = steady_clock::now() + kServerStart;
    while (steady_clock::now() < end) {
        std::error_code ec;
        if (fs::exists(p.log, ec)) {
            auto text = tail_file(p.log, 20);
            if (text.find(" listening on ") != std::string::npos) return;
        }
        if (!proc_alive(p)) {
            reap(p.pid);
            throw Error(p.label + " (pid " + std::to_string(p.pid) + ") exited at startup; last lines of " +
                        p.log.string() + ":\n" + tail_file(p.log, 10));
        }
        sleep_for(milliseconds(5));
    }
    throw Error(p.label + " (pid " + std::to_string(p.pid) + ") did not say it listens within " +
                std::to_string(kServerStart.count()) + " s; last lines of " + p.log.string() + ":\n" +
                tail_file(p.log, 10));
}

void kill_server(const Paths& paths, const std::string& lab, const Node& n, FaultResult& r) {
    auto p = running_lab_server(paths, lab, n.name);
    if (!p) {
        r.changed = false;
        r.at_ms = wall_ms();
        r.message = n.name + ": lab_server is not running (nothing to stop)";
        return;
    }
    stop_process(*p, SIGKILL, milliseconds(2000));
    r.at_ms = wall_ms();
    if (proc_alive(*p)) throw Error(n.name + ": lab_server (pid " + std::to_string(p->pid) + ") did not end");
    // It could not remove its control socket: a stale one would only refuse connections.
    std::error_code ec;
    fs::remove(server_control_socket(paths, lab, n.name), ec);
    r.message = n.name + ": lab_server stopped (pid " + std::to_string(p->pid) + ", SIGKILL)";
}

void start_server(const Paths& paths, const std::string& lab, const Node& n, FaultResult& r) {
    if (auto p = running_lab_server(paths, lab, n.name))
        throw Error(n.name + ": lab_server is already running (pid " + std::to_string(p->pid) + "); `lab fault " +
                    n.name + " kill-server` stops it");
    auto p = start_lab_server(paths, lab, n);
    wait_listening(p);
    r.at_ms = wall_ms();
    r.message = n.name + ": lab_server started (pid " + std::to_string(p.pid) + "), listening";
    r.notes.push_back("log " + p.log.string());
}

void link_down(const Paths& paths, const std::string& lab, const Topology& t, const Node& n, FaultResult& r) {
    auto l = server_link(t, n);
    auto saved = saved_routes_file(paths, lab, n.name);
    const std::string ns = n.netns;
    const std::string dev = l.iface->dev.empty() ? l.iface->name : l.iface->dev;
    // Where the link is cut: the bridge side, so the server's own interface stays up with
    // its addresses and routes; only when that end is missing, the server's interface.
    const std::string cut_ns = l.peer_exists ? l.sw_netns : ns;
    const std::string cut_dev = l.peer_exists ? l.peer : dev;
    auto flags = link_flags(cut_ns, cut_dev);
    if (!flags) throw Error(n.name + ": no interface " + cut_dev + " in " + cut_ns);
    if (!flags->count("UP")) {
        r.changed = false;
        r.at_ms = wall_ms();
        r.message = n.name + ": link already down (" + cut_dev + " in " + cut_ns + ")";
        return;
    }
    // The routes as they are, to check (and restore) at link-up. An earlier link-down's
    // file is kept: it holds the routes from before any fault.
    if (!fs::exists(saved)) {
        fs::create_directories(saved.parent_path());
        write_file(saved, join(routes_of(ns), "\n") + "\n");
    }
    ip_or_throw({"-n", cut_ns, "link", "set", "dev", cut_dev, "down"});
    r.at_ms = wall_ms();
    r.message = n.name + ": link down (" + cut_dev + " in " + cut_ns + " set down" +
                (l.peer_exists ? "; " + n.name + " keeps its addresses and routes)" : ")");
    if (!l.peer_exists) r.notes.push_back("the bridge-side end " + l.peer + " is missing: cut at " + dev + " itself");
    r.notes.push_back("routes saved to " + saved.string());
}

void link_up(const Paths& paths, const std::string& lab, const Topology& t, const Node& n, FaultResult& r) {
    auto l = server_link(t, n);
    const std::string ns = n.netns;
    const std::string dev = l.iface->dev.empty() ? l.iface->name : l.iface->dev;
    bool changed = false;
    if (l.peer_exists) {
        auto pf = link_flags(l.sw_netns, l.peer);
        if (pf && !pf->count("UP")) {
            ip_or_throw({"-n", l.sw_netns, "link", "set", "dev", l.peer, "up"});
            changed = true;
        }
    }
    auto sf = link_flags(ns, dev);
    if (!sf) throw Error(n.name + ": no interface " + dev + " in " + ns);
    if (!sf->count("UP")) {
        ip_or_throw({"-n", ns, "link", "set", "dev", dev, "up"});
        changed = true;
    }
    // Carrier: both ends up.
    auto end = steady_clock::now() + kCarrier;
    while (true) {
        sf = link_flags(ns, dev);
        if (sf && sf->count("LOWER_UP")) break;
        if (steady_clock::now() >= end) throw Error(n.name + ": " + dev + " has no carrier " +
                                                    std::to_string(kCarrier.count()) + " s after link-up");
        sleep_for(milliseconds(5));
    }
    r.at_ms = wall_ms();
    r.changed = changed;

    // Routes: every one from before link-down must be there (a device that went down
    // takes its routes with it); missing ones are put back.
    auto saved = saved_routes_file(paths, lab, n.name);
    std::string routes_note;
    if (fs::exists(saved)) {
        auto before = normalize_routes(read_file(saved));
        auto missing = missing_routes(before, routes_of(ns));
        for (const auto& route : missing) {
            auto words = split_ws(route);
            std::vector<std::string> args{"-n", ns, "route", "replace"};
            args.insert(args.end(), words.begin(), words.end());
            ip_or_throw(args);
            r.notes.push_back("restored route: " + route);
        }
        auto still = missing_routes(before, routes_of(ns));
        if (!still.empty()) throw Error(n.name + ": routes still missing after link-up: " + join(still, "; "));
        routes_note = missing.empty() ? "all " + std::to_string(before.size()) + " routes kept"
                                      : std::to_string(missing.size()) + " of " + std::to_string(before.size()) +
                                            " routes restored";
        std::error_code ec;
        fs::remove(saved, ec);
    } else {
        routes_note = "no routes saved by a link-down to compare";
    }
    // The routes work: the server can resolve a path to a client.
    auto clients = t.with_role("client");
    if (!clients.empty() && !clients.front()->ifaces.empty()) {
        std::string cip = clients.front()->ifaces.front().ip();
        auto g = ip({"-n", ns, "route", "get", cip});
        if (!g.ok()) throw Error(n.name + ": no route to " + cip + " after link-up: " + trim(g.err));
        r.notes.push_back("route get " + cip + ": " + trim(split(g.out, '\n').front()));
    }
    r.message = n.name + ": link " + (changed ? "up" : "already up") + " (" +
                (l.peer_exists ? l.peer + " in " + l.sw_netns : dev + " in " + ns) + "; carrier; " + routes_note + ")";
}

void http_status(const Paths& paths, const std::string& lab, const Node& n, int code, FaultResult& r) {
    if (!running_lab_server(paths, lab, n.name))
        throw Error(n.name + ": lab_server is not running, so it cannot answer " + std::to_string(code) +
                    " (`lab fault " + n.name + " start-server` starts it)");
    auto sock = server_control_socket(paths, lab, n.name);
    std::string show;
    try {
        show = unix_request(sock, "show");
    } catch (const Error&) {
        // set_server_status below says what is wrong.
    }
    r.changed = show.find(" status=" + std::to_string(code)) == std::string::npos;
    set_server_status(paths, lab, n.name, code);
    r.at_ms = wall_ms();
    r.message = n.name + ": GET / and GET /health answer " + std::to_string(code) +
                (r.changed ? "" : " (already did)");
}
// The engine's control socket, from its node; a SIGKILLed lbd leaves it behind.
fs::path lbd_socket(const Paths& paths, const std::string& lab, const Node& n) {
    return n.control_socket.empty() ? paths.state_dir(lab) / (n.name + ".sock") : fs::path(n.control_socket);
}

void kill_engine(const Paths& paths, const std::string& lab, const Node& n, FaultResult& r) {
    auto p = running_lbd(paths, lab, n.name);
    if (!p) {
        r.changed = false;
        r.at_ms = wall_ms();
        r.message = n.name + ": lbd is not running (nothing to stop)";
        return;
    }
    stop_process(*p, SIGKILL, milliseconds(2000));
    r.at_ms = wall_ms();
    if (proc_alive(*p)) throw Error(n.name + ": lbd (pid " + std::to_string(p->pid) + ") did not end");
    std::error_code ec;
    fs::remove(lbd_socket(paths, lab, n), ec);
    r.message = n.name + ": lbd stopped (pid " + std::to_string(p->pid) + ", SIGKILL)";
}

// Started means its control socket answers `stats`: the ports are open and the loop runs.
void start_engine(const Paths& paths, const std::string& lab, const Node& n, FaultResult& r) {
    if (auto p = running_lbd(paths, lab, n.name))
        throw Error(n.name + ": lbd is already running (pid " + std::to_string(p->pid) + "); `lab fault " + n.name +
                    " kill-engine` stops it");
    auto p = start_lbd(paths, lab, n);
    auto socket = lbd_socket(paths, lab, n);
    auto end = steady_clock::now() + kEngineStart;
    std::string last;
    while (true) {
        if (!proc_alive(p)) {
            reap(p.pid);
            throw Error(p.label + " (pid " + std::to_string(p.pid) + ") exited at startup; last lines of " +
                        p.log.string() + ":\n" + tail_file(p.log, 10));
        }
        if (fs::exists(socket)) {
            try {
                unix_request_all(socket, "stats", milliseconds(500));
                break;
            } catch (const std::exception& e) {
                last = e.what();
            }
        }
        if (steady_clock::now() > end)
            throw Error(p.label + " (pid " + std::to_string(p.pid) + ") did not answer on " + socket.string() +
                        " within " + std::to_string(kEngineStart.count()) + " s" +
                        (last.empty() ? "" : " (" + last + ")") + "; last lines of " + p.log.string() + ":\n" +
                        tail_file(p.log, 10));
        sleep_for(milliseconds(5));
    }
    r.at_ms = wall_ms();
    r.message = n.name + ": lbd started (pid " + std::to_string(p.pid) + "), control socket answers";
    r.notes.push_back("log " + p.log.string());
}

// partition / heal: `bridge link set dev TAP isolated on|off` on every lb's front TAP. Two
// isolated bridge ports exchange no frame (not even the VRRP multicast); each still talks
// to every port that is not isolated (the router, dsr-l2 servers).
void isolate_lbs(const Topology& t, const Node& n, bool on, FaultResult& r) {
    std::vector<const Iface*> taps;
    for (const Node* lb : t.with_role("lb"))
        for (const auto& i : lb->ifaces)
            if (i.segment == "front") taps.push_back(&i);
    if (taps.size() < 2)
        throw Error(n.name + ": `" + std::string(on ? "partition" : "heal") + "` needs an HA lab (lab up --ha): " +
                    std::to_string(taps.size()) + " lb front port(s)");
    std::vector<std::string> names;
    r.changed = false;
    std::int64_t first_change_ms = 0;
    for (const Iface* i : taps) {
        auto show = run_command({"bridge", "-n", i->netns, "-d", "link", "show", "dev", i->dev}, kIpTimeout);
        if (!show.ok()) throw Error(shell_join(show.argv) + ": " + trim(show.err.empty() ? show.describe() : show.err));
        const bool now_on = show.out.find("isolated on") != std::string::npos;
        if (now_on != on) {
            auto set = run_command({"bridge", "-n", i->netns, "link", "set", "dev", i->dev, "isolated", on ? "on" : "off"},
                                   kIpTimeout);
            if (!set.ok())
                throw Error(shell_join(set.argv) + ": " + trim(set.err.empty() ? set.describe() : set.err) +
                            " (this kernel's bridge may lack port isolation, Linux 4.18+)");
            if (!r.changed) first_change_ms = wall_ms();
            r.changed = true;
        }
        names.push_back(i->dev);
    }
    // A partition is in effect once every port is isolated; a heal as soon as one is not
    // (two ports talk unless both are isolated).
    r.at_ms = !on && first_change_ms ? first_change_ms : wall_ms();
    r.message = join(names, ", ") + (on ? ": isolated from each other on the bridge" : ": talk to each other again") +
                (r.changed ? "" : " (already so)");
}

bool engine_action(FaultAction a) {
    return a == FaultAction::kill_engine || a == FaultAction::start_engine || a == FaultAction::partition ||
           a == FaultAction::heal;
}

}  // namespace

const std::vector<FaultActionSpec>& fault_actions() { return kActions; }

FaultAction parse_fault_action(const std::string& name) {
    for (const auto& a : kActions)
        if (a.name == name) return a.action;
    throw Error("unknown fault action '" + name + "' (actions: " + join(action_names(), ", ") + ")");
}

const std::string& fault_action_name(FaultAction a) {
    for (const auto& s : kActions)
        if (s.action == a) return s.name;
    throw Error("unknown fault action");
}

std::optional<Proc> running_lbd(const Paths& paths, const std::string& lab, const std::string& node) {
    auto m = Manifest::load(paths.manifest(lab));
    const std::string label = node + ".lbd";
    for (auto it = m.procs.rbegin(); it != m.procs.rend(); ++it) {
        if (it->label != label) continue;
        reap(it->pid);
        if (proc_alive(*it)) return *it;
    }
    return std::nullopt;
}

std::optional<Proc> running_lab_server(const Paths& paths, const std::string& lab, const std::string& node) {
    auto m = Manifest::load(paths.manifest(lab));
    const std::string label = node + ".lab_server";
    for (auto it = m.procs.rbegin(); it != m.procs.rend(); ++it) {
        if (it->label != label) continue;
        reap(it->pid);
        if (proc_alive(*it)) return *it;
    }
    return std::nullopt;
}

std::vector<std::string> normalize_routes(const std::string& out) {
    std::vector<std::string> lines;
    for (const auto& line : split(out, '\n')) {
        std::vector<std::string> words;
        for (auto& w : split_ws(line))
            if (w != "linkdown" && w != "dead") words.push_back(w);
        if (!words.empty()) lines.push_back(join(words, " "));
    }
    return lines;
}

std::vector<std::string> missing_routes(const std::vector<std::string>& before, const std::vector<std::string>& now) {
    std::vector<std::string> out;
    for (const auto& r : before)
        if (std::find(now.begin(), now.end(), r) == now.end()) out.push_back(r);
    return out;
}

FaultResult apply_fault(const Paths& paths, const std::string& lab, const std::string& node, FaultAction action) {
    auto t = running_topology(paths, lab);
    const Node& n = node_with_role(t, node, engine_action(action) ? "lb" : "server");
    FaultResult r;
    r.node = node;
    r.action = fault_action_name(action);
    switch (action) {
        case FaultAction::kill_server: kill_server(paths, lab, n, r); break;
        case FaultAction::start_server: start_server(paths, lab, n, r); break;
        case FaultAction::link_down: link_down(paths, lab, t, n, r); break;
        case FaultAction::link_up: link_up(paths, lab, t, n, r); break;
        case FaultAction::http_500: http_status(paths, lab, n, 500, r); break;
        case FaultAction::http_200: http_status(paths, lab, n, 200, r); break;
        case FaultAction::kill_engine: kill_engine(paths, lab, n, r); break;
        case FaultAction::start_engine: start_engine(paths, lab, n, r); break;
        case FaultAction::partition: isolate_lbs(t, n, true, r); break;
        case FaultAction::heal: isolate_lbs(t, n, false, r); break;
    }
    return r;
}

}  // namespace lab
