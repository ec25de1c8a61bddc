// pcap.hpp: one capture file decoded into plain records (libtins FileSniffer; Ethernet
// II / IPv4 / TCP / UDP / ICMP), each with its checksums verified by checksum.hpp on
// the raw bytes. Checks and facts work on these records only.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lablib/checksum.hpp"

namespace lab {

struct Packet {
    size_t index = 0;      // 1-based position in its capture
    double time = 0;       // seconds since the epoch
    size_t caplen = 0;     // bytes captured (the snap length may cut the frame)
    std::string src_mac;   // "02:00:00:71:00:01"
    std::string dst_mac;
    uint16_t ethertype = 0;

    bool is_ipv4 = false;
    std::string src_ip;
    std::string dst_ip;
    int ttl = -1;
    int protocol = -1;           // 6 tcp, 17 udp, 1 icmp
    uint32_t ip_total_length = 0;  // the IP header's field: the packet's real size
    int dscp = -1;

    bool has_ports = false;  // tcp or udp
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint8_t tcp_flags = 0;   // FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10
    uint32_t payload_length = 0;  // L4 payload bytes per the IP total length

    bool is_icmp = false;
    int icmp_type = -1;
    int icmp_code = -1;

    FrameChecksums checksums;
    bool truncated = false;  // caplen < the frame the IP total length describes
    std::string decode_error;  // libtins refused the frame (malformed)
    std::vector<uint8_t> head;  // the first bytes of the frame, for dumps

    std::string protocol_name() const;  // "tcp", "udp", "icmp", "ip 47", "arp", ...
    std::string tcp_flags_string() const;  // "SA", "PA", "F" ...
    // One line: MACs, addresses, ports, protocol details, TTL, length, checksums.
    std::string summary() const;
    // A hex dump of `head`, 16 bytes a line.
    std::string hexdump() const;
};

// Reads every frame of a pcap file. Throws Error naming the file when it cannot be
// opened; frames libtins cannot decode are kept with decode_error set.
std::vector<Packet> read_pcap(const std::filesystem::path& file);

// Decodes one raw Ethernet frame (used by read_pcap and by tests).
Packet decode_frame(const uint8_t* data, size_t caplen);

}  // namespace lab
