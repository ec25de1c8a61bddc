// lab status: nodes, interfaces, processes and control sockets of a lab.
#include "commands.hpp"

#include "lablib/lab.hpp"

#include <iostream>

namespace labcli {

void setup_status(CLI::App& app, std::shared_ptr<StatusOptions> opt) {
    auto* sub = app.add_subcommand("status", "show a lab: nodes, interfaces, processes, control sockets");
    sub->add_option("--name", opt->name, "lab name")->capture_default_str();
}

int run_status(const StatusOptions& opt) {
    auto paths = lab::Paths::discover();
    std::cout << lab::lab_status(paths, opt.name);
    return 0;
}

}  // namespace labcli
