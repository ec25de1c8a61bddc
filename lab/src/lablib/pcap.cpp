#include "lablib/pcap.hpp"

#include "lablib/util.hpp"

#include <tins/tins.h>

#include <algorithm>
#include <cstdio>

namespace lab {

std::string IpView::protocol_name() const {
    switch (protocol) {
        case 6: return "tcp";
        case 17: return "udp";
        case 1: return "icmp";
        case 4: return "ipip";
        case 112: return "vrrp";
        default: return "ip " + std::to_string(protocol);
    }
}

std::string Packet::protocol_name() const {
    if (!is_ipv4) {
        if (ethertype == 0x0806) return "arp";
        if (ethertype == 0x86dd) return "ipv6";
        char b[16];
        std::snprintf(b, sizeof b, "eth 0x%04x", ethertype);
        return b;
    }
    return IpView::protocol_name();
}

std::string IpView::tcp_flags_string() const {
    std::string s;
    if (tcp_flags & 0x02) s += 'S';
    if (tcp_flags & 0x01) s += 'F';
    if (tcp_flags & 0x04) s += 'R';
    if (tcp_flags & 0x08) s += 'P';
    if (tcp_flags & 0x10) s += 'A';
    return s.empty() ? "." : s;
}

std::string IpView::source() const {
    return has_ports ? src_ip + ":" + std::to_string(src_port) : src_ip;
}

std::string IpView::destination() const {
    return has_ports ? dst_ip + ":" + std::to_string(dst_port) : dst_ip;
}

std::string IpView::describe() const {
    std::string s = source() + " > " + destination() + " " + protocol_name();
    if (protocol == 6) s += " [" + tcp_flags_string() + "]";
    if (is_icmp) {
        s += " type " + std::to_string(icmp_type) + " code " + std::to_string(icmp_code);
        if (icmp_mtu >= 0) s += " mtu " + std::to_string(icmp_mtu);
        if (has_quoted) {
            s += " (about " + quoted_src_ip;
            if (quoted_src_port >= 0) s += ":" + std::to_string(quoted_src_port);
            s += " > " + quoted_dst_ip;
            if (quoted_dst_port >= 0) s += ":" + std::to_string(quoted_dst_port);
            s += ")";
        }
    }
    if (dscp > 0) s += " dscp " + std::to_string(dscp);
    s += " ttl " + std::to_string(ttl) + " len " + std::to_string(ip_total_length);
    return s;
}

std::string Packet::summary() const {
    std::string s = src_mac + " > " + dst_mac + ", ";
    if (arp_op == 1)
        s += "arp request who-has " + arp_target_ip + " tell " + arp_sender_ip + " (" + arp_sender_mac + ")" +
             (gratuitous_arp() ? " gratuitous" : "");
    else if (arp_op == 2)
        s += "arp reply " + arp_sender_ip + " is-at " + arp_sender_mac;
    if (arp_op) return s + (decode_error.empty() ? "" : " (" + decode_error + ")");
    if (!is_ipv4) return s + protocol_name() + (decode_error.empty() ? "" : " (" + decode_error + ")");
    s += IpView::describe();
    if (vrrp_priority >= 0) s += " vrid " + std::to_string(vrrp_vrid) + " priority " + std::to_string(vrrp_priority);
    if (inner) s += " [inner " + inner->describe() + "]";
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

constexpr size_t kHeadBytes = 160;

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

std::string ipv4_string(const uint8_t* p) {
    char b[16];
    std::snprintf(b, sizeof b, "%u.%u.%u.%u", p[0], p[1], p[2], p[3]);
    return b;
}

// The datagram header an ICMP error quotes: `q` holds `n` captured bytes after the
// 8-byte ICMP header (RFC 792: the IP header and at least 8 bytes of its payload).
void decode_quoted(const uint8_t* q, size_t n, IpView& v) {
    if (n < 20 || (q[0] >> 4) != 4) return;
    size_t ihl = static_cast<size_t>(q[0] & 0x0f) * 4;
    if (ihl < 20 || n < ihl) return;
    v.has_quoted = true;
    v.quoted_protocol = q[9];
    v.quoted_src_ip = ipv4_string(q + 12);
    v.quoted_dst_ip = ipv4_string(q + 16);
    if ((q[9] == 6 || q[9] == 17) && n >= ihl + 4) {
        v.quoted_src_port = be16(q + ihl);
        v.quoted_dst_port = be16(q + ihl + 2);
    }
}

// Fills `v` from a libtins IP layer that starts at `raw` (`avail` captured bytes).
void fill_ip(const Tins::IP& ip, const uint8_t* raw, size_t avail, IpView& v) {
    v.src_ip = ip.src_addr().to_string();
    v.dst_ip = ip.dst_addr().to_string();
    v.ttl = ip.ttl();
    v.protocol = ip.protocol();
    v.ip_total_length = ip.tot_len();
    v.dscp = ip.tos() >> 2;
    v.ecn = ip.tos() & 0x3;
    v.ip_id = ip.id();
    v.dont_fragment = (ip.flags() & Tins::IP::DONT_FRAGMENT) != 0;
    uint32_t iph = ip.header_size();
    uint32_t l4_header = 0;
    const Tins::PDU* l4 = ip.inner_pdu();
    if (v.protocol == 4) {
        // IPIP: decode_frame decodes the inner packet from the bytes.
    } else if (auto* tcp = l4 ? l4->find_pdu<Tins::TCP>() : nullptr; tcp && v.protocol == 6) {
        v.has_ports = true;
        v.src_port = tcp->sport();
        v.dst_port = tcp->dport();
        v.tcp_flags = static_cast<uint8_t>(tcp->flags());
        v.tcp_seq = tcp->seq();
        v.tcp_ack = tcp->ack_seq();
        l4_header = tcp->header_size();
    } else if (auto* udp = l4 ? l4->find_pdu<Tins::UDP>() : nullptr; udp && v.protocol == 17) {
        v.has_ports = true;
        v.src_port = udp->sport();
        v.dst_port = udp->dport();
        l4_header = 8;
    } else if (auto* icmp = l4 ? l4->find_pdu<Tins::ICMP>() : nullptr; icmp && v.protocol == 1) {
        v.is_icmp = true;
        v.icmp_type = icmp->type();
        v.icmp_code = icmp->code();
        l4_header = 8;
        if (v.icmp_type == 3 && v.icmp_code == 4) v.icmp_mtu = icmp->mtu();
        // Errors (destination unreachable, time exceeded, ...) quote a datagram.
        if (v.icmp_type == 3 || v.icmp_type == 11 || v.icmp_type == 12 || v.icmp_type == 5) {
            size_t off = iph + 8;
            if (avail > off) decode_quoted(raw + off, avail - off, v);
        }
    }
    if (v.ip_total_length >= iph + l4_header) v.payload_length = v.ip_total_length - iph - l4_header;
}

}  // namespace

namespace {

// The IPv4 packet at `raw` (`avail` captured bytes) into `p`; p.checksums must be set.
void decode_ipv4(Packet& p, const uint8_t* raw, size_t avail, size_t l2) {
    Tins::IP ip(raw, static_cast<uint32_t>(avail));
    p.is_ipv4 = true;
    fill_ip(ip, raw, avail, p);
    p.truncated = p.caplen < l2 + p.ip_total_length;
    size_t off = ip.header_size();
    if (p.protocol == 112 && avail >= off + 3) {  // VRRP: version/type, VRID, priority
        p.vrrp_vrid = raw[off + 1];
        p.vrrp_priority = raw[off + 2];
    }
    size_t in_avail = std::min<size_t>(avail, p.ip_total_length);
    if (p.protocol == 4 && in_avail >= off + 20) {
        // The inner packet, from its own bytes. A malformed inner header leaves `inner`
        // empty and says so.
        try {
            Tins::IP in(raw + off, static_cast<uint32_t>(in_avail - off));
            IpView v;
            fill_ip(in, raw + off, in_avail - off, v);
            if (p.checksums.inner) v.checksums = *p.checksums.inner;
            p.inner = std::move(v);
        } catch (const std::exception& e) {
            p.decode_error = std::string("inner packet malformed: ") + e.what();
        }
    }
}

}  // namespace

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
        size_t l2 = 14;
        if (auto* vlan = eth.find_pdu<Tins::Dot1Q>()) {
            p.ethertype = vlan->payload_type();
            l2 = 18;
        }
        if (p.ethertype == 0x0800 && caplen > l2) decode_ipv4(p, data + l2, caplen - l2, l2);
        if (auto* arp = eth.find_pdu<Tins::ARP>()) {
            p.arp_op = arp->opcode();
            p.arp_sender_mac = arp->sender_hw_addr().to_string();
            p.arp_sender_ip = arp->sender_ip_addr().to_string();
            p.arp_target_ip = arp->target_ip_addr().to_string();
        }
    } catch (const std::exception& e) {
        p.decode_error = std::string("malformed: ") + e.what();
    }
    return p;
}

