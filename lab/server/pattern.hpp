// The deterministic byte pattern that lab_server streams for GET /bytes/N and that
// lab_client writes for uploads, so anyone can compute the expected content (and its
// SHA-256) without talking to a server.
//
// Byte i of the pattern (i counted from 0, as uint64) is
//     (uint8_t)((i * 2654435761u) >> 24)
// Header-only and dependency-free on purpose: include it from anywhere.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lab {

inline constexpr std::uint32_t kPatternMultiplier = 2654435761u;

// Byte `i` of the pattern.
constexpr std::uint8_t pattern_byte(std::uint64_t i) noexcept {
  return static_cast<std::uint8_t>((i * kPatternMultiplier) >> 24);
}

// Writes pattern bytes [offset, offset + n) to buf[0..n). Never fails.
inline void pattern_fill(std::uint64_t offset, std::uint8_t* buf, std::size_t n) noexcept {
  // Only bits 24..31 of the 64-bit product survive the cast, and those depend only on
  // the low 32 bits of i, so the loop can run in 32-bit arithmetic (and vectorises).
  const std::uint32_t base = static_cast<std::uint32_t>(offset) * kPatternMultiplier;
  for (std::size_t j = 0; j < n; ++j) {
    buf[j] = static_cast<std::uint8_t>(
        (base + static_cast<std::uint32_t>(j) * kPatternMultiplier) >> 24);
  }
}

}  // namespace lab
