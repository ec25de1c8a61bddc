#include "lb/packet/checksum.hpp"

#include <arpa/inet.h>

namespace lb::pkt {

uint32_t csum_add_bytes(uint32_t sum, const void* data, size_t len) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t s = sum;
  // 32-bit words into a 64-bit sum: the carries collect above bit 31 and are folded in at
  // the end (a sum of 16-bit words and of 32-bit words fold to the same 16 bits).
  while (len >= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    s += w;
    p += 4;
    len -= 4;
  }
  while (len >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    s += w;
    p += 2;
    len -= 2;
  }
  if (len) {
    uint16_t w = 0;
    std::memcpy(&w, p, 1);  // the odd byte is the high-order byte of a zero-padded word
    s += w;
  }
  while (s >> 32) s = (s & 0xffffffffu) + (s >> 32);
  return static_cast<uint32_t>(s);
}

uint16_t ipv4_header_checksum(const void* ip_header, size_t ihl_bytes) {
  uint32_t s = csum_add_bytes(0, ip_header, ihl_bytes);
  uint16_t stored;
  std::memcpy(&stored, static_cast<const uint8_t*>(ip_header) + 10, 2);
  // Take the check field as zero: subtract it (add its complement).
  s = csum_fold(s) + static_cast<uint16_t>(~stored);
  return csum_finish(s);
}

uint16_t l4_checksum_v4(uint32_t saddr, uint32_t daddr, uint8_t proto, const uint8_t* l4,
                        size_t l4_len, size_t check_offset) {
  uint32_t s = 0;
  s = csum_add_bytes(s, &saddr, 4);
  s = csum_add_bytes(s, &daddr, 4);
  uint16_t pw[2] = {htons(proto), htons(static_cast<uint16_t>(l4_len))};
  s = csum_add_bytes(s, pw, 4);
  s = csum_add_bytes(s, l4, l4_len);
  uint16_t stored = 0;
  if (check_offset + 2 <= l4_len) std::memcpy(&stored, l4 + check_offset, 2);
  s = csum_fold(s) + static_cast<uint16_t>(~stored);
  return csum_finish(s);
}

}  // namespace lb::pkt
