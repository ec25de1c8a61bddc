#include "lablib/report_common.hpp"

#include <cstdio>

namespace lab {

namespace {

const char* kStyle = R"(
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em; color: #222; max-width: 1500px; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ccc; padding-bottom: 0.2em; margin-top: 2.2em; }
h3 { margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.mono, .mono { font-family: monospace; }
td.num { text-align: right; white-space: nowrap; }
.pass { color: #0a6b0a; font-weight: bold; } .fail { color: #b00; font-weight: bold; }
.skip { color: #a60; font-weight: bold; }
tr.failrow { background: #fff0f0; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: 6px; font-size: 12px; margin: 0.3em 0;
      white-space: pre-wrap; word-break: break-all; max-width: 520px; }
td pre { max-width: 420px; } td pre.cmd { min-width: 300px; } td pre.dump { max-width: 1200px; }
.diff { color: #b00; } .small { font-size: 12px; color: #555; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; color: white; font-weight: bold; font-size: 13px; }
.badge.pass { background: #2a8a2a; color: white; } .badge.fail { background: #c33; color: white; }
.badge.skip { background: #c80; color: white; }
svg.topo, svg.seq { border: 1px solid #ddd; background: #fcfcfc; max-width: 100%; height: auto; }
table.compare th.mode { min-width: 150px; } table.compare td { font-size: 12px; }
table.compare td.yes { background: #eef7ee; } table.compare td.no { background: #fdf3e6; }
td.cell-pass { background: #eef7ee; } td.cell-fail { background: #fde8e8; }
table.hops td { font-family: monospace; font-size: 12px; white-space: nowrap; }
table.hops td.inner { color: #5a2d80; }
details { margin: 0.4em 0 1em; } summary { cursor: pointer; color: #235; }
nav.modes a { margin-right: 1.2em; }
.legend span { display: inline-block; margin-right: 1.5em; font-size: 12px; }
)";

}  // namespace

std::string report_style() { return kStyle; }

namespace report_common {

std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    return b;
}

std::string fmt_seconds(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f s", s);
    return b;
}

std::string badge(bool ok, bool skipped) {
    if (skipped) return "<span class=\"badge skip\">SKIPPED</span>";
    return ok ? "<span class=\"badge pass\">PASS</span>" : "<span class=\"badge fail\">FAIL</span>";
}

std::string pass_fail(bool ok) {
    return ok ? "<span class=\"pass\">pass</span>" : "<span class=\"fail\">FAIL</span>";
}

const char* const kCaseStyle = R"(
section.case { border-top: 2px solid #ccc; margin-top: 2em; }
ul.notes li { font-size: 13px; margin: 0.2em 0; }
pre.cmd { max-width: 1100px; }
)";

void page_start(std::ostream& o, const std::string& title, const std::string& extra_style, const std::string& verdict) {
    o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" << title << "</title>\n<style>"
      << report_style() << extra_style << "</style></head><body>\n";
    o << "<h1>" << title << " " << verdict << "</h1>\n";
}

std::string back_links(const std::string& section) {
    return ". Back to <a href=\"index.html\">index.html</a>; machine-readable: <a href=\"results.json\">results.json</a> "
           "(section <span class=\"mono\">" +
           section + "</span>), <a href=\"junit.xml\">junit.xml</a>.</p>\n";
}

void skip_and_error(std::ostream& o, const std::string& skip_reason, const std::string& error) {
    if (!skip_reason.empty()) o << "<p class=\"skip\">Skipped: " << html_escape(skip_reason) << "</p>\n";
    if (!error.empty()) o << "<p class=\"fail\">Error:</p><pre>" << html_escape(error) << "</pre>\n";
}

void readings(std::ostream& o, const std::vector<std::string>& notes, const char* heading) {
    if (notes.empty()) return;
    o << "<" << heading << ">Readings</" << heading << ">\n<ul class=\"notes\">";
    for (const auto& n : notes) o << "<li class=\"mono\">" << html_escape(n) << "</li>";
    o << "</ul>\n";
}

std::string commands_pre(const std::vector<std::string>& commands) {
    return "<pre class=\"cmd\">" + html_escape(join(commands, "\n")) + "</pre>\n";
}

void junit_testsuite(std::ostream& o, const std::string& name, const JunitCounts& c, double seconds) {
    o << "  <testsuite name=\"" << xml_escape(name) << "\" tests=\"" << c.tests << "\" failures=\"" << c.failures
      << "\" skipped=\"" << c.skipped << "\" time=\"" << seconds << "\">\n";
}

}  // namespace report_common
}  // namespace lab
