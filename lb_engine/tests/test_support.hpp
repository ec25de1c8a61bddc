// Helpers shared by the engine's unit tests: frames built with libtins, a reference
// Internet checksum written from RFC 1071 (independent of lb/packet/checksum.hpp), and a
// one-line decoding of a frame for failure messages.
#pragma once
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <tins/tins.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace lbtest {

constexpr size_t kVnetLen = 10;  // virtio_net_hdr without num_buffers
constexpr size_t kEthLen = 14;

// ----------------------------------------------------------------- bytes

inline uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}
inline void put_be16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void put_le16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}

// An IPv4 address in network byte order, as the engine's APIs take it.
inline uint32_t net(const char* dotted) {
  in_addr a{};
  if (inet_pton(AF_INET, dotted, &a) != 1) ADD_FAILURE() << "bad test address " << dotted;
  return a.s_addr;
}
inline std::string dotted(uint32_t net_order) {
  char buf[INET_ADDRSTRLEN];
  in_addr a{net_order};
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

inline std::string hex(const uint8_t* p, size_t n) {
  std::string s;
  char b[4];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, "%02x", p[i]);
    s += b;
    if (i + 1 < n) s += (i % 16 == 15) ? "\n" : " ";
  }
  return s;
}

// ----------------------------------------------------------------- reference checksum

// RFC 1071: the 16-bit one's-complement sum of big-endian words, an odd last byte
// padded with a zero byte on the right. Written independently of the engine's code.
inline uint32_t ref_sum(const uint8_t* p, size_t n, uint32_t sum = 0) {
  uint64_t s = sum;
  for (size_t i = 0; i + 1 < n; i += 2) s += be16(p + i);
  if (n % 2) s += uint32_t{p[n - 1]} << 8;
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint32_t>(s);
}
inline uint16_t ref_fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint16_t>(s);
}

struct Ipv4At {
  const uint8_t* ip;  // start of the IPv4 header
  size_t ihl() const { return (ip[0] & 0x0f) * 4u; }
  size_t tot_len() const { return be16(ip + 2); }
  uint8_t proto() const { return ip[9]; }
  const uint8_t* l4() const { return ip + ihl(); }
  size_t l4_len() const { return tot_len() - ihl(); }
};

// The IPv4 header checksum a sender would compute (check field taken as zero).
inline uint16_t ref_ip_check(const uint8_t* ip) {
  Ipv4At h{ip};
  std::vector<uint8_t> copy(ip, ip + h.ihl());
  copy[10] = copy[11] = 0;
  return static_cast<uint16_t>(~ref_fold(ref_sum(copy.data(), copy.size())));
}

// The sum of the IPv4 pseudo-header for `l4_len` bytes of `proto` (not complemented).
inline uint32_t ref_pseudo_sum(uint32_t saddr_net, uint32_t daddr_net, uint8_t proto, size_t l4_len) {
  uint8_t ph[12];
  std::memcpy(ph, &saddr_net, 4);
  std::memcpy(ph + 4, &daddr_net, 4);
  ph[8] = 0;
  ph[9] = proto;
  put_be16(ph + 10, static_cast<uint16_t>(l4_len));
  return ref_sum(ph, sizeof ph);
}

inline size_t l4_check_offset(uint8_t proto) { return proto == 6 ? 16 : proto == 17 ? 6 : 2; }

// The TCP/UDP (pseudo-header) or ICMP checksum a sender would compute for the packet
// whose IPv4 header starts at `ip`, with the check field taken as zero. UDP's computed 0
// is sent as 0xffff (RFC 768).
inline uint16_t ref_l4_check(const uint8_t* ip) {
  Ipv4At h{ip};
  std::vector<uint8_t> seg(h.l4(), h.l4() + h.l4_len());
  const size_t off = l4_check_offset(h.proto());
  if (seg.size() < off + 2) return 0;  // no room for a checksum field
  seg[off] = seg[off + 1] = 0;
  uint32_t s = ref_sum(seg.data(), seg.size());
  if (h.proto() != 1) {
    uint32_t sa, da;
    std::memcpy(&sa, ip + 12, 4);
    std::memcpy(&da, ip + 16, 4);
    s = ref_sum(nullptr, 0, s + ref_pseudo_sum(sa, da, h.proto(), h.l4_len()));
  }
  uint16_t c = static_cast<uint16_t>(~ref_fold(s));
  if (h.proto() == 17 && c == 0) c = 0xffff;
  return c;
}

