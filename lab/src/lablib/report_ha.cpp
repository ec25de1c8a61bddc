// The HA failover suite in the report: ha.html (a summary, then per mode the measured
// times, the whole run and each transition's close-up drawn by our own SVG code, the
// wire's timeline as a table, the checks, the pcaps, the commands), its results.json
// section and ha-<mode>.json (ha_json), its JUnit testsuite (one testcase per check),
// and the summary on index.html.
#include "lablib/ha.hpp"
#include "lablib/report.hpp"
#include "lablib/report_common.hpp"
#include "lablib/util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace lab {

using nlohmann::json;
using namespace report_common;

namespace {

json frame_json(const HaFrame& f, std::int64_t fault_ms) {
    if (!f.seen()) return nullptr;
    json j{{"t_ms", f.ms_after(fault_ms)}, {"time", f.time},       {"kind", to_string(f.kind)},
           {"node", f.node},               {"point", f.point},     {"index", f.index},
           {"src_mac", f.src_mac},         {"summary", f.summary}};
    if (!f.address.empty()) j["address"] = f.address;
    if (!f.arp_mac.empty()) j["arp_sender_mac"] = f.arp_mac;
    if (f.priority >= 0) j["priority"] = f.priority;
    return j;
}

json wire_json(const HaTransition& t) {
    const HaWire& w = t.wire;
    return json{{"times", "t_ms: milliseconds after fault_ms (packet times, 0.1 ms)"},
                {"new_first_advert", frame_json(w.new_first_advert, t.fault_ms)},
                {"old_last_advert", frame_json(w.old_last_advert, t.fault_ms)},
                {"old_last_any", frame_json(w.old_last_any, t.fault_ms)},
                {"old_adverts_after", w.old_adverts_after},
                {"old_forwarded_after", w.old_forwarded_after},
                {"priority_zero", w.priority_zero},
                {"garps", {{"count", w.garps},
                           {"first", frame_json(w.first_garp, t.fault_ms)},
                           {"last", frame_json(w.last_garp, t.fault_ms)},
                           {"addresses", w.garp_addresses},
                           {"sender_macs", w.garp_macs}}},
                {"first_forwarded", frame_json(w.first_forwarded, t.fault_ms)},
                {"forwarded_before", w.forwarded_before},
                {"first_to_new", frame_json(w.first_to_new, t.fault_ms)}};
}

std::string anchor(const HaRun& r) { return "ha-" + r.id(); }

// "+362.4 ms" (from a frame or a whole-ms time), or "-".
std::string rel(double ms) {
    if (std::isnan(ms)) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "%+.1f ms", ms);
    return b;
}
constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
double rel_frame(const HaFrame& f, const HaTransition& t) { return f.seen() ? f.ms_after(t.fault_ms) : kNone; }
double rel_ms(std::int64_t ms, const HaTransition& t) { return ms ? static_cast<double>(ms - t.fault_ms) : kNone; }

std::string ms_or_dash(long v) { return v < 0 ? "-" : std::to_string(v) + " ms"; }

std::string ms1(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f ms", v);
    return b;
}

// "412 ms (limit 510)", red when over.
std::string time_vs_limit(long v, long limit) {
    if (v < 0) return "<span class=\"fail\">never</span>";
    std::string s = std::to_string(v) + " ms <span class=\"small\">/ " + std::to_string(limit) + "</span>";
    return v <= limit ? s : "<span class=\"fail\">" + s + "</span>";
}

long takeover_limit(const HaRun& r, const HaTransition& t) {
    return r.master_down_ms + kTakeoverSlackMs + (&t == &r.failback ? r.advert_interval_ms : 0);
}

template <class Run>  // HaRun, HaGuardRun
size_t failed_checks(const Run& r) {
    return static_cast<size_t>(std::count_if(r.checks.begin(), r.checks.end(), [](const HaCheck& c) { return !c.ok; }));
}

// One row of a transition's wire table.
struct Event {
    double t = kNone;     // ms after the fault
    std::string what;
    std::string detail;
    const char* cls = "";
};

