#include "lablib/modes.hpp"

#include "lablib/util.hpp"

#include <cctype>

namespace lab {

namespace {

ModeSpec pending(const std::string& name, const std::string& title) {
    ModeSpec m;
    m.name = name;
    m.title = title;
    return m;
}

std::string camel(const std::string& s) {
    std::string out;
    bool up = true;
    for (char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c))) {
            up = true;
            continue;
        }
        out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
        up = false;
    }
    return out;
}

}  // namespace

std::string case_prefix(const std::string& mode, const std::string& scenario) {
    return camel(mode) + camel(scenario);
}

const std::vector<ModeSpec>& all_modes() {
    static const std::vector<ModeSpec> modes = {
        inline_mode(),
        pending("proxy", "proxy (one-arm, full NAT)"),
        pending("dsr-l2", "direct server return, L2"),
        pending("dsr-l3-dscp", "direct server return, L3 with DSCP"),
        pending("dsr-l3-tunnel", "direct server return, L3 tunnel (IPIP)"),
    };
    return modes;
}

const ModeSpec& find_mode(const std::string& name) {
    std::vector<std::string> names;
    for (const auto& m : all_modes()) {
        if (m.name == name) return m;
        names.push_back(m.name);
    }
    throw Error("unknown mode '" + name + "' (modes: " + join(names, ", ") + ")");
}

const ModeSpec& find_available_mode(const std::string& name) {
    const ModeSpec& m = find_mode(name);
    if (!m.available()) {
        std::vector<std::string> ok;
        for (const auto& x : all_modes())
            if (x.available()) ok.push_back(x.name);
        throw Error("mode '" + name + "' (" + m.title + ") is not implemented in the lab yet; " +
                    "available: " + join(ok, ", "));
    }
    return m;
}

std::vector<const ModeSpec*> select_modes(const std::string& arg) {
    std::vector<const ModeSpec*> out;
    if (arg == "all") {
        for (const auto& m : all_modes())
            if (m.available()) out.push_back(&m);
        return out;
    }
    out.push_back(&find_available_mode(arg));
    return out;
}

}  // namespace lab