Packet decode_ip_packet(const uint8_t* data, size_t caplen) {
    Packet p;
    p.caplen = caplen;
    p.head.assign(data, data + std::min(caplen, kHeadBytes));
    p.checksums = verify_ipv4(data, caplen);
    if (caplen == 0 || (data[0] >> 4) != 4) {
        p.ethertype = caplen && (data[0] >> 4) == 6 ? 0x86dd : 0;
        return p;
    }
    p.ethertype = 0x0800;
    try {
        decode_ipv4(p, data, caplen, 0);
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
    // Ethernet, or bare IP (a TUN device such as lab_decap's): DLT_RAW is 12 on Linux
    // (14 elsewhere), DLT_IPV4 228.
    int link = sniffer->link_type();
    bool bare_ip = link == 12 || link == 14 || link == 228;
    if (link != 1 && !bare_ip)
        throw Error("cannot read capture " + file.string() + ": link type " + std::to_string(link) +
                    " is neither Ethernet nor raw IP");
    while (true) {
        Tins::Packet pk = sniffer->next_packet();
        if (!pk) break;
        auto* raw = pk.pdu()->find_pdu<Tins::RawPDU>();
        if (!raw) continue;
        const auto& bytes = raw->payload();
        Packet p = bare_ip ? decode_ip_packet(bytes.data(), bytes.size()) : decode_frame(bytes.data(), bytes.size());
        p.index = out.size() + 1;
        auto ts = pk.timestamp();
        p.time = static_cast<double>(ts.seconds()) + static_cast<double>(ts.microseconds()) / 1e6;
        out.push_back(std::move(p));
    }
    return out;
}

}  // namespace lab