std::vector<Event> events(const HaRun& r, const HaTransition& t) {
    const HaWire& w = t.wire;
    auto frame = [](const HaFrame& f) {
        return f.seen() ? f.point + " #" + std::to_string(f.index) + ": " + f.summary : std::string("not captured");
    };
    std::vector<Event> ev;
    ev.push_back({rel_ms(t.issued_ms, t), "lab fault command issued", "", ""});
    ev.push_back({0, t.what + " in effect", &t == &r.failover ? "lbd gone (SIGKILL)" : "lbd's control socket answers", "ev-fault"});
    ev.push_back({rel_frame(w.old_last_advert, t), t.old_master + "'s last advert before " + t.new_master + "'s",
                  w.old_last_advert.seen() ? "priority " + std::to_string(w.old_last_advert.priority) + " from " +
                                                 w.old_last_advert.address + " (" + w.old_last_advert.src_mac + "); " +
                                                 frame(w.old_last_advert)
                                           : "not captured",
                  ""});
    ev.push_back({rel_ms(t.master_ms, t), t.new_master + " master (the engine's own time)",
                  t.reason.empty() ? "" : "reason " + t.reason, "ev-state"});
    ev.push_back({rel_frame(w.new_first_advert, t), t.new_master + "'s first advert",
                  w.new_first_advert.seen() ? "priority " + std::to_string(w.new_first_advert.priority) + " from " +
                                                  w.new_first_advert.address + " (" + w.new_first_advert.src_mac +
                                                  "); " + frame(w.new_first_advert)
                                            : "not captured",
                  "ev-advert"});
    if (w.garps) {
        ev.push_back({rel_frame(w.first_garp, t), t.new_master + "'s gratuitous ARPs begin",
                      std::to_string(w.garps) + " in all, for " + join(w.garp_addresses, ", ") + ", sender " +
                          join(w.garp_macs, ", ") + "; " + frame(w.first_garp),
                      "ev-garp"});
        ev.push_back({rel_frame(w.last_garp, t), t.new_master + "'s last gratuitous ARP", frame(w.last_garp), "ev-garp"});
    } else {
        ev.push_back({kNone, t.new_master + "'s gratuitous ARPs", "none captured", "ev-garp"});
    }
    ev.push_back({rel_frame(w.first_forwarded, t), t.new_master + "'s first forwarded frame",
                  frame(w.first_forwarded) +
                      (w.forwarded_before ? "; " + std::to_string(w.forwarded_before) + " forwarded before its first advert" : ""),
                  "ev-fwd"});
    ev.push_back({rel_frame(w.first_to_new, t), "first data frame to " + t.new_master + "'s MAC", frame(w.first_to_new),
                  "ev-to"});
    if (w.old_last_any.seen() && (!w.old_last_advert.seen() || w.old_last_any.time != w.old_last_advert.time))
        ev.push_back({rel_frame(w.old_last_any, t), t.old_master + "'s last advert",
                      std::to_string(w.old_adverts_after) + " adverts and " + std::to_string(w.old_forwarded_after) +
                          " forwarded frames more than " + std::to_string(r.advert_interval_ms) + " ms after " +
                          t.new_master + "'s first advert; " + frame(w.old_last_any),
                      ""});
    if (!t.old_state.empty())
        ev.push_back({rel_ms(t.old_change_ms, t), t.old_master + " " + t.old_state + " (the engine's own time)", "", "ev-state"});
    ev.push_back({rel_ms(t.first_ok_ms, t), "end of the first successful request started after the fault", "", "ev-ok"});
    ev.push_back({kNone, "priority-0 adverts", std::to_string(w.priority_zero) +
                      (&t == &r.failover ? " (a SIGKILLed engine sends none)" : " (only an engine that stops sends one)"), ""});
    std::stable_sort(ev.begin(), ev.end(), [](const Event& a, const Event& b) {
        if (std::isnan(a.t) || std::isnan(b.t)) return !std::isnan(a.t) && std::isnan(b.t);
        return a.t < b.t;
    });
    return ev;
}

