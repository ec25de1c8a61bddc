// The runtime knobs of lab_server and the line protocol of its control socket.
//
//   delay MS      delay every HTTP response head and every UDP reply by MS ms (0 = off)
//   status CODE   GET / and GET /health answer CODE (200..599); "status 200" restores
//   show          "delay=MS status=CODE requests=N"
// Answers are one line: "ok", the show line, or "error: <why>".
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace lab::srv {

inline constexpr std::uint32_t kMaxDelayMs = 600'000;

struct ControlState {
  std::atomic<std::uint32_t> delay_ms{0};
  std::atomic<int> status{200};
  // HTTP responses sent plus UDP replies sent.
  std::atomic<std::uint64_t> requests{0};
};

// Applies one command line (surrounding whitespace and a trailing CR are ignored) and
// returns the answer without its newline. Never throws on bad input.
std::string apply_control_command(std::string_view line, ControlState& state);

}  // namespace lab::srv
