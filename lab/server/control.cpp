#include "control.hpp"

#include <vector>

namespace lab::srv {
namespace {

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
    const std::size_t start = i;
    while (i < s.size() && !(s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

bool parse_uint(std::string_view s, std::uint32_t max, std::uint32_t& out) {
  if (s.empty() || s.size() > 10) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (v > max) return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

}  // namespace

std::string apply_control_command(std::string_view line, ControlState& state) {
  const auto w = words(line);
  if (w.empty()) return "error: empty command";
  const auto cmd = w[0];
  if (cmd == "delay") {
    std::uint32_t ms = 0;
    if (w.size() != 2 || !parse_uint(w[1], kMaxDelayMs, ms)) {
      return "error: usage: delay MS (0.." + std::to_string(kMaxDelayMs) + ")";
    }
    state.delay_ms.store(ms);
    return "ok";
  }
  if (cmd == "status") {
    std::uint32_t code = 0;
    if (w.size() != 2 || !parse_uint(w[1], 599, code) || code < 200) {
      return "error: usage: status CODE (200..599)";
    }
    state.status.store(static_cast<int>(code));
    return "ok";
  }
  if (cmd == "show") {
    if (w.size() != 1) return "error: usage: show";
    return "delay=" + std::to_string(state.delay_ms.load()) +
           " status=" + std::to_string(state.status.load()) +
           " requests=" + std::to_string(state.requests.load());
  }
  std::string shown(cmd.substr(0, 40));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  }
  return "error: unknown command '" + shown + "' (expected delay MS, status CODE or show)";
}

}  // namespace lab::srv
