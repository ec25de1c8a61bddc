// The output of lab_client http-timeline: one line per request, so a fault scenario can
// be read back as a timeline (when each request started and ended, how it ended, which
// server answered). Pure functions, unit-tested without a network.
//
//   request INDEX START_MS END_MS ok SERVER
//   request INDEX START_MS END_MS failed SERVER|- REASON...
//
// START_MS and END_MS are CLOCK_REALTIME milliseconds (the clock `lab` stamps faults
// with); SERVER is the name the answer carried ("-" when no server answered); REASON is
// the rest of the line (spaces allowed).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lab::client {

struct TimelineRecord {
  int index = 0;               // 1, 2, ... in start order
  std::int64_t start_ms = 0;   // CLOCK_REALTIME
  std::int64_t end_ms = 0;
  bool ok = false;
  std::string server;          // "" when no server answered
  std::string reason;          // failures only; one line
};

// One line, ending in '\n'. Newlines in the reason become spaces.
std::string format_timeline_record(const TimelineRecord& r);

// Reads a line written by format_timeline_record (with or without its '\n'); nullopt
// for any other line.
std::optional<TimelineRecord> parse_timeline_record(std::string_view line);

// CLOCK_REALTIME in milliseconds.
std::int64_t wall_ms();

}  // namespace lab::client
