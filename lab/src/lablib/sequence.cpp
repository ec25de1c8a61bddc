#include "lablib/sequence.hpp"

#include "lablib/report.hpp"
#include "lablib/util.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>

namespace lab {

namespace {

// Lifeline of a node role; -1 for nodes that are not drawn.
int lane_of(const std::string& role) {
    if (role == "client") return 0;
    if (role == "router") return 1;
    if (role == "lb") return 2;
    if (role == "server") return 3;
    return -1;
}

std::string flags(const IpView& v) {
    if (v.protocol == 6) return v.tcp_flags_string() + " ";
    if (v.is_icmp) return "icmp " + std::to_string(v.icmp_type) + "/" + std::to_string(v.icmp_code) + " ";
    if (v.protocol == 17) return "udp ";
    return v.protocol_name() + " ";
}

std::string label_of(const IpView& v) {
    std::string s = flags(v) + v.source() + " → " + v.destination() + " ttl " + std::to_string(v.ttl);
    if (v.dscp > 0) s += " dscp " + std::to_string(v.dscp);
    if (v.payload_length > 0 && v.protocol == 6) s += " +" + std::to_string(v.payload_length);
    return s;
}

}  // namespace

SequenceDiagram sequence_from_captures(const Topology& topo, const ScenarioRun& run, const std::vector<Match>& flow,
                                       size_t max) {
    SequenceDiagram d;
    d.lifelines = {"client", "router", "lb", "server"};
    std::map<std::string, int> lane;  // MAC → lifeline
    auto server = run.vars.find("server");
    for (const auto& n : topo.nodes) {
        int l = lane_of(n.role);
        if (l < 0) continue;
        // Only the client that ran the scenario and the server that answered get a lane.
        if (n.role == "client" && run.vars.count("client") && run.vars.at("client") != n.name) continue;
        if (n.role == "server" && server != run.vars.end() && server->second != n.name) continue;
        d.lifelines[l] = n.name;
        for (const auto& i : n.ifaces)
            if (!i.mac.empty()) lane[i.mac] = l;
    }
    // One arrow per distinct frame on one link.
    using Key = std::tuple<std::string, std::string, std::string, std::string, int, int, uint32_t, uint32_t, uint32_t, int>;
    std::map<Key, size_t> seen;
    std::vector<SeqArrow> all;
    for (const auto& [pt, packets] : run.captures.packets) {
        for (const auto& p : packets) {
            if (!p.is_ipv4) continue;
            bool ok = false;
            for (const auto& m : flow) ok = ok || m.matches(p);
            if (!ok) continue;
            auto f = lane.find(p.src_mac), t = lane.find(p.dst_mac);
            if (f == lane.end() || t == lane.end() || f->second == t->second) continue;
            const IpView& v = p.innermost();
            Key k{p.src_mac, p.dst_mac, p.src_ip, p.dst_ip, p.ip_id, p.ttl, v.tcp_seq, v.tcp_ack,
                  v.payload_length, p.inner ? p.inner->ip_id : -1};
            auto it = seen.find(k);
            if (it != seen.end()) {
                auto& a = all[it->second];
                a.points += ", " + pt;
                a.time = std::min(a.time, p.time);
                continue;
            }
            SeqArrow a;
            a.from = f->second;
            a.to = t->second;
            a.time = p.time;
            a.points = pt;
            a.upstream = v.has_ports && v.dst_port == 80;
            if (p.inner) {
                a.label = "ipip " + p.src_ip + " → " + p.dst_ip + " ttl " + std::to_string(p.ttl) +
                          (p.dscp > 0 ? " dscp " + std::to_string(p.dscp) : "");
                a.inner = label_of(*p.inner);
            } else {
                a.label = label_of(p);
            }
            seen[k] = all.size();
            all.push_back(std::move(a));
        }
    }
    // Capture-time order; on a tie (one host's two ends), the path order of the lanes.
    std::stable_sort(all.begin(), all.end(), [](const SeqArrow& a, const SeqArrow& b) { return a.time < b.time; });
    d.total = all.size();
    if (all.size() > max) all.resize(max);
    d.arrows = std::move(all);
    return d;
}

std::string sequence_svg(const SequenceDiagram& d, const std::string& id) {
    const int left = 90, spacing = 340, top = 50, row = 30, row2 = 44;
    const int lanes = static_cast<int>(d.lifelines.size());
    auto x = [&](int l) { return left + 90 + l * spacing; };
    int height = top + 20;
    for (const auto& a : d.arrows) height += a.inner.empty() ? row : row2;
    height += 20;
    int width = x(lanes - 1) + 120;
    std::ostringstream o;
    o << "<svg class=\"seq\" width=\"" << width << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " "
      << height << "\" font-family=\"monospace\" font-size=\"11\">\n";
    const char* colors[] = {"#1f5fa8", "#2a7a2a", "#7a3ea1"};  // toward the service, back, encapsulated
    o << "<defs>";
    for (int c = 0; c < 3; ++c)
        o << "<marker id=\"" << id << "-ah" << c << "\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" "
          << "markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"" << colors[c]
          << "\"/></marker>";
    o << "</defs>\n";
    const char* fills[] = {"#eee", "#dde4f5", "#fde2b8", "#d4ecd4"};
    for (int l = 0; l < lanes; ++l) {
        o << "<line x1=\"" << x(l) << "\" y1=\"" << top << "\" x2=\"" << x(l) << "\" y2=\"" << height - 8
          << "\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n";
        o << "<rect x=\"" << x(l) - 55 << "\" y=\"8\" width=\"110\" height=\"28\" rx=\"5\" fill=\"" << fills[l % 4]
          << "\" stroke=\"#333\"/>\n";
        o << "<text x=\"" << x(l) << "\" y=\"27\" text-anchor=\"middle\" font-weight=\"bold\">"
          << html_escape(d.lifelines[l]) << "</text>\n";
    }
    double t0 = d.arrows.empty() ? 0 : d.arrows.front().time;
    int y = top + 20;
    for (const auto& a : d.arrows) {
        int h = a.inner.empty() ? row : row2;
        int ay = y + h - 8;
        int ci = !a.inner.empty() ? 2 : a.upstream ? 0 : 1;
        const char* color = colors[ci];
        o << "<g><title>" << html_escape(a.label + (a.inner.empty() ? "" : " | inner " + a.inner) +
                                         "\ncaptured at " + a.points)
          << "</title>\n";
        char ms[32];
        std::snprintf(ms, sizeof ms, "+%.3f ms", (a.time - t0) * 1000.0);
        o << "<text x=\"4\" y=\"" << ay + 4 << "\" fill=\"#777\" font-size=\"10\">" << ms << "</text>\n";
        o << "<line x1=\"" << x(a.from) << "\" y1=\"" << ay << "\" x2=\"" << x(a.to) << "\" y2=\"" << ay
          << "\" stroke=\"" << color << "\" stroke-width=\"" << (a.inner.empty() ? 1.6 : 3)
          << "\" marker-end=\"url(#" << id << "-ah" << ci << ")\"/>\n";
        // The label sits above the arrow, starting at its tail, on a white backing so
        // it stays readable where it crosses a lifeline.
        bool rightward = a.to > a.from;
        int tx = rightward ? x(a.from) + 6 : x(a.from) - 6;
        const char* anchor = rightward ? "start" : "end";
        auto text = [&](int ty, const std::string& s, const char* fill) {
            o << "<text x=\"" << tx << "\" y=\"" << ty << "\" text-anchor=\"" << anchor << "\" fill=\"" << fill
              << "\" stroke=\"white\" stroke-width=\"3\" paint-order=\"stroke\">" << html_escape(s) << "</text>\n";
        };
        if (a.inner.empty()) {
            text(ay - 5, a.label, color);
        } else {
            text(ay - 17, a.label, color);
            text(ay - 5, "inner " + a.inner, "#333");
        }
        o << "</g>\n";
        y += h;
    }
    o << "</svg>\n";
    return o.str();
}

}  // namespace lab
