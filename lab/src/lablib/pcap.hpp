// pcap.hpp: one capture file decoded into plain records (libtins FileSniffer; Ethernet
// II / IPv4 / TCP / UDP / ICMP, IPIP with its inner packet, the header an ICMP error
// quotes, ARP, the VRRP header's VRID and priority), each with its checksums verified by checksum.hpp on the raw bytes. Checks
// and facts work on these records only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "lablib/checksum.hpp"

namespace lab {

// One IPv4 header and what follows it: the packet as captured, or the packet an IPIP
// header carries (Packet::inner). Fields stay at their "absent" values (-1, false, "")
// when the capture does not hold them.
struct IpView {
    std::string src_ip = {};
    std::string dst_ip = {};
    int ttl = -1;
    int protocol = -1;             // 6 tcp, 17 udp, 1 icmp, 4 ipip
    uint32_t ip_total_length = 0;  // the IP header's field: the packet's real size
    int dscp = -1;                 // the upper six bits of the TOS byte
    int ecn = -1;                  // the lower two
    uint16_t ip_id = 0;
    bool dont_fragment = false;

    bool has_ports = false;  // tcp or udp
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint8_t tcp_flags = 0;   // FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10
    uint32_t tcp_seq = 0;
    uint32_t tcp_ack = 0;
    uint32_t payload_length = 0;  // L4 payload bytes per the IP total length

    bool is_icmp = false;
    int icmp_type = -1;
    int icmp_code = -1;
    int icmp_mtu = -1;  // the next-hop MTU of a "fragmentation needed" (type 3 code 4)
    // An ICMP error quotes the header of the datagram it is about (RFC 792).
    bool has_quoted = false;
    std::string quoted_src_ip = {};
    std::string quoted_dst_ip = {};
    int quoted_protocol = -1;
    int quoted_src_port = -1;  // tcp or udp only
    int quoted_dst_port = -1;

    // This header's checksums; for an IPIP packet they include the inner packet's.
    FrameChecksums checksums = {};

    std::string protocol_name() const;     // "tcp", "udp", "icmp", "ipip", "vrrp", "ip 47"
    std::string tcp_flags_string() const;  // "SA", "PA", "F" ...
    std::string source() const;            // "198.51.100.11:40000" (no port without one)
    std::string destination() const;
    // "198.51.100.11:40000 > 203.0.113.10:80 tcp [S] ttl 63 len 60"
    std::string describe() const;
};

struct Packet : IpView {
    size_t index = 0;      // 1-based position in its capture
    double time = 0;       // seconds since the epoch
    size_t caplen = 0;     // bytes captured (the snap length may cut the frame)
    std::string src_mac;   // "02:00:00:71:00:01"
    std::string dst_mac;
    uint16_t ethertype = 0;

    bool is_ipv4 = false;
    // VRRP (IPv4 protocol 112): the header's VRID and priority (bytes 1 and 2; RFC 5798
    // §5.2); -1 when not VRRP or not captured.
    int vrrp_vrid = -1;
    int vrrp_priority = -1;
    // ARP (ethertype 0x0806): the operation (1 request, 2 reply; 0 when not ARP) and the
    // sender's hardware and protocol addresses and the target's protocol address. A
    // request whose sender and target address are the same is a gratuitous ARP.
    int arp_op = 0;
    std::string arp_sender_mac;
    std::string arp_sender_ip;
    std::string arp_target_ip;
    bool gratuitous_arp() const { return arp_op == 1 && !arp_sender_ip.empty() && arp_sender_ip == arp_target_ip; }

    // IPIP (protocol 4): the encapsulated packet, with its own checksums. The fields
    // above are always the outer header's.
    std::optional<IpView> inner;

    bool truncated = false;  // caplen < the frame the IP total length describes
    std::string decode_error;  // libtins refused the frame (malformed)
    std::vector<uint8_t> head;  // the first bytes of the frame, for dumps

    std::string protocol_name() const;  // IpView's, or "arp", "ipv6", "eth 0x...."
    // The packet a flow is made of: the inner one of an IPIP packet, else this one.
    const IpView& innermost() const { return inner ? *inner : *this; }
    // One line: MACs, addresses, ports, protocol details, TTL, length, checksums; for
    // IPIP also the inner packet; for ARP the operation and addresses.
    std::string summary() const;
    // A hex dump of `head`, 16 bytes a line.
    std::string hexdump() const;
};

// Reads every frame of a pcap file (Ethernet or raw IP). Throws Error naming the file
// when it cannot be opened or has another link type; frames libtins cannot decode are
// kept with decode_error set.
std::vector<Packet> read_pcap(const std::filesystem::path& file);

// Decodes one raw Ethernet frame (used by read_pcap and by tests).
Packet decode_frame(const uint8_t* data, size_t caplen);
// Decodes one bare IP packet (a TUN device's capture): no MACs.
Packet decode_ip_packet(const uint8_t* data, size_t caplen);

}  // namespace lab
