// Test-only packet builders: IPv4 headers with correct checksums, IPIP around them, and
// in-place edits that keep (or deliberately break) a checksum.
#pragma once

#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "inspect.hpp"

namespace lab::decap {

// gtest prints a Verdict by name in every failure message.
inline void PrintTo(Verdict v, std::ostream* os) { *os << verdict_name(v); }

}  // namespace lab::decap

namespace lab::decap::test {

using Bytes = std::vector<uint8_t>;

// An IPv4 address in network byte order.
inline uint32_t be(const char* dotted) {
  in_addr a{};
  inet_pton(AF_INET, dotted, &a);
  return a.s_addr;
}

inline void put16(Bytes& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v >> 8);
  b[off + 1] = static_cast<uint8_t>(v);
}

inline uint16_t get16(const Bytes& b, size_t off) {
  return static_cast<uint16_t>(b[off] << 8 | b[off + 1]);
}

// Recomputes the checksum of the IPv4 header at `off` from its IHL.
inline void fix_checksum(Bytes& b, size_t off) {
  const size_t hl = static_cast<size_t>(b[off] & 0x0f) * 4;
  put16(b, off + 10, 0);
  uint32_t sum = 0;
  for (size_t i = 0; i < hl; i += 2) sum += get16(b, off + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  put16(b, off + 10, static_cast<uint16_t>(~sum));
}

struct Ipv4Spec {
  const char* src = "198.18.0.1";
  const char* dst = "198.18.0.11";
  uint8_t protocol = 17;
  size_t option_words = 0;  // IHL = 5 + option_words (options are NOPs)
  uint16_t frag_off = 0;    // host order: flags + offset
  uint8_t ttl = 64;
};

// An IPv4 packet: header as `spec` says, total length = header + payload, checksum right.
inline Bytes ipv4(const Ipv4Spec& spec, const Bytes& payload) {
  const size_t hl = 20 + spec.option_words * 4;
  Bytes b(hl, 0);
  b[0] = static_cast<uint8_t>(0x40 | (hl / 4));
  put16(b, 2, static_cast<uint16_t>(hl + payload.size()));
  put16(b, 4, 0x1234);
  put16(b, 6, spec.frag_off);
  b[8] = spec.ttl;
  b[9] = spec.protocol;
  const uint32_t s = be(spec.src), d = be(spec.dst);
  std::memcpy(&b[12], &s, 4);
  std::memcpy(&b[16], &d, 4);
  for (size_t i = 20; i < hl; ++i) b[i] = 1;  // NOP options
  fix_checksum(b, 0);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// A client's UDP datagram to the VIP (the UDP checksum is irrelevant here: 0 = none).
inline Bytes inner_udp(const char* dst = "203.0.113.10", size_t data_len = 8) {
  Bytes udp(8 + data_len, 0);
  put16(udp, 0, 40000);
  put16(udp, 2, 9000);
  put16(udp, 4, static_cast<uint16_t>(udp.size()));
  for (size_t i = 0; i < data_len; ++i) udp[8 + i] = static_cast<uint8_t>('a' + i % 26);
  return ipv4({.src = "198.51.100.11", .dst = dst, .protocol = 17}, udp);
}

// The LB's IPIP packet to a server around `inner`.
inline Bytes ipip(const Bytes& inner, Ipv4Spec outer = {.src = "203.0.113.2", .dst = "198.18.0.11",
                                                       .protocol = 4}) {
  return ipv4(outer, inner);
}

}  // namespace lab::decap::test
