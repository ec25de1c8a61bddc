#include "decap.hpp"

#include <arpa/inet.h>

namespace lab::decap {

std::string format_stats(const Counters& c) {
  std::string line = "received=" + std::to_string(c.received);
  line += " injected=" + std::to_string(c.injected);
  for (size_t i = 1; i < kVerdictCount; ++i) {
    line += " drop_";
    line += verdict_name(static_cast<Verdict>(i));
    line += '=';
    line += std::to_string(c.drops[i]);
  }
  line += " rcvbuf_overflow=" + std::to_string(c.rcvbuf_overflow);
  return line;
}

std::optional<uint32_t> parse_ipv4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
  return a.s_addr;
}

Verdict Decapsulator::handle(const uint8_t* pkt, size_t len) noexcept {
  ++counters_.received;
  size_t off = 0;
  size_t inner_len = 0;
  Verdict v = inspect(pkt, len, vips_, off, inner_len);
  if (v == Verdict::ok && !sink_.write(pkt + off, inner_len)) v = Verdict::tun_write;
  if (v == Verdict::ok) {
    ++counters_.injected;
  } else {
    ++counters_.drops[static_cast<size_t>(v)];
  }
  return v;
}

}  // namespace lab::decap
