#include "lablib/pcap.hpp"

#include "lablib/util.hpp"

#include <tins/tins.h>

#include <cstdio>

namespace lab {

std::string Packet::protocol_name() const {
    if (!is_ipv4) {
        if (ethertype == 0x0806) return "arp";
        if (ethertype == 0x86dd) return "ipv6";
        char b[16];
        std::snprintf(b, sizeof b, "eth 0x%04x", ethertype);
        return b;
    }
    switch (protocol) {
        case 6: return "tcp";
        case 17: return "udp";
        case 1: return "icmp";
        default: return "ip " + std::to_string(protocol);
    }
}

std::string Packet::tcp_flags_string() const {
    std::string s;
    if (tcp_flags & 0x02) s += 'S';
    if (tcp_flags & 0x01) s += 'F';
    if (tcp_flags & 0x04) s += 'R';
    if (tcp_flags & 0x08) s += 'P';
    if (tcp_flags & 0x10) s += 'A';
    return s.empty() ? "." : s;
}

std::string Packet::summary() const {
    std::string s = src_mac + " > " + dst_mac + ", ";
    if (!is_ipv4) return s + protocol_name() + (decode_error.empty() ? "" : " (" + decode_error + ")");
    std::string src = src_ip, dst = dst_ip;
    if (has_ports) {
        src += ":" + std::to_string(src_port);
        dst += ":" + std::to_string(dst_port);
    }
    s += src + " > " + dst + " " + protocol_name();
    if (protocol == 6) s += " [" + tcp_flags_string() + "]";
    if (is_icmp) s += " type " + std::to_string(icmp_type) + " code " + std::to_string(icmp_code);
    s += " ttl " + std::to_string(ttl) + " len " + std::to_string(ip_total_length);
    s += ", checksums: " + checksums.describe();
    if (!decode_error.empty()) s += " (" + decode_error + ")";
    return s;
}

std::string Packet::hexdump() const {
    std::string out;
    char b[24];
    for (size_t i = 0; i < head.size(); ++i) {
        if (i % 16 == 0) {
            if (i) out += '\n';
            std::snprintf(b, sizeof b, "%04zx ", i);
            out += b;
        }
        std::snprintf(b, sizeof b, " %02x", head[i]);
        out += b;
    }
    return out;
}

namespace {
constexpr size_t kHeadBytes = 128;
}

Packet decode_frame(const uint8_t* data, size_t caplen) {
    Packet p;
    p.caplen = caplen;
    p.head.assign(data, data + std::min(caplen, kHeadBytes));
    p.checksums = verify_frame(data, caplen);
    try {
        Tins::EthernetII eth(data, static_cast<uint32_t>(caplen));
        p.src_mac = eth.src_addr().to_string();
        p.dst_mac = eth.dst_addr().to_string();
        p.ethertype = eth.payload_type();
        const Tins::PDU* inner = eth.inner_pdu();
        size_t l2 = 14;
        if (auto* vlan = eth.find_pdu<Tins::Dot1Q>()) {
            p.ethertype = vlan->payload_type();
            inner = vlan->inner_pdu();
            l2 = 18;
        }
        if (auto* ip = inner ? inner->find_pdu<Tins::IP>() : nullptr) {
            p.is_ipv4 = true;
            p.src_ip = ip->src_addr().to_string();
            p.dst_ip = ip->dst_addr().to_string();
            p.ttl = ip->ttl();
            p.protocol = ip->protocol();
            p.ip_total_length = ip->tot_len();
            p.dscp = ip->tos() >> 2;
            p.truncated = caplen < l2 + p.ip_total_length;
            uint32_t l4_header = 0;
            if (auto* tcp = ip->find_pdu<Tins::TCP>()) {
                p.has_ports = true;
                p.src_port = tcp->sport();
                p.dst_port = tcp->dport();
                p.tcp_flags = static_cast<uint8_t>(tcp->flags());
                l4_header = tcp->header_size();
            } else if (auto* udp = ip->find_pdu<Tins::UDP>()) {
                p.has_ports = true;
                p.src_port = udp->sport();
                p.dst_port = udp->dport();
                l4_header = 8;
            } else if (auto* icmp = ip->find_pdu<Tins::ICMP>()) {
                p.is_icmp = true;
                p.icmp_type = icmp->type();
                p.icmp_code = icmp->code();
                l4_header = 8;
            }
            uint32_t iph = ip->header_size();
            if (p.ip_total_length >= iph + l4_header)
                p.payload_length = p.ip_total_length - iph - l4_header;
        }
    } catch (const std::exception& e) {
        p.decode_error = std::string("malformed: ") + e.what();
    }
    return p;
}

std::vector<Packet> read_pcap(const std::filesystem::path& file) {
    std::vector<Packet> out;
    std::unique_ptr<Tins::FileSniffer> sniffer;
    try {
        sniffer = std::make_unique<Tins::FileSniffer>(file.string());
    } catch (const std::exception& e) {
        throw Error("cannot read capture " + file.string() + ": " + e.what());
    }
    sniffer->set_extract_raw_pdus(true);
    while (true) {
        Tins::Packet pk = sniffer->next_packet();
        if (!pk) break;
        auto* raw = pk.pdu()->find_pdu<Tins::RawPDU>();
        if (!raw) continue;
        const auto& bytes = raw->payload();
        Packet p = decode_frame(bytes.data(), bytes.size());
        p.index = out.size() + 1;
        auto ts = pk.timestamp();
        p.time = static_cast<double>(ts.seconds()) + static_cast<double>(ts.microseconds()) / 1e6;
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace lab
