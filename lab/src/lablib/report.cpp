#include "lablib/report.hpp"

#include "lablib/modes.hpp"
#include "lablib/report_common.hpp"
#include "lablib/sequence.hpp"
#include "lablib/util.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

namespace lab {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace report_common;

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

namespace {

json ip_json(const IpView& p) {
    json j;
    j["src_ip"] = p.src_ip;
    j["dst_ip"] = p.dst_ip;
    j["protocol"] = p.protocol_name();
    j["ttl"] = p.ttl;
    j["dscp"] = p.dscp;
    j["ip_total_length"] = p.ip_total_length;
    if (p.has_ports) {
        j["src_port"] = p.src_port;
        j["dst_port"] = p.dst_port;
    }
    if (p.protocol == 6) j["tcp_flags"] = p.tcp_flags_string();
    if (p.is_icmp) {
        j["icmp_type"] = p.icmp_type;
        j["icmp_code"] = p.icmp_code;
        if (p.icmp_mtu >= 0) j["icmp_mtu"] = p.icmp_mtu;
        if (p.has_quoted) {
            j["quoted"] = {{"src_ip", p.quoted_src_ip}, {"dst_ip", p.quoted_dst_ip},
                           {"protocol", IpView{.protocol = p.quoted_protocol}.protocol_name()}};
            if (p.quoted_src_port >= 0) j["quoted"]["src_port"] = p.quoted_src_port;
            if (p.quoted_dst_port >= 0) j["quoted"]["dst_port"] = p.quoted_dst_port;
        }
    }
    j["checksums_valid"] = p.checksums.valid();
    j["checksums"] = p.checksums.describe();
    return j;
}

json packet_json(const Packet& p) {
    json j = p.is_ipv4 ? ip_json(p) : json::object();
    j["index"] = p.index;
    j["time"] = p.time;
    j["src_mac"] = p.src_mac;
    j["dst_mac"] = p.dst_mac;
    j["protocol"] = p.protocol_name();
    if (p.inner) j["inner"] = ip_json(*p.inner);
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

// The first packet of each hop: the selected packet of every Packet check with a hop.
std::vector<const CheckResult*> hop_rows(const ModeRun& m) {
    std::vector<const CheckResult*> rows;
    for (const auto& c : m.checks)
        if (c.kind == CheckKind::Packet && !c.hop.empty()) rows.push_back(&c);
    return rows;
}

// The facts of every mode as rows (scenario, name) in first-seen order, for the
// comparison table: one column per mode.
struct FactRow {
    std::string scenario;
    std::string name;
};

std::vector<FactRow> fact_rows(const RunResults& r) {
    std::vector<FactRow> rows;
    for (const auto& m : r.modes)
        for (const auto& f : m.facts) {
            bool have = std::any_of(rows.begin(), rows.end(), [&](const FactRow& x) {
                return x.scenario == f.scenario && x.name == f.name;
            });
            if (!have) rows.push_back({f.scenario, f.name});
        }
    // Scenario order as they run; facts keep their order within a scenario.
    const std::vector<std::string> order{"http", "udp", "icmp", "download", "upload"};
    auto rank = [&](const std::string& s) {
        return std::find(order.begin(), order.end(), s) - order.begin();
    };
    std::stable_sort(rows.begin(), rows.end(),
                     [&](const FactRow& a, const FactRow& b) { return rank(a.scenario) < rank(b.scenario); });
    return rows;
}

const Fact* find_fact(const ModeRun& m, const FactRow& row) {
    for (const auto& f : m.facts)
        if (f.scenario == row.scenario && f.name == row.name) return &f;
    return nullptr;
}

// The flow forms of a mode (its FactSpec), resolved for one scenario's Vars.
std::vector<Match> flow_matches(const ModeRun& m, const ScenarioRun& s) {
    std::vector<Match> out;
    try {
        for (const auto& x : find_mode(m.mode).facts.flow) out.push_back(x.resolved(s.vars));
    } catch (const std::exception&) {
        out.clear();
    }
    return out;
}

constexpr size_t kSequenceArrows = 24;

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
        json mj{{"mode", m.mode},       {"title", m.title},         {"summary", m.summary}, {"lab", m.lab},
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
            mj["facts"].push_back({{"name", f.name},
                                   {"scenario", f.scenario},
                                   {"value", f.value},
                                   {"summary", f.summary},
                                   {"numbers", f.numbers}});
        if (const ScenarioRun* http = m.scenario("http"); http && m.topo) {
            auto d = sequence_from_captures(*m.topo, *http, flow_matches(m, *http), kSequenceArrows);
            json sq{{"scenario", "http"}, {"lifelines", d.lifelines}, {"total", d.total}, {"arrows", json::array()}};
            for (const auto& a : d.arrows)
                sq["arrows"].push_back({{"from", d.lifelines[a.from]},
                                        {"to", d.lifelines[a.to]},
                                        {"time", a.time},
                                        {"label", a.label},
                                        {"inner", a.inner},
                                        {"points", a.points}});
            mj["sequence"] = sq;
        }
        mj["checks"] = json::array();
        for (const auto& c : m.checks) mj["checks"].push_back(check_json(c));
        j["modes"].push_back(mj);
    }
    // The facts side by side: one entry per fact, one value per mode.
    j["comparison"] = json::array();
    for (const auto& row : fact_rows(r)) {
        json cj{{"scenario", row.scenario}, {"fact", row.name}, {"modes", json::object()}};
        for (const auto& m : r.modes)
            if (const Fact* f = find_fact(m, row))
                cj["modes"][m.mode] = {{"summary", f->summary}, {"value", f->value}, {"numbers", f->numbers}};
        j["comparison"].push_back(cj);
    }
    if (r.algorithms) j["algorithms"] = algorithms_json(*r.algorithms);
    if (r.health) j["health"] = health_json(*r.health);
    if (r.has_ha()) j["ha"] = ha_section_json(r.ha, r.guard());
    return j;
}

std::string junit_xml(const RunResults& r) {
    std::ostringstream o;
    o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    JunitCounts total;
    for (const auto& m : r.modes) {
        total.tests += std::max<size_t>(m.checks.size(), 1);
        if (m.skipped()) total.skipped += std::max<size_t>(m.checks.size(), 1);
        else total.failures += m.failed() + (m.checks.empty() && !m.error.empty() ? 1 : 0);
    }
    if (r.algorithms) total += junit_counts(*r.algorithms);
    if (r.health)
        for (const auto& m : r.health->modes) total += junit_counts(m);
    for (const auto& h : r.ha) total += junit_counts(h);
    if (r.ha_guard) total += junit_counts(*r.ha_guard);
    o << "<testsuites name=\"lblab\" tests=\"" << total.tests << "\" failures=\"" << total.failures
      << "\" skipped=\"" << total.skipped << "\" time=\"" << r.seconds << "\">\n";
    for (const auto& m : r.modes) {
        junit_testsuite(o, m.mode,
                        {std::max<size_t>(m.checks.size(), 1), m.skipped() ? 0 : m.failed(),
                         m.skipped() ? m.checks.size() : 0},
                        m.seconds);
        if (m.checks.empty()) junit_lab_testcase(o, m.mode, m);
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
    if (r.algorithms) o << algorithms_junit(*r.algorithms);
    if (r.health) o << health_junit(*r.health);
    if (r.has_ha()) o << ha_junit(r.ha, r.guard());
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

std::string mode_anchor(const ModeRun& m) { return "mode-" + m.mode; }

// A short verdict for a mode: PASS, FAIL (n failed), SKIPPED.
std::string verdict(const ModeRun& m) {
    std::string b = badge(m.passed(), m.skipped());
    if (!m.skipped() && !m.passed())
        b += " <span class=\"small\">" + std::to_string(m.failed()) + " of " + std::to_string(m.checks.size()) +
             " checks failed" + (m.error.empty() ? "" : "; error") + "</span>";
    return b;
}

void comparison_section(std::ostringstream& o, const RunResults& r) {
    o << "<h2 id=\"compare\">The modes side by side</h2>\n";
    o << "<table class=\"compare\"><tr><th></th>";
    for (const auto& m : r.modes)
        o << "<th class=\"mode\"><a href=\"#" << html_escape(mode_anchor(m)) << "\">" << html_escape(m.mode)
          << "</a></th>";
    o << "</tr>\n<tr><th>what the LB does</th>";
    for (const auto& m : r.modes) o << "<td>" << html_escape(m.summary.empty() ? m.title : m.summary) << "</td>";
    o << "</tr>\n<tr><th>result</th>";
    for (const auto& m : r.modes) o << "<td>" << verdict(m) << "</td>";
    o << "</tr>\n";
    // The pass/fail matrix: checks passed per scenario.
    // Every scenario any mode ran, in the order the modes ran them ("-": not in that mode).
    std::vector<std::string> scenarios;
    for (const auto& m : r.modes)
        for (const auto& c : m.checks)
            if (std::find(scenarios.begin(), scenarios.end(), c.scenario) == scenarios.end())
                scenarios.push_back(c.scenario);
    for (const auto& sc : scenarios) {
        o << "<tr><th>checks: " << html_escape(sc) << "</th>";
        for (const auto& m : r.modes) {
            size_t n = 0, ok = 0;
            for (const auto& c : m.checks)
                if (c.scenario == sc) {
                    ++n;
                    ok += c.passed ? 1 : 0;
                }
            if (n == 0 || m.skipped()) {
                o << "<td>-</td>";
                continue;
            }
            o << "<td class=\"" << (ok == n ? "cell-pass" : "cell-fail") << "\"><a href=\"#"
              << html_escape(mode_anchor(m) + "-checks") << "\">" << ok << "/" << n << "</a></td>";
        }
        o << "</tr>\n";
    }
    std::string last;
    for (const auto& row : fact_rows(r)) {
        if (row.scenario != last) {
            o << "<tr><th colspan=\"" << r.modes.size() + 1 << "\" style=\"background:#e8ecf3\">measured in "
              << html_escape(row.scenario) << "</th></tr>\n";
            last = row.scenario;
        }
        o << "<tr><th>" << html_escape(row.name) << "</th>";
        for (const auto& m : r.modes) {
            const Fact* f = find_fact(m, row);
            if (!f) {
                o << "<td>-</td>";
                continue;
            }
            std::string sum = f->summary.empty() ? f->value : f->summary;
            std::string cls = starts_with(sum, "yes") ? " class=\"yes\"" : starts_with(sum, "no") ? " class=\"no\"" : "";
            o << "<td" << cls << " title=\"" << html_escape(f->value) << "\">" << html_escape(sum) << "</td>";
        }
        o << "</tr>\n";
    }
    o << "</table>\n<p class=\"small\">Hover a value for how it was measured. Packets and bytes are counted at the "
         "LB's ports from the captures (IP total length; an IPIP packet counts with its outer header).</p>\n";
}

std::string proto_cell(const IpView& p) {
    std::string s = p.protocol_name();
    if (p.protocol == 6) s += " [" + p.tcp_flags_string() + "]";
    if (p.is_icmp) {
        s += " " + std::to_string(p.icmp_type) + "/" + std::to_string(p.icmp_code);
        if (p.icmp_mtu >= 0) s += " mtu " + std::to_string(p.icmp_mtu);
    }
    return s;
}

void hop_table(std::ostringstream& o, const ModeRun& m, const std::vector<const CheckResult*>& rows) {
    o << "<table class=\"hops\"><tr><th>scenario</th><th>hop</th><th>captured at</th><th>src MAC</th>"
         "<th>dst MAC</th><th>src</th><th>dst</th><th>proto</th><th>DSCP</th><th>TTL</th><th>len</th>"
         "<th>inner packet (IPIP)</th><th>checksums</th><th>check</th></tr>\n";
    for (const auto* c : rows) {
        o << "<tr" << (c->passed ? "" : " class=\"failrow\"") << "><td>" << html_escape(c->scenario) << "</td><td>"
          << html_escape(c->hop) << "</td>";
        if (c->packet) {
            const Packet& p = *c->packet;
            o << "<td>" << html_escape(c->packet_point) << "</td><td>" << html_escape(p.src_mac) << "</td><td>"
              << html_escape(p.dst_mac) << "</td><td>" << html_escape(p.source()) << "</td><td>"
              << html_escape(p.destination()) << "</td><td>" << html_escape(proto_cell(p)) << "</td><td>" << p.dscp
              << "</td><td>" << p.ttl << "</td><td>" << p.ip_total_length << "</td><td class=\"inner\">";
            if (p.inner)
                o << html_escape(p.inner->source() + " → " + p.inner->destination() + " " + proto_cell(*p.inner) +
                                 " ttl " + std::to_string(p.inner->ttl) + " dscp " + std::to_string(p.inner->dscp));
            o << "</td><td>"
              << (p.checksums.valid() ? "<span class=\"pass\">ok</span>"
                                      : "<span class=\"fail\">" + html_escape(p.checksums.describe()) + "</span>")
              << "</td>";
        } else {
            o << "<td>" << html_escape(c->points) << "</td><td colspan=\"10\" class=\"fail\">"
              << html_escape(c->error.empty() ? "no packet" : c->error) << "</td>";
        }
        o << "<td><a href=\"#check-" << html_escape(c->name) << "\">"
          << (c->passed ? "<span class=\"pass\">pass</span>" : "<span class=\"fail\">fail</span>") << "</a></td></tr>\n";
    }
    o << "</table>\n";
}

void checks_table(std::ostringstream& o, const ModeRun& m) {
    o << "<h3 id=\"" << html_escape(mode_anchor(m) + "-checks") << "\">Checks (" << (m.checks.size() - m.failed())
      << "/" << m.checks.size() << " passed)</h3>\n";
    o << "<table><tr><th>check</th><th>scenario</th><th>hop</th><th>kind</th><th>where</th><th>result</th></tr>\n";
    for (const auto& c : m.checks) {
        o << "<tr id=\"check-" << html_escape(c.name) << "\"" << (c.passed ? "" : " class=\"failrow\"")
          << "><td><b class=\"mono\">" << html_escape(c.name) << "</b><br><span class=\"small\">"
          << html_escape(c.description) << "</span></td><td>" << html_escape(c.scenario) << "</td><td>"
          << html_escape(c.hop) << "</td><td>" << to_string(c.kind) << "</td><td class=\"mono\">"
          << html_escape(c.points) << (c.selector.empty() ? "" : "<br>" + html_escape(c.selector)) << "</td><td>"
          << pass_fail(c.passed) << "</td></tr>\n";
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
                o << "<div class=\"small\">packet #" << c.packet->index << " at " << html_escape(c.packet_point)
                  << ":</div><pre class=\"dump\">" << html_escape(c.packet->summary() + "\n" + c.packet->hexdump())
                  << "</pre>";
            o << "</td></tr>\n";
        }
    }
    o << "</table>\n";
}

void scenarios_table(std::ostringstream& o, const ModeRun& m) {
    o << "<h3>Scenarios and captures</h3>\n<table><tr><th>scenario</th><th>result</th><th>what ran</th>"
         "<th>answer</th><th>pcaps (packets)</th></tr>\n";
    for (const auto& s : m.scenarios) {
        o << "<tr" << (s.outcome.ok ? "" : " class=\"failrow\"") << "><td><b>" << html_escape(s.name)
          << "</b><br><span class=\"small\">" << html_escape(s.title) << "<br>" << fmt_seconds(s.seconds)
          << "</span></td><td>"
          << (s.outcome.ok ? "<span class=\"pass\">ok</span>"
                           : "<span class=\"fail\">failed</span><br>" + html_escape(s.outcome.error))
          << "</td><td><pre class=\"cmd\">" << html_escape(join(s.outcome.commands, "\n")) << "</pre></td><td><pre>"
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
}

void mode_section(std::ostringstream& o, const ModeRun& m) {
    o << "<h2 id=\"" << html_escape(mode_anchor(m)) << "\">" << html_escape(m.mode) << ": " << html_escape(m.title)
      << " " << badge(m.passed(), m.skipped()) << "</h2>\n";
    if (!m.summary.empty()) o << "<p>" << html_escape(m.summary) << ".</p>\n";
    o << "<p class=\"small\">lab <span class=\"mono\">" << html_escape(m.lab) << "</span>, " << fmt_seconds(m.seconds)
      << ", " << (m.checks.size() - m.failed()) << "/" << m.checks.size() << " checks passed";
    if (!m.teardown.empty()) o << "; teardown: " << html_escape(m.teardown);
    o << "</p>\n";
    skip_and_error(o, m.skip_reason, m.error);

    if (m.topo) {
        o << "<h3>Topology</h3>\n" << topology_svg(*m.topo);
        o << "<details><summary>addresses and MACs of every interface</summary>\n"
             "<table><tr><th>node</th><th>role</th><th>interface</th><th>netdev (namespace)</th>"
             "<th>segment</th><th>address</th><th>MAC</th></tr>\n";
        for (const auto& n : m.topo->nodes)
            for (const auto& i : n.ifaces)
                o << "<tr><td>" << html_escape(n.name) << "</td><td>" << html_escape(n.role) << "</td><td>"
                  << html_escape(i.name) << "</td><td class=\"mono\">" << html_escape(i.dev + " (" + i.netns + ")")
                  << "</td><td>" << html_escape(i.segment) << "</td><td class=\"mono\">" << html_escape(i.address)
                  << "</td><td class=\"mono\">" << html_escape(i.mac) << "</td></tr>\n";
        o << "</table></details>\n";
        std::string extra = "VIP " + m.topo->vip;
        if (!m.topo->proxy_ip.empty()) extra += ", proxy address (PIP) " + m.topo->proxy_ip;
        if (m.topo->dscp >= 0) extra += ", DSCP code " + std::to_string(m.topo->dscp);
        for (const auto& n : m.topo->nodes)
            if (!n.decap.empty()) extra += ", " + n.name + " decapsulates with " + (n.decap == "user" ? "lab_decap" : "the kernel's ipip");
        o << "<p class=\"small mono\">" << html_escape(extra) << "</p>\n";
    }

    // The hop table: http in full, the other scenarios folded.
    std::vector<const CheckResult*> http_rows, other_rows;
    for (const auto* c : hop_rows(m)) (c->scenario == "http" ? http_rows : other_rows).push_back(c);
    o << "<h3>Hop by hop: the first packet of each hop, as captured</h3>\n";
    hop_table(o, m, http_rows);
    if (!other_rows.empty()) {
        o << "<details><summary>the other scenarios (udp, icmp, download, upload): " << other_rows.size()
          << " hops</summary>\n";
        hop_table(o, m, other_rows);
        o << "</details>\n";
    }

    if (const ScenarioRun* http = m.scenario("http"); http && m.topo) {
        auto d = sequence_from_captures(*m.topo, *http, flow_matches(m, *http), kSequenceArrows);
        o << "<h3>Sequence: the first packets of the http scenario</h3>\n";
        if (d.arrows.empty()) {
            o << "<p class=\"small\">no packet of the flow was captured</p>\n";
        } else {
            o << "<p class=\"small legend\"><span style=\"color:#1f5fa8\">&#9632; toward the service</span>"
                 "<span style=\"color:#2a7a2a\">&#9632; back to the client</span>"
                 "<span style=\"color:#7a3ea1\">&#9632; encapsulated (IPIP)</span>"
                 "one arrow per frame per link, in capture-time order (the first "
              << d.arrows.size() << " of " << d.total << "); hover an arrow for where it was captured</p>\n";
            o << sequence_svg(d, "seq-" + m.mode);
        }
    }

    o << "<h3>Facts</h3>\n<table><tr><th>fact</th><th>scenario</th><th>value</th></tr>\n";
    for (const auto& f : m.facts)
        o << "<tr><td>" << html_escape(f.name) << "</td><td>" << html_escape(f.scenario) << "</td><td>"
          << html_escape(f.value) << "</td></tr>\n";
    if (m.facts.empty()) o << "<tr><td colspan=\"3\">none measured</td></tr>\n";
    o << "</table>\n";

    scenarios_table(o, m);
    checks_table(o, m);
}

}  // namespace

std::string html_report(const RunResults& r, bool bench_page) {
    std::ostringstream o;
    page_start(o, "lblab: L4 load balancer modes compared", "", badge(r.passed()));
    o << "<p class=\"small\">generated " << html_escape(r.started_at) << ", " << fmt_seconds(r.seconds) << "; ";
    if (r.modes.empty())
        o << "no forwarding mode ran in this run. ";
    else
        o << (r.total_checks() - r.failed_checks()) << " of " << r.total_checks()
          << " checks passed. Every mode ran in a fresh lab of network namespaces; every packet below was captured "
             "with tcpdump at the named interface, and its checksums were recomputed independently of the engine. ";
    o << "Machine-readable: <a href=\"results.json\">results.json</a>, <a href=\"junit.xml\">junit.xml</a>.</p>\n";
    if (r.algorithms)
        o << "<p class=\"small\">Scheduling algorithms: "
          << (r.algorithms->skipped()
                  ? std::string("skipped")
                  : std::to_string(r.algorithms->cases.size() - r.algorithms->failed()) + " of " +
                        std::to_string(r.algorithms->cases.size()) + " cases passed")
          << " (<a href=\"algorithms.html\">algorithms.html</a>).</p>\n";
    if (r.health)
        o << "<p class=\"small\">Health checks: "
          << (r.health->all_skipped() ? std::string("skipped")
                                      : std::to_string(r.health->total_cases() - r.health->failed_cases()) + " of " +
                                            std::to_string(r.health->total_cases()) + " cases passed")
          << " (<a href=\"health.html\">health.html</a>).</p>\n";
    if (r.has_ha()) {
        const auto ran = std::count_if(r.ha.begin(), r.ha.end(), [](const HaRun& h) { return !h.skipped; });
        const auto ok = std::count_if(r.ha.begin(), r.ha.end(), [](const HaRun& h) { return !h.skipped && h.passed(); });
        o << "<p class=\"small\">HA failover: "
          << (ran == 0 ? std::string("skipped") : std::to_string(ok) + " of " + std::to_string(ran) + " runs passed");
        if (r.ha_guard)
            o << "; bad input and a split segment: "
              << (r.ha_guard->skipped ? std::string("skipped") : r.ha_guard->passed() ? "passed" : "FAILED");
        o << " (<a href=\"ha.html\">ha.html</a>).</p>\n";
    }
    o << "<nav class=\"modes\">";
    for (const auto& m : r.modes)
        o << "<a href=\"#" << html_escape(mode_anchor(m)) << "\">" << html_escape(m.mode) << "</a>";
    if (r.algorithms) o << "<a href=\"#algorithms\">algorithms</a><a href=\"algorithms.html\">algorithms.html</a>";
    if (r.health) o << "<a href=\"#health\">health</a><a href=\"health.html\">health.html</a>";
    if (r.has_ha()) o << "<a href=\"#ha\">HA failover</a><a href=\"ha.html\">ha.html</a>";
    if (bench_page) o << "<a href=\"bench.html\">benchmarks (bench.html)</a>";
    o << "</nav>\n";
    if (!r.modes.empty()) comparison_section(o, r);
    for (const auto& m : r.modes) mode_section(o, m);
    if (r.algorithms) o << algorithms_summary_html(*r.algorithms);
    if (r.health) o << health_summary_html(*r.health);
    if (r.has_ha()) o << ha_summary_html(r.ha, r.guard());
    o << "</body></html>\n";
    return o.str();
}

void write_report(const RunResults& r, const fs::path& dir) {
    fs::create_directories(dir);
    write_file(dir / "results.json", results_json(r).dump(2) + "\n");
    write_file(dir / "junit.xml", junit_xml(r));
    // make bench writes bench.html beside the report (lab bench); the index links it.
    write_file(dir / "index.html", html_report(r, fs::exists(dir / "bench.html")));
    if (r.algorithms) write_file(dir / "algorithms.html", algorithms_html(*r.algorithms, r.started_at));
    if (r.health) write_file(dir / "health.html", health_html(*r.health, r.started_at));
    if (r.has_ha()) write_file(dir / "ha.html", ha_html(r.ha, r.started_at, r.guard()));
}

}  // namespace lab
