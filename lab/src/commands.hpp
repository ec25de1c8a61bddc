// commands.hpp: the `lab` subcommands, one file each (cmd_<name>.cpp): an options
// struct, setup_<name>(CLI::App&) that registers the subcommand and its options, and
// run_<name>(const Options&) that calls lablib and returns the exit status.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

namespace labcli {

struct UpOptions {
    std::string mode = "inline";
    std::string name = "lab";
    int servers = 3;
    bool ha = false;
    bool no_sync = false;
    bool bench = false;
    bool kernel = false;
    bool wire = false;
    std::string algorithm;
    bool no_wait = false;
    int wait_seconds = 15;
};
void setup_up(CLI::App& app, std::shared_ptr<UpOptions> opt);
int run_up(const UpOptions& opt);

struct DownOptions {
    std::string name = "lab";
    bool all = false;
};
void setup_down(CLI::App& app, std::shared_ptr<DownOptions> opt);
int run_down(const DownOptions& opt);

struct ExecOptions {
    std::string name = "lab";
    std::string node;
    std::vector<std::string> command;
};
void setup_exec(CLI::App& app, std::shared_ptr<ExecOptions> opt);
int run_exec(const ExecOptions& opt);

struct CtlOptions {
    std::string name = "lab";
    std::vector<std::string> words;  // [NODE] -- ARGS...
};
void setup_ctl(CLI::App& app, std::shared_ptr<CtlOptions> opt);
int run_ctl(const CtlOptions& opt);

struct DelayOptions {
    std::string name = "lab";
    std::string node;
    int ms = 0;
};
void setup_delay(CLI::App& app, std::shared_ptr<DelayOptions> opt);
int run_delay(const DelayOptions& opt);

struct FaultOptions {
    std::string name = "lab";
    std::string node;
    std::string action;
};
void setup_fault(CLI::App& app, std::shared_ptr<FaultOptions> opt);
int run_fault(const FaultOptions& opt);

struct StatusOptions {
    std::string name = "lab";
};
void setup_status(CLI::App& app, std::shared_ptr<StatusOptions> opt);
int run_status(const StatusOptions& opt);

struct RunOptions {
    std::string mode = "all";
    bool mode_given = false;
    std::string suite;  // empty: all with --mode all, modes otherwise
    std::string out;
    std::string name;
    int servers = 3;
    std::vector<std::string> only;
};
void setup_run(CLI::App& app, std::shared_ptr<RunOptions> opt);
int run_run(const RunOptions& opt);

struct BenchOptions {
    std::string mode = "all";
    int seconds = 4;
    int connections = 1000;
    int rounds = 1;
    bool no_offload = false;
    bool no_batch = false;
    std::string out;
};
void setup_bench(CLI::App& app, std::shared_ptr<BenchOptions> opt);
int run_bench(const BenchOptions& opt);

}  // namespace labcli