inline uint16_t stored_ip_check(const uint8_t* ip) { return be16(ip + 10); }
inline uint16_t stored_l4_check(const uint8_t* ip) {
  Ipv4At h{ip};
  return be16(h.l4() + l4_check_offset(h.proto()));
}

// Rewrites the stored IPv4 header checksum to the correct value (after a test edits the
// header on purpose).
inline void fix_ip_check(uint8_t* ip) { put_be16(ip + 10, ref_ip_check(ip)); }
inline void fix_l4_check(uint8_t* ip) {
  Ipv4At h{ip};
  put_be16(const_cast<uint8_t*>(h.l4()) + l4_check_offset(h.proto()), ref_l4_check(ip));
}

// ----------------------------------------------------------------- frames

inline std::vector<uint8_t> bytes_of(Tins::PDU& pdu) { return pdu.serialize(); }

// A frame as a TAP with IFF_VNET_HDR delivers it: a zeroed virtio_net_hdr, then Ethernet.
inline std::vector<uint8_t> with_vnet(const std::vector<uint8_t>& frame) {
  std::vector<uint8_t> out(kVnetLen, 0);
  out.insert(out.end(), frame.begin(), frame.end());
  return out;
}
inline std::vector<uint8_t> with_vnet(Tins::PDU& pdu) { return with_vnet(pdu.serialize()); }

// Inserts 4 bytes of IPv4 options (NOP, NOP, NOP, EOL) into a vnet frame whose IP header
// has none, so the L4 header moves to offset 24; fixes lengths and both checksums. (libtins'
// own IP options serialize a wrong UDP length and L4 checksum, so they are not used.)
inline void add_ip_options(std::vector<uint8_t>& vframe) {
  const size_t ip_off = kVnetLen + kEthLen;
  ASSERT_EQ(vframe[ip_off], 0x45) << "add_ip_options wants a 20-byte header";
  const size_t tot = be16(vframe.data() + ip_off + 2);
  vframe.resize(ip_off + tot);  // drop Ethernet padding, it would end up inside the packet
  const uint8_t opts[4] = {1, 1, 1, 0};
  vframe.insert(vframe.begin() + static_cast<long>(ip_off + 20), opts, opts + 4);
  uint8_t* ip = vframe.data() + ip_off;
  ip[0] = 0x46;
  put_be16(ip + 2, static_cast<uint16_t>(tot + 4));
  fix_ip_check(ip);
  if (ip[9] == 6 || ip[9] == 17) fix_l4_check(ip);
}

// Marks a vnet frame CHECKSUM_PARTIAL the way Linux does: NEEDS_CSUM, csum_start at the
// L4 header, and the L4 field holding the folded, uncomplemented pseudo-header sum.
inline void make_partial(std::vector<uint8_t>& vframe) {
  uint8_t* ip = vframe.data() + kVnetLen + kEthLen;
  Ipv4At h{ip};
  const size_t off = l4_check_offset(h.proto());
  vframe[0] = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  put_le16(vframe.data() + 6, static_cast<uint16_t>(kEthLen + h.ihl()));
  put_le16(vframe.data() + 8, static_cast<uint16_t>(off));
  uint32_t sa, da;
  std::memcpy(&sa, ip + 12, 4);
  std::memcpy(&da, ip + 16, 4);
  put_be16(const_cast<uint8_t*>(h.l4()) + off, ref_fold(ref_pseudo_sum(sa, da, h.proto(), h.l4_len())));
}

// What the kernel does to finish a CHECKSUM_PARTIAL packet: the one's-complement sum of the
// L4 bytes from csum_start, with the field as it is, complemented (UDP's 0 sent as 0xffff).
inline uint16_t complete_partial(const uint8_t* ip) {
  Ipv4At h{ip};
  uint16_t c = static_cast<uint16_t>(~ref_fold(ref_sum(h.l4(), h.l4_len())));
  if (h.proto() == 17 && c == 0) c = 0xffff;
  return c;
}

