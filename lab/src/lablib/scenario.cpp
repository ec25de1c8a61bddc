#include "lablib/scenario.hpp"

#include "lablib/util.hpp"

#include <arpa/inet.h>

#include <regex>

namespace lab {

namespace {

// "192.0.2.11/24" → "192.0.2.0/24"
std::string network_of(const std::string& cidr) {
    auto slash = cidr.find('/');
    if (slash == std::string::npos) return cidr + "/32";
    in_addr a{};
    if (inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &a) != 1) return cidr;
    int len = std::stoi(cidr.substr(slash + 1));
    uint32_t mask = len <= 0 ? 0 : (len >= 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1));
    a.s_addr = htonl(ntohl(a.s_addr) & mask);
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return std::string(buf) + "/" + std::to_string(len);
}

}  // namespace

Vars scenario_vars(const Topology& topo, const Node& client, const ScenarioOutcome& out) {
    Vars v;
    for (const auto& n : topo.nodes) {
        for (const auto& i : n.ifaces) {
            std::string k = n.name + "." + i.name;
            v[k + ".mac"] = i.mac;
            v[k + ".ip"] = i.ip();
            v[k + ".net"] = network_of(i.address);
        }
    }
    v["vip"] = topo.vip;
    v["mode"] = topo.mode;
    if (!topo.proxy_ip.empty()) v["proxy_ip"] = topo.proxy_ip;
    if (topo.dscp >= 0) v["dscp"] = std::to_string(topo.dscp);
    v["client"] = client.name;
    if (!client.ifaces.empty()) v["cip"] = client.ifaces.front().ip();
    for (const auto& [k, val] : out.values) v[k] = val;
    auto s = v.find("server");
    if (s != v.end()) {
        if (auto* n = topo.node(s->second); n && !n->ifaces.empty()) {
            v["rip"] = n->ifaces.front().ip();
            v["rmac"] = n->ifaces.front().mac;
        }
    }
    return v;
}

std::string server_from_captures(const Topology& topo, const CaptureSet& caps, const Vars& vars) {
    auto cip = vars.find("cip");
    auto cport = vars.find("cport");
    if (cip == vars.end() || cport == vars.end()) return {};
    for (const Node* n : topo.with_role("server")) {
        for (const auto& i : n->ifaces) {
            auto it = caps.packets.find(n->name + "." + i.name);
            if (it == caps.packets.end()) continue;
            for (const auto& p : it->second) {
                if (!p.is_ipv4) continue;
                const IpView& v = p.innermost();  // a tunnelled flow counts too
                if (v.has_ports && v.src_ip == cip->second && std::to_string(v.src_port) == cport->second)
                    return n->name;
            }
        }
    }
    return {};
}

bool parse_server_answer(const std::string& line, std::map<std::string, std::string>& values,
                         std::string* rest) {
    static const std::regex re(R"(^(\S+) ([0-9.]+):([0-9]+)(?: (.*))?$)");
    std::smatch m;
    auto t = trim(line);
    if (!std::regex_match(t, m, re)) return false;
    values["server"] = m[1];
    values["seen_ip"] = m[2];
    values["seen_port"] = m[3];
    if (rest) *rest = m[4];
    return true;
}

}  // namespace lab
