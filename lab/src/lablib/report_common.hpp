// report_common.hpp: the pieces the report writers share (report.cpp for index.html and
// junit.xml, report_algorithms.cpp, report_health.cpp, report_ha.cpp): the page head, badges, the
// checks table, readings, and the JUnit counts, <testsuite> line and <failure> of a
// suite of cases. Only the report writers include it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

#include "lablib/report.hpp"
#include "lablib/util.hpp"

namespace lab::report_common {

// "12.3" (one decimal): SVG coordinates.
std::string num(double v);

// "12.3 s".
std::string fmt_seconds(double s);

// The PASS, FAIL or SKIPPED badge (skipped wins).
std::string badge(bool ok, bool skipped = false);

// "pass" in green or "FAIL" in red: the result cell of a check or case.
std::string pass_fail(bool ok);

// The CSS of a suite page's case sections, readings and commands (to follow the
// page's own extra style).
extern const char* const kCaseStyle;

// From <!DOCTYPE html> through <body> (the shared style, then extra_style), then the
// page's <h1>: `title` (HTML, also the <title>) and `verdict` (a badge).
void page_start(std::ostream& o, const std::string& title, const std::string& extra_style, const std::string& verdict);

// The end of a suite page's first paragraph: ". Back to index.html; machine-readable:
// results.json (section SECTION), junit.xml.</p>" with the links.
std::string back_links(const std::string& section);

// "Skipped: REASON" and "Error:" with the error, each only when there is one.
void skip_and_error(std::ostream& o, const std::string& skip_reason, const std::string& error);

// "Readings" as a <h3> or <h4> (heading: "h3", "h4") and one item per note; nothing
// when there is none.
void readings(std::ostream& o, const std::vector<std::string>& notes, const char* heading);

// The commands in one <pre class="cmd">.
std::string commands_pre(const std::vector<std::string>& commands);

// A table of judged checks (AlgoCheck, HealthCheck: name, expected, actual, ok): the
// first column headed `first_header`, then expected, measured and the result; failed
// rows red.
template <class Check>
void checks_table(std::ostream& o, const std::vector<Check>& checks, const char* first_header) {
    o << "<table><tr><th>" << first_header << "</th><th>expected</th><th>measured</th><th>result</th></tr>\n";
    for (const auto& k : checks)
        o << "<tr" << (k.ok ? "" : " class=\"failrow\"") << "><td>" << html_escape(k.name)
          << "</td><td class=\"mono\">" << html_escape(k.expected) << "</td><td class=\"mono" << (k.ok ? "" : " diff")
          << "\">" << html_escape(k.actual) << "</td><td>" << pass_fail(k.ok) << "</td></tr>\n";
    if (checks.empty()) o << "<tr><td colspan=\"4\">no check was made</td></tr>\n";
    o << "</table>\n";
}

// The counts of a JUnit <testsuite> (or of them all).
struct JunitCounts {
    size_t tests = 0;
    size_t failures = 0;
    size_t skipped = 0;
    JunitCounts& operator+=(const JunitCounts& x) {
        tests += x.tests;
        failures += x.failures;
        skipped += x.skipped;
        return *this;
    }
};

// A run of cases (AlgoRun, or one mode's HealthModeRun) in JUnit: one test per case,
// or one for the lab when there is none; every test skipped when the run was, else the
// failed cases, or one failure for an error that left no case.
template <class Run>
JunitCounts junit_counts(const Run& r) {
    const size_t n = std::max<size_t>(r.cases.size(), 1);
    if (r.skipped()) return {n, 0, n};
    return {n, r.cases.empty() ? (r.error.empty() ? 0 : 1) : r.failed(), 0};
}

// An HA run (report_ha.cpp) in JUnit: one test per check (one when there is none),
// every one skipped when the run was, else the failed checks (or one failure).
JunitCounts junit_counts(const HaRun& r);
JunitCounts junit_counts(const HaGuardRun& r);  // the same, for the HA guard scenario

// `  <testsuite name="NAME" tests=.. failures=.. skipped=.. time="SECONDS">` (NAME escaped).
void junit_testsuite(std::ostream& o, const std::string& name, const JunitCounts& c, double seconds);

// The one <testcase name="lab"> of a run without cases (ModeRun, AlgoRun,
// HealthModeRun): <skipped> with the reason, <failure> with the error, or neither.
template <class Run>
void junit_lab_testcase(std::ostream& o, const std::string& classname, const Run& r) {
    o << "    <testcase classname=\"" << xml_escape(classname) << "\" name=\"lab\">";
    if (r.skipped())
        o << "<skipped message=\"" << xml_escape(r.skip_reason) << "\"/>";
    else if (!r.error.empty())
        o << "<failure message=\"" << xml_escape(r.error) << "\"/>";
    o << "</testcase>\n";
}

// The <failure> of a case that did not pass: its message the error or else the first
// failed check, its text every failed check (expected; measured) and the commands.
template <class Check>
std::string junit_failure(const std::string& error, const std::vector<Check>& checks,
                          const std::vector<std::string>& commands) {
    std::string msg = error, detail;
    for (const auto& k : checks) {
        if (k.ok) continue;
        if (msg.empty()) msg = k.name + ": expected " + k.expected + "; measured " + k.actual;
        detail += k.name + ": expected " + k.expected + "; measured " + k.actual + "\n";
    }
    if (msg.empty()) msg = "no check was made";
    return "<failure message=\"" + xml_escape(msg) + "\">" + xml_escape(detail + join(commands, "\n")) + "</failure>";
}

}  // namespace lab::report_common
