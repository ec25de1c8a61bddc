#include "lablib/report.hpp"

#include "lablib/util.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

namespace lab {

namespace fs = std::filesystem;
using nlohmann::json;

std::string html_escape(const std::string& s) {
    std::string o;
    o.reserve(s.size());
    for (char c : s) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            case '\'': o += "&#39;"; break;
            default: o += c;
        }
    }
    return o;
}

namespace {

std::string xml_escape(const std::string& s) {
    std::string o;
    for (unsigned char c : s) {
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r') continue;  // not allowed in XML 1.0
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            default: o += static_cast<char>(c);
        }
    }
    return o;
}

std::string fmt_seconds(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f s", s);
    return b;
}

json packet_json(const Packet& p) {
    json j;
    j["index"] = p.index;
    j["src_mac"] = p.src_mac;
    j["dst_mac"] = p.dst_mac;
    j["protocol"] = p.protocol_name();
    if (p.is_ipv4) {
        j["src_ip"] = p.src_ip;
        j["dst_ip"] = p.dst_ip;
        j["ttl"] = p.ttl;
        j["ip_total_length"] = p.ip_total_length;
    }
    if (p.has_ports) {
        j["src_port"] = p.src_port;
        j["dst_port"] = p.dst_port;
    }
    if (p.protocol == 6) j["tcp_flags"] = p.tcp_flags_string();
    if (p.is_icmp) {
        j["icmp_type"] = p.icmp_type;
        j["icmp_code"] = p.icmp_code;
    }
    j["checksums_valid"] = p.checksums.valid();
    j["checksums"] = p.checksums.describe();
    j["truncated"] = p.truncated;
    j["summary"] = p.summary();
    return j;
}

json topology_json(const Topology& t) {
    json j;
    j["lab"] = t.lab;
    j["mode"] = t.mode;
    j["vip"] = t.vip;
    j["servers"] = t.servers;
    j["nodes"] = json::array();
    for (const auto& n : t.nodes) {
        json nj{{"name", n.name}, {"role", n.role}, {"netns", n.netns}, {"ifaces", json::array()}};
        for (const auto& i : n.ifaces)
            nj["ifaces"].push_back({{"name", i.name},
                                    {"dev", i.dev},
                                    {"netns", i.netns},
                                    {"segment", i.segment},
                                    {"address", i.address},
                                    {"mac", i.mac}});
        j["nodes"].push_back(nj);
    }
    return j;
}

json check_json(const CheckResult& c) {
    json j{{"name", c.name},         {"description", c.description}, {"scenario", c.scenario},
           {"hop", c.hop},           {"kind", to_string(c.kind)},    {"points", c.points},
           {"selector", c.selector}, {"passed", c.passed},           {"error", c.error}};
    j["fields"] = json::array();
    for (const auto& f : c.fields)
        j["fields"].push_back(
            {{"name", f.name}, {"expected", f.expected}, {"actual", f.actual}, {"ok", f.ok}});
    if (c.packet) {
        j["packet"] = packet_json(*c.packet);
        j["packet"]["point"] = c.packet_point;
    }
    return j;
}

struct HopRow {
    std::string scenario;
    const CheckResult* check;
};

// The first packet of each hop: the selected packet of every Packet check with a hop.
std::vector<const CheckResult*> hop_rows(const ModeRun& m) {
    std::vector<const CheckResult*> rows;
    for (const auto& c : m.checks)
        if (c.kind == CheckKind::Packet && !c.hop.empty()) rows.push_back(&c);
    return rows;
}

}  // namespace

