#include "client/vrrp_frame.hpp"

#include <cstddef>

namespace lab::client {
namespace {

constexpr std::uint32_t kGroup = 0xe0000012;  // 224.0.0.18
constexpr std::uint8_t kProto = 112;

const std::pair<VrrpBreak, const char*> kNames[] = {
    {VrrpBreak::none, "none"},         {VrrpBreak::version, "version"},         {VrrpBreak::type, "type"},
    {VrrpBreak::checksum, "checksum"}, {VrrpBreak::ttl, "ttl"},                 {VrrpBreak::length, "length"},
    {VrrpBreak::ip_checksum, "ip-checksum"}, {VrrpBreak::zero_interval, "zero-interval"},
};

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}
void put32(std::vector<std::uint8_t>& b, std::size_t at, std::uint32_t v) {
  put16(b, at, static_cast<std::uint16_t>(v >> 16));
  put16(b, at + 2, static_cast<std::uint16_t>(v));
}

// RFC 1071 over b[from, from + n), starting from `sum`.
std::uint16_t fold(const std::vector<std::uint8_t>& b, std::size_t from, std::size_t n, std::uint32_t sum) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += static_cast<std::uint32_t>(b[from + i] << 8 | b[from + i + 1]);
  if (n & 1) sum += static_cast<std::uint32_t>(b[from + n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

}  // namespace

std::optional<VrrpBreak> parse_vrrp_break(const std::string& name) {
  for (const auto& [b, n] : kNames)
    if (name == n) return b;
  return std::nullopt;
}

const char* to_string(VrrpBreak b) {
  for (const auto& [k, n] : kNames)
    if (k == b) return n;
  return "?";
}

std::vector<std::uint8_t> vrrp_frame(const VrrpSpec& s) {
  constexpr std::size_t eth = 14, ip = 20, vrrp_hdr = 8;
  const std::size_t vrrp_len = vrrp_hdr + 4 * s.addresses.size();
  std::vector<std::uint8_t> f(eth + ip + vrrp_len, 0);
  const std::array<std::uint8_t, 6> dst{0x01, 0x00, 0x5e, 0x00, 0x00, 0x12};
  for (std::size_t i = 0; i < 6; ++i) {
    f[i] = dst[i];
    f[6 + i] = s.src_mac[i];
  }
  put16(f, 12, 0x0800);
  // IPv4
  f[eth] = 0x45;
  f[eth + 1] = 0xc0;  // DSCP CS6 (internetwork control), as RFC 5798 §5.1.1.3 suggests
  put16(f, eth + 2, static_cast<std::uint16_t>(ip + vrrp_len));
  f[eth + 8] = s.broken == VrrpBreak::ttl ? 64 : 255;
  f[eth + 9] = kProto;
  put32(f, eth + 12, s.src);
  put32(f, eth + 16, kGroup);
  // VRRP
  const std::size_t v = eth + ip;
  f[v] = static_cast<std::uint8_t>((s.broken == VrrpBreak::version ? 2 : 3) << 4 | (s.broken == VrrpBreak::type ? 2 : 1));
  f[v + 1] = s.vrid;
  f[v + 2] = s.priority;
  // length: the count says one address more than the message carries
  f[v + 3] = static_cast<std::uint8_t>(s.addresses.size() + (s.broken == VrrpBreak::length ? 1 : 0));
  put16(f, v + 4, s.broken == VrrpBreak::zero_interval ? 0 : static_cast<std::uint16_t>(s.interval_cs & 0x0fff));
  for (std::size_t i = 0; i < s.addresses.size(); ++i) put32(f, v + vrrp_hdr + 4 * i, s.addresses[i]);
  // The checksum covers the pseudo-header (src, dst, zero, protocol, VRRP length) and the message.
  std::uint32_t pseudo = (s.src >> 16) + (s.src & 0xffff) + (kGroup >> 16) + (kGroup & 0xffff) + kProto +
                         static_cast<std::uint32_t>(vrrp_len);
  std::uint16_t sum = fold(f, v, vrrp_len, pseudo);
  if (s.broken == VrrpBreak::checksum) sum = static_cast<std::uint16_t>(sum ^ 0x5a5a);
  put16(f, v + 6, sum);
  std::uint16_t ip_sum = fold(f, eth, ip, 0);
  if (s.broken == VrrpBreak::ip_checksum) ip_sum = static_cast<std::uint16_t>(ip_sum ^ 0x0101);
  put16(f, eth + 10, ip_sum);
  return f;
}

}  // namespace lab::client
