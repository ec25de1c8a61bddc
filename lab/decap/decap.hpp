// The decapsulator without its sockets: counts every packet, injects the good ones into
// a PacketSink (the TUN device in lab_decap, a vector in the tests).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "inspect.hpp"

namespace lab::decap {

// Where inner packets go. write() must not throw; it returns false when the packet was
// not taken whole (counted as drop_tun_write).
class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual bool write(const uint8_t* data, size_t len) noexcept = 0;
};

struct Counters {
  uint64_t received = 0;  // packets read from the raw socket
  uint64_t injected = 0;  // inner packets written whole to the sink
  std::array<uint64_t, kVerdictCount> drops{};  // by Verdict; drops[ok] stays 0
  // Packets the kernel dropped because the raw socket's receive buffer was full
  // (SO_RXQ_OVFL). Not in `received`: lab_decap never saw them.
  uint64_t rcvbuf_overflow = 0;

  uint64_t drop(Verdict v) const { return drops[static_cast<size_t>(v)]; }
};

// One line: "received=N injected=N drop_outer_truncated=N ... drop_tun_write=N
// rcvbuf_overflow=N", every reason always present, in Verdict order.
// received == injected + the sum of every drop_*.
std::string format_stats(const Counters& c);

// A numeric IPv4 address in network byte order, or nothing.
std::optional<uint32_t> parse_ipv4(const std::string& text);

class Decapsulator {
 public:
  // `vips` in network byte order; empty = no filter.
  Decapsulator(std::vector<uint32_t> vips, PacketSink& sink) : vips_(std::move(vips)), sink_(sink) {}

  // Inspects one packet as the raw socket returned it, injects its inner packet when it
  // passes, and counts the outcome. Returns the verdict (tun_write when the sink refused).
  Verdict handle(const uint8_t* pkt, size_t len) noexcept;

  Counters& counters() { return counters_; }
  const Counters& counters() const { return counters_; }

 private:
  std::vector<uint32_t> vips_;
  PacketSink& sink_;
  Counters counters_;
};

}  // namespace lab::decap
