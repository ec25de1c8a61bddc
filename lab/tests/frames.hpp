// frames.hpp: building Ethernet frames and pcap files for the check-engine tests.
// Correct frames come from libtins (which fills every checksum); broken ones are the
// same bytes edited afterwards.
#pragma once

#include <tins/tins.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace labtest {

using Bytes = std::vector<uint8_t>;

struct FrameSpec {
    std::string src_mac = "02:00:00:71:00:01";
    std::string dst_mac = "02:00:00:71:00:02";
    std::string src_ip = "198.51.100.11";
    std::string dst_ip = "203.0.113.10";
    uint16_t src_port = 40000;
    uint16_t dst_port = 80;
    uint8_t ttl = 64;
    std::string proto = "tcp";  // tcp | udp | icmp
    uint16_t tcp_flags = Tins::TCP::SYN;
    Tins::ICMP::Flags icmp_type = Tins::ICMP::ECHO_REQUEST;
    std::string payload;
};

inline Bytes build(const FrameSpec& f) {
    Tins::EthernetII eth(f.dst_mac, f.src_mac);
    Tins::IP ip(f.dst_ip, f.src_ip);
    ip.ttl(f.ttl);
    ip.id(0x1234);
    Tins::PDU* l4 = nullptr;
    Tins::TCP tcp(f.dst_port, f.src_port);
    Tins::UDP udp(f.dst_port, f.src_port);
    Tins::ICMP icmp(f.icmp_type);
    if (f.proto == "tcp") {
        tcp.flags(f.tcp_flags);
        l4 = &tcp;
    } else if (f.proto == "udp") {
        l4 = &udp;
    } else {
        icmp.id(7);
        icmp.sequence(1);
        l4 = &icmp;
    }
    Tins::EthernetII pkt = eth / ip / *l4;
    if (!f.payload.empty()) pkt /= Tins::RawPDU(f.payload);
    return pkt.serialize();
}

// Offset of the L4 header in a frame built above (no VLAN, IHL 5).
constexpr size_t kL4 = 14 + 20;

inline void write_pcap(const std::filesystem::path& file, const std::vector<Bytes>& frames) {
    Tins::PacketWriter w(file.string(), Tins::DataLinkType<Tins::EthernetII>());
    for (const auto& b : frames) {
        Tins::RawPDU raw(b.data(), static_cast<uint32_t>(b.size()));
        w.write(raw);
    }
}

// A fresh directory under the system temp dir, removed by the destructor.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "labtest.XXXXXX").string();
        char* p = ::mkdtemp(tmpl.data());
        if (!p) throw std::runtime_error("mkdtemp failed");
        path = p;
    }
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

}  // namespace labtest
