// lab fault: break one server or engine of a running lab, or mend it (lablib/fault.hpp):
// kill-server, start-server, link-down, link-up, http-500, http-200, kill-engine, start-engine.
#include "commands.hpp"

#include "lablib/fault.hpp"
#include "lablib/util.hpp"

#include <iostream>

namespace labcli {

void setup_fault(CLI::App& app, std::shared_ptr<FaultOptions> opt) {
    std::string actions;
    for (const auto& a : lab::fault_actions()) actions += "\n  " + a.name + ": " + a.summary;
    auto* sub = app.add_subcommand("fault", "break or mend a server or an engine: lab fault [--name NAME] NODE ACTION" + actions);
    sub->add_option("--name", opt->name, "lab name")->capture_default_str();
    sub->add_option("node", opt->node, "server node (server1, ...), or lb node (lb-a, lb-b) for *-engine")->required();
    sub->add_option("action", opt->action,
                    "kill-server, start-server, link-down, link-up, http-500, http-200, kill-engine or start-engine")
        ->required();
}

int run_fault(const FaultOptions& opt) {
    auto paths = lab::Paths::discover();
    auto action = lab::parse_fault_action(opt.action);
    auto r = lab::apply_fault(paths, opt.name, opt.node, action);
    std::cout << r.message << "\n";
    for (const auto& n : r.notes) lab::log(n);
    return 0;
}

}  // namespace labcli
