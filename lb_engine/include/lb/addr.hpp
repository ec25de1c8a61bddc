// Addresses: family-agnostic IP addresses, prefixes and MAC addresses.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace lb {

// An IPv4 or IPv6 address, stored in network byte order. IPv4 uses the first 4 bytes.
struct IpAddr {
  enum class Family : uint8_t { none, v4, v6 };
  Family family = Family::none;
  std::array<uint8_t, 16> bytes{};

  static IpAddr v4(uint32_t net_order) {
    IpAddr a;
    a.family = Family::v4;
    std::memcpy(a.bytes.data(), &net_order, 4);
    return a;
  }
  // The IPv4 address in network byte order (0 when not IPv4).
  uint32_t v4_net() const {
    uint32_t v = 0;
    if (family == Family::v4) std::memcpy(&v, bytes.data(), 4);
    return v;
  }
  bool is_v4() const { return family == Family::v4; }
  bool operator==(const IpAddr&) const = default;

  // Parses dotted-quad IPv4 or IPv6 text; nullopt when it is neither.
  static std::optional<IpAddr> parse(std::string_view text);
  std::string str() const;
};

// An address with a prefix length: 192.0.2.1/24.
struct Prefix {
  IpAddr addr;
  uint8_t len = 0;
  // Parses "A/LEN" (or a bare address, meaning a host prefix); nullopt on bad text.
  static std::optional<Prefix> parse(std::string_view text);
  bool contains(const IpAddr& a) const;
  std::string str() const;
};

struct MacAddr {
  std::array<uint8_t, 6> b{};
  static std::optional<MacAddr> parse(std::string_view text);
  static MacAddr broadcast() { return MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
  bool is_broadcast() const { return *this == broadcast(); }
  bool is_multicast() const { return b[0] & 1; }
  bool is_zero() const { return *this == MacAddr{}; }
  bool operator==(const MacAddr&) const = default;
  std::string str() const;
};

}  // namespace lb
