#include "lablib/capture.hpp"

#include "lablib/lab.hpp"
#include "lablib/util.hpp"

#include <csignal>
#include <regex>

namespace lab {

namespace fs = std::filesystem;
using namespace std::chrono;

namespace {
constexpr auto kListenTimeout = seconds(10);
constexpr auto kStopGrace = milliseconds(3000);
}  // namespace

CaptureSession::CaptureSession(const Paths& paths, const std::vector<CapturePoint>& points,
                               const CaptureOptions& opt) {
    if (find_on_path("tcpdump").empty()) throw Skip("command 'tcpdump' not found");
    fs::create_directories(opt.dir);
    auto logs = paths.state_dir(opt.lab) / "logs";
    fs::create_directories(logs);
    auto manifest = paths.manifest(opt.lab);
    try {
        for (const auto& pt : points) {
            fs::path file = opt.dir / (pt.id() + ".pcap");
            std::error_code ec;
            fs::remove(file, ec);
            // --immediate-mode: without it packets wait in the kernel ring for up to a second
            // and those still there at SIGINT never reach the file.
            std::vector<std::string> argv{"tcpdump", "-i", pt.dev, "-U", "--immediate-mode", "-n", "-Z", "root"};
            if (opt.bulk) {
                argv.push_back("-s");
                argv.push_back("256");
            }
            argv.push_back("-w");
            argv.push_back(fs::absolute(file).string());
            auto log_file = logs / ("capture." + opt.scenario + "." + pt.id() + ".log");
            procs_.push_back(spawn_detached(in_netns(pt.netns, argv), log_file, manifest,
                                            "tcpdump:" + opt.scenario + ":" + pt.id()));
            files_.emplace_back(pt.id(), file);
        }
        // tcpdump says "listening on DEV" on stderr once the capture is active.
        auto end = steady_clock::now() + kListenTimeout;
        for (const auto& p : procs_) {
            while (true) {
                auto text = tail_file(p.log, 20);
                if (text.find("listening on") != std::string::npos) break;
                if (!proc_alive(p)) {
                    reap(p.pid);
                    throw Error(p.label + " exited before it listened: " + trim(text));
                }
                if (steady_clock::now() >= end)
                    throw Error(p.label + " did not start listening within " +
                                std::to_string(kListenTimeout.count()) + " s: " + trim(text));
                sleep_for(milliseconds(20));
            }
        }
    } catch (...) {
        stop();
        throw;
    }
}

CaptureSession::~CaptureSession() { stop(); }

std::vector<std::string> CaptureSession::stop() {
    std::vector<std::string> problems;
    if (stopped_) return problems;
    stopped_ = true;
    for (const auto& p : procs_)
        if (proc_alive(p)) ::kill(p.pid, SIGINT);
    for (const auto& p : procs_) {
        if (!stop_process(p, 0, kStopGrace))  // SIGINT already sent above
            problems.push_back(p.label + " needed SIGKILL");
        auto text = tail_file(p.log, 10);
        static const std::regex dropped(R"(([0-9]+) packets? dropped by kernel)");
        std::smatch m;
        if (std::regex_search(text, m, dropped) && m[1] != "0")
            problems.push_back(p.label + ": " + m[0].str());
    }
    return problems;
}

}  // namespace lab
