#include "lablib/manifest.hpp"

#include "lablib/util.hpp"

#include <fstream>

namespace lab {

Manifest Manifest::load(const std::filesystem::path& p) {
    Manifest m;
    std::ifstream in(p);
    std::string line;
    while (std::getline(in, line)) {
        auto t = trim(line);
        if (t.empty() || t[0] == '#') continue;
        auto sp = t.find(' ');
        std::string kind = t.substr(0, sp);
        std::string rest = sp == std::string::npos ? "" : trim(t.substr(sp + 1));
        if (kind == "netns") {
            m.netns.push_back(rest);
        } else if (kind == "file") {
            m.files.push_back(rest);
        } else if (kind == "dir") {
            m.dirs.push_back(rest);
        } else if (kind == "pid") {
            auto w = split_ws(rest);
            if (w.size() < 2) continue;
            try {
                Proc pr;
                pr.pid = static_cast<pid_t>(std::stol(w[0]));
                pr.start_time = std::stoull(w[1]);
                std::vector<std::string> label(w.begin() + 2, w.end());
                pr.label = join(label, " ");
                m.procs.push_back(pr);
            } catch (...) {
            }
        }
    }
    return m;
}

}  // namespace lab
