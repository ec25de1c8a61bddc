// lab down: remove everything a lab's manifest lists (netns_scripts/down.sh).
#include "commands.hpp"

#include "lablib/lab.hpp"

#include <iostream>

namespace labcli {

void setup_down(CLI::App& app, std::shared_ptr<DownOptions> opt) {
    auto* sub = app.add_subcommand("down", "bring a lab down (processes, namespaces, state)");
    auto* name = sub->add_option("--name", opt->name, "lab name")->capture_default_str();
    sub->add_flag("--all", opt->all, "every lab under /run/lblab")->excludes(name);
}

int run_down(const DownOptions& opt) {
    auto paths = lab::Paths::discover();
    std::string summary;
    if (opt.all) {
        summary = lab::lab_down_all(paths);
    } else {
        if (!lab::lab_exists(paths, opt.name)) {
            std::cout << "lab " << opt.name << " does not exist (nothing to do)\n";
            return 0;
        }
        summary = lab::lab_down(paths, opt.name);
    }
    if (!summary.empty()) std::cout << summary << "\n";
    return 0;
}

}  // namespace labcli
