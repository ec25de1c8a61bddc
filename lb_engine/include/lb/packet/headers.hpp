// Fixed-size header views over frame buffers. Every multi-byte field is stored in
// network byte order exactly as on the wire; accessors named *_h() convert to host
// order. view<T>() checks bounds before handing out a pointer.
#pragma once
#include <arpa/inet.h>
#include <cstddef>
#include <cstdint>

namespace lb::pkt {

// virtio_net_hdr, the prefix of every frame on a TAP opened with IFF_VNET_HDR.
// Little-endian on every host this runs on (TUNSETVNETLE is not needed on x86/arm64).
struct __attribute__((packed)) VnetHdr {
  static constexpr uint8_t kNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
  static constexpr uint8_t kDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
  static constexpr uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoUdp = 3, kGsoTcpV6 = 4;
  uint8_t flags;
  uint8_t gso_type;
  uint16_t hdr_len;      // little-endian
  uint16_t gso_size;     // little-endian
  uint16_t csum_start;   // little-endian, from the start of the Ethernet header
  uint16_t csum_offset;  // little-endian, from csum_start
};
static_assert(sizeof(VnetHdr) == 10);

struct __attribute__((packed)) EthHdr {
  static constexpr uint16_t kIpv4 = 0x0800, kArp = 0x0806, kVlan = 0x8100, kIpv6 = 0x86dd;
  uint8_t dst[6];
  uint8_t src[6];
  uint16_t type;  // network order
  uint16_t type_h() const { return ntohs(type); }
};
static_assert(sizeof(EthHdr) == 14);

struct __attribute__((packed)) ArpHdr {
  static constexpr uint16_t kRequest = 1, kReply = 2;
  uint16_t htype;  // network order, 1 = Ethernet
  uint16_t ptype;  // network order, 0x0800
  uint8_t hlen;    // 6
  uint8_t plen;    // 4
  uint16_t op;     // network order
  uint8_t sha[6];
  uint32_t spa;    // network order (unaligned: packed)
  uint8_t tha[6];
  uint32_t tpa;    // network order
};
static_assert(sizeof(ArpHdr) == 28);

struct __attribute__((packed)) Ipv4Hdr {
  static constexpr uint8_t kIcmp = 1, kTcp = 6, kUdp = 17;
  static constexpr uint16_t kMoreFragments = 0x2000, kOffsetMask = 0x1fff;
  uint8_t ver_ihl;     // version (4 bits), header length in 32-bit words (4 bits)
  uint8_t tos;         // DSCP (6 bits) + ECN (2 bits)
  uint16_t tot_len;    // network order
  uint16_t id;         // network order
  uint16_t frag_off;   // network order: flags (3 bits) + offset (13 bits)
  uint8_t ttl;
  uint8_t protocol;
  uint16_t check;      // network order
  uint32_t saddr;      // network order
  uint32_t daddr;      // network order
  unsigned version() const { return ver_ihl >> 4; }
  unsigned header_len() const { return (ver_ihl & 0x0f) * 4u; }
  bool is_fragment() const { return (ntohs(frag_off) & (kMoreFragments | kOffsetMask)) != 0; }
};
static_assert(sizeof(Ipv4Hdr) == 20);

struct __attribute__((packed)) TcpHdr {
  static constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kPsh = 0x08, kAck = 0x10;
  uint16_t source;  // network order
  uint16_t dest;    // network order
  uint32_t seq;     // network order
  uint32_t ack_seq; // network order
  uint8_t doff_res; // data offset in 32-bit words (4 bits)
  uint8_t flags;
  uint16_t window;  // network order
  uint16_t check;   // network order
  uint16_t urg_ptr; // network order
  unsigned header_len() const { return (doff_res >> 4) * 4u; }
};
static_assert(sizeof(TcpHdr) == 20);

struct __attribute__((packed)) UdpHdr {
  uint16_t source;  // network order
  uint16_t dest;    // network order
  uint16_t len;     // network order
  uint16_t check;   // network order, 0 = no checksum (IPv4)
};
static_assert(sizeof(UdpHdr) == 8);

struct __attribute__((packed)) IcmpHdr {
  static constexpr uint8_t kEchoReply = 0, kDestUnreach = 3, kEchoRequest = 8, kTimeExceeded = 11;
  uint8_t type;
  uint8_t code;
  uint16_t check;  // network order
  uint16_t id;     // network order (echo)
  uint16_t seq;    // network order (echo)
};
static_assert(sizeof(IcmpHdr) == 8);

// A pointer to a T at `off` in a buffer of `len` bytes, or nullptr when it does not fit.
template <typename T>
inline T* view(uint8_t* buf, size_t len, size_t off) {
  return (off <= len && len - off >= sizeof(T)) ? reinterpret_cast<T*>(buf + off) : nullptr;
}
template <typename T>
inline const T* view(const uint8_t* buf, size_t len, size_t off) {
  return (off <= len && len - off >= sizeof(T)) ? reinterpret_cast<const T*>(buf + off) : nullptr;
}

}  // namespace lb::pkt
