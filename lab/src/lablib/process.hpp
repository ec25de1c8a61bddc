// process.hpp: every external program the orchestrator runs goes through here.
// Short commands run with a timeout and captured output; long-lived ones (lbd,
// lab_server, tcpdump) start detached in their own session, are recorded in the
// lab's manifest before they run a single instruction of their own, and are stopped
// by pid only (never by name).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lab {

struct CommandResult {
    std::vector<std::string> argv;
    int exit_code = -1;      // exit status, or 128 + signal number
    bool timed_out = false;  // killed (with its process group) at the timeout
    std::string out;
    std::string err;

    bool ok() const { return !timed_out && exit_code == 0; }
    // One line: the command and how it ended, with the last line of its stderr.
    std::string describe() const;
};

// Runs argv[0] (searched on PATH) with stdin from /dev/null, stdout and stderr
// captured, in a new process group that is killed whole at the timeout. A program that
// cannot be started gives exit_code 127. Throws Interrupted on SIGINT/SIGTERM (after
// killing the command) unless `interruptible` is false (teardown must still run then).
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          bool interruptible = true);

// A process started by spawn_detached, as the manifest records it.
struct Proc {
    pid_t pid = -1;
    unsigned long long start_time = 0;  // field 22 of /proc/PID/stat
    std::string label;
    std::filesystem::path log;
};

// Starts argv detached (setsid; stdin /dev/null; stdout and stderr to `log`). The
// child waits on a pipe until `pid PID STARTTIME LABEL` is appended to `manifest`,
// so no process of ours ever runs unrecorded. Throws Error if it cannot start.
Proc spawn_detached(const std::vector<std::string>& argv, const std::filesystem::path& log,
                    const std::filesystem::path& manifest, const std::string& label);

// Field 22 of /proc/PID/stat, if PID exists.
std::optional<unsigned long long> proc_start_time(pid_t pid);
// PID exists, is not a zombie, and still has the recorded start time.
bool proc_alive(pid_t pid, unsigned long long start_time);
inline bool proc_alive(const Proc& p) { return proc_alive(p.pid, p.start_time); }

// Sends `sig` if the process is still ours, waits up to `grace` for it to exit
// (reaping it if it is our child), then SIGKILL. Returns true if it ended in time
// (false if SIGKILL was needed). Never throws.
bool stop_process(const Proc& p, int sig, std::chrono::milliseconds grace);

// Reaps `pid` if it is an exited child of ours (no-op otherwise).
void reap(pid_t pid);

}  // namespace lab
