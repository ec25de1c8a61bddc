// checksum.hpp: an independent, full recomputation of the checksums in a captured
// frame (RFC 791 IPv4 header, RFC 793/768 TCP/UDP over the pseudo-header, RFC 792
// ICMP). Written from the RFCs on raw bytes, sharing nothing with libtins or the
// engine, so a capture is judged by a third party. Works on truncated captures: what
// cannot be summed because bytes are missing is Unverifiable, not Invalid.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace lab {

// RFC 1071: the one's complement of the one's complement sum of `len` bytes (an odd
// last byte is padded with zero), starting from `initial` (an unfolded partial sum).
uint16_t internet_checksum(const uint8_t* data, size_t len, uint32_t initial = 0);
// The unfolded one's complement sum of `len` bytes (for chaining pseudo-headers).
uint32_t ones_sum(const uint8_t* data, size_t len, uint32_t initial = 0);

enum class CsumStatus {
    Valid,
    Invalid,
    Unverifiable,   // the capture holds too few bytes (snap length)
    NotApplicable,  // no such layer, a fragment, or UDP with checksum 0 (none sent)
};

struct CsumResult {
    CsumStatus status = CsumStatus::NotApplicable;
    uint16_t stored = 0;    // the value in the packet
    uint16_t computed = 0;  // the value it should hold
    // Invalid, and the stored value is just the folded pseudo-header sum: a
    // CHECKSUM_PARTIAL packet whose offload was never completed (TCP/UDP only).
    bool partial = false;
};

const char* to_string(CsumStatus s);

// The checksums of one Ethernet II frame (an 802.1Q tag is skipped).
struct FrameChecksums {
    CsumResult ip;
    CsumResult l4;
    std::string l4_name;  // "tcp", "udp", "icmp", or "" when there is no L4 checksum
    // IPIP (protocol 4): the inner packet's own checksums, when its header was
    // captured. valid() and fully_verified() include them.
    std::shared_ptr<const FrameChecksums> inner;
    // No Invalid anywhere (Unverifiable and NotApplicable are not failures).
    bool valid() const;
    // Every checksum present was computed and matched.
    bool fully_verified() const;
    // "ip ok, tcp ok", "ip ok, tcp BAD (stored 0x1234, computed 0xabcd)",
    // "ip ok, ipip [ip ok, tcp ok]", ...
    std::string describe() const;
};

// `caplen` bytes of a frame whose IP packet says how long it really is.
FrameChecksums verify_frame(const uint8_t* frame, size_t caplen);
// The same for a bare IPv4 packet.
FrameChecksums verify_ipv4(const uint8_t* ip, size_t caplen);

}  // namespace lab
