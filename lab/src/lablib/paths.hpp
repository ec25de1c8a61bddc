// paths.hpp: where the orchestrator finds the repository's scripts, the built
// programs (lbd, lbctl, lab_server, lab_client) and the labs' state directories.
#pragma once

#include <filesystem>
#include <string>

namespace lab {

struct Paths {
    std::filesystem::path source_dir;   // the repository (compile-time LBLAB_SOURCE_DIR)
    std::filesystem::path scripts_dir;  // source_dir/netns_scripts
    std::filesystem::path bin_dir;      // where lbd, lab_server, ... are built
    std::filesystem::path run_dir;      // /run/lblab, or $LBLAB_RUN_DIR

    // bin_dir is the running executable's own directory (all targets land in
    // build/bin), falling back to source_dir/build/bin.
    static Paths discover();

    std::filesystem::path state_dir(const std::string& lab) const { return run_dir / lab; }
    std::filesystem::path manifest(const std::string& lab) const { return state_dir(lab) / "manifest"; }
    std::filesystem::path topology(const std::string& lab) const {
        return state_dir(lab) / "topology.toml";
    }
    std::filesystem::path script(const std::string& name) const { return scripts_dir / name; }
    // bin_dir/name; throws Error naming what to build when it is missing.
    std::filesystem::path tool(const std::string& name) const;
    bool has_tool(const std::string& name) const;
    // The default output directory of `lab run`: source_dir/reports.
    std::filesystem::path reports_dir() const { return source_dir / "reports"; }
};

// The absolute path of a program on PATH, or "" (like `command -v`).
std::string find_on_path(const std::string& program);

}  // namespace lab