json results_json(const RunResults& r) {
    json j;
    j["generated"] = r.started_at;
    j["seconds"] = r.seconds;
    j["passed"] = r.passed();
    j["checks"] = r.total_checks();
    j["failed"] = r.failed_checks();
    j["modes"] = json::array();
    for (const auto& m : r.modes) {
        json mj{{"mode", m.mode},       {"title", m.title},         {"lab", m.lab},
                {"passed", m.passed()}, {"error", m.error},         {"skipped", m.skipped()},
                {"skip_reason", m.skip_reason}, {"teardown", m.teardown}, {"seconds", m.seconds}};
        if (m.topo) mj["topology"] = topology_json(*m.topo);
        mj["scenarios"] = json::array();
        for (const auto& s : m.scenarios) {
            json sj{{"name", s.name},           {"title", s.title},       {"ok", s.outcome.ok},
                    {"error", s.outcome.error}, {"commands", s.outcome.commands},
                    {"output", s.outcome.output}, {"values", s.outcome.values},
                    {"problems", s.problems},   {"seconds", s.seconds}};
            sj["pcaps"] = json::object();
            for (const auto& [pt, path] : s.pcaps) sj["pcaps"][pt] = path;
            if (s.stats_before) sj["lbctl_before"] = *s.stats_before;
            if (s.stats_after) sj["lbctl_after"] = *s.stats_after;
            mj["scenarios"].push_back(sj);
        }
        mj["hops"] = json::array();
        for (const auto* c : hop_rows(m)) {
            json hj{{"scenario", c->scenario}, {"hop", c->hop}, {"point", c->packet_point},
                    {"check", c->name}, {"passed", c->passed}};
            if (c->packet) hj["packet"] = packet_json(*c->packet);
            mj["hops"].push_back(hj);
        }
        mj["facts"] = json::array();
        for (const auto& f : m.facts)
            mj["facts"].push_back(
                {{"name", f.name}, {"scenario", f.scenario}, {"value", f.value}, {"numbers", f.numbers}});
        mj["checks"] = json::array();
        for (const auto& c : m.checks) mj["checks"].push_back(check_json(c));
        j["modes"].push_back(mj);
    }
    return j;
}

std::string junit_xml(const RunResults& r) {
    std::ostringstream o;
    o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    size_t tests = 0, failures = 0, skipped = 0;
    for (const auto& m : r.modes) {
        tests += std::max<size_t>(m.checks.size(), 1);
        if (m.skipped()) skipped += std::max<size_t>(m.checks.size(), 1);
        else failures += m.failed() + (m.checks.empty() && !m.error.empty() ? 1 : 0);
    }
    o << "<testsuites name=\"lblab\" tests=\"" << tests << "\" failures=\"" << failures
      << "\" skipped=\"" << skipped << "\" time=\"" << r.seconds << "\">\n";
    for (const auto& m : r.modes) {
        o << "  <testsuite name=\"" << xml_escape(m.mode) << "\" tests=\""
          << std::max<size_t>(m.checks.size(), 1) << "\" failures=\"" << (m.skipped() ? 0 : m.failed())
          << "\" skipped=\"" << (m.skipped() ? m.checks.size() : 0) << "\" time=\"" << m.seconds
          << "\">\n";
        if (m.checks.empty()) {
            o << "    <testcase classname=\"" << xml_escape(m.mode) << "\" name=\"lab\">";
            if (m.skipped())
                o << "<skipped message=\"" << xml_escape(m.skip_reason) << "\"/>";
            else if (!m.error.empty())
                o << "<failure message=\"" << xml_escape(m.error) << "\"/>";
            o << "</testcase>\n";
        }
        for (const auto& c : m.checks) {
            o << "    <testcase classname=\"" << xml_escape(m.mode + "." + c.scenario)
              << "\" name=\"" << xml_escape(c.name) << "\">";
            if (m.skipped()) {
                o << "<skipped message=\"" << xml_escape(m.skip_reason) << "\"/>";
            } else if (!c.passed) {
                std::string msg = c.error;
                for (const auto& f : c.fields)
                    if (!f.ok && msg.empty())
                        msg = f.name + ": expected " + f.expected + ", actual " + f.actual;
                o << "<failure message=\"" << xml_escape(msg) << "\">" << xml_escape(c.report())
                  << "</failure>";
            }
            o << "</testcase>\n";
        }
        o << "  </testsuite>\n";
    }
    o << "</testsuites>\n";
    return o.str();
}

