#include "timeline.hpp"

#include <time.h>

#include <vector>

namespace lab::client {
namespace {

bool parse_i64(std::string_view s, std::int64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

// The next space-separated word of `s`, consuming it and the spaces after it.
std::string_view next_word(std::string_view& s) {
  const auto sp = s.find(' ');
  std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return w;
}

}  // namespace

std::string format_timeline_record(const TimelineRecord& r) {
  std::string out = "request " + std::to_string(r.index) + " " + std::to_string(r.start_ms) + " " +
                    std::to_string(r.end_ms) + (r.ok ? " ok " : " failed ") + (r.server.empty() ? "-" : r.server);
  if (!r.ok) {
    std::string reason = r.reason.empty() ? "unknown" : r.reason;
    for (char& c : reason)
      if (c == '\n' || c == '\r') c = ' ';
    out += " " + reason;
  }
  return out + "\n";
}

std::optional<TimelineRecord> parse_timeline_record(std::string_view line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (next_word(line) != "request") return std::nullopt;
  TimelineRecord r;
  std::int64_t index = 0;
  if (!parse_i64(next_word(line), index) || index > 1'000'000'000) return std::nullopt;
  r.index = static_cast<int>(index);
  if (!parse_i64(next_word(line), r.start_ms) || !parse_i64(next_word(line), r.end_ms)) return std::nullopt;
  const std::string_view outcome = next_word(line);
  if (outcome != "ok" && outcome != "failed") return std::nullopt;
  r.ok = outcome == "ok";
  const std::string_view server = next_word(line);
  if (server.empty()) return std::nullopt;
  if (server != "-") r.server = std::string(server);
  if (r.ok) {
    if (!line.empty() || r.server.empty()) return std::nullopt;
  } else {
    r.reason = std::string(line);
    if (r.reason.empty()) return std::nullopt;
  }
  return r;
}

std::int64_t wall_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

}  // namespace lab::client
