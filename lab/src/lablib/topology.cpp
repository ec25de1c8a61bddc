#include "lablib/topology.hpp"

#include "lablib/util.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>

namespace lab {

std::string Iface::ip() const { return address.substr(0, address.find('/')); }

const Iface* Node::iface(const std::string& n) const {
    for (const auto& i : ifaces)
        if (i.name == n) return &i;
    return nullptr;
}

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

std::string where(const toml::node& n, const std::string& source) {
    const auto& src = n.source();
    return source + ":" + std::to_string(src.begin.line);
}

std::string get_str(const toml::table& t, const char* key, const std::string& ctx,
                    const std::string& source, bool required) {
    if (auto v = t[key].value<std::string>()) return *v;
    if (required) throw Error(source + ": " + ctx + " has no string '" + key + "'");
    return {};
}

}  // namespace

Topology Topology::parse(const std::string& text, const std::string& source) {
    toml::table root;
    try {
        root = toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        throw Error(source + ":" + std::to_string(e.source().begin.line) + ": " +
                    std::string(e.description()));
    }
    Topology t;
    t.lab = get_str(root, "lab", "the top level", source, true);
    t.mode = get_str(root, "mode", "the top level", source, false);
    t.state_dir = get_str(root, "state_dir", "the top level", source, false);
    t.switch_netns = get_str(root, "switch_netns", "the top level", source, false);
    t.vip = get_str(root, "vip", "the top level", source, false);
    t.servers = static_cast<int>(root["servers"].value<int64_t>().value_or(0));
    t.dscp = static_cast<int>(root["dscp"].value<int64_t>().value_or(-1));
    if (root.contains("dscp") && (t.dscp < 0 || t.dscp > 63))
        throw Error(where(*root.get("dscp"), source) + ": 'dscp' must be an integer 0..63");
    t.proxy_ip = get_str(root, "proxy_ip", "the top level", source, false);
    t.ha = root["ha"].value<bool>().value_or(false);
    auto* nodes = root["nodes"].as_array();
    if (!nodes) throw Error(source + ": no [[nodes]]");
    for (auto& nn : *nodes) {
        auto* nt = nn.as_table();
        if (!nt) throw Error(where(nn, source) + ": [[nodes]] entry is not a table");
        Node node;
        node.name = get_str(*nt, "name", "a [[nodes]] entry (" + where(nn, source) + ")", source, true);
        std::string ctx = "node '" + node.name + "'";
        node.role = get_str(*nt, "role", ctx, source, false);
        node.netns = get_str(*nt, "netns", ctx, source, false);
        node.config = get_str(*nt, "config", ctx, source, false);
        node.control_socket = get_str(*nt, "control_socket", ctx, source, false);
        node.engine = get_str(*nt, "engine", ctx, source, false);
        node.decap = get_str(*nt, "decap", ctx, source, false);
        if (!node.decap.empty() && node.decap != "kernel" && node.decap != "user")
            throw Error(where(nn, source) + ": " + ctx + ": decap must be \"kernel\", \"user\" or \"\", not \"" +
                        node.decap + "\"");
        if (auto* ifs = (*nt)["ifaces"].as_array()) {
            for (auto& in : *ifs) {
                auto* it = in.as_table();
                if (!it) continue;
                Iface i;
                i.name = get_str(*it, "name", ctx + " interface", source, true);
                std::string ictx = ctx + " interface '" + i.name + "'";
                i.dev = get_str(*it, "dev", ictx, source, false);
                if (i.dev.empty()) i.dev = i.name;
                i.netns = get_str(*it, "netns", ictx, source, false);
                if (i.netns.empty()) i.netns = node.netns;
                i.segment = get_str(*it, "segment", ictx, source, false);
                i.address = get_str(*it, "address", ictx, source, false);
                i.mac = lower(get_str(*it, "mac", ictx, source, false));
                node.ifaces.push_back(i);
            }
        }
        t.nodes.push_back(std::move(node));
    }
    if (t.vip.empty()) throw Error(source + ": no 'vip' at the top level");
    return t;
}

Topology Topology::load(const std::filesystem::path& file) {
    return parse(read_file(file), file.string());
}

const Node* Topology::node(const std::string& name) const {
    for (const auto& n : nodes)
        if (n.name == name) return &n;
    return nullptr;
}

const Node& Topology::require_node(const std::string& name) const {
    if (auto* n = node(name)) return *n;
    throw Error("lab " + lab + " has no node '" + name + "'");
}

std::vector<const Node*> Topology::with_role(const std::string& role) const {
    std::vector<const Node*> out;
    for (const auto& n : nodes)
        if (n.role == role) out.push_back(&n);
    return out;
}

std::vector<CapturePoint> Topology::capture_points() const {
    std::vector<CapturePoint> out;
    for (const auto& n : nodes) {
        if (n.role != "client" && n.role != "router" && n.role != "lb" && n.role != "server")
            continue;
        for (const auto& i : n.ifaces) out.push_back({n.name, i.name, i.dev, i.netns});
    }
    return out;
}

const Iface* Topology::find_iface(const std::string& point) const {
    auto dot = point.find('.');
    if (dot == std::string::npos) return nullptr;
    auto* n = node(point.substr(0, dot));
    return n ? n->iface(point.substr(dot + 1)) : nullptr;
}

}  // namespace lab
