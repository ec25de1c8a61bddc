// lab: the lblab orchestrator. Brings labs of network namespaces up and down, runs
// commands in their nodes, and runs the conformance scenarios with captures and a
// report. All behaviour lives in lablib; this file parses, dispatches, and turns an
// exception into one line and a non-zero status.
#include "commands.hpp"

#include "lablib/lab.hpp"
#include "lablib/util.hpp"

#include <iostream>

int main(int argc, char** argv) {
    CLI::App app{"lab: bring lblab network-namespace labs up and down, run scenarios, write reports"};
    app.require_subcommand(1);
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "print every command run");

    auto up = std::make_shared<labcli::UpOptions>();
    auto down = std::make_shared<labcli::DownOptions>();
    auto exec = std::make_shared<labcli::ExecOptions>();
    auto ctl = std::make_shared<labcli::CtlOptions>();
    auto delay = std::make_shared<labcli::DelayOptions>();
    auto fault = std::make_shared<labcli::FaultOptions>();
    auto status = std::make_shared<labcli::StatusOptions>();
    auto run = std::make_shared<labcli::RunOptions>();
    auto bench = std::make_shared<labcli::BenchOptions>();
    labcli::setup_up(app, up);
    labcli::setup_down(app, down);
    labcli::setup_exec(app, exec);
    labcli::setup_ctl(app, ctl);
    labcli::setup_delay(app, delay);
    labcli::setup_fault(app, fault);
    labcli::setup_status(app, status);
    labcli::setup_run(app, run);
    labcli::setup_bench(app, bench);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    lab::set_verbose(verbose);
    lab::install_interrupt_handlers();
    try {
        auto* sub = app.get_subcommands().front();
        std::string name = sub->get_name();
        if (name == "up") return labcli::run_up(*up);
        if (name == "down") return labcli::run_down(*down);
        if (name == "exec") return labcli::run_exec(*exec);
        if (name == "ctl") return labcli::run_ctl(*ctl);
        if (name == "delay") return labcli::run_delay(*delay);
        if (name == "fault") return labcli::run_fault(*fault);
        if (name == "status") return labcli::run_status(*status);
        if (name == "run") return labcli::run_run(*run);
        if (name == "bench") return labcli::run_bench(*bench);
        std::cerr << "lab: unknown command " << name << "\n";
        return 2;
    } catch (const lab::Interrupted&) {
        std::cerr << "lab: interrupted (what was started has been stopped)\n";
        return 130;
    } catch (const lab::Skip& e) {
        std::cerr << "lab: SKIP: " << e.what() << "\n";
        return 4;
    } catch (const std::exception& e) {
        std::cerr << "lab: error: " << e.what() << "\n";
        return 1;
    }
}