// A short human-readable decoding (libtins) plus hex, for failure messages.
inline std::string describe(const uint8_t* frame, size_t len) {
  std::ostringstream o;
  try {
    Tins::EthernetII eth(frame, static_cast<uint32_t>(len));
    o << "eth " << eth.src_addr() << " > " << eth.dst_addr() << " type 0x" << std::hex
      << eth.payload_type() << std::dec;
    if (auto* arp = eth.find_pdu<Tins::ARP>())
      o << " arp op " << arp->opcode() << " " << arp->sender_ip_addr() << "/" << arp->sender_hw_addr()
        << " -> " << arp->target_ip_addr() << "/" << arp->target_hw_addr();
    if (auto* ip = eth.find_pdu<Tins::IP>())
      o << " ip " << ip->src_addr() << " > " << ip->dst_addr() << " ttl " << int(ip->ttl())
        << " len " << ip->tot_len();
    if (auto* tcp = eth.find_pdu<Tins::TCP>())
      o << " tcp " << tcp->sport() << " > " << tcp->dport() << " flags 0x" << std::hex
        << tcp->flags() << std::dec;
    if (auto* udp = eth.find_pdu<Tins::UDP>()) o << " udp " << udp->sport() << " > " << udp->dport();
    if (auto* icmp = eth.find_pdu<Tins::ICMP>()) o << " icmp type " << int(icmp->type());
  } catch (const std::exception& e) {
    o << "(libtins: " << e.what() << ")";
  }
  o << "\n" << hex(frame, len);
  return o.str();
}
inline std::string describe(const std::vector<uint8_t>& vframe) {
  if (vframe.size() < kVnetLen) return "(shorter than a vnet header)";
  return describe(vframe.data() + kVnetLen, vframe.size() - kVnetLen);
}

// Checks both checksums of the IPv4 packet at `ip` against a full recomputation and
// reports expected vs actual for each.
inline ::testing::AssertionResult ChecksumsMatchRecomputation(const uint8_t* ip) {
  const uint16_t ip_got = stored_ip_check(ip), ip_want = ref_ip_check(ip);
  const uint16_t l4_got = stored_l4_check(ip), l4_want = ref_l4_check(ip);
  if (ip_got == ip_want && l4_got == l4_want) return ::testing::AssertionSuccess();
  char b[160];
  std::snprintf(b, sizeof b, "IP check: expected 0x%04x, actual 0x%04x; L4 (proto %u) check: expected 0x%04x, actual 0x%04x",
                ip_want, ip_got, Ipv4At{ip}.proto(), l4_want, l4_got);
  return ::testing::AssertionFailure() << b;
}

// ----------------------------------------------------------------- frames out

inline Tins::HWAddress<6> hw(const char* mac) { return Tins::HWAddress<6>(mac); }

// An IPv4 frame the engine sent, decoded by libtins (ip is null when it is not IPv4).
struct Sent {
  std::vector<uint8_t> v;
  Tins::EthernetII eth;
  const Tins::IP* ip = nullptr;
  const Tins::TCP* tcp = nullptr;
  const Tins::UDP* udp = nullptr;
  const Tins::ICMP* icmp = nullptr;
  explicit Sent(std::vector<uint8_t> frame)
      : v(std::move(frame)),
        eth(v.size() > kVnetLen ? Tins::EthernetII(v.data() + kVnetLen, static_cast<uint32_t>(v.size() - kVnetLen))
                                : Tins::EthernetII()) {
    ip = eth.find_pdu<Tins::IP>();
    tcp = eth.find_pdu<Tins::TCP>();
    udp = eth.find_pdu<Tins::UDP>();
    icmp = eth.find_pdu<Tins::ICMP>();
  }
  const uint8_t* ip_bytes() const { return v.data() + kVnetLen + kEthLen; }
};

// Raw reads of an IPv4 header (for headers libtins does not decode: IPIP, ICMP quotes).
inline std::string src_of(const uint8_t* ip) {
  uint32_t a;
  std::memcpy(&a, ip + 12, 4);
  return dotted(a);
}
inline std::string dst_of(const uint8_t* ip) {
  uint32_t a;
  std::memcpy(&a, ip + 16, 4);
  return dotted(a);
}
inline uint16_t sport_of(const uint8_t* ip) { return be16(Ipv4At{ip}.l4()); }
inline uint16_t dport_of(const uint8_t* ip) { return be16(Ipv4At{ip}.l4() + 2); }

// An ICMP error (destination unreachable, time exceeded) whose IPv4 header is at `ip`:
// the message fields and the packet it quotes.
struct IcmpErrorAt {
  const uint8_t* ip;
  const uint8_t* icmp() const { return Ipv4At{ip}.l4(); }
  uint8_t type() const { return icmp()[0]; }
  uint8_t code() const { return icmp()[1]; }
  uint16_t next_hop_mtu() const { return be16(icmp() + 6); }  // RFC 1191
  const uint8_t* quote() const { return icmp() + 8; }
  size_t quote_len() const { return Ipv4At{ip}.l4_len() - 8; }
};

}  // namespace lbtest
