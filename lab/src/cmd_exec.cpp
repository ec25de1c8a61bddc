// lab exec: run a command inside one node of a lab. The lab process becomes
// `ip netns exec NS CMD...` (execv), so stdio, signals and the exit status are CMD's own.
#include "commands.hpp"

#include "lablib/lab.hpp"
#include "lablib/paths.hpp"
#include "lablib/util.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

namespace labcli {

void setup_exec(CLI::App& app, std::shared_ptr<ExecOptions> opt) {
    auto* sub = app.add_subcommand("exec", "run a command in a node: lab exec [--name NAME] NODE -- CMD...");
    sub->add_option("--name", opt->name, "lab name")->capture_default_str();
    sub->add_option("node", opt->node, "node (client1, router, lb-a, server1, sw, ...)")->required();
    sub->add_option("command", opt->command, "the command and its arguments (after --)")->required();
    sub->positionals_at_end();
}

int run_exec(const ExecOptions& opt) {
    auto paths = lab::Paths::discover();
    std::string ns = lab::node_netns(paths, opt.name, opt.node);
    std::string ip = lab::find_on_path("ip");
    if (ip.empty()) throw lab::Error("command 'ip' not found");
    std::vector<std::string> cmd = opt.command;
    if (!cmd.empty() && cmd.front() == "--") cmd.erase(cmd.begin());  // CLI11 may keep it
    if (cmd.empty()) throw lab::Error("no command given: lab exec NODE -- CMD...");
    auto argv = lab::in_netns(ns, cmd);
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execv(ip.c_str(), cargv.data());
    throw lab::Error("cannot run " + ip + ": " + std::strerror(errno));
}

}  // namespace labcli
