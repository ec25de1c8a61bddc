#include "lablib/checksum.hpp"

#include <algorithm>
#include <cstdio>

namespace lab {

uint32_t ones_sum(const uint8_t* data, size_t len, uint32_t initial) {
    uint64_t sum = initial;
    size_t i = 0;
    for (; i + 1 < len; i += 2) sum += (static_cast<uint32_t>(data[i]) << 8) | data[i + 1];
    if (i < len) sum += static_cast<uint32_t>(data[i]) << 8;
    while (sum >> 32) sum = (sum & 0xffffffffu) + (sum >> 32);
    return static_cast<uint32_t>(sum);
}

uint16_t internet_checksum(const uint8_t* data, size_t len, uint32_t initial) {
    uint32_t sum = ones_sum(data, len, initial);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum & 0xffff);
}

const char* to_string(CsumStatus s) {
    switch (s) {
        case CsumStatus::Valid: return "ok";
        case CsumStatus::Invalid: return "BAD";
        case CsumStatus::Unverifiable: return "unverifiable (truncated capture)";
        case CsumStatus::NotApplicable: return "n/a";
    }
    return "?";
}

bool FrameChecksums::valid() const {
    return ip.status != CsumStatus::Invalid && l4.status != CsumStatus::Invalid &&
           (!inner || inner->valid());
}

bool FrameChecksums::fully_verified() const {
    auto done = [](CsumStatus s) { return s == CsumStatus::Valid || s == CsumStatus::NotApplicable; };
    return done(ip.status) && done(l4.status) && (!inner || inner->fully_verified());
}

namespace {

std::string one(const char* name, const CsumResult& r) {
    std::string s = std::string(name) + " " + to_string(r.status);
    if (r.status == CsumStatus::Invalid) {
        if (r.partial) s += " (partial: holds only the pseudo-header sum; checksum offload left unfinished)";
        char buf[64];
        std::snprintf(buf, sizeof buf, " (stored 0x%04x, computed 0x%04x)", r.stored, r.computed);
        s += buf;
    }
    return s;
}

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// Recomputes the checksum stored at data[off..off+1] over `len` bytes (with the field
// taken as zero) starting from `pseudo`.
CsumResult recompute(const uint8_t* data, size_t len, size_t off, uint32_t pseudo) {
    CsumResult r;
    r.stored = be16(data + off);
    uint32_t sum = ones_sum(data, off, pseudo);
    sum = ones_sum(data + off + 2, len - off - 2, sum);
    // ones_sum of the tail must continue on an even boundary: off is even for every
    // checksum field (IP 10, TCP 16, UDP 6, ICMP 2), so the split keeps word alignment.
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    r.computed = static_cast<uint16_t>(~sum & 0xffff);
    // Verification proper (RFC 1071 4.1): the sum with the stored value included is
    // all ones. This also accepts 0x0000 for 0xffff, the two zeros of one's complement.
    uint32_t whole = sum + r.stored;
    while (whole >> 16) whole = (whole & 0xffff) + (whole >> 16);
    r.status = (whole == 0xffff) ? CsumStatus::Valid : CsumStatus::Invalid;
    return r;
}

}  // namespace

std::string FrameChecksums::describe() const {
    std::string s = one("ip", ip);
    if (!l4_name.empty()) s += ", " + one(l4_name.c_str(), l4);
    if (inner) s += ", ipip [" + inner->describe() + "]";
    return s;
}

FrameChecksums verify_ipv4(const uint8_t* ip, size_t caplen) {
    FrameChecksums f;
    if (caplen < 1 || (ip[0] >> 4) != 4) return f;
    if (caplen < 20) {
        f.ip.status = CsumStatus::Unverifiable;
        return f;
    }
    size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
    if (ihl < 20) {
        f.ip.status = CsumStatus::Invalid;
        return f;
    }
    if (caplen < ihl) {
        f.ip.status = CsumStatus::Unverifiable;
        return f;
    }
    f.ip = recompute(ip, ihl, 10, 0);

    size_t total = be16(ip + 2);
    uint8_t proto = ip[9];
    uint16_t frag = be16(ip + 6);
    bool fragment = (frag & 0x2000) || (frag & 0x1fff);
    if (proto == 4) {
        // IPIP (RFC 2003) has no checksum of its own; the inner packet is judged whole,
        // as far as this capture and the outer total length hold it.
        if (fragment || total < ihl || caplen <= ihl) return f;
        size_t in_len = std::min(caplen, total) - ihl;
        f.inner = std::make_shared<FrameChecksums>(verify_ipv4(ip + ihl, in_len));
        return f;
    }
    const char* name = proto == 6 ? "tcp" : proto == 17 ? "udp" : proto == 1 ? "icmp" : nullptr;
    if (!name) return f;
    f.l4_name = name;
    if (fragment || total < ihl) return f;  // NotApplicable: the L4 sum spans fragments
    size_t l4len = total - ihl;
    const uint8_t* l4 = ip + ihl;
    size_t have = caplen - ihl;
    size_t off = proto == 6 ? 16 : proto == 17 ? 6 : 2;
    size_t min_hdr = proto == 6 ? 20 : proto == 17 ? 8 : 4;
    if (l4len < min_hdr) {
        f.l4.status = CsumStatus::Invalid;
        return f;
    }
    if (have < l4len) {
        f.l4.status = CsumStatus::Unverifiable;
        if (have >= off + 2) f.l4.stored = be16(l4 + off);
        return f;
    }
    uint32_t pseudo = 0;
    if (proto != 1) {
        uint8_t ph[12];
        for (int i = 0; i < 8; ++i) ph[i] = ip[12 + i];  // source and destination addresses
        ph[8] = 0;
        ph[9] = proto;
        ph[10] = static_cast<uint8_t>(l4len >> 8);
        ph[11] = static_cast<uint8_t>(l4len & 0xff);
        pseudo = ones_sum(ph, sizeof ph);
    }
    f.l4 = recompute(l4, l4len, off, pseudo);
    if (f.l4.status == CsumStatus::Invalid && proto != 1) {
        uint32_t folded = pseudo;
        while (folded >> 16) folded = (folded & 0xffff) + (folded >> 16);
        f.l4.partial = f.l4.stored == folded;
    }
    if (proto == 17) {
        // RFC 768: 0 means "no checksum"; a computed 0 is sent as 0xffff.
        if (f.l4.stored == 0) {
            f.l4.status = CsumStatus::NotApplicable;
        } else if (f.l4.computed == 0) {
            f.l4.computed = 0xffff;
            f.l4.status = f.l4.stored == 0xffff ? CsumStatus::Valid : CsumStatus::Invalid;
        }
    }
    return f;
}

FrameChecksums verify_frame(const uint8_t* frame, size_t caplen) {
    if (caplen < 14) return {};
    size_t off = 12;
    uint16_t type = be16(frame + off);
    if (type == 0x8100 && caplen >= 18) {
        off += 4;
        type = be16(frame + off);
    }
    if (type != 0x0800) return {};
    return verify_ipv4(frame + off + 2, caplen - off - 2);
}

}  // namespace lab