const char* kHaStyle = R"(
svg.timeline { border: 1px solid #ddd; background: #fcfcfc; max-width: 100%; height: auto; }
table.wire td { font-size: 12px; } table.wire td.num { font-family: monospace; }
tr.ev-fault td:first-child { color: #c33; } tr.ev-state td:first-child { color: #1f5fa8; }
tr.ev-advert td:first-child { color: #1f5fa8; } tr.ev-garp td:first-child { color: #d9822b; }
tr.ev-fwd td:first-child { color: #2a8a2a; } tr.ev-to td:first-child { color: #7a3ea1; }
tr.ev-ok td:first-child { color: #2a8a2a; })";

constexpr const char* kAdvert = "#1f5fa8";
constexpr const char* kGarp = "#d9822b";
constexpr const char* kFwd = "#2a8a2a";
constexpr const char* kTo = "#7a3ea1";
constexpr const char* kFault = "#c33";

// A linear time axis in milliseconds (fractions kept) onto pixels.
struct Axis {
    double t0 = 0, t1 = 1, x0 = 0, x1 = 1;
    double x(double t) const { return t1 <= t0 ? x0 : x0 + (x1 - x0) * (t - t0) / (t1 - t0); }
    bool inside(double t) const { return t >= t0 && t <= t1; }
};

std::string tick_label(double ms, double step) {
    char b[32];
    if (step >= 1000)
        std::snprintf(b, sizeof b, "%.0f s", ms / 1000.0);
    else if (std::fmod(step, 100.0) == 0 && std::abs(ms) >= 1000)
        std::snprintf(b, sizeof b, "%.1f s", ms / 1000.0);
    else
        std::snprintf(b, sizeof b, "%.0f ms", ms);
    return b;
}

double tick_step(double span, int max_ticks) {
    for (double decade = 1;; decade *= 10)
        for (double m : {1.0, 2.0, 5.0})
            if (span / (m * decade) <= max_ticks) return m * decade;
}

// The axis, grid and label of a timeline: ticks at multiples of a round step of `origin`
// (a time that reads as 0).
void axis(std::ostringstream& o, const Axis& ax, double origin, int top, int bottom, const std::string& caption) {
    const double step = tick_step(ax.t1 - ax.t0, 12);
    for (double t = std::ceil((ax.t0 - origin) / step) * step; t + origin <= ax.t1; t += step) {
        if (std::abs(t) < step / 2) t = 0;  // not "-0 ms"
        const double x = ax.x(t + origin);
        o << "<line x1=\"" << num(x) << "\" y1=\"" << top << "\" x2=\"" << num(x) << "\" y2=\"" << bottom
          << "\" stroke=\"#eee\"/><line x1=\"" << num(x) << "\" y1=\"" << bottom << "\" x2=\"" << num(x) << "\" y2=\""
          << bottom + 4 << "\" stroke=\"#333\"/><text x=\"" << num(x) << "\" y=\"" << bottom + 16
          << "\" text-anchor=\"middle\" fill=\"#555\">" << tick_label(t, step) << "</text>\n";
    }
    o << "<line x1=\"" << num(ax.x0) << "\" y1=\"" << bottom << "\" x2=\"" << num(ax.x1) << "\" y2=\"" << bottom
      << "\" stroke=\"#333\"/><text x=\"" << num(ax.x1) << "\" y=\"" << bottom + 30
      << "\" text-anchor=\"end\" fill=\"#555\">" << html_escape(caption) << "</text>\n";
}

struct Marker {
    double t;  // ms, the axis' time
    std::string label;
    const char* stroke;
    bool dashed;
};

// Vertical lines with their labels in rows from the top (a label goes to the first row
// where it does not run into the previous one).
void markers(std::ostringstream& o, const Axis& ax, std::vector<Marker> ms, int bottom, int width) {
    std::sort(ms.begin(), ms.end(), [](const Marker& a, const Marker& b) { return a.t < b.t; });
    std::vector<double> row_end;
    for (const auto& m : ms) {
        if (std::isnan(m.t) || !ax.inside(m.t)) continue;
        const double x = ax.x(m.t);
        const double w = 6.2 * static_cast<double>(m.label.size());
        const bool left = x + w > width - 4;
        const double a = left ? x - w - 3 : x, b = left ? x : x + w + 3;
        size_t row = 0;
        while (row < row_end.size() && row_end[row] > a) ++row;
        if (row == row_end.size()) row_end.push_back(0);
        row_end[row] = b;
        const int y = 14 + static_cast<int>(row) * 13;
        o << "<line x1=\"" << num(x) << "\" y1=\"" << y - 10 << "\" x2=\"" << num(x) << "\" y2=\"" << bottom
          << "\" stroke=\"" << m.stroke << "\" stroke-width=\"1.3\"" << (m.dashed ? " stroke-dasharray=\"5,3\"" : "")
          << "/><text x=\"" << num(left ? x - 3 : x + 3) << "\" y=\"" << y << "\" text-anchor=\"" << (left ? "end" : "start")
          << "\" fill=\"" << m.stroke << "\" font-weight=\"bold\">" << html_escape(m.label) << "</text>\n";
    }
}

// Every advert and GARP of `node` in the axis' range as ticks on a lane at y.
// `origin_ms` (a wall_ms() time) is the axis' 0.
void vrrp_lane(std::ostringstream& o, const Axis& ax, const HaRun& r, const std::string& node, double origin_ms, int y,
               int h) {
    o << "<text x=\"" << num(ax.x0 - 6) << "\" y=\"" << y + h - 3 << "\" text-anchor=\"end\">" << html_escape(node)
      << "</text><line x1=\"" << num(ax.x0) << "\" y1=\"" << y + h << "\" x2=\"" << num(ax.x1) << "\" y2=\"" << y + h
      << "\" stroke=\"#ddd\"/>\n";
    for (const auto& f : r.vrrp) {
        if (f.node != node) continue;
        const double t = f.time * 1000.0 - origin_ms;
        if (!ax.inside(t)) continue;
        const bool garp = f.kind == HaFrame::Kind::garp;
        const char* color = garp ? kGarp : f.priority == 0 ? kFault : kAdvert;
        const double x = ax.x(t);
        char tip[64];
        std::snprintf(tip, sizeof tip, "%+.1f ms: ", t);
        std::string what = garp ? "GARP " + f.address : "advert priority " + std::to_string(f.priority);
        o << "<line x1=\"" << num(x) << "\" y1=\"" << (garp ? y + h / 2 : y) << "\" x2=\"" << num(x) << "\" y2=\""
          << (garp ? y + h : y + h / 2) << "\" stroke=\"" << color << "\" stroke-width=\"1.5\"><title>"
          << html_escape(tip + what + " (" + f.point + " #" + std::to_string(f.index) + ")") << "</title></line>\n";
    }
}

// The whole run: each engine's adverts (upper half of its lane) and GARPs (lower half),
// then the requests, each a bar from its start to its end in one of a few rows.
std::string overview_svg(const HaRun& r) {
    if (r.requests.empty() && r.vrrp.empty()) return "<p class=\"small\">(nothing recorded)</p>\n";
    const int width = 980, label_w = 70, right = 12, top = 50, lane_h = 18, rows = 16, row_h = 3;
    std::vector<std::string> nodes;
    for (const auto& p : r.ports)
        if (std::find(nodes.begin(), nodes.end(), p.node) == nodes.end()) nodes.push_back(p.node);
    const int req_y = top + static_cast<int>(nodes.size()) * (lane_h + 6) + 8;
    const int bottom = req_y + rows * row_h + 8;
    const double origin = static_cast<double>(r.loop_start_ms ? r.loop_start_ms : r.capture_start_ms);
    Axis ax;
    ax.t0 = 0;
    ax.t1 = 1;
    for (const auto& q : r.requests) ax.t1 = std::max(ax.t1, static_cast<double>(q.end_ms) - origin);
    if (r.capture_end_ms) ax.t1 = std::max(ax.t1, static_cast<double>(r.capture_end_ms) - origin);
    if (r.capture_start_ms) ax.t0 = std::min(ax.t0, static_cast<double>(r.capture_start_ms) - origin);
    ax.x0 = label_w;
    ax.x1 = width - right;
    std::ostringstream o;
    o << "<svg class=\"timeline\" width=\"" << width << "\" height=\"" << bottom + 34 << "\" viewBox=\"0 0 " << width << " "
      << bottom + 34 << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\" role=\"img\">\n<title>"
      << html_escape(r.title() + ": failover " + ms_or_dash(r.failover.takeover_ms()) + ", failback " +
                     ms_or_dash(r.failback.takeover_ms()))
      << "</title>\n";
    axis(o, ax, 0, top - 6, bottom, "time since the request loop started");
    for (size_t i = 0; i < nodes.size(); ++i)
        vrrp_lane(o, ax, r, nodes[i], origin, top + static_cast<int>(i) * (lane_h + 6), lane_h);
    o << "<text x=\"" << label_w - 6 << "\" y=\"" << req_y + rows * row_h / 2 + 4 << "\" text-anchor=\"end\">requests</text>\n";
    int n = 0;
    for (const auto& q : r.requests) {
        const double y = req_y + (n++ % rows) * row_h + 1;
        const double xa = ax.x(static_cast<double>(q.start_ms) - origin);
        const double xb = std::max(xa + 1.5, ax.x(static_cast<double>(q.end_ms) - origin));
        o << "<line x1=\"" << num(xa) << "\" y1=\"" << num(y) << "\" x2=\"" << num(xb) << "\" y2=\"" << num(y)
          << "\" stroke=\"" << (q.ok ? kFwd : kFault) << "\" stroke-width=\"2\"><title>request " << q.index << ": "
          << html_escape(q.ok ? q.server : "failed (" + failure_kind(q.reason) + "): " + q.reason) << "</title></line>\n";
    }
    auto at = [&](std::int64_t ms) { return ms ? static_cast<double>(ms) - origin : kNone; };
    std::vector<Marker> ms{
        {at(r.failover.fault_ms), r.failover.what, kFault, true},
        {at(r.failover.master_ms), r.failover.new_master + " master +" + std::to_string(r.failover.takeover_ms()) + " ms", kAdvert, false},
        {at(r.failback.fault_ms), r.failback.what, kFault, true},
        {at(r.failback.master_ms), r.failback.new_master + " master +" + std::to_string(r.failback.takeover_ms()) + " ms", kAdvert, false}};
    markers(o, ax, ms, bottom, width);
    o << "</svg>\n";
    return o.str();
}

// One transition up close, in ms after its fault: both engines' lanes with every
// advert and GARP, the first forwarded frame and the first frame to the new master as
// dots on the new master's lane, lines at the command, the fault, the state changes and
// the first successful request.
std::string closeup_svg(const HaRun& r, const HaTransition& t) {
    const HaWire& w = t.wire;
    std::vector<double> times{0};
    for (double v : {rel_ms(t.issued_ms, t), rel_frame(w.old_last_advert, t), rel_frame(w.new_first_advert, t),
                     rel_ms(t.master_ms, t), rel_frame(w.last_garp, t), rel_frame(w.first_forwarded, t),
                     rel_frame(w.first_to_new, t), rel_ms(t.first_ok_ms, t)})
        if (!std::isnan(v)) times.push_back(v);
    const double lo = *std::min_element(times.begin(), times.end());
    const double hi = *std::max_element(times.begin(), times.end());
    const double pad = std::max(20.0, (hi - lo) * 0.06);
    const int width = 980, label_w = 70, right = 12, lane_h = 22;
    std::vector<std::string> nodes;
    for (const auto& p : r.ports)
        if (std::find(nodes.begin(), nodes.end(), p.node) == nodes.end()) nodes.push_back(p.node);
    const int top = 74, bottom = top + static_cast<int>(nodes.size()) * (lane_h + 8) + 4;
    Axis ax{lo - pad, hi + pad, static_cast<double>(label_w), static_cast<double>(width - right)};
    const double origin = static_cast<double>(t.fault_ms);
    std::ostringstream o;
    o << "<svg class=\"timeline\" width=\"" << width << "\" height=\"" << bottom + 34 << "\" viewBox=\"0 0 " << width << " "
      << bottom + 34 << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\" role=\"img\">\n<title>"
      << html_escape(r.title() + ": " + t.what + " up close") << "</title>\n";
    axis(o, ax, 0, top - 6, bottom, "ms after " + t.what + "; hover a mark for its frame");
    for (size_t i = 0; i < nodes.size(); ++i) {
        const int y = top + static_cast<int>(i) * (lane_h + 8);
        vrrp_lane(o, ax, r, nodes[i], origin, y, lane_h);
        if (nodes[i] != t.new_master) continue;
        auto dot = [&](const HaFrame& f, const char* color, const std::string& what) {
            if (!f.seen()) return;
            o << "<circle cx=\"" << num(ax.x(f.ms_after(t.fault_ms))) << "\" cy=\"" << y + lane_h / 2 << "\" r=\"4\" fill=\""
              << color << "\" fill-opacity=\"0.8\"><title>" << html_escape(rel(f.ms_after(t.fault_ms)) + ": " + what + ": " + f.summary)
              << "</title></circle>\n";
        };
        dot(w.first_to_new, kTo, "first data frame to " + t.new_master);
        dot(w.first_forwarded, kFwd, "first forwarded frame");
    }
    std::vector<Marker> ms{{rel_ms(t.issued_ms, t), "command", "#999", true},
                           {0, t.what, kFault, true},
                           {rel_ms(t.master_ms, t), t.new_master + " master (engine)", kAdvert, false},
                           {rel_frame(w.new_first_advert, t), "first advert", kAdvert, true},
                           {rel_frame(w.first_forwarded, t), "first forwarded", kFwd, true},
                           {rel_ms(t.first_ok_ms, t), "first ok request", kFwd, false}};
    if (!t.old_state.empty()) ms.push_back({rel_ms(t.old_change_ms, t), t.old_master + " " + t.old_state, "#555", false});
    markers(o, ax, ms, bottom, width);
    o << "</svg>\n";
    return o.str();
}

// One paragraph: the guard scenario's result and its measured times.
std::string guard_summary(const HaGuardRun& g, const std::string& page) {
    std::ostringstream o;
    o << "<p><b><a href=\"" << page << "#ha-guard\">bad input and a split segment</a></b> " << badge(g.passed(), g.skipped);
    if (g.skipped) {
        o << " skipped: " << html_escape(g.skip_reason) << "</p>\n";
        return o.str();
    }
    o << " " << g.checks.size() - failed_checks(g) << "/" << g.checks.size()
      << " checks: malformed adverts counted by reason, a priority-254 third router obeyed (lb-a master again "
      << ms_or_dash(g.rogue_recover_ms) << " after its last advert), partition &rarr; lb-b master in "
      << ms_or_dash(g.split_master_ms) << ", heal &rarr; one master in " << ms_or_dash(g.heal_resolved_ms) << ".</p>\n";
    return o.str();
}

void summary_table(std::ostringstream& o, const std::vector<HaRun>& runs, const std::string& page) {
    o << "<table><tr><th rowspan=\"2\">mode</th><th colspan=\"5\">kill lb-a: ms after the kill</th>"
         "<th>start lb-a</th><th rowspan=\"2\">failed requests</th><th rowspan=\"2\">long-lived broken</th>"
         "<th rowspan=\"2\">idle held answer</th>"
         "<th rowspan=\"2\">checks</th><th rowspan=\"2\">result</th></tr>\n"
         "<tr><th>lb-b master (limit)</th><th>lb-b's first GARP</th><th>lb-b's first forwarded frame</th>"
         "<th>requests again</th><th>lb-b's first advert after lb-a's last (master-down)</th>"
         "<th>lb-a master (limit)</th></tr>\n";
    for (const auto& r : runs) {
        o << "<tr" << (r.passed() ? "" : " class=\"failrow\"") << "><td><b><a href=\"" << page << "#" << anchor(r) << "\">"
          << html_escape(r.title()) << "</a></b></td>";
        if (r.skipped) {
            o << "<td colspan=\"10\">skipped: " << html_escape(r.skip_reason) << "</td><td>" << badge(false, true)
              << "</td></tr>\n";
            continue;
        }
        const HaTransition& f = r.failover;
        const HaWire& w = f.wire;
        std::string gap = w.old_last_advert.seen() && w.new_first_advert.seen()
                              ? ms1((w.new_first_advert.time - w.old_last_advert.time) * 1000.0)
                              : "-";
        o << "<td class=\"num\">" << time_vs_limit(f.takeover_ms(), takeover_limit(r, f)) << "</td><td class=\"num\">"
          << rel(rel_frame(w.first_garp, f)) << "</td><td class=\"num\">" << rel(rel_frame(w.first_forwarded, f))
          << "</td><td class=\"num\">" << ms_or_dash(f.traffic_gap_ms()) << "</td><td class=\"num\">" << gap
          << " <span class=\"small\">/ " << r.master_down_ms << "</span></td><td class=\"num\">"
          << time_vs_limit(r.failback.takeover_ms(), takeover_limit(r, r.failback)) << "</td><td class=\"num\">"
          << f.failed + r.failback.failed + r.failed_outside_windows << " of " << r.requests.size()
          << "</td><td class=\"num\">" << r.broken_downloads() << " of " << r.downloads.size() << "</td><td class=\"num\">"
          << r.held_ok() << " of " << r.held << "</td><td class=\"num\">"
          << r.checks.size() - failed_checks(r) << "/" << r.checks.size() << "</td><td>" << pass_fail(r.passed())
          << "</td></tr>\n";
    }
    o << "</table>\n";
}

bool all_skipped(const std::vector<HaRun>& runs, const HaGuardRun* guard = nullptr) {
    return (!runs.empty() || guard) && std::all_of(runs.begin(), runs.end(), [](const HaRun& r) { return r.skipped; }) &&
           (!guard || guard->skipped);
}

bool all_passed(const std::vector<HaRun>& runs, const HaGuardRun* guard = nullptr) {
    return (!runs.empty() || guard) && std::all_of(runs.begin(), runs.end(), [](const HaRun& r) { return r.passed(); }) &&
           (!guard || guard->passed()) && !all_skipped(runs, guard);
}

}  // namespace

namespace report_common {

JunitCounts junit_counts(const HaRun& r) {
    const size_t n = std::max<size_t>(r.checks.size(), 1);
    if (r.skipped) return {n, 0, n};
    return {n, r.checks.empty() ? 1 : failed_checks(r), 0};
}

JunitCounts junit_counts(const HaGuardRun& r) {
    const size_t n = std::max<size_t>(r.checks.size(), 1);
    if (r.skipped) return {n, 0, n};
    return {n, r.checks.empty() ? 1 : failed_checks(r), 0};
}

}  // namespace report_common

json ha_json(const HaRun& run) {
    json j;
    j["suite"] = "ha";
    j["mode"] = run.mode;
    j["id"] = run.id();
    j["sync"] = run.sync;
    j["algorithm"] = run.algorithm;
    j["lab"] = run.lab;
    j["skipped"] = run.skipped;
    if (run.skipped) j["skip_reason"] = run.skip_reason;
    if (!run.error.empty()) j["error"] = run.error;
    j["passed"] = run.passed();
    j["seconds"] = run.seconds;
    j["vip"] = run.vip;
    j["master_down_interval_ms"] = run.master_down_ms;
    j["advert_interval_ms"] = run.advert_interval_ms;
    j["times_ms"] = {{"loop_start", run.loop_start_ms},
                     {"loop_end", run.loop_end_ms},
                     {"capture_start", run.capture_start_ms},
                     {"capture_end", run.capture_end_ms}};
    for (const HaTransition* t : {&run.failover, &run.failback}) {
        json tj{{"what", t->what},
                {"new_master", t->new_master},
                {"old_master", t->old_master},
                {"reason", t->reason},
                {"issued_ms", t->issued_ms},
                {"fault_ms", t->fault_ms},
                {"master_ms", t->master_ms},
                {"first_ok_ms", t->first_ok_ms},
                {"takeover_ms", t->takeover_ms()},
                {"traffic_gap_ms", t->traffic_gap_ms()},
                {"failed_requests", t->failed},
                {"wire", wire_json(*t)}};
        if (!t->old_state.empty()) tj["old_state"] = {{"state", t->old_state}, {"change_ms", t->old_change_ms}};
        j[t == &run.failover ? "failover" : "failback"] = tj;
    }
    j["requests"] = run.requests.size();
    j["failed_outside_windows"] = run.failed_outside_windows;
    j["long_lived"] = run.downloads.size();
    j["long_lived_broken"] = run.broken_downloads();
    j["held_idle"] = run.held;
    j["held_idle_answered"] = run.held_ok();
    j["held_idle_again"] = run.held_again;
    j["ports"] = json::array();
    for (const auto& p : run.ports)
        j["ports"].push_back({{"node", p.node}, {"point", p.point}, {"mac", p.mac}, {"ip", p.ip}});
    j["pcaps"] = json::object();
    for (const auto& [pt, path] : run.pcaps) j["pcaps"][pt] = path;
    // Compact: one entry per advert and GARP.
    j["vrrp_format"] = "[ms after times_ms.loop_start (0.1), node, advert|garp, priority (advert) or address (garp)]";
    auto& vj = j["vrrp"] = json::array();
    for (const auto& f : run.vrrp) {
        json v = json::array({f.ms_after(run.loop_start_ms), f.node, to_string(f.kind)});
        if (f.kind == HaFrame::Kind::garp) v.push_back(f.address);
        else v.push_back(f.priority);
        vj.push_back(v);
    }
    auto& tl = j["timeline"] = json::array();
    for (const auto& r : run.requests)
        tl.push_back({{"start_ms", r.start_ms}, {"end_ms", r.end_ms}, {"ok", r.ok}, {"server", r.server}, {"reason", r.reason}});
    j["checks"] = ha_checks_json(run.checks);
    j["notes"] = run.notes;
    return j;
}

json ha_checks_json(const std::vector<HaCheck>& checks) {
    json cj = json::array();
    for (const auto& c : checks)
        cj.push_back({{"name", c.name}, {"ok", c.ok}, {"expected", c.expected}, {"actual", c.actual}});
    return cj;
}

json ha_section_json(const std::vector<HaRun>& runs, const HaGuardRun* guard) {
    json j{{"passed", all_passed(runs, guard)}, {"skipped", all_skipped(runs, guard)}, {"modes", json::array()}};
    for (const auto& r : runs) j["modes"].push_back(ha_json(r));
    if (guard) j["guard"] = ha_guard_json(*guard);
    return j;
}

std::string ha_junit(const std::vector<HaRun>& runs, const HaGuardRun* guard) {
    std::ostringstream o;
    JunitCounts counts;
    double seconds = 0;
    for (const auto& r : runs) {
        counts += junit_counts(r);
        seconds += r.seconds;
    }
    // The guard scenario as one more "run" with the fields the testcases need.
    struct Entry {
        std::string cls;
        bool skipped;
        std::string skip_reason, error;
        const std::vector<HaCheck>* checks;
        const std::vector<std::string>* notes;
    };
    std::vector<Entry> entries;
    for (const auto& r : runs) entries.push_back({"ha." + r.id(), r.skipped, r.skip_reason, r.error, &r.checks, &r.notes});
    if (guard) {
        entries.push_back({"ha.guard", guard->skipped, guard->skip_reason, guard->error, &guard->checks, &guard->notes});
        counts += junit_counts(*guard);
    }
    junit_testsuite(o, "ha", counts, seconds);
    for (const auto& r : entries) {
        const std::string& cls = r.cls;
        if (r.checks->empty()) {
            o << "    <testcase classname=\"" << xml_escape(cls) << "\" name=\"lab\">";
            if (r.skipped) o << "<skipped message=\"" << xml_escape(r.skip_reason) << "\"/>";
            else o << "<failure message=\"" << xml_escape(r.error.empty() ? "no check was made" : r.error) << "\"/>";
            o << "</testcase>\n";
        }
        for (const auto& k : *r.checks) {
            o << "    <testcase classname=\"" << xml_escape(cls) << "\" name=\"" << xml_escape(k.name) << "\">";
            if (r.skipped) {
                o << "<skipped message=\"" << xml_escape(r.skip_reason) << "\"/>";
            } else if (!k.ok) {
                std::string msg = "expected " + k.expected + "; measured " + k.actual;
                o << "<failure message=\"" << xml_escape(msg) << "\">"
                  << xml_escape(k.name + ": " + msg + (r.error.empty() ? "" : "\n" + r.error) + "\n" + join(*r.notes, "\n"))
                  << "</failure>";
            }
            o << "</testcase>\n";
        }
    }
    o << "  </testsuite>\n";
    return o.str();
}

std::string ha_summary_html(const std::vector<HaRun>& runs, const HaGuardRun* guard) {
    std::ostringstream o;
    o << "<h2 id=\"ha\">HA failover " << badge(all_passed(runs, guard), all_skipped(runs, guard)) << "</h2>\n";
    o << "<p class=\"small\">Per mode an HA lab (lb-a VRRP priority 200, lb-b 100, flows synced): lb-a's engine is "
         "SIGKILLed while requests and long-lived downloads run through the VIP, lb-b takes over, lb-a is started again "
         "and preempts; both engines' ports are captured throughout. Timelines, the wire's events, checks, pcaps and "
         "commands: <a href=\"ha.html\">ha.html</a>.</p>\n";
    summary_table(o, runs, "ha.html");
    if (guard) o << guard_summary(*guard, "ha.html");
    return o.str();
}

std::string ha_html(const std::vector<HaRun>& runs, const std::string& generated, const HaGuardRun* guard) {
    std::ostringstream o;
    page_start(o, "lblab: HA failover", std::string(kHaStyle) + kCaseStyle,
               badge(all_passed(runs, guard), all_skipped(runs, guard)));
    size_t passed = static_cast<size_t>(std::count_if(runs.begin(), runs.end(), [](const HaRun& r) { return r.passed() && !r.skipped; }));
    o << "<p class=\"small\">" << (generated.empty() ? "" : "generated " + html_escape(generated) + "; ") << passed << " of "
      << runs.size() << " modes passed";
    if (generated.empty()) o << "; machine-readable: ha-MODE.json beside this page.</p>\n";
    else o << back_links("ha");
    o << "<p>Each mode runs in an HA lab of its own: lb-a (VRRP priority 200) and lb-b (100) on the front bridge, "
         "adverts every 100 ms, preemption on, flows synced between them (a \"no sync\" run leaves [sync] out and "
         "schedules by Maglev, whose choice the other engine repeats for a connection it never saw). A request loop "
         "in client1 (a new connection every 50 ms), 4 rate-limited downloads from client2 (about 9 s each) and 4 idle "
         "keep-alive connections from client2 (asked again after the failback) run through the VIP; after 1.5 s "
         "lb-a's engine is SIGKILLed (no priority-0 advert), lb-b takes over once its master-down interval passes "
         "without an advert; 2.5 s later lb-a's engine is started again and preempts. The engines' VRRP states are "
         "read from their control sockets every 20 ms (a change happened at the poll time minus its "
         "<span class=\"mono\">ago_ms</span>). tcpdump (snap length 256) runs at every port of both engines for the "
         "whole scenario; a frame an engine writes to its TAP is stamped as it enters the kernel, so a port's pcap "
         "shows what its engine sent and when. Capture and fault times are both CLOCK_REALTIME; the wire's times are "
         "given in ms after the fault took effect (the engine gone; the restarted engine's control socket "
         "answering).</p>\n";
    o << "<p class=\"legend\"><span><b style=\"color:" << kAdvert << "\">|</b> VRRP advert (upper half of a lane)</span>"
      << "<span><b style=\"color:" << kFault << "\">|</b> priority-0 advert</span><span><b style=\"color:" << kGarp
      << "\">|</b> gratuitous ARP (lower half)</span><span><b style=\"color:" << kFwd
      << "\">&#9679;</b> first forwarded frame</span><span><b style=\"color:" << kTo
      << "\">&#9679;</b> first data frame to the new master</span><span><b style=\"color:" << kFwd
      << "\">&mdash;</b>/<b style=\"color:" << kFault << "\">&mdash;</b> request ok / failed</span></p>\n";
    summary_table(o, runs, "");
    if (guard) o << guard_summary(*guard, "");
    for (const auto& r : runs) {
        o << "<h2 id=\"" << anchor(r) << "\">" << html_escape(r.title()) << " "
          << badge(r.passed(), r.skipped) << "</h2>\n";
        o << "<p class=\"small\">lab <span class=\"mono\">" << html_escape(r.lab) << "</span>, " << fmt_seconds(r.seconds);
        if (!r.pcaps.empty()) {
            o << "; pcaps:";
            for (const auto& [pt, path] : r.pcaps)
                o << " <a class=\"mono\" href=\"" << html_escape(path) << "\">" << html_escape(pt) << ".pcap</a>";
        }
        o << "</p>\n";
        skip_and_error(o, r.skipped ? r.skip_reason : "", r.error);
        if (r.skipped) continue;
        o << "<p>master-down interval " << r.master_down_ms << " ms (adverts every " << r.advert_interval_ms
          << " ms). Failover: " << html_escape(r.failover.new_master) << " master " << ms_or_dash(r.failover.takeover_ms())
          << " after the kill, first successful request " << ms_or_dash(r.failover.traffic_gap_ms()) << " after it, "
          << r.failover.failed << " failed requests. Failback: " << html_escape(r.failback.new_master) << " master "
          << ms_or_dash(r.failback.takeover_ms()) << " after its start (" << html_escape(r.failback.reason) << "), "
          << r.failback.failed << " failed. Long-lived downloads: " << r.downloads.size() - r.broken_downloads() << " of "
          << r.downloads.size() << " complete. Idle held connections answering again: " << r.held_ok() << " of "
          << r.held << ".</p>\n";
        o << overview_svg(r);
        for (const HaTransition* t : {&r.failover, &r.failback}) {
            o << "<section class=\"case\"><h3>" << html_escape(r.title() + ": " + t->what + ", " + t->new_master +
                                                             " takes over, on the wire")
              << "</h3>\n"
              << closeup_svg(r, *t);
            o << "<table class=\"wire\"><tr><th>ms after " << html_escape(t->what) << "</th><th>event</th><th>the frame "
                 "(capture point #frame: as decoded)</th></tr>\n";
            for (const auto& e : events(r, *t))
                o << "<tr class=\"" << e.cls << "\"><td class=\"num\">" << rel(e.t) << "</td><td>" << html_escape(e.what)
                  << "</td><td class=\"mono\">" << html_escape(e.detail) << "</td></tr>\n";
            o << "</table></section>\n";
        }
        o << "<h3>Checks</h3>\n";
        checks_table(o, r.checks, "check");
        o << "<h3>Commands and readings</h3>\n" << commands_pre(r.notes);
    }
    if (guard) o << ha_guard_html(*guard);
    o << "</body></html>\n";
    return o.str();
}

std::string ha_guard_html(const HaGuardRun& g) {
    std::ostringstream o;
    o << "<h2 id=\"ha-guard\">Bad input and a split segment (" << html_escape(g.mode) << ") "
      << badge(g.passed(), g.skipped) << "</h2>\n";
    if (g.skipped) {
        o << "<p>skipped: " << html_escape(g.skip_reason) << "</p>\n";
        return o.str();
    }
    o << "<p>An HA lab of its own. The router, a third box on the front segment, sends VRRP adverts built by "
         "<span class=\"mono\">lab_client vrrp-advert</span> (an encoder written apart from the engine's), each with "
         "one RFC 5798 &sect;7.1 check broken, 3 of each: both engines must count every one for its reason and change "
         "nothing. Then valid adverts at priority 254 for one second: lb-a (200) must yield and, one master-down "
         "interval after the last, take over again. Then <span class=\"mono\">lab fault lb-b partition</span> isolates "
         "the two engines' front ports on the bridge (dual master) and <span class=\"mono\">heal</span> joins them: one "
         "master by priority, and the router's ARP entry for the VIP back on lb-a.</p>\n";
    o << "<p>master-down interval lb-a " << g.master_down_a_ms << " ms, lb-b " << g.master_down_b_ms
      << " ms. Third router's last advert &rarr; lb-a master again: " << ms_or_dash(g.rogue_recover_ms)
      << ". Partition &rarr; lb-b master: " << ms_or_dash(g.split_master_ms) << ". Heal &rarr; one master: "
      << ms_or_dash(g.heal_resolved_ms) << ".</p>\n";
    if (!g.error.empty()) o << "<p class=\"diff\">" << html_escape(g.error) << "</p>\n";
    o << "<h3>Checks</h3>\n";
    checks_table(o, g.checks, "check");
    o << "<h3>Commands and readings</h3>\n" << commands_pre(g.notes);
    return o.str();
}

}  // namespace lab