std::string topology_svg(const Topology& t) {
    // Segments left to right in path order, unknown ones after.
    std::vector<std::string> segs;
    for (const char* s : {"clients", "front", "back", "remote"}) {
        for (const auto& n : t.nodes)
            for (const auto& i : n.ifaces)
                if (i.segment == s && std::find(segs.begin(), segs.end(), s) == segs.end())
                    segs.push_back(s);
    }
    for (const auto& n : t.nodes)
        for (const auto& i : n.ifaces)
            if (!i.segment.empty() && std::find(segs.begin(), segs.end(), i.segment) == segs.end())
                segs.push_back(i.segment);
    auto seg_index = [&](const std::string& s) {
        return static_cast<int>(std::find(segs.begin(), segs.end(), s) - segs.begin());
    };
    const int spacing = 420, box_w = 110, box_h = 34, row = 78, top = 60;
    const int margin = spacing / 2 + box_w / 2 + 10;
    auto bus_x = [&](int i) { return margin + i * spacing; };
    // Column of a node: between its two segments, or beside its only one.
    std::map<int, int> next_row;  // column x → rows used
    struct Placed {
        const Node* n;
        int x, y;
    };
    std::vector<Placed> placed;
    for (const auto& n : t.nodes) {
        // The switch is drawn as the segment lines themselves.
        if (n.ifaces.empty() || (n.role != "client" && n.role != "router" && n.role != "lb" &&
                                 n.role != "server"))
            continue;
        std::set<int> idx;
        for (const auto& i : n.ifaces) idx.insert(seg_index(i.segment));
        int x;
        if (idx.size() >= 2)
            x = (bus_x(*idx.begin()) + bus_x(*idx.rbegin())) / 2;
        else if (*idx.begin() == 0)
            x = bus_x(0) - spacing / 2;
        else
            x = bus_x(*idx.begin()) + spacing / 2;
        int r = next_row[x]++;
        placed.push_back({&n, x, top + 40 + r * row});
    }
    int rows = 1;
    for (auto& [x, n] : next_row) rows = std::max(rows, n);
    int height = top + 40 + rows * row + 10;
    int width = bus_x(static_cast<int>(segs.size()) - 1) + spacing / 2 + box_w / 2 + 20;
    std::ostringstream o;
    o << "<svg class=\"topo\" width=\"" << width
      << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " " << height
      << "\" font-family=\"monospace\" font-size=\"11\">\n";
    for (size_t i = 0; i < segs.size(); ++i) {
        int x = bus_x(static_cast<int>(i));
        std::string net;
        for (const auto& n : t.nodes)
            for (const auto& f : n.ifaces)
                if (f.segment == segs[i] && net.empty() && !f.address.empty()) {
                    // The network of the first address on this segment.
                    auto ip = f.ip();
                    auto dot = ip.rfind('.');
                    net = ip.substr(0, dot) + ".0/" + f.address.substr(f.address.find('/') + 1);
                }
        o << "<line x1=\"" << x << "\" y1=\"" << top << "\" x2=\"" << x << "\" y2=\"" << height - 5
          << "\" stroke=\"#557\" stroke-width=\"3\"/>\n";
        o << "<text x=\"" << x << "\" y=\"" << top - 28 << "\" text-anchor=\"middle\" font-weight=\"bold\">"
          << html_escape(segs[i]) << "</text>\n";
        o << "<text x=\"" << x << "\" y=\"" << top - 12 << "\" text-anchor=\"middle\">" << html_escape(net)
          << "</text>\n";
    }
    for (const auto& p : placed) {
        std::string fill = p.n->role == "lb" ? "#fde2b8" : p.n->role == "server" ? "#d4ecd4"
                           : p.n->role == "router" ? "#dde4f5" : "#eee";
        // Wires first, so boxes sit on top.
        int k = 0;
        for (const auto& i : p.n->ifaces) {
            int bx = bus_x(seg_index(i.segment));
            int y = p.y + (p.n->ifaces.size() > 1 && bx == p.x ? (k ? 8 : -8) : 0);
            int from = bx < p.x ? p.x - box_w / 2 : p.x + box_w / 2;
            o << "<line x1=\"" << from << "\" y1=\"" << y << "\" x2=\"" << bx << "\" y2=\"" << y
              << "\" stroke=\"#333\"/>\n";
            o << "<circle cx=\"" << bx << "\" cy=\"" << y << "\" r=\"3\" fill=\"#333\"/>\n";
            // Labels hug the segment line, on the node's side.
            bool left = p.x < bx;
            int tx = left ? bx - 6 : bx + 6;
            const char* anchor = left ? "end" : "start";
            std::string label = i.name + " " + (i.address.empty() ? "" : i.address);
            o << "<text x=\"" << tx << "\" y=\"" << y - 4 << "\" text-anchor=\"" << anchor << "\">"
              << html_escape(label) << "</text>\n";
            o << "<text x=\"" << tx << "\" y=\"" << y + 12 << "\" text-anchor=\"" << anchor
              << "\" fill=\"#666\">" << html_escape(i.mac) << "</text>\n";
            ++k;
        }
        o << "<rect x=\"" << p.x - box_w / 2 << "\" y=\"" << p.y - box_h / 2 << "\" width=\"" << box_w
          << "\" height=\"" << box_h << "\" rx=\"5\" fill=\"" << fill << "\" stroke=\"#333\"/>\n";
        o << "<text x=\"" << p.x << "\" y=\"" << p.y + 4 << "\" text-anchor=\"middle\" font-weight=\"bold\">"
          << html_escape(p.n->name) << "</text>\n";
        if (p.n->role == "lb") {
            o << "<text x=\"" << p.x << "\" y=\"" << p.y + box_h / 2 + 13
              << "\" text-anchor=\"middle\">VIP " << html_escape(t.vip) << "</text>\n";
        }
    }
    o << "</svg>\n";
    return o.str();
}

