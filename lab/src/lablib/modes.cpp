#include "lablib/modes.hpp"

#include "lablib/util.hpp"

#include <cctype>

namespace lab {

namespace {

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

std::vector<ScenarioSpec> standard_scenarios() {
    return {http_scenario(), udp_scenario(), icmp_scenario(), download_scenario(), upload_scenario()};
}

std::vector<ScenarioSpec> scenarios_with_icmp_errors() {
    auto s = standard_scenarios();
    s.push_back(unreachable_scenario());
    s.push_back(client_gone_scenario());
    return s;
}

const std::vector<ModeSpec>& all_modes() {
    static const std::vector<ModeSpec> modes = {
        inline_mode(), proxy_mode(), dsr_l2_mode(), dsr_l3_dscp_mode(), dsr_l3_tunnel_mode(),
    };
    return modes;
}

const ModeSpec& find_mode(const std::string& name) {
    std::vector<std::string> names;
    for (const auto& m : all_modes()) {
        if (m.name == name) return m;
        names.push_back(m.name);
    }
    throw Error("unknown mode '" + name + "' (modes: " + join(names, ", ") + ", or all)");
}

std::vector<const ModeSpec*> select_modes(const std::string& arg) {
    std::vector<const ModeSpec*> out;
    if (arg == "all") {
        for (const auto& m : all_modes()) out.push_back(&m);
        return out;
    }
    out.push_back(&find_mode(arg));
    return out;
}

}  // namespace lab
