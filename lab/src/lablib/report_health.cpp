// The health suite in the report: health.html (per mode and fault a timeline drawn by
// our own SVG code, the detection and recovery times against their limits, the checks,
// the readings and commands), its results.json section, its JUnit testsuite, and the
// summary on index.html.
#include "lablib/health.hpp"
#include "lablib/report.hpp"
#include "lablib/report_common.hpp"
#include "lablib/util.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

namespace lab {

using nlohmann::json;
using namespace report_common;

namespace {

std::string seconds_label(long ms, long step) {
    char b[32];
    if (step % 1000 == 0)
        std::snprintf(b, sizeof b, "%ld s", ms / 1000);
    else
        std::snprintf(b, sizeof b, "%.1f s", ms / 1000.0);
    return b;
}

std::string ms_or_dash(long v) { return v < 0 ? "-" : std::to_string(v) + " ms"; }

// "2012 ms (limit 2550)", red when over.
std::string time_vs_limit(long v, long limit) {
    if (v < 0) return "<span class=\"fail\">not seen</span>";
    std::string s = std::to_string(v) + " ms <span class=\"small\">/ " + std::to_string(limit) + "</span>";
    return v <= limit ? s : "<span class=\"fail\">" + s + "</span>";
}

const char* kServerColors[] = {"#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                               "#17becf", "#bcbd22", "#7f7f7f", "#ff7f0e"};
constexpr const char* kFailed = "#d62728";

std::string anchor(const FaultCase& c) { return "health-" + c.mode + "-" + c.name; }

int failed_before_detection(const FaultCase& c) { return c.failed_around_fault(); }

const char* kTimelineStyle = R"(
svg.timeline { border: 1px solid #ddd; background: #fcfcfc; max-width: 100%; height: auto; })";

}  // namespace

std::string timeline_svg(const FaultCase& c) {
    const int width = 980, label_w = 118, right = 16, top = 46;
    const int band_h = 12, band_gap = 4, lane_h = 16, axis_h = 34;
    // Bands: the faulted servers' web (and echo) state as polled.
    std::vector<std::pair<std::string, std::string>> bands;  // vip, server
    for (const auto& t : c.targets) bands.emplace_back("web", t);
    if (!c.all_down)
        for (const auto& t : c.targets) bands.emplace_back("echo", t);
    std::vector<std::string> lanes = c.servers;
    for (const auto& r : c.requests)
        if (r.ok && !r.server.empty() && std::find(lanes.begin(), lanes.end(), r.server) == lanes.end())
            lanes.push_back(r.server);
    lanes.push_back("failed");
    const int bands_y = top;
    const int lanes_y = bands_y + static_cast<int>(bands.size()) * (band_h + band_gap) + 10;
    const int plot_bottom = lanes_y + static_cast<int>(lanes.size()) * lane_h;
    const int height = plot_bottom + axis_h;

    TimeAxis ax;
    ax.t0 = c.loop_start_ms ? c.loop_start_ms : c.fault_ms;
    ax.t1 = std::max({c.loop_end_ms, c.up_ms, c.restore_ms, c.fault_ms, ax.t0 + 1});
    for (const auto& r : c.requests) {
        ax.t0 = std::min(ax.t0, r.start_ms);
        ax.t1 = std::max(ax.t1, r.end_ms);
    }
    for (const auto& ch : c.changes) ax.t1 = std::max(ax.t1, ch.at_ms);
    ax.x0 = label_w;
    ax.x1 = width - right;

    std::map<std::string, std::string> color;
    for (size_t i = 0; i < lanes.size(); ++i) color[lanes[i]] = kServerColors[i % 9];

    std::ostringstream o;
    o << "<svg class=\"timeline\" width=\"" << width << "\" height=\"" << height << "\" viewBox=\"0 0 " << width << " "
      << height << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\" role=\"img\">\n";
    o << "<title>" << html_escape(c.mode + " " + c.name + ": detected " + ms_or_dash(c.detect_ms()) + ", recovered " +
                                  ms_or_dash(c.recover_ms()))
      << "</title>\n";

    // Limit windows, under everything: from the fault (restore) to its limit.
    auto window = [&](std::int64_t from, long limit, const char* fill) {
        if (!from) return;
        double xa = ax.x(from), xb = std::min(ax.x1, ax.x(from + limit));
        o << "<rect x=\"" << num(xa) << "\" y=\"" << top - 6 << "\" width=\"" << num(std::max(0.0, xb - xa))
          << "\" height=\"" << plot_bottom - top + 6 << "\" fill=\"" << fill << "\" fill-opacity=\"0.35\"><title>"
          << "limit " << limit << " ms</title></rect>\n";
    };
    window(c.fault_ms, c.limits.detect_limit_ms(), "#fde0c5");
    window(c.restore_ms, c.limits.recover_limit_ms(), "#d9ecd3");

    // Grid and axis.
    const long step = ax.step_ms(12);
    for (long t : ax.ticks(12)) {
        double x = ax.x(ax.t0 + t);
        o << "<line x1=\"" << num(x) << "\" y1=\"" << top - 6 << "\" x2=\"" << num(x) << "\" y2=\"" << plot_bottom
          << "\" stroke=\"#eee\"/>\n";
        o << "<line x1=\"" << num(x) << "\" y1=\"" << plot_bottom << "\" x2=\"" << num(x) << "\" y2=\""
          << plot_bottom + 4 << "\" stroke=\"#333\"/>\n";
        o << "<text x=\"" << num(x) << "\" y=\"" << plot_bottom + 16 << "\" text-anchor=\"middle\" fill=\"#555\">"
          << seconds_label(t, step) << "</text>\n";
    }
    o << "<line x1=\"" << label_w << "\" y1=\"" << plot_bottom << "\" x2=\"" << width - right << "\" y2=\""
      << plot_bottom << "\" stroke=\"#333\"/>\n";
    o << "<text x=\"" << width - right << "\" y=\"" << plot_bottom + 30
      << "\" text-anchor=\"end\" fill=\"#555\">time since the request loop started; one mark per request, from its "
         "start to its end</text>\n";

    // State bands.
    for (size_t i = 0; i < bands.size(); ++i) {
        const auto& [vip, server] = bands[i];
        const int y = bands_y + static_cast<int>(i) * (band_h + band_gap);
        o << "<text x=\"" << label_w - 6 << "\" y=\"" << y + band_h - 2 << "\" text-anchor=\"end\">" << html_escape(vip)
          << " " << html_escape(server) << "</text>\n";
        std::vector<const StateChange*> mine;
        for (const auto& ch : c.changes)
            if (ch.vip == vip && ch.server == server) mine.push_back(&ch);
        for (size_t k = 0; k < mine.size(); ++k) {
            std::int64_t from = std::max(ax.t0, mine[k]->at_ms);
            std::int64_t to = k + 1 < mine.size() ? mine[k + 1]->at_ms : ax.t1;
            const std::string& st = mine[k]->state;
            const char* fill = st == "up" ? "#a6d99a" : st == "down" ? "#f4a582" : "#ccc";
            o << "<rect x=\"" << num(ax.x(from)) << "\" y=\"" << y << "\" width=\""
              << num(std::max(1.0, ax.x(to) - ax.x(from))) << "\" height=\"" << band_h << "\" fill=\"" << fill
              << "\"><title>" << html_escape(vip + " " + server + " " + st + (mine[k]->reason.empty() ? "" : ": " + mine[k]->reason))
              << "</title></rect>\n";
            if (ax.x(to) - ax.x(from) > 24)
                o << "<text x=\"" << num(ax.x(from) + 3) << "\" y=\"" << y + band_h - 2 << "\" font-size=\"9\">"
                  << html_escape(st) << "</text>\n";
        }
    }

    // Lanes and requests.
    for (size_t i = 0; i < lanes.size(); ++i) {
        const int y = lanes_y + static_cast<int>(i) * lane_h;
        const bool failed_lane = lanes[i] == "failed";
        o << "<text x=\"" << label_w - 6 << "\" y=\"" << y + lane_h - 4 << "\" text-anchor=\"end\" fill=\""
          << (failed_lane ? kFailed : color[lanes[i]]) << "\">" << html_escape(lanes[i]) << "</text>\n";
        o << "<line x1=\"" << label_w << "\" y1=\"" << y + lane_h << "\" x2=\"" << width - right << "\" y2=\""
          << y + lane_h << "\" stroke=\"#f0f0f0\"/>\n";
    }
    for (const auto& r : c.requests) {
        std::string lane = r.ok ? r.server : "failed";
        auto it = std::find(lanes.begin(), lanes.end(), lane);
        if (it == lanes.end()) continue;
        const int y = lanes_y + static_cast<int>(it - lanes.begin()) * lane_h + 3;
        const double xa = ax.x(r.start_ms), xb = std::max(xa + 2, ax.x(r.end_ms));
        std::string tip = "request " + std::to_string(r.index) + ": +" + std::to_string(r.start_ms - ax.t0) + " ms, " +
                          std::to_string(r.end_ms - r.start_ms) + " ms, " +
                          (r.ok ? r.server : "failed (" + failure_kind(r.reason) + ")" +
                                                 (r.server.empty() ? "" : " from " + r.server) + ": " + r.reason);
        o << "<rect x=\"" << num(xa) << "\" y=\"" << y << "\" width=\"" << num(xb - xa) << "\" height=\"" << lane_h - 6
          << "\" fill=\"" << (r.ok ? color[r.server] : kFailed) << "\" fill-opacity=\"0.85\"><title>" << html_escape(tip)
          << "</title></rect>\n";
    }

    // Markers.
    struct Marker {
        std::int64_t at;
        std::string label;
        const char* stroke;
        bool dashed;
        int row;
    };
    std::vector<Marker> markers;
    if (c.fault_ms) markers.push_back({c.fault_ms, "fault: " + c.fault_action, kFailed, true, 0});
    if (c.down_ms) markers.push_back({c.down_ms, "down seen +" + std::to_string(c.detect_ms()) + " ms", "#e6550d", false, 1});
    if (c.restore_ms) markers.push_back({c.restore_ms, "restore: " + c.restore_action, "#1f5fa8", true, 0});
    if (c.up_ms) markers.push_back({c.up_ms, "up seen +" + std::to_string(c.recover_ms()) + " ms", "#2a8a2a", false, 1});
    for (const auto& m : markers) {
        const double x = ax.x(m.at);
        const bool near_right = x > width - right - 150;
        o << "<line x1=\"" << num(x) << "\" y1=\"" << 8 + m.row * 14 << "\" x2=\"" << num(x) << "\" y2=\"" << plot_bottom
          << "\" stroke=\"" << m.stroke << "\" stroke-width=\"1.5\"" << (m.dashed ? " stroke-dasharray=\"5,3\"" : "")
          << "/>\n";
        o << "<text x=\"" << num(near_right ? x - 3 : x + 3) << "\" y=\"" << 16 + m.row * 14 << "\" text-anchor=\""
          << (near_right ? "end" : "start") << "\" fill=\"" << m.stroke << "\" font-weight=\"bold\">"
          << html_escape(m.label) << "</text>\n";
    }
    o << "</svg>\n";
    return o.str();
}

json health_json(const HealthRun& h) {
    json j{{"passed", h.passed()}, {"seconds", h.seconds}, {"cases", h.total_cases()}, {"failed", h.failed_cases()},
           {"modes", json::array()}};
    auto limits_json = [](const HealthLimits& l) {
        return json{{"interval_ms", l.interval_ms},         {"timeout_ms", l.timeout_ms},
                    {"rise", l.rise},                       {"fall", l.fall},
                    {"poll_ms", l.poll_ms},                 {"detect_limit_ms", l.detect_limit_ms()},
                    {"recover_limit_ms", l.recover_limit_ms()}};
    };
    auto opt_ms = [](long v) { return v < 0 ? json(nullptr) : json(v); };
    for (const auto& m : h.modes) {
        json mj{{"mode", m.mode},           {"lab", m.lab},         {"passed", m.passed()},
                {"skipped", m.skipped()},   {"skip_reason", m.skip_reason}, {"error", m.error},
                {"teardown", m.teardown},   {"seconds", m.seconds}, {"cases", json::array()}};
        for (const auto& c : m.cases) {
            json cj{{"name", c.name},
                    {"title", c.title},
                    {"passed", c.passed()},
                    {"error", c.error},
                    {"seconds", c.seconds},
                    {"targets", c.targets},
                    {"fault", c.fault_action},
                    {"restore", c.restore_action},
                    {"limits", {{"web", limits_json(c.limits)}, {"echo", limits_json(c.echo_limits)}}},
                    {"times_ms", {{"loop_start", c.loop_start_ms}, {"fault", c.fault_ms}, {"down_seen", c.down_ms},
                                  {"engine_down", c.engine_down_ms}, {"echo_down_seen", c.echo_down_ms},
                                  {"restore", c.restore_ms}, {"up_seen", c.up_ms}, {"engine_up", c.engine_up_ms},
                                  {"echo_up_seen", c.echo_up_ms}, {"loop_end", c.loop_end_ms}}},
                    {"detect_ms", opt_ms(c.detect_ms())},
                    {"engine_detect_ms", opt_ms(c.engine_detect_ms())},
                    {"recover_ms", opt_ms(c.recover_ms())},
                    {"engine_recover_ms", opt_ms(c.engine_recover_ms())},
                    {"echo_detect_ms", opt_ms(c.echo_detect_ms())},
                    {"echo_recover_ms", opt_ms(c.echo_recover_ms())},
                    {"failed_around_the_fault", failed_before_detection(c)},
                    {"checks", json::array()},
                    {"notes", c.notes},
                    {"commands", c.commands},
                    {"changes", json::array()},
                    {"requests", json::array()}};
            if (c.all_down)
                cj["all_down"] = {{"resets_before", c.resets_before}, {"resets_after", c.resets_after},
                                  {"curl_exit", c.curl_exit},         {"curl_ms", c.curl_ms},
                                  {"curl_stderr", c.curl_err}};
            for (const auto& k : c.checks)
                cj["checks"].push_back({{"name", k.name}, {"expected", k.expected}, {"actual", k.actual}, {"ok", k.ok}});
            for (const auto& ch : c.changes)
                cj["changes"].push_back({{"at_ms", ch.at_ms}, {"engine_ms", ch.engine_ms}, {"vip", ch.vip},
                                         {"server", ch.server}, {"state", ch.state}, {"reason", ch.reason}});
            // Compact: [start, end (ms after the loop started), ok, server, reason].
            cj["requests_format"] = "[start_ms, end_ms (after times_ms.loop_start), ok, server, reason]";
            for (const auto& r : c.requests)
                cj["requests"].push_back(json::array({r.start_ms - c.loop_start_ms, r.end_ms - c.loop_start_ms, r.ok,
                                                      r.server, r.reason}));
            mj["cases"].push_back(cj);
        }
        j["modes"].push_back(mj);
    }
    return j;
}

std::string health_junit(const HealthRun& h) {
    std::ostringstream o;
    JunitCounts counts;
    for (const auto& m : h.modes) counts += junit_counts(m);
    junit_testsuite(o, "health", counts, h.seconds);
    for (const auto& m : h.modes) {
        if (m.cases.empty()) junit_lab_testcase(o, "health." + m.mode, m);
        for (const auto& c : m.cases) {
            o << "    <testcase classname=\"health." << xml_escape(m.mode) << "\" name=\"" << xml_escape(c.name)
              << "\" time=\"" << c.seconds << "\">";
            if (m.skipped()) {
                o << "<skipped message=\"" << xml_escape(m.skip_reason) << "\"/>";
            } else if (!c.passed()) {
                o << junit_failure(c.error, c.checks, c.commands);
            }
            o << "</testcase>\n";
        }
    }
    o << "  </testsuite>\n";
    return o.str();
}

namespace {

void summary_table(std::ostringstream& o, const HealthRun& h, const std::string& page) {
    o << "<table><tr><th>mode</th><th>case</th><th>detected (limit)</th><th>engine</th><th>echo down</th>"
         "<th>recovered (limit)</th><th>engine</th><th>failed around the fault</th><th>result</th></tr>\n";
    for (const auto& m : h.modes) {
        if (m.skipped() || m.cases.empty()) {
            o << "<tr" << (m.skipped() ? "" : " class=\"failrow\"") << "><td><b>" << html_escape(m.mode)
              << "</b></td><td colspan=\"7\">"
              << html_escape(m.skipped() ? "skipped: " + m.skip_reason : "error: " + m.error) << "</td><td>"
              << badge(false, m.skipped()) << "</td></tr>\n";
            continue;
        }
        for (const auto& c : m.cases) {
            o << "<tr" << (c.passed() ? "" : " class=\"failrow\"") << "><td><b>" << html_escape(m.mode)
              << "</b></td><td><a href=\"" << page << "#" << anchor(c) << "\">" << html_escape(c.name) << "</a></td>"
              << "<td class=\"num\">" << time_vs_limit(c.detect_ms(), c.limits.detect_limit_ms()) << "</td>"
              << "<td class=\"num\">" << ms_or_dash(c.engine_detect_ms()) << "</td><td class=\"num\">"
              << (c.all_down ? "-" : c.echo_follows ? ms_or_dash(c.echo_detect_ms()) : c.echo_down_ms ? "<span class=\"fail\">went down</span>" : "stays up (right)")
              << "</td><td class=\"num\">" << time_vs_limit(c.recover_ms(), c.limits.recover_limit_ms())
              << "</td><td class=\"num\">" << ms_or_dash(c.engine_recover_ms()) << "</td><td class=\"num\">"
              << failed_before_detection(c) << " of " << c.requests.size() << "</td><td>"
              << pass_fail(c.passed()) << "</td></tr>\n";
        }
    }
    o << "</table>\n";
}

}  // namespace

std::string health_summary_html(const HealthRun& h) {
    std::ostringstream o;
    o << "<h2 id=\"health\">Health checks " << badge(h.passed(), h.all_skipped()) << "</h2>\n";
    o << "<p class=\"small\">In each mode's own lab, server1 is broken while a client makes a new connection every "
         "50 ms (kill-server, link-down, http-500), then mended; the engine's backend table is polled every 50 ms. "
         "Timelines, checks and commands per case: <a href=\"health.html\">health.html</a>.</p>\n";
    summary_table(o, h, "health.html");
    return o.str();
}

std::string health_html(const HealthRun& h, const std::string& generated) {
    std::ostringstream o;
    page_start(o, "lblab: health checks", std::string(kTimelineStyle) + kCaseStyle, badge(h.passed(), h.all_skipped()));
    o << "<p class=\"small\">generated " << html_escape(generated) << "; " << fmt_seconds(h.seconds) << "; "
      << (h.total_cases() - h.failed_cases()) << " of " << h.total_cases()
      << " cases passed" << back_links("health");
    o << "<p>Every mode runs in a lab of its own with 3 servers. The web VIP (TCP 80) is checked with HTTP GET "
         "/health expecting 200, the echo VIP (UDP 80) with a TCP connect to port 80; both every "
         "<span class=\"mono\">interval_ms</span>, each check failing after <span class=\"mono\">timeout_ms</span>, "
         "down after <span class=\"mono\">fall</span> failures and up after <span class=\"mono\">rise</span> passes "
         "(values from the lab's engine config). For each case, <span class=\"mono\">lab_client http-timeline</span> "
         "in client1 starts a new connection with one GET every 50 ms on a fixed schedule (connect timeout 500 ms) "
         "and prints each request's start, end, outcome and server; <span class=\"mono\">lab fault</span> breaks "
         "server1 at a recorded time, the engine's backend table is read every 50 ms until server1 is seen down; "
         "the fault is then mended and the table read until server1 is seen up. The limits: down within fall &times; "
         "interval + timeout (the first failing check can start up to an interval after the fault and takes up to the "
         "timeout) plus the poll period; up likewise with rise. After detection no request may fail or reach "
         "server1; requests in flight when the fault came, or sent to server1 before detection, may fail (counted, "
         "not judged). The engine's own time of a change is the poll time minus its <span class=\"mono\">since_ms</span>.</p>\n";
    o << "<p class=\"legend\"><span><b style=\"color:" << kFailed << "\">- - -</b> fault injected</span>"
         "<span><b style=\"color:#e6550d\">&mdash;</b> down seen</span><span><b style=\"color:#1f5fa8\">- - -</b> "
         "restore made</span><span><b style=\"color:#2a8a2a\">&mdash;</b> up seen</span><span><span "
         "style=\"background:#fde0c5\">&nbsp;&nbsp;&nbsp;</span> detection limit</span><span><span "
         "style=\"background:#d9ecd3\">&nbsp;&nbsp;&nbsp;</span> recovery limit</span><span><b style=\"color:"
      << kFailed << "\">&#9632;</b> failed request</span></p>\n";
    summary_table(o, h, "");

    for (const auto& m : h.modes) {
        o << "<h2 id=\"health-" << html_escape(m.mode) << "\">" << html_escape(m.title.empty() ? m.mode : m.title) << " "
          << badge(m.passed(), m.skipped()) << "</h2>\n";
        o << "<p class=\"small\">lab <span class=\"mono\">" << html_escape(m.lab) << "</span>, " << fmt_seconds(m.seconds);
        if (!m.teardown.empty()) o << "; teardown: " << html_escape(m.teardown);
        o << "</p>\n";
        skip_and_error(o, m.skip_reason, m.error);
        for (const auto& c : m.cases) {
            o << "<section class=\"case\"><h3 id=\"" << anchor(c) << "\">" << html_escape(m.mode + ": " + c.name) << " — "
              << html_escape(c.title) << " " << badge(c.passed()) << "</h3>\n";
            if (!c.error.empty()) o << "<p class=\"fail\">Error: " << html_escape(c.error) << "</p>\n";
            o << timeline_svg(c);
            o << "<table><tr><th>measured</th><th>value</th><th>limit</th></tr>\n";
            o << "<tr><td>detection: fault → " << html_escape(join(c.targets, ", ")) << " seen down (web)</td><td class=\"num\">"
              << time_vs_limit(c.detect_ms(), c.limits.detect_limit_ms()) << "</td><td>"
              << html_escape(c.limits.detect_formula()) << "</td></tr>\n";
            o << "<tr><td>the engine's own detection (poll time − since_ms)</td><td class=\"num\">"
              << ms_or_dash(c.engine_detect_ms()) << "</td><td></td></tr>\n";
            if (c.echo_follows)
                o << "<tr><td>echo VIP: fault → seen down (TCP check)</td><td class=\"num\">"
                  << time_vs_limit(c.echo_detect_ms(), c.echo_limits.detect_limit_ms()) << "</td><td>"
                  << html_escape(c.echo_limits.detect_formula()) << "</td></tr>\n";
            o << "<tr><td>recovery: restore → seen up (web)</td><td class=\"num\">"
              << time_vs_limit(c.recover_ms(), c.limits.recover_limit_ms()) << "</td><td>"
              << html_escape(c.limits.recover_formula()) << "</td></tr>\n";
            o << "<tr><td>the engine's own recovery</td><td class=\"num\">" << ms_or_dash(c.engine_recover_ms())
              << "</td><td></td></tr>\n";
            if (c.echo_follows)
                o << "<tr><td>echo VIP: restore → seen up</td><td class=\"num\">"
                  << time_vs_limit(c.echo_recover_ms(), c.echo_limits.recover_limit_ms()) << "</td><td>"
                  << html_escape(c.echo_limits.recover_formula()) << "</td></tr>\n";
            o << "<tr><td>requests (failed in flight or before detection)</td><td class=\"num\">" << c.requests.size()
              << " (" << failed_before_detection(c) << ")</td><td>reported, not judged</td></tr>\n";
            o << "</table>\n";
            checks_table(o, c.checks, "check");
            readings(o, c.notes, "h4");
            o << "<h4>Commands</h4>\n" << commands_pre(c.commands);
            if (!c.changes.empty()) {
                o << "<details><summary>backend states as polled (" << c.changes.size() << " changes)</summary>\n"
                  << "<table><tr><th>seen (ms after the fault)</th><th>engine</th><th>VIP</th><th>server</th><th>state</th>"
                     "<th>why</th></tr>\n";
                for (const auto& ch : c.changes)
                    o << "<tr><td class=\"num\">" << (c.fault_ms ? std::to_string(ch.at_ms - c.fault_ms) : "-")
                      << "</td><td class=\"num\">" << (c.fault_ms ? std::to_string(ch.engine_ms - c.fault_ms) : "-")
                      << "</td><td>" << html_escape(ch.vip) << "</td><td>" << html_escape(ch.server) << "</td><td>"
                      << html_escape(ch.state) << "</td><td class=\"mono\">" << html_escape(ch.reason) << "</td></tr>\n";
                o << "</table></details>\n";
            }
            o << "<p class=\"small\">" << fmt_seconds(c.seconds) << "</p></section>\n";
        }
    }
    o << "</body></html>\n";
    return o.str();
}

}  // namespace lab
