// features.hpp: what this machine offers the lab (netns_scripts/features.sh), and why a
// mode cannot run here: kselftest's SKIP reasons, computed before a lab is built.
#pragma once

#include <map>
#include <string>

#include "lablib/modes.hpp"
#include "lablib/paths.hpp"

namespace lab {

struct Feature {
    bool yes = false;
    std::string why;  // the script's reason text
};

// features.sh's `key=yes|no reason` lines; empty when the script is missing.
std::map<std::string, Feature> probe_features(const Paths& paths);

// Why `mode` cannot run on this machine, or "": not root, a feature every lab needs
// (netns veth bridge tun tcpdump ethtool, commands curl ping ip), or one of the mode's
// Requirements. `features` is probe_features()'s answer (empty: not probed, only
// commands and programs are checked).
std::string mode_skip_reason(const Paths& paths, const ModeSpec& mode,
                             const std::map<std::string, Feature>& features);

}  // namespace lab
