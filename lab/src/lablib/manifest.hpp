// manifest.hpp: reading a lab's ownership manifest (docs/lab.md, "Manifest lines").
// Lines are appended by the scripts and by spawn_detached; down.sh removes them all.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "lablib/process.hpp"

namespace lab {

struct Manifest {
    std::vector<std::string> netns;
    std::vector<Proc> procs;  // pid lines, label = the rest of the line
    std::vector<std::string> files;
    std::vector<std::string> dirs;

    // Parses a manifest; a missing file gives an empty Manifest. Unknown or
    // malformed lines are skipped (down.sh warns about them).
    static Manifest load(const std::filesystem::path& p);
};

}  // namespace lab
