#include "lablib/paths.hpp"

#include "lablib/util.hpp"

#include <unistd.h>

#include <cstdlib>

#ifndef LBLAB_SOURCE_DIR
#error "LBLAB_SOURCE_DIR must name the repository (set by lab/CMakeLists.txt)"
#endif

namespace lab {

namespace fs = std::filesystem;

Paths Paths::discover() {
    Paths p;
    p.source_dir = LBLAB_SOURCE_DIR;
    p.scripts_dir = p.source_dir / "netns_scripts";
    std::error_code ec;
    fs::path self = fs::read_symlink("/proc/self/exe", ec);
    fs::path own = ec ? fs::path() : self.parent_path();
    auto has_programs = [](const fs::path& d) {
        return !d.empty() && (fs::exists(d / "lab_server") || fs::exists(d / "lbd") ||
                              fs::exists(d / "lab"));
    };
    p.bin_dir = has_programs(own) ? own : p.source_dir / "build" / "bin";
    const char* run = std::getenv("LBLAB_RUN_DIR");
    p.run_dir = (run && *run) ? fs::path(run) : fs::path("/run/lblab");
    return p;
}

bool Paths::has_tool(const std::string& name) const {
    return ::access((bin_dir / name).c_str(), X_OK) == 0;
}

fs::path Paths::tool(const std::string& name) const {
    fs::path t = bin_dir / name;
    if (::access(t.c_str(), X_OK) != 0)
        throw Error(t.string() + " is missing: build it first (cmake --build build --target " +
                    name + ")");
    return t;
}

std::string find_on_path(const std::string& program) {
    if (program.find('/') != std::string::npos)
        return ::access(program.c_str(), X_OK) == 0 ? program : std::string();
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (const auto& d : split(dirs, ':')) {
        if (d.empty()) continue;
        fs::path c = fs::path(d) / program;
        if (::access(c.c_str(), X_OK) == 0 && !fs::is_directory(c)) return c.string();
    }
    return {};
}

}  // namespace lab