namespace {

const char* kStyle = R"(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.mono, .mono { font-family: monospace; }
.pass { color: #0a6b0a; font-weight: bold; } .fail { color: #b00; font-weight: bold; }
.skip { color: #a60; font-weight: bold; }
tr.failrow { background: #fff0f0; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 6px; font-size: 12px; margin: 0.3em 0;
      white-space: pre-wrap; word-break: break-all; max-width: 520px; }
td pre { max-width: 420px; } td pre.cmd { min-width: 300px; } td pre.dump { max-width: 1200px; }
.diff { color: #b00; } .small { font-size: 12px; color: #555; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; color: white; font-weight: bold; }
.badge.pass { background: #2a8a2a; color: white; } .badge.fail { background: #c33; color: white; }
.badge.skip { background: #c80; color: white; }
svg.topo { border: 1px solid #ddd; background: #fcfcfc; max-width: 100%; height: auto; }
)";

std::string badge(bool ok, bool skipped = false) {
    if (skipped) return "<span class=\"badge skip\">SKIPPED</span>";
    return ok ? "<span class=\"badge pass\">PASS</span>" : "<span class=\"badge fail\">FAIL</span>";
}

std::string endpoint(const Packet& p, bool src) {
    std::string s = src ? p.src_ip : p.dst_ip;
    if (p.has_ports) s += ":" + std::to_string(src ? p.src_port : p.dst_port);
    return s;
}

void mode_section(std::ostringstream& o, const ModeRun& m) {
    o << "<h2 id=\"mode-" << html_escape(m.mode) << "\">" << html_escape(m.title) << " "
      << badge(m.passed(), m.skipped()) << "</h2>\n";
    o << "<p class=\"small\">lab <span class=\"mono\">" << html_escape(m.lab) << "</span>, "
      << fmt_seconds(m.seconds) << ", " << (m.checks.size() - m.failed()) << "/" << m.checks.size()
      << " checks passed";
    if (!m.teardown.empty()) o << "; teardown: " << html_escape(m.teardown);
    o << "</p>\n";
    if (m.skipped()) o << "<p class=\"skip\">Skipped: " << html_escape(m.skip_reason) << "</p>\n";
    if (!m.error.empty()) o << "<p class=\"fail\">Error:</p><pre>" << html_escape(m.error) << "</pre>\n";

    if (m.topo) {
        o << "<h3>Topology</h3>\n" << topology_svg(*m.topo);
        o << "<table><tr><th>node</th><th>role</th><th>interface</th><th>netdev (namespace)</th>"
             "<th>segment</th><th>address</th><th>MAC</th></tr>\n";
        for (const auto& n : m.topo->nodes)
            for (const auto& i : n.ifaces)
                o << "<tr><td>" << html_escape(n.name) << "</td><td>" << html_escape(n.role)
                  << "</td><td>" << html_escape(i.name) << "</td><td class=\"mono\">"
                  << html_escape(i.dev + " (" + i.netns + ")") << "</td><td>" << html_escape(i.segment)
                  << "</td><td class=\"mono\">" << html_escape(i.address) << "</td><td class=\"mono\">"
                  << html_escape(i.mac) << "</td></tr>\n";
        o << "</table>\n<p class=\"small\">VIP <span class=\"mono\">" << html_escape(m.topo->vip)
          << "</span></p>\n";
    }

    o << "<h3>Hop by hop (first packet of each hop, from the captures)</h3>\n";
    o << "<table><tr><th>scenario</th><th>hop</th><th>captured at</th><th>src MAC</th><th>dst MAC</th>"
         "<th>src</th><th>dst</th><th>proto</th><th>TTL</th><th>checksums</th><th>check</th></tr>\n";
    for (const auto* c : hop_rows(m)) {
        o << "<tr" << (c->passed ? "" : " class=\"failrow\"") << "><td>" << html_escape(c->scenario)
          << "</td><td>" << html_escape(c->hop) << "</td>";
        if (c->packet) {
            const Packet& p = *c->packet;
            o << "<td class=\"mono\">" << html_escape(c->packet_point) << "</td><td class=\"mono\">"
              << html_escape(p.src_mac) << "</td><td class=\"mono\">" << html_escape(p.dst_mac)
              << "</td><td class=\"mono\">" << html_escape(endpoint(p, true))
              << "</td><td class=\"mono\">" << html_escape(endpoint(p, false)) << "</td><td>"
              << html_escape(p.protocol_name() +
                             (p.protocol == 6 ? " [" + p.tcp_flags_string() + "]" : "") +
                             (p.is_icmp ? " type " + std::to_string(p.icmp_type) : ""))
              << "</td><td>" << p.ttl << "</td><td>"
              << (p.checksums.valid() ? "<span class=\"pass\">ok</span>"
                                      : "<span class=\"fail\">" + html_escape(p.checksums.describe()) + "</span>")
              << "</td>";
        } else {
            o << "<td class=\"mono\">" << html_escape(c->points) << "</td><td colspan=\"7\" class=\"fail\">"
              << html_escape(c->error.empty() ? "no packet" : c->error) << "</td>";
        }
        o << "<td><a href=\"#check-" << html_escape(c->name) << "\">"
          << (c->passed ? "<span class=\"pass\">pass</span>" : "<span class=\"fail\">fail</span>")
          << "</a></td></tr>\n";
    }
    o << "</table>\n";

    o << "<h3>Facts</h3>\n<table><tr><th>fact</th><th>scenario</th><th>value</th></tr>\n";
    for (const auto& f : m.facts)
        o << "<tr><td>" << html_escape(f.name) << "</td><td>" << html_escape(f.scenario)
          << "</td><td>" << html_escape(f.value) << "</td></tr>\n";
    if (m.facts.empty()) o << "<tr><td colspan=\"3\">none measured</td></tr>\n";
    o << "</table>\n";

    o << "<h3>Scenarios</h3>\n<table><tr><th>scenario</th><th>result</th><th>what ran</th>"
         "<th>answer</th><th>captures</th></tr>\n";
    for (const auto& s : m.scenarios) {
        o << "<tr" << (s.outcome.ok ? "" : " class=\"failrow\"") << "><td><b>" << html_escape(s.name)
          << "</b><br><span class=\"small\">" << html_escape(s.title) << "<br>" << fmt_seconds(s.seconds)
          << "</span></td><td>"
          << (s.outcome.ok ? "<span class=\"pass\">ok</span>"
                           : "<span class=\"fail\">failed</span><br>" + html_escape(s.outcome.error))
          << "</td><td><pre class=\"cmd\">" << html_escape(join(s.outcome.commands, "\n"))
          << "</pre></td><td><pre>"
          << html_escape(s.outcome.output) << "</pre>";
        std::vector<std::string> vals;
        for (const auto& [k, v] : s.outcome.values) vals.push_back(k + " = " + v);
        o << "<div class=\"small mono\">" << html_escape(join(vals, "; ")) << "</div>";
        for (const auto& pr : s.problems) o << "<div class=\"fail small\">" << html_escape(pr) << "</div>";
        o << "</td><td>";
        for (const auto& [pt, path] : s.pcaps) {
            size_t n = 0;
            auto it = s.captures.packets.find(pt);
            if (it != s.captures.packets.end()) n = it->second.size();
            o << "<a class=\"mono\" href=\"" << html_escape(path) << "\">" << html_escape(pt)
              << ".pcap</a> <span class=\"small\">(" << n << ")</span><br>";
        }
        o << "</td></tr>\n";
    }
    o << "</table>\n";

    o << "<h3>Checks</h3>\n<table><tr><th>check</th><th>scenario</th><th>hop</th><th>kind</th>"
         "<th>where</th><th>result</th></tr>\n";
    for (const auto& c : m.checks) {
        o << "<tr id=\"check-" << html_escape(c.name) << "\"" << (c.passed ? "" : " class=\"failrow\"")
          << "><td><b class=\"mono\">" << html_escape(c.name) << "</b><br><span class=\"small\">"
          << html_escape(c.description) << "</span></td><td>" << html_escape(c.scenario) << "</td><td>"
          << html_escape(c.hop) << "</td><td>" << to_string(c.kind) << "</td><td class=\"mono\">"
          << html_escape(c.points) << (c.selector.empty() ? "" : "<br>" + html_escape(c.selector))
          << "</td><td>" << (c.passed ? "<span class=\"pass\">pass</span>" : "<span class=\"fail\">FAIL</span>")
          << "</td></tr>\n";
        if (!c.passed) {
            // The details get a full-width row of their own.
            o << "<tr class=\"failrow\"><td colspan=\"6\">";
            if (!c.error.empty()) o << "<div class=\"fail\">" << html_escape(c.error) << "</div>";
            if (!c.fields.empty()) {
                o << "<table><tr><th>field</th><th>expected</th><th>actual</th></tr>";
                for (const auto& f : c.fields)
                    o << "<tr" << (f.ok ? "" : " class=\"failrow\"") << "><td>" << html_escape(f.name)
                      << "</td><td class=\"mono\">" << html_escape(f.expected) << "</td><td class=\"mono"
                      << (f.ok ? "" : " diff") << "\">" << html_escape(f.actual) << "</td></tr>";
                o << "</table>";
            }
            if (c.packet)
                o << "<div class=\"small\">packet #" << c.packet->index << " at "
                  << html_escape(c.packet_point) << ":</div><pre class=\"dump\">"
                  << html_escape(c.packet->summary() + "\n" + c.packet->hexdump()) << "</pre>";
            o << "</td></tr>\n";
        }
    }
    o << "</table>\n";
}

}  // namespace

std::string html_report(const RunResults& r) {
    std::ostringstream o;
    o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
         "<title>lblab conformance report</title>\n<style>"
      << kStyle << "</style></head><body>\n";
    o << "<h1>lblab: L4 load balancer conformance " << badge(r.passed()) << "</h1>\n";
    o << "<p class=\"small\">generated " << html_escape(r.started_at) << ", " << fmt_seconds(r.seconds)
      << "; " << (r.total_checks() - r.failed_checks()) << " of " << r.total_checks()
      << " checks passed. Every packet below was captured with tcpdump at the named interface; "
         "checksums are recomputed independently of the engine. Machine-readable: "
         "<a href=\"results.json\">results.json</a>, <a href=\"junit.xml\">junit.xml</a>.</p>\n";
    o << "<table><tr><th>mode</th><th>result</th><th>checks passed</th><th>lab</th></tr>\n";
    for (const auto& m : r.modes)
        o << "<tr><td><a href=\"#mode-" << html_escape(m.mode) << "\">" << html_escape(m.title)
          << "</a></td><td>" << badge(m.passed(), m.skipped()) << "</td><td>"
          << (m.checks.size() - m.failed()) << "/" << m.checks.size() << "</td><td class=\"mono\">"
          << html_escape(m.lab) << "</td></tr>\n";
    o << "</table>\n";
    for (const auto& m : r.modes) mode_section(o, m);
    o << "</body></html>\n";
    return o.str();
}

void write_report(const RunResults& r, const fs::path& dir) {
    fs::create_directories(dir);
    write_file(dir / "results.json", results_json(r).dump(2) + "\n");
    write_file(dir / "junit.xml", junit_xml(r));
    write_file(dir / "index.html", html_report(r));
}

}  // namespace lab
