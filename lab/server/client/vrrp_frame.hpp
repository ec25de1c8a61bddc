// vrrp_frame.hpp: VRRPv3 advertisements (RFC 5798 §5) as Ethernet frames, built here
// independently of the engine's codec, so that the lab can speak to the engine as a
// third-party VRRP router would, and break each field the RFC says a receiver must check.
//
//   IPv4: TOS 0xc0, ID 0, DF clear, TTL 255, protocol 112, dst 224.0.0.18, src = the sender
//   VRRP: version 3 | type 1, VRID, priority, count IPvX addr, rsvd(4) | max adver int(12, cs),
//         checksum over the IPv4 pseudo-header + the VRRP message, then the addresses
//   Ethernet: dst 01:00:5e:00:00:12, src = the sender's MAC
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lab::client {

// What to get wrong on purpose (none: a valid advertisement).
enum class VrrpBreak { none, version, type, checksum, ttl, length, ip_checksum, zero_interval };
std::optional<VrrpBreak> parse_vrrp_break(const std::string& name);  // "none", "version", ...
const char* to_string(VrrpBreak b);

struct VrrpSpec {
  std::uint8_t vrid = 1;
  std::uint8_t priority = 100;
  std::uint16_t interval_cs = 100;        // Max Adver Int, centiseconds
  std::uint32_t src = 0;                  // IPv4 source, host order
  std::vector<std::uint32_t> addresses;   // host order
  std::array<std::uint8_t, 6> src_mac{};
  VrrpBreak broken = VrrpBreak::none;
};

// The whole Ethernet frame (no FCS).
std::vector<std::uint8_t> vrrp_frame(const VrrpSpec& spec);

}  // namespace lab::client
