// report.hpp: the results of `lab run` as a self-contained HTML page (index.html: the
// topology, per mode the hop-by-hop header table, the facts, every check with
// expected vs actual on failures, links to every pcap; a summary of the algorithms
// suite, whose own page is algorithms.html), as JSON (results.json) and as JUnit XML
// (junit.xml).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "lablib/ha.hpp"
#include "lablib/ha_guard.hpp"
#include "lablib/health.hpp"
#include "lablib/run.hpp"

namespace lab {

nlohmann::json results_json(const RunResults& r);
std::string junit_xml(const RunResults& r);
// bench_page: a bench.html (lab bench) sits beside it, and the page links it.
std::string html_report(const RunResults& r, bool bench_page = false);
// An inline SVG drawing of a topology: one vertical line per segment, nodes as boxes
// wired to the segments of their interfaces, each wire labelled with address and MAC.
std::string topology_svg(const Topology& t);

// Writes the three files into `dir` (created if needed), algorithms.html when the
// algorithms suite ran, health.html when the health suite did and ha.html when the HA
// suite did. Throws Error.
void write_report(const RunResults& r, const std::filesystem::path& dir);

std::string html_escape(const std::string& s);
// Escapes text for XML 1.0 attributes and content (drops the control characters it forbids).
std::string xml_escape(const std::string& s);
// The CSS every report page shares.
std::string report_style();

// The algorithms suite (report_algorithms.cpp): its section of results.json, its page
// algorithms.html (per case the commands, expected vs measured, a bar chart per
// distribution, the engine's backends), its <testsuite> of junit.xml (one testcase per
// case), and its short summary on index.html.
nlohmann::json algorithms_json(const AlgoRun& a);
std::string algorithms_html(const AlgoRun& a, const std::string& generated);
std::string algorithms_junit(const AlgoRun& a);
std::string algorithms_summary_html(const AlgoRun& a);

// The health suite (report_health.cpp): its section of results.json, its page
// health.html (per mode and case a timeline SVG, detection and recovery against their
// limits, the checks, readings and commands), its <testsuite> of junit.xml (one
// testcase per mode and case, classname health.<mode>), and its summary on index.html.
nlohmann::json health_json(const HealthRun& h);
std::string health_html(const HealthRun& h, const std::string& generated);
std::string health_junit(const HealthRun& h);
std::string health_summary_html(const HealthRun& h);

// The HA suite (report_ha.cpp; ha_json and ha_html are in ha.hpp): the failover runs and,
// when it ran, the guard scenario (ha_guard.hpp). Its section of results.json ({passed,
// skipped, modes: [ha_json of each run], guard}), its <testsuite> of junit.xml (one
// testcase per run and check, classname ha.<id> or ha.guard; one named "lab" for a run
// without checks), and its summary on index.html.
nlohmann::json ha_section_json(const std::vector<HaRun>& runs, const HaGuardRun* guard = nullptr);
std::string ha_junit(const std::vector<HaRun>& runs, const HaGuardRun* guard = nullptr);
std::string ha_summary_html(const std::vector<HaRun>& runs, const HaGuardRun* guard = nullptr);

}  // namespace lab
