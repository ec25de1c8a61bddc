#include "inspect.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace lab::decap {

uint16_t Ipv4Hdr::tot_len_h() const { return ntohs(tot_len); }
uint16_t Ipv4Hdr::frag_off_h() const { return ntohs(frag_off); }

std::optional<Ipv4Hdr> read_ipv4(const uint8_t* p, size_t len) {
  if (p == nullptr || len < sizeof(Ipv4Hdr)) return std::nullopt;
  Ipv4Hdr h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

bool ipv4_checksum_ok(const uint8_t* p, size_t header_bytes) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < header_bytes; i += 2) {
    sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  }
  // header_bytes is a multiple of 4 for every caller; an odd byte would pad with zero.
  if (header_bytes % 2 != 0) sum += static_cast<uint32_t>(p[header_bytes - 1] << 8);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::ok: return "ok";
    case Verdict::outer_truncated: return "outer_truncated";
    case Verdict::outer_version: return "outer_version";
    case Verdict::outer_ihl: return "outer_ihl";
    case Verdict::outer_length: return "outer_length";
    case Verdict::outer_checksum: return "outer_checksum";
    case Verdict::outer_protocol: return "outer_protocol";
    case Verdict::outer_fragment: return "outer_fragment";
    case Verdict::inner_truncated: return "inner_truncated";
    case Verdict::inner_version: return "inner_version";
    case Verdict::inner_ihl: return "inner_ihl";
    case Verdict::inner_length: return "inner_length";
    case Verdict::inner_checksum: return "inner_checksum";
    case Verdict::not_vip: return "not_vip";
    case Verdict::tun_write: return "tun_write";
  }
  return "unknown";
}

namespace {

// The checks shared by both headers, in the order that makes each later one safe:
// enough bytes for the fixed part, then version and IHL, then enough bytes for the
// options, then the total length against what there is, and only then the checksum.
// `avail` is how many bytes exist from `p` on. On success `total` is the total length.
struct HeaderReasons {
  Verdict truncated, version, ihl, length, checksum;
};
constexpr HeaderReasons kOuter{Verdict::outer_truncated, Verdict::outer_version,
                               Verdict::outer_ihl, Verdict::outer_length,
                               Verdict::outer_checksum};
constexpr HeaderReasons kInner{Verdict::inner_truncated, Verdict::inner_version,
                               Verdict::inner_ihl, Verdict::inner_length,
                               Verdict::inner_checksum};

Verdict check_header(const uint8_t* p, size_t avail, const HeaderReasons& r, Ipv4Hdr& h,
                     size_t& total) {
  const auto hdr = read_ipv4(p, avail);
  if (!hdr) return r.truncated;
  h = *hdr;
  if (h.version() != 4) return r.version;
  const size_t hl = h.header_bytes();
  if (hl < sizeof(Ipv4Hdr)) return r.ihl;
  if (avail < hl) return r.truncated;
  total = h.tot_len_h();
  if (total < hl || total > avail) return r.length;
  if (!ipv4_checksum_ok(p, hl)) return r.checksum;
  return Verdict::ok;
}

}  // namespace

Verdict inspect(const uint8_t* pkt, size_t len, std::span<const uint32_t> vips,
                size_t& inner_off, size_t& inner_len) {
  inner_off = 0;
  inner_len = 0;
  if (pkt == nullptr) return Verdict::outer_truncated;

  Ipv4Hdr outer{};
  size_t outer_total = 0;
  if (const Verdict v = check_header(pkt, len, kOuter, outer, outer_total); v != Verdict::ok) {
    return v;
  }
  if (outer.protocol != Ipv4Hdr::kProtoIpip) return Verdict::outer_protocol;
  // A fragment's payload is not a whole inner packet. The kernel reassembles before a raw
  // socket sees the packet, so this only catches what slipped past it.
  if (outer.is_fragment()) return Verdict::outer_fragment;

  // From here on only the outer total length counts: anything after it is padding.
  const size_t off = outer.header_bytes();
  Ipv4Hdr inner{};
  size_t inner_total = 0;
  if (const Verdict v = check_header(pkt + off, outer_total - off, kInner, inner, inner_total);
      v != Verdict::ok) {
    return v;
  }
  if (!vips.empty() && std::find(vips.begin(), vips.end(), inner.daddr) == vips.end()) {
    return Verdict::not_vip;
  }
  inner_off = off;
  inner_len = inner_total;
  return Verdict::ok;
}

}  // namespace lab::decap
