// The algorithms suite in the report: algorithms.html, its results.json section, its
// JUnit testsuite, the summary on index.html, and the bar charts (our own SVG).
#include "lablib/algorithms.hpp"
#include "lablib/report.hpp"
#include "lablib/report_common.hpp"
#include "lablib/util.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace lab {

using nlohmann::json;
using namespace report_common;

namespace {

std::string ms_cell(double v) {
    if (v < 0) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return b;
}

std::string long_cell(long v) { return v < 0 ? "-" : std::to_string(v); }

std::string pct(int n, int total) {
    if (total <= 0) return "-";
    char b[16];
    std::snprintf(b, sizeof b, "%.0f %%", 100.0 * n / total);
    return b;
}

// One line of counts: "server1 100 · server2 100 · server3 100".
std::string counts_line(const Distribution& d) {
    std::vector<std::string> parts;
    for (const auto& b : d.bars) parts.push_back(b.server + " " + std::to_string(b.count));
    if (d.failures) parts.push_back("failures " + std::to_string(d.failures));
    return join(parts, " · ");
}

json backend_json(const BackendState& b) {
    return {{"address", b.address},       {"state", b.state},         {"weight", b.weight},
            {"group", b.group},           {"established", b.established}, {"other", b.other},
            {"flows_total", b.flows_total}, {"rtt_ms", b.rtt_ms},     {"connect_ms", b.connect_ms},
            {"response_ms", b.response_ms}};
}

const char* kChartStyle = R"(
.charts { display: flex; flex-wrap: wrap; gap: 12px; margin: 0.6em 0 1em; }
svg.bars { border: 1px solid #ddd; background: #fcfcfc; })";

}  // namespace

std::string distribution_svg(const Distribution& d) {
    const int slot = 96, bar_w = 52, left = 36, top = 34, plot_h = 150, bottom = 46;
    const int n = static_cast<int>(d.bars.size());
    // Wide enough for every bar and for the title.
    const int width = std::max({260, left + n * slot + 16, static_cast<int>(d.label.size()) * 7 + 24});
    const int height = top + plot_h + bottom;
    double scale = 1;
    for (const auto& b : d.bars) {
        scale = std::max<double>(scale, b.count);
        if (b.min >= 0) scale = std::max<double>(scale, b.min);
        if (b.max >= 0) scale = std::max<double>(scale, b.max);
    }
    // Grid lines every `step` (1, 2 or 5 times a power of ten; about four of them).
    double step = 1;
    for (int k = 1; scale / step > 5; ++k) step = std::pow(10.0, k / 3) * (k % 3 == 0 ? 1 : k % 3 == 1 ? 2 : 5);
    scale *= 1.15;
    auto y_of = [&](double v) { return top + plot_h - v / scale * plot_h; };
    const int total = d.total();
    std::ostringstream o;
    o << "<svg class=\"bars\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height
      << "\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\" role=\"img\">\n";
    o << "<title>" << html_escape(d.label + ": " + counts_line(d)) << "</title>\n";
    o << "<text x=\"8\" y=\"16\" font-weight=\"bold\">" << html_escape(d.label) << "</text>\n";
    if (d.failures)
        o << "<text x=\"" << width - 8 << "\" y=\"28\" text-anchor=\"end\" fill=\"#b00\">failures " << d.failures
          << "</text>\n";
    for (double g = 0; g <= scale; g += step) {
        double y = y_of(g);
        o << "<line x1=\"" << left - 4 << "\" y1=\"" << num(y) << "\" x2=\"" << width - 8 << "\" y2=\"" << num(y)
          << "\" stroke=\"" << (g == 0 ? "#333" : "#e3e3e3") << "\"/>\n";
        o << "<text x=\"" << left - 6 << "\" y=\"" << num(y + 4) << "\" text-anchor=\"end\" fill=\"#777\">"
          << static_cast<long>(g + 0.5) << "</text>\n";
    }
    for (int i = 0; i < n; ++i) {
        const Bar& b = d.bars[i];
        const int x = left + 10 + i * slot;
        if (b.expected()) {
            double lo = std::max(0, b.min), hi = b.max < 0 ? scale : b.max;
            if (b.min >= 0 && b.min == b.max) {
                o << "<line x1=\"" << x - 6 << "\" y1=\"" << num(y_of(lo)) << "\" x2=\"" << x + bar_w + 6 << "\" y2=\""
                  << num(y_of(lo)) << "\" stroke=\"#1f5fa8\" stroke-width=\"2\" stroke-dasharray=\"5,3\"/>\n";
            } else {
                o << "<rect x=\"" << x - 6 << "\" y=\"" << num(y_of(hi)) << "\" width=\"" << bar_w + 12
                  << "\" height=\"" << num(std::max(1.0, y_of(lo) - y_of(hi)))
                  << "\" fill=\"#dfe9f7\" stroke=\"#1f5fa8\" stroke-dasharray=\"4,3\"/>\n";
            }
        }
        const char* fill = !b.expected() ? "#6b8fc9" : b.within() ? "#3f8f3f" : "#c93c3c";
        const double y = y_of(b.count);
        o << "<rect x=\"" << x << "\" y=\"" << num(y) << "\" width=\"" << bar_w << "\" height=\""
          << num(top + plot_h - y) << "\" fill=\"" << fill << "\" fill-opacity=\"0.9\"><title>"
          << html_escape(b.server + ": " + std::to_string(b.count) + " of " + std::to_string(total)) << "</title></rect>\n";
        o << "<text x=\"" << x + bar_w / 2 << "\" y=\"" << num(y - 4) << "\" text-anchor=\"middle\" font-weight=\"bold\">"
          << b.count << "</text>\n";
        o << "<text x=\"" << x + bar_w / 2 << "\" y=\"" << top + plot_h + 15 << "\" text-anchor=\"middle\">"
          << html_escape(b.server) << "</text>\n";
        o << "<text x=\"" << x + bar_w / 2 << "\" y=\"" << top + plot_h + 29
          << "\" text-anchor=\"middle\" fill=\"#666\">" << pct(b.count, total) << "</text>\n";
    }
    o << "</svg>\n";
    return o.str();
}

json algorithms_json(const AlgoRun& a) {
    json j{{"lab", a.lab},         {"vip", a.vip_name},     {"passed", a.passed()},
           {"skipped", a.skipped()}, {"skip_reason", a.skip_reason}, {"error", a.error},
           {"teardown", a.teardown}, {"seconds", a.seconds}, {"cases", json::array()}};
    for (const auto& c : a.cases) {
        json cj{{"name", c.name},         {"title", c.title},       {"expectation", c.expectation},
                {"passed", c.passed()},   {"error", c.error},       {"seconds", c.seconds},
                {"setup", c.setup},       {"commands", c.commands}, {"notes", c.notes},
                {"checks", json::array()}, {"distributions", json::array()}, {"backends", json::array()}};
        for (const auto& k : c.checks)
            cj["checks"].push_back({{"name", k.name}, {"expected", k.expected}, {"actual", k.actual}, {"ok", k.ok}});
        for (const auto& d : c.measured) {
            json dj{{"label", d.label}, {"command", d.command}, {"total", d.total()}, {"failures", d.failures},
                    {"counts", json::object()}, {"expected", json::object()}};
            for (const auto& b : d.bars) {
                dj["counts"][b.server] = b.count;
                if (b.expected())
                    dj["expected"][b.server] = {{"min", b.min < 0 ? json(nullptr) : json(b.min)},
                                                {"max", b.max < 0 ? json(nullptr) : json(b.max)}};
            }
            cj["distributions"].push_back(dj);
        }
        for (const auto& s : c.snapshots) {
            json sj{{"label", s.label}, {"backends", json::array()}};
            for (const auto& b : s.backends) sj["backends"].push_back(backend_json(b));
            cj["backends"].push_back(sj);
        }
        j["cases"].push_back(cj);
    }
    return j;
}

std::string algorithms_junit(const AlgoRun& a) {
    std::ostringstream o;
    junit_testsuite(o, "algorithms", junit_counts(a), a.seconds);
    if (a.cases.empty()) junit_lab_testcase(o, "algorithms", a);
    for (const auto& c : a.cases) {
        o << "    <testcase classname=\"algorithms\" name=\"" << xml_escape(c.name) << "\" time=\"" << c.seconds << "\">";
        if (!c.passed()) o << junit_failure(c.error, c.checks, c.commands);
        o << "</testcase>\n";
    }
    o << "  </testsuite>\n";
    return o.str();
}

std::string algorithms_summary_html(const AlgoRun& a) {
    std::ostringstream o;
    o << "<h2 id=\"algorithms\">Scheduling algorithms " << badge(a.passed(), a.skipped()) << "</h2>\n";
    o << "<p class=\"small\">Real clients in an inline lab of 3 servers; the engine set up at runtime with "
         "<span class=\"mono\">lab ctl</span> and <span class=\"mono\">lab delay</span>. Charts, commands and the "
         "engine's backend table per case: <a href=\"algorithms.html\">algorithms.html</a>.</p>\n";
    skip_and_error(o, a.skip_reason, a.error);
    o << "<table><tr><th>case</th><th>expected</th><th>measured</th><th>result</th></tr>\n";
    for (const auto& c : a.cases) {
        o << "<tr" << (c.passed() ? "" : " class=\"failrow\"") << "><td><a href=\"algorithms.html#case-"
          << html_escape(c.name) << "\"><b>" << html_escape(c.name) << "</b></a><br><span class=\"small\">"
          << html_escape(c.title) << "</span></td><td>" << html_escape(c.expectation) << "</td><td class=\"mono\">";
        for (const auto& d : c.measured)
            o << "<div>" << html_escape(d.label) << ": " << html_escape(counts_line(d)) << "</div>";
        if (!c.error.empty()) o << "<div class=\"fail\">" << html_escape(c.error) << "</div>";
        o << "</td><td>" << pass_fail(c.passed())
          << "</td></tr>\n";
    }
    o << "</table>\n";
    return o.str();
}

std::string algorithms_html(const AlgoRun& a, const std::string& generated) {
    std::ostringstream o;
    page_start(o, "lblab: scheduling algorithms", std::string(kChartStyle) + kCaseStyle, badge(a.passed(), a.skipped()));
    o << "<p class=\"small\">generated " << html_escape(generated) << "; lab <span class=\"mono\">"
      << html_escape(a.lab) << "</span> (inline, 3 servers), VIP <span class=\"mono\">" << html_escape(a.vip_name)
      << (a.topo ? " " + html_escape(a.topo->vip) + ":80" : "") << "</span>, " << fmt_seconds(a.seconds) << "; "
      << (a.cases.size() - a.failed()) << " of " << a.cases.size() << " cases passed";
    if (!a.teardown.empty()) o << "; teardown: " << html_escape(a.teardown);
    o << back_links("algorithms");
    o << "<p>Each case starts from the same state: <span class=\"mono\">algo rr</span>, "
         "<span class=\"mono\">min-active 1</span>, every server a backend with weight 1 in group 1, no server "
         "delayed (the commands under &ldquo;reset&rdquo;). Clients are real: <span class=\"mono\">lab_client "
         "http-many</span> makes new TCP connections one after another, one GET each, and counts which server "
         "answered (the body of GET / begins with the server's name); <span class=\"mono\">lab_client hold</span> "
         "keeps connections open. wlc and lc run first: they weigh the flows the engine still tracks (a closed "
         "connection stays in its table for the <span class=\"mono\">tcp_close</span> timeout, 10 s), and at "
         "that point the table holds only the lab's start-up probe. In the charts, a dashed line is an exact "
         "expectation and a dashed band a range; green bars meet it, red bars do not.</p>\n";
    skip_and_error(o, a.skip_reason, a.error);

    o << "<nav class=\"modes\">";
    for (const auto& c : a.cases)
        o << "<a href=\"#case-" << html_escape(c.name) << "\">" << html_escape(c.name) << "</a>";
    o << "</nav>\n";
    o << "<table><tr><th>case</th><th>expected</th><th>measured</th><th>result</th><th>time</th></tr>\n";
    for (const auto& c : a.cases) {
        o << "<tr" << (c.passed() ? "" : " class=\"failrow\"") << "><td><a href=\"#case-" << html_escape(c.name)
          << "\"><b>" << html_escape(c.name) << "</b></a><br><span class=\"small\">" << html_escape(c.title)
          << "</span></td><td>" << html_escape(c.expectation) << "</td><td class=\"mono\">";
        for (const auto& d : c.measured)
            o << "<div>" << html_escape(d.label) << ": " << html_escape(counts_line(d)) << "</div>";
        o << "</td><td>" << pass_fail(c.passed())
          << "</td><td class=\"num\">" << fmt_seconds(c.seconds) << "</td></tr>\n";
    }
    o << "</table>\n";

    for (const auto& c : a.cases) {
        o << "<section class=\"case\"><h2 id=\"case-" << html_escape(c.name) << "\">" << html_escape(c.name) << ": "
          << html_escape(c.title) << " " << badge(c.passed()) << "</h2>\n";
        o << "<p>" << html_escape(c.expectation) << ".</p>\n";
        if (!c.error.empty()) o << "<p class=\"fail\">Error: " << html_escape(c.error) << "</p>\n";
        if (!c.measured.empty()) {
            o << "<div class=\"charts\">\n";
            for (const auto& d : c.measured) o << distribution_svg(d);
            o << "</div>\n";
        }
        o << "<h3>Expected vs measured</h3>\n";
        checks_table(o, c.checks, "measurement");
        readings(o, c.notes, "h3");
        o << "<h3>Commands</h3>\n";
        if (!c.setup.empty())
            o << "<details><summary>reset to the common starting state (" << c.setup.size()
              << " commands)</summary><pre class=\"cmd\">" << html_escape(join(c.setup, "\n")) << "</pre></details>\n";
        o << commands_pre(c.commands);
        for (const auto& s : c.snapshots) {
            o << "<details><summary>lab ctl -- backends: " << html_escape(s.label) << "</summary>\n"
              << "<table><tr><th>backend</th><th>state</th><th>weight</th><th>group</th><th>established</th>"
                 "<th>other</th><th>flows total</th><th>rtt_ms (score)</th><th>connect_ms</th><th>response_ms</th></tr>\n";
            for (const auto& b : s.backends)
                o << "<tr><td class=\"mono\">" << html_escape(b.address) << "</td><td>" << html_escape(b.state)
                  << "</td><td class=\"num\">" << long_cell(b.weight) << "</td><td class=\"num\">" << long_cell(b.group)
                  << "</td><td class=\"num\">" << long_cell(b.established) << "</td><td class=\"num\">"
                  << long_cell(b.other) << "</td><td class=\"num\">" << long_cell(b.flows_total)
                  << "</td><td class=\"num\">" << ms_cell(b.rtt_ms) << "</td><td class=\"num\">" << ms_cell(b.connect_ms)
                  << "</td><td class=\"num\">" << ms_cell(b.response_ms) << "</td></tr>\n";
            o << "</table></details>\n";
        }
        o << "<p class=\"small\">" << fmt_seconds(c.seconds) << "</p></section>\n";
    }
    o << "</body></html>\n";
    return o.str();
}

}  // namespace lab
