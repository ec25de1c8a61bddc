#include "lb/addr.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>

namespace lb {

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  std::string s(text);
  IpAddr a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::v4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::v6;
    return a;
  }
  return std::nullopt;
}

std::string IpAddr::str() const {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (family == Family::v4) inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
  else if (family == Family::v6) inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
  else return "none";
  return buf;
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  unsigned max = addr->is_v4() ? 32 : 128, len = max;
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || len > max || digits.empty())
      return std::nullopt;
  }
  return Prefix{*addr, static_cast<uint8_t>(len)};
}

bool Prefix::contains(const IpAddr& a) const {
  if (a.family != addr.family) return false;
  unsigned full = len / 8, rest = len % 8;
  for (unsigned i = 0; i < full; ++i)
    if (a.bytes[i] != addr.bytes[i]) return false;
  if (rest) {
    uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
    if ((a.bytes[full] & mask) != (addr.bytes[full] & mask)) return false;
  }
  return true;
}

std::string Prefix::str() const { return addr.str() + "/" + std::to_string(len); }

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  MacAddr m;
  if (text.size() != 17) return std::nullopt;
  for (int i = 0; i < 6; ++i) {
    auto part = text.substr(i * 3, 2);
    if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + 2, v, 16);
    if (ec != std::errc() || ptr != part.data() + 2) return std::nullopt;
    m.b[i] = static_cast<uint8_t>(v);
  }
  return m;
}

std::string MacAddr::str() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return buf;
}

}  // namespace lb
