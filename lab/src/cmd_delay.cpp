// lab delay: make one server's lab_server wait before every response (its control
// socket's `delay MS`); 0 stops the delay.
#include "commands.hpp"

#include "lablib/control.hpp"

#include <iostream>

namespace labcli {

void setup_delay(CLI::App& app, std::shared_ptr<DelayOptions> opt) {
    auto* sub = app.add_subcommand("delay", "delay a server's responses: lab delay [--name NAME] NODE MS (0: off)");
    sub->add_option("--name", opt->name, "lab name")->capture_default_str();
    sub->add_option("node", opt->node, "server node (server1, server2, ...)")->required();
    sub->add_option("ms", opt->ms, "milliseconds before every HTTP response head and UDP reply; 0 stops the delay")
        ->required()
        ->check(CLI::Range(0, 600000));
}

int run_delay(const DelayOptions& opt) {
    auto paths = lab::Paths::discover();
    lab::set_server_delay(paths, opt.name, opt.node, opt.ms);
    std::cout << opt.node << ": " << (opt.ms == 0 ? std::string("no delay") : "responses delayed " + std::to_string(opt.ms) + " ms")
              << "\n";
    return 0;
}

}  // namespace labcli
