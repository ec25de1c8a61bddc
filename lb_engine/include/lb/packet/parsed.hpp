// One received IPv4 frame, parsed once: where each header lies, and whether the L4
// checksum field is complete or a partial (pseudo-header) sum the kernel will finish.
#pragma once
#include <cstddef>
#include <cstdint>

#include "lb/control/stats.hpp"
#include "lb/packet/headers.hpp"

namespace lb::pkt {

struct Parsed {
  VnetHdr* vnet = nullptr;
  uint8_t* frame = nullptr;  // Ethernet header
  size_t len = 0;            // Ethernet frame length
  EthHdr* eth = nullptr;
  Ipv4Hdr* ip = nullptr;
  size_t l4_off = 0;         // from the start of the Ethernet header
  size_t l4_len = 0;         // IP total length minus IP header length
  TcpHdr* tcp = nullptr;
  UdpHdr* udp = nullptr;
  IcmpHdr* icmp = nullptr;
  bool l4_csum_partial = false;  // vnet NEEDS_CSUM and it points at this L4 header
};

// Parses the IPv4 part of `p` (p.frame, p.len, p.eth, p.vnet set). Returns false and
// sets `why` when the packet is malformed. Fragments other than the first carry no L4
// header: `tcp`/`udp`/`icmp` stay null for them.
bool parse_ipv4(Parsed& p, Drop& why);

// NAT in one pass: sets both addresses and both ports (network order) and, when `ttl`,
// decrements the TTL, then fixes the IP checksum and the TCP/UDP checksum once each with
// the summed change (RFC 1624, which is linear). A partial L4 checksum takes only the
// address change (ports are not in the pseudo-header); a UDP datagram without a checksum
// keeps none. What set_ipv4_addr, set_l4_port and decrement_ttl do, field by field.
void rewrite_nat(Parsed& p, uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport, bool ttl);

// DSR over L3 in one pass: the destination address becomes `daddr`, the TOS byte `tos`,
// the TTL one less; one update of the IP checksum for the three, and the address change
// on the TCP/UDP checksum (partial or full; none kept none). What set_ipv4_addr, a TOS
// write with csum_replace16 and decrement_ttl do one after the other.
void rewrite_dsr_l3(Parsed& p, uint32_t daddr, uint8_t tos);

// Rewrites one IPv4 address of the packet (source when `source` is true) and fixes the
// IP checksum and the TCP/UDP checksum incrementally (RFC 1624); a partial L4 checksum
// gets the partial update instead.
void set_ipv4_addr(Parsed& p, bool source, uint32_t new_addr_net);
// Rewrites the TCP/UDP source or destination port, updating a complete L4 checksum
// (a partial one covers only the pseudo-header, so it needs nothing).
void set_l4_port(Parsed& p, bool source, uint16_t new_port_net);
// Decrements the TTL with an incremental IP checksum update. The caller checks TTL > 1.
void decrement_ttl(Parsed& p);

}  // namespace lb::pkt
