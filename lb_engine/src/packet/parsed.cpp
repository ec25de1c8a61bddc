#include "lb/packet/parsed.hpp"

#include <cstddef>
#include <cstring>

#include "lb/packet/checksum.hpp"

namespace lb::pkt {

bool parse_ipv4(Parsed& p, Drop& why) {
  const size_t ip_off = sizeof(EthHdr);
  p.ip = view<Ipv4Hdr>(p.frame, p.len, ip_off);
  if (!p.ip) return why = Drop::ip_malformed, false;
  const size_t ihl = p.ip->header_len();
  const size_t tot = ntohs(p.ip->tot_len);
  // Ethernet pads short frames: trust tot_len, but it must fit in the frame.
  if (p.ip->version() != 4 || ihl < 20 || tot < ihl || ip_off + tot > p.len)
    return why = Drop::ip_malformed, false;
  if (!ipv4_header_checksum_ok(p.ip, ihl)) return why = Drop::ip_bad_checksum, false;
  p.len = ip_off + tot;  // drop the Ethernet padding from what we forward
  p.l4_off = ip_off + ihl;
  p.l4_len = tot - ihl;
  if ((ntohs(p.ip->frag_off) & Ipv4Hdr::kOffsetMask) != 0) return true;  // non-first fragment
  switch (p.ip->protocol) {
    case Ipv4Hdr::kTcp:
      p.tcp = view<TcpHdr>(p.frame, p.len, p.l4_off);
      if (!p.tcp || p.tcp->header_len() < 20 || p.tcp->header_len() > p.l4_len)
        return why = Drop::l4_malformed, false;
      break;
    case Ipv4Hdr::kUdp:
      p.udp = view<UdpHdr>(p.frame, p.len, p.l4_off);
      if (!p.udp || ntohs(p.udp->len) < 8 || ntohs(p.udp->len) > p.l4_len)
        return why = Drop::l4_malformed, false;
      break;
    case Ipv4Hdr::kIcmp:
      p.icmp = view<IcmpHdr>(p.frame, p.len, p.l4_off);
      if (!p.icmp) return why = Drop::l4_malformed, false;
      break;
    default:
      break;
  }
  if (p.vnet && (p.vnet->flags & VnetHdr::kNeedsCsum) && p.vnet->csum_start == p.l4_off)
    p.l4_csum_partial = true;
  return true;
}

namespace {
// Fields of packed headers may be unaligned: reach them through byte pointers and memcpy.
inline uint16_t ld16(const uint8_t* f) { uint16_t v; std::memcpy(&v, f, 2); return v; }
inline void st16(uint8_t* f, uint16_t v) { std::memcpy(f, &v, 2); }
inline uint32_t ld32(const uint8_t* f) { uint32_t v; std::memcpy(&v, f, 4); return v; }
inline void st32(uint8_t* f, uint32_t v) { std::memcpy(f, &v, 4); }

uint8_t* field(void* hdr, size_t off) { return static_cast<uint8_t*>(hdr) + off; }

// The L4 checksum field, or nullptr for protocols whose checksum we do not touch.
uint8_t* l4_check(Parsed& p) {
  if (p.tcp) return field(p.tcp, offsetof(TcpHdr, check));
  if (p.udp) return field(p.udp, offsetof(UdpHdr, check));
  return nullptr;
}
}  // namespace

void set_ipv4_addr(Parsed& p, bool source, uint32_t new_addr) {
  uint8_t* addr = field(p.ip, source ? offsetof(Ipv4Hdr, saddr) : offsetof(Ipv4Hdr, daddr));
  const uint32_t old_addr = ld32(addr);
  if (old_addr == new_addr) return;
  st32(addr, new_addr);
  uint8_t* ipcheck = field(p.ip, offsetof(Ipv4Hdr, check));
  st16(ipcheck, csum_replace32(ld16(ipcheck), old_addr, new_addr));
  uint8_t* check = l4_check(p);
  if (!check) return;
  const uint16_t c = ld16(check);
  if (p.l4_csum_partial) {
    st16(check, csum_partial_replace32(c, old_addr, new_addr));
  } else if (p.udp && c == 0) {
    // UDP over IPv4 without a checksum: leave it without one.
  } else {
    uint16_t n = csum_replace32(c, old_addr, new_addr);
    if (p.udp && n == 0) n = 0xffff;  // RFC 768: a computed 0 is sent as all ones
    st16(check, n);
  }
}

namespace {
// The one-pass rewrites sum their changes as 32-bit one's-complement words (~old + new
// per word) in 64 bits and fold once.
inline uint16_t fold64(uint64_t x) {
  x = (x & 0xffffffffu) + (x >> 32);
  x = (x & 0xffffffffu) + (x >> 32);
  return csum_fold(static_cast<uint32_t>(x));
}
inline uint64_t change32(uint32_t o, uint32_t n) { return uint64_t{~o} + n; }
inline uint64_t change16(uint16_t o, uint16_t n) { return static_cast<uint16_t>(~o) + uint64_t{n}; }

// Applies a change to a complemented checksum field: HC' = ~(~HC + change) (RFC 1624).
inline void apply_change(uint8_t* check, uint64_t change) {
  st16(check, static_cast<uint16_t>(~fold64(static_cast<uint16_t>(~ld16(check)) + change)));
}

// The TCP/UDP checksum after a rewrite: a partial one (CHECKSUM_PARTIAL, an uncomplemented
// pseudo-header sum) takes only the address change; a UDP datagram without a checksum
// keeps none; a full one takes every change, and a UDP result of 0 is sent as all ones
// (RFC 768).
void apply_l4_change(Parsed& p, uint64_t addr_change, uint64_t other_change) {
  uint8_t* check = l4_check(p);
  if (!check) return;
  const uint16_t c = ld16(check);
  if (p.l4_csum_partial) {
    st16(check, fold64(c + addr_change));
  } else if (p.udp && c == 0) {
    // UDP over IPv4 without a checksum: leave it without one.
  } else {
    uint16_t n = static_cast<uint16_t>(~fold64(static_cast<uint16_t>(~c) + addr_change + other_change));
    if (p.udp && n == 0) n = 0xffff;
    st16(check, n);
  }
}

// Decrements the TTL; returns the change to the IP checksum.
inline uint64_t ttl_down(Parsed& p) {
  uint8_t* word = field(p.ip, offsetof(Ipv4Hdr, ttl));  // TTL and protocol form one 16-bit word
  const uint16_t old_word = ld16(word);
  --p.ip->ttl;
  return change16(old_word, ld16(word));
}
}  // namespace

void rewrite_nat(Parsed& p, uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport, bool ttl) {
  // The two addresses are adjacent words, and so are the two ports.
  uint8_t* sa = field(p.ip, offsetof(Ipv4Hdr, saddr));
  const uint64_t addr_change = change32(ld32(sa), saddr) + change32(ld32(sa + 4), daddr);
  st32(sa, saddr);
  st32(sa + 4, daddr);
  apply_change(field(p.ip, offsetof(Ipv4Hdr, check)), addr_change + (ttl ? ttl_down(p) : 0));
  uint8_t* ports = p.tcp ? field(p.tcp, offsetof(TcpHdr, source)) : p.udp ? field(p.udp, offsetof(UdpHdr, source)) : nullptr;
  if (!ports) return;
  uint32_t new_ports;
  st16(reinterpret_cast<uint8_t*>(&new_ports), sport);
  st16(reinterpret_cast<uint8_t*>(&new_ports) + 2, dport);
  const uint64_t port_change = change32(ld32(ports), new_ports);
  st32(ports, new_ports);
  apply_l4_change(p, addr_change, port_change);
}

void rewrite_dsr_l3(Parsed& p, uint32_t daddr, uint8_t tos) {
  uint8_t* da = field(p.ip, offsetof(Ipv4Hdr, daddr));
  const uint64_t addr_change = change32(ld32(da), daddr);
  st32(da, daddr);
  uint8_t* tos_word = field(p.ip, 0);  // version/IHL and TOS form one 16-bit word
  const uint16_t old_tos_word = ld16(tos_word);
  p.ip->tos = tos;
  const uint64_t tos_change = change16(old_tos_word, ld16(tos_word));
  apply_change(field(p.ip, offsetof(Ipv4Hdr, check)), addr_change + tos_change + ttl_down(p));
  apply_l4_change(p, addr_change, 0);
}

void set_l4_port(Parsed& p, bool source, uint16_t new_port) {
  uint8_t* port = nullptr;
  if (p.tcp) port = field(p.tcp, source ? offsetof(TcpHdr, source) : offsetof(TcpHdr, dest));
  else if (p.udp) port = field(p.udp, source ? offsetof(UdpHdr, source) : offsetof(UdpHdr, dest));
  if (!port) return;
  const uint16_t old_port = ld16(port);
  if (old_port == new_port) return;
  st16(port, new_port);
  uint8_t* check = l4_check(p);
  const uint16_t c = ld16(check);
  if (p.l4_csum_partial || (p.udp && c == 0)) return;
  uint16_t n = csum_replace16(c, old_port, new_port);
  if (p.udp && n == 0) n = 0xffff;
  st16(check, n);
}

void decrement_ttl(Parsed& p) {
  uint8_t* word = field(p.ip, offsetof(Ipv4Hdr, ttl));  // TTL and protocol form one 16-bit word
  const uint16_t old_word = ld16(word);
  --p.ip->ttl;
  uint8_t* ipcheck = field(p.ip, offsetof(Ipv4Hdr, check));
  st16(ipcheck, csum_replace16(ld16(ipcheck), old_word, ld16(word)));
}

}  // namespace lb::pkt
