// lab ctl: lbctl against an engine of a lab. The lab process becomes
// `lbctl --socket SOCKET ARGS...` (execv), so stdio and the exit status are lbctl's.
#include "commands.hpp"

#include "lablib/control.hpp"
#include "lablib/util.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace labcli {

void setup_ctl(CLI::App& app, std::shared_ptr<CtlOptions> opt) {
    auto* sub = app.add_subcommand(
        "ctl", "run lbctl against an engine of the lab: lab ctl [--name NAME] [NODE] -- ARGS... (NODE: lb-a)");
    sub->add_option("--name", opt->name, "lab name")->capture_default_str();
    sub->add_option("words", opt->words, "[NODE] -- lbctl arguments (backends, weight B W --vip web, ...)")
        ->required();
    sub->positionals_at_end();
}

int run_ctl(const CtlOptions& opt) {
    auto paths = lab::Paths::discover();
    auto topo = lab::running_topology(paths, opt.name);
    // CLI11 drops a leading "--" and keeps a later one: "NODE -- ARGS" or "ARGS".
    std::vector<std::string> args = opt.words;
    std::string node;
    auto dashes = std::find(args.begin(), args.end(), "--");
    if (dashes != args.end()) {
        if (dashes - args.begin() != 1)
            throw lab::Error("usage: lab ctl [--name NAME] [NODE] -- ARGS... (one NODE before --)");
        node = args.front();
        args.erase(args.begin(), dashes + 1);
    } else if (!args.empty() && (topo.node(args.front()) || lab::starts_with(args.front(), "lb-"))) {
        node = args.front();
        args.erase(args.begin());
    }
    if (node.empty()) {
        auto lbs = topo.with_role("lb");
        if (lbs.empty()) throw lab::Error("lab " + opt.name + " has no lb node");
        node = topo.node("lb-a") && topo.node("lb-a")->role == "lb" ? "lb-a" : lbs.front()->name;
    }
    if (args.empty()) throw lab::Error("no lbctl arguments: lab ctl [NODE] -- ARGS... (e.g. backends)");
    const lab::Node& lb = lab::node_with_role(topo, node, "lb");
    auto argv = lab::lbctl_argv(paths, lab::engine_socket(paths, topo, lb), args);
    lab::log("exec " + lab::shell_join(argv));
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(argv.front().c_str(), cargv.data());
    throw lab::Error("cannot run " + argv.front() + ": " + std::strerror(errno));
}

}  // namespace labcli
