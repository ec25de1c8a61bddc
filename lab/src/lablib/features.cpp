#include "lablib/features.hpp"

#include "lablib/process.hpp"
#include "lablib/util.hpp"

#include <unistd.h>

namespace lab {

std::map<std::string, Feature> probe_features(const Paths& paths) {
    std::map<std::string, Feature> out;
    auto script = paths.script("features.sh");
    if (!std::filesystem::exists(script)) return out;
    auto r = run_command({"bash", script.string()}, std::chrono::seconds(60));
    for (const auto& line : split(r.out, '\n')) {
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        auto rest = line.substr(eq + 1);
        auto sp = rest.find(' ');
        Feature f;
        f.yes = rest.substr(0, sp) == "yes";
        f.why = sp == std::string::npos ? "" : rest.substr(sp + 1);
        out[line.substr(0, eq)] = f;
    }
    return out;
}

namespace {

// One requirement alternative: a features.sh key or "bin:<program>".
bool offered(const Paths& paths, const std::map<std::string, Feature>& features, const std::string& what,
             std::string& why) {
    if (starts_with(what, "bin:")) {
        auto prog = what.substr(4);
        if (paths.has_tool(prog)) return true;
        why = prog + " is not built";
        return false;
    }
    auto it = features.find(what);
    if (it == features.end()) {
        if (features.empty()) return true;  // not probed: let the topology script decide
        why = what + " was not probed";
        return false;
    }
    if (!it->second.yes) why = what + ": " + it->second.why;
    return it->second.yes;
}

}  // namespace

std::string mode_skip_reason(const Paths& paths, const ModeSpec& mode,
                             const std::map<std::string, Feature>& features) {
    if (::geteuid() != 0) return "needs root (network namespaces, veths, bridges, TAPs)";
    for (const char* f : {"netns", "veth", "bridge", "tun", "tcpdump", "ethtool"}) {
        auto it = features.find(f);
        if (it != features.end() && !it->second.yes)
            return std::string("kernel feature or command '") + f + "' missing: " + it->second.why;
    }
    for (const char* cmd : {"tcpdump", "curl", "ping", "ip"})
        if (find_on_path(cmd).empty()) return std::string("command '") + cmd + "' not found";
    for (const auto& req : mode.needs) {
        std::vector<std::string> whys;
        bool ok = false;
        for (const auto& alt : req.any_of) {
            std::string why;
            if (offered(paths, features, alt, why)) {
                ok = true;
                break;
            }
            whys.push_back(why);
        }
        if (!ok) return "mode " + mode.name + " needs " + req.why + " (" + join(whys, "; ") + ")";
    }
    return "";
}

}  // namespace lab
