// capture.hpp: tcpdump on every capture point of a lab for the length of a scenario.
// Each tcpdump runs detached in the point's namespace, recorded in the manifest like
// every other process, and writes <dir>/<node>.<iface>.pcap.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "lablib/paths.hpp"
#include "lablib/process.hpp"
#include "lablib/topology.hpp"

namespace lab {

struct CaptureOptions {
    std::string lab;       // the lab's name (its manifest and logs)
    std::string scenario;  // for labels and log names
    std::filesystem::path dir;  // where the pcaps go
    bool bulk = false;     // snap length 256: headers only
};

class CaptureSession {
public:
    // Starts one tcpdump per point and returns once every one of them says it is
    // listening. Throws Error (after stopping those already started) otherwise.
    CaptureSession(const Paths& paths, const std::vector<CapturePoint>& points,
                   const CaptureOptions& opt);
    CaptureSession(const CaptureSession&) = delete;
    CaptureSession& operator=(const CaptureSession&) = delete;
    ~CaptureSession();  // stops what is still running

    // SIGINT to each tcpdump by pid, waits for each to exit (SIGKILL after 3 s).
    // Returns the problems seen (drops, forced kills); idempotent.
    std::vector<std::string> stop();

    // point id → pcap path
    const std::vector<std::pair<std::string, std::filesystem::path>>& files() const { return files_; }

private:
    std::vector<Proc> procs_;
    std::vector<std::pair<std::string, std::filesystem::path>> files_;
    bool stopped_ = false;
};

}  // namespace lab
