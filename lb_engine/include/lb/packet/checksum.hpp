// Internet checksums (RFC 1071) and their incremental update (RFC 1624).
// All 16-bit words are taken as they lie in memory (network order); the one's-complement
// sum is byte-order independent, so no swapping is needed for updates.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lb::pkt {

// One's-complement sum of `len` bytes, added to `sum` (not folded, not complemented).
uint32_t csum_add_bytes(uint32_t sum, const void* data, size_t len);

inline uint16_t csum_fold(uint32_t sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

// The checksum field value for `len` bytes: ~fold(sum).
inline uint16_t csum_finish(uint32_t sum) { return static_cast<uint16_t>(~csum_fold(sum)); }

// RFC 1624 eqn. 3 for a field holding a complemented checksum: HC' = ~(~HC + ~m + m').
inline uint16_t csum_replace16(uint16_t check, uint16_t old_word, uint16_t new_word) {
  uint32_t s = static_cast<uint16_t>(~check);
  s += static_cast<uint16_t>(~old_word);
  s += new_word;
  return static_cast<uint16_t>(~csum_fold(s));
}

// Same for a 32-bit field (an IPv4 address), as two 16-bit words.
inline uint16_t csum_replace32(uint16_t check, uint32_t old_val, uint32_t new_val) {
  uint32_t s = static_cast<uint16_t>(~check);
  s += static_cast<uint16_t>(~old_val) + static_cast<uint16_t>(~(old_val >> 16));
  s += static_cast<uint16_t>(new_val) + static_cast<uint16_t>(new_val >> 16);
  return static_cast<uint16_t>(~csum_fold(s));
}

// For a field that holds an uncomplemented partial sum (a CHECKSUM_PARTIAL frame, where
// the TCP/UDP field carries only the pseudo-header sum and the NIC or kernel completes it):
// S' = S + ~m + m', not complemented.
inline uint16_t csum_partial_replace32(uint16_t partial, uint32_t old_val, uint32_t new_val) {
  uint32_t s = partial;
  s += static_cast<uint16_t>(~old_val) + static_cast<uint16_t>(~(old_val >> 16));
  s += static_cast<uint16_t>(new_val) + static_cast<uint16_t>(new_val >> 16);
  return csum_fold(s);
}

// Full IPv4 header checksum of a header of `ihl_bytes`, with its check field taken as 0.
uint16_t ipv4_header_checksum(const void* ip_header, size_t ihl_bytes);

// Whether an IPv4 header of `ihl_bytes` (20 to 60, a multiple of 4) carries a correct
// checksum: its one's-complement sum, check field included, is all ones (RFC 1071).
// On the packet path for every frame: 32-bit words, no loop over bytes.
// The one's-complement sum of an IPv4 header (20 to 60 bytes, a multiple of 4) as it lies.
inline uint16_t ipv4_header_sum(const void* ip_header, size_t ihl_bytes) {
  const auto* p = static_cast<const uint8_t*>(ip_header);
  uint64_t s = 0;
  for (size_t i = 0; i < ihl_bytes; i += 4) {
    uint32_t w;
    std::memcpy(&w, p + i, 4);
    s += w;
  }
  s = (s & 0xffffffffu) + (s >> 32);
  s = (s & 0xffffffffu) + (s >> 32);
  return csum_fold(static_cast<uint32_t>(s));
}
inline bool ipv4_header_checksum_ok(const void* ip_header, size_t ihl_bytes) {
  return ipv4_header_sum(ip_header, ihl_bytes) == 0xffff;
}

// Full TCP/UDP checksum over the IPv4 pseudo-header and `l4_len` bytes of segment, with
// the segment's own checksum field taken as 0 (`check_offset` bytes into the segment).
uint16_t l4_checksum_v4(uint32_t saddr, uint32_t daddr, uint8_t proto, const uint8_t* l4,
                        size_t l4_len, size_t check_offset);

}  // namespace lb::pkt
