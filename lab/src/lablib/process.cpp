#include "lablib/process.hpp"

#include "lablib/paths.hpp"
#include "lablib/util.hpp"

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

namespace lab {

namespace bp = boost::process;
namespace fs = std::filesystem;
using namespace std::chrono;

namespace {

// Child side, between fork and exec: its own process group, so a timeout kills
// whatever it started too (`ip netns exec` execs, but a script may fork).
struct NewProcessGroup : bp::extend::handler {
    template <typename Executor>
    void on_exec_setup(Executor&) const {
        ::setpgid(0, 0);
    }
};

// Child side for detached programs: a new session (no terminal, own group), then
// wait until the parent has written the manifest line and says go.
struct DetachAndWait : bp::extend::handler {
    DetachAndWait(int r, int w) : read_fd(r), write_fd(w) {}
    int read_fd;
    int write_fd;
    template <typename Executor>
    void on_exec_setup(Executor&) const {
        ::close(write_fd);
        ::setsid();
        char b = 0;
        ssize_t n;
        do {
            n = ::read(read_fd, &b, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) ::_exit(127);  // the parent died or refused: never run unrecorded
    }
};

std::string read_all(FILE* f) {
    std::string s;
    if (!f) return s;
    std::fflush(f);
    std::rewind(f);
    char buf[8192];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    return s;
}

int decode_status(int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
}

// Waits for child `pid` up to `d`; returns its status when it ended.
std::optional<int> wait_child(pid_t pid, milliseconds d) {
    auto end = steady_clock::now() + d;
    auto step = milliseconds(1);
    while (true) {
        int st = 0;
        pid_t r = ::waitpid(pid, &st, WNOHANG);
        if (r == pid) return decode_status(st);
        if (r < 0 && errno == ECHILD) return -1;
        if (steady_clock::now() >= end) return std::nullopt;
        std::this_thread::sleep_for(step);
        step = std::min(step * 2, milliseconds(20));
    }
}

struct FileCloser {
    void operator()(FILE* f) const {
        if (f) std::fclose(f);
    }
};

}  // namespace

std::string CommandResult::describe() const {
    std::string cmd = "`" + shell_join(argv) + "`";
    if (timed_out) return cmd + " timed out";
    std::string last;
    for (const auto& src : {err, out}) {
        auto t = trim(src);
        if (!t.empty()) {
            auto lines = split(t, '\n');
            last = trim(lines.back());
            break;
        }
    }
    std::string s = cmd + (exit_code == 0 ? " succeeded" : " exited " + std::to_string(exit_code));
    if (!last.empty() && exit_code != 0) s += ": " + last;
    return s;
}

CommandResult run_command(const std::vector<std::string>& argv, milliseconds timeout,
                          bool interruptible) {
    CommandResult r;
    r.argv = argv;
    if (argv.empty()) throw Error("run_command: empty command");
    if (interruptible) check_interrupted();
    std::string exe = find_on_path(argv[0]);
    if (exe.empty()) {
        r.exit_code = 127;
        r.err = "command '" + argv[0] + "' not found";
        return r;
    }
    std::unique_ptr<FILE, FileCloser> out(std::tmpfile()), err(std::tmpfile());
    if (!out || !err) throw Error("cannot create a temporary file for command output");
    std::vector<std::string> args(argv.begin() + 1, argv.end());
    log("run: " + shell_join(argv));
    pid_t pid = -1;
    try {
        bp::child c(bp::exe = exe, bp::args = args, bp::std_in < bp::null, bp::std_out > out.get(),
                    bp::std_err > err.get(), NewProcessGroup{});
        pid = c.id();
        c.detach();  // waited for below, by pid
    } catch (const std::exception& e) {
        r.exit_code = 127;
        r.err = e.what();
        return r;
    }
    auto end = steady_clock::now() + timeout;
    std::optional<int> status;
    bool was_interrupted = false;
    while (true) {
        status = wait_child(pid, milliseconds(20));
        if (status) break;
        if (interruptible && interrupted()) {
            was_interrupted = true;
            break;
        }
        if (steady_clock::now() >= end) {
            r.timed_out = true;
            break;
        }
    }
    if (!status) {
        ::kill(-pid, SIGTERM);
        status = wait_child(pid, milliseconds(500));
        if (!status) {
            ::kill(-pid, SIGKILL);
            status = wait_child(pid, milliseconds(2000));
        }
        // Leftovers of its group (a script's children) get the same end.
        ::kill(-pid, SIGKILL);
    }
    r.exit_code = status.value_or(-1);
    r.out = read_all(out.get());
    r.err = read_all(err.get());
    if (was_interrupted) throw Interrupted();
    return r;
}

std::optional<unsigned long long> proc_start_time(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    if (!in) return std::nullopt;
    std::string stat;
    std::getline(in, stat);
    auto close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    auto fields = split_ws(std::string_view(stat).substr(close + 1));
    // fields[0] is field 3 (state); field 22 is fields[19].
    if (fields.size() < 20) return std::nullopt;
    try {
        return std::stoull(fields[19]);
    } catch (...) {
        return std::nullopt;
    }
}

bool proc_alive(pid_t pid, unsigned long long start_time) {
    if (pid <= 0) return false;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    if (!in) return false;
    std::string stat;
    std::getline(in, stat);
    auto close = stat.rfind(')');
    if (close == std::string::npos) return false;
    auto fields = split_ws(std::string_view(stat).substr(close + 1));
    if (fields.size() < 20) return false;
    if (fields[0] == "Z" || fields[0] == "X") return false;
    return fields[19] == std::to_string(start_time);
}

Proc spawn_detached(const std::vector<std::string>& argv, const fs::path& log_path,
                    const fs::path& manifest, const std::string& label) {
    check_interrupted();
    if (argv.empty()) throw Error("spawn_detached: empty command");
    std::string exe = find_on_path(argv[0]);
    if (exe.empty()) throw Error("cannot start " + label + ": command '" + argv[0] + "' not found");
    if (!fs::exists(manifest))
        throw Error("cannot start " + label + ": the lab has no manifest (" + manifest.string() + ")");
    int go[2];
    if (::pipe2(go, O_CLOEXEC) != 0) throw Error("pipe2 failed");
    std::vector<std::string> args(argv.begin() + 1, argv.end());
    Proc p;
    p.label = label;
    p.log = log_path;
    log("spawn (" + label + "): " + shell_join(argv) + " > " + log_path.string());
    try {
        bp::child c(bp::exe = exe, bp::args = args, bp::std_in < bp::null,
                    (bp::std_out & bp::std_err) > log_path.string(), DetachAndWait{go[0], go[1]},
                    bp::ignore_error);
        p.pid = c.id();
        c.detach();
    } catch (const std::exception& e) {
        ::close(go[0]);
        ::close(go[1]);
        throw Error("cannot start " + label + ": " + e.what());
    }
    ::close(go[0]);
    if (p.pid <= 0) {
        ::close(go[1]);
        throw Error("cannot start " + label + ": fork failed");
    }
    auto refuse = [&](const std::string& why) {
        ::close(go[1]);  // the child reads EOF and exits 127 without running argv
        wait_child(p.pid, milliseconds(2000));
        throw Error("cannot start " + label + ": " + why);
    };
    auto st = proc_start_time(p.pid);
    if (!st) refuse("the new process vanished before it was recorded");
    p.start_time = *st;
    {
        std::ofstream m(manifest, std::ios::app);
        if (!m) refuse("cannot append to " + manifest.string());
        m << "pid " << p.pid << ' ' << p.start_time << ' ' << label << '\n';
        m.flush();
        if (!m) refuse("cannot append to " + manifest.string());
    }
    char g = 'g';
    ssize_t n;
    do {
        n = ::write(go[1], &g, 1);
    } while (n < 0 && errno == EINTR);
    ::close(go[1]);
    if (n != 1) throw Error("cannot start " + label + ": could not release the child");
    return p;
}

void reap(pid_t pid) {
    if (pid <= 0) return;
    int st;
    ::waitpid(pid, &st, WNOHANG);
}

bool stop_process(const Proc& p, int sig, milliseconds grace) {
    if (p.pid <= 0) return true;
    auto gone = [&] {
        reap(p.pid);
        return !proc_alive(p);
    };
    if (gone()) return true;
    ::kill(p.pid, sig);
    auto end = steady_clock::now() + grace;
    while (steady_clock::now() < end) {
        if (gone()) return true;
        std::this_thread::sleep_for(milliseconds(10));
    }
    if (proc_alive(p)) ::kill(p.pid, SIGKILL);
    auto end2 = steady_clock::now() + milliseconds(2000);
    while (steady_clock::now() < end2 && !gone()) std::this_thread::sleep_for(milliseconds(10));
    return false;
}

}  // namespace lab
