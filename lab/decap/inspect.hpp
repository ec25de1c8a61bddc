// IPIP (RFC 2003) packet validation for lab_decap, with no I/O: everything here runs
// without root. inspect() is the whole decision "inject the inner packet or drop it, and
// why"; it never allocates, throws, or reads outside [pkt, pkt + len).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace lab::decap {

// The fixed 20-byte IPv4 header, fields exactly as on the wire.
struct __attribute__((packed)) Ipv4Hdr {
  static constexpr uint8_t kProtoIpip = 4;   // IPPROTO_IPIP
  static constexpr uint16_t kFlagMf = 0x2000;     // more fragments (host order)
  static constexpr uint16_t kOffsetMask = 0x1fff; // fragment offset in 8-byte units (host order)
  uint8_t ver_ihl;    // version in the high nibble, header length in 32-bit words in the low
  uint8_t tos;
  uint16_t tot_len;   // network order: header + payload, in bytes
  uint16_t id;        // network order
  uint16_t frag_off;  // network order: 3 flag bits (reserved, DF, MF) + 13-bit offset
  uint8_t ttl;
  uint8_t protocol;
  uint16_t check;     // network order: RFC 1071 checksum of the header (options included)
  uint32_t saddr;     // network order
  uint32_t daddr;     // network order

  uint8_t version() const { return ver_ihl >> 4; }
  size_t header_bytes() const { return static_cast<size_t>(ver_ihl & 0x0f) * 4; }
  uint16_t tot_len_h() const;
  uint16_t frag_off_h() const;
  bool is_fragment() const { return (frag_off_h() & (kFlagMf | kOffsetMask)) != 0; }
};
static_assert(sizeof(Ipv4Hdr) == 20);

// A copy of the header at `p`, or nothing when fewer than 20 bytes are there.
// (A copy, not a pointer: the buffer has no alignment or type guarantee.)
std::optional<Ipv4Hdr> read_ipv4(const uint8_t* p, size_t len);

// True when the RFC 1071 sum over `header_bytes` bytes at `p` (check field included)
// is 0xffff, i.e. the stored checksum is right. The caller guarantees the bytes exist.
bool ipv4_checksum_ok(const uint8_t* p, size_t header_bytes);

// What happens to one packet. `ok` means inject; every other value is a drop reason and
// has a counter. Values are dense from 0 so they index a counter array.
enum class Verdict : uint8_t {
  ok,
  outer_truncated,  // fewer bytes than 20 or than the outer header length
  outer_version,    // version is not 4
  outer_ihl,        // header length below 5 words
  outer_length,     // total length below the header length or beyond the bytes received
  outer_checksum,   // outer header checksum wrong
  outer_protocol,   // protocol is not 4 (IPIP)
  outer_fragment,   // MF set or a non-zero offset (the kernel normally reassembles first)
  inner_truncated,  // fewer bytes after the outer header than 20 or the inner header length
  inner_version,    // inner version is not 4
  inner_ihl,        // inner header length below 5 words
  inner_length,     // inner total length below its header length or beyond what remains
  inner_checksum,   // inner header checksum wrong
  not_vip,          // a VIP filter is set and the inner destination is not in it
  tun_write,        // never returned by inspect(): writing to the TUN device failed
};
inline constexpr size_t kVerdictCount = static_cast<size_t>(Verdict::tun_write) + 1;

// "ok", "outer_truncated", ...: the suffix of the drop_<reason> counter.
std::string_view verdict_name(Verdict v);

// Validates the IPIP packet `pkt[0, len)` as a raw IPv4 socket hands it over (outer
// header included). On `ok`, the inner IPv4 packet is `pkt[inner_off, inner_off + inner_len)`
// (exactly its own total length: bytes after it are not part of it). On any other
// verdict inner_off and inner_len are 0.
// `vips` holds IPv4 addresses in network byte order; when empty, every destination passes.
// Bytes after the outer total length (padding) are ignored, never injected.
Verdict inspect(const uint8_t* pkt, size_t len, std::span<const uint32_t> vips,
                size_t& inner_off, size_t& inner_len);

}  // namespace lab::decap
