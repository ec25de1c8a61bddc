// report.hpp: the results of `lab run` as a self-contained HTML page (index.html: the
// topology, per mode the hop-by-hop header table, the facts, every check with
// expected vs actual on failures, links to every pcap), as JSON (results.json) and as
// JUnit XML (junit.xml).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "lablib/run.hpp"

namespace lab {

nlohmann::json results_json(const RunResults& r);
std::string junit_xml(const RunResults& r);
std::string html_report(const RunResults& r);
// An inline SVG drawing of a topology: one vertical line per segment, nodes as boxes
// wired to the segments of their interfaces, each wire labelled with address and MAC.
std::string topology_svg(const Topology& t);

// Writes the three files into `dir` (created if needed). Throws Error.
void write_report(const RunResults& r, const std::filesystem::path& dir);

std::string html_escape(const std::string& s);

}  // namespace lab
