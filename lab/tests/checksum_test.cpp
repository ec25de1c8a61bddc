// The independent checksum verifier, against known packets (captured in the lab, with
// the checksums the kernel computed) and against libtins-built and broken frames.
#include "frames.hpp"
#include "lablib/checksum.hpp"
#include "lablib/pcap.hpp"

#include <gtest/gtest.h>

using namespace lab;
using labtest::Bytes;

namespace {

Bytes hex(const std::string& s) {
    Bytes b;
    std::string digits;
    for (char c : s)
        if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
    for (size_t i = 0; i + 1 < digits.size(); i += 2)
        b.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
    return b;
}

// Captured at server3.eth0 in an inline lab: a SYN after DNAT, IP checksum 0xebdc,
// TCP checksum 0xa83b.
const Bytes kSyn = hex(
    "0200 0002 000d 0200 0002 0001 0800 4500 003c 6493 4000 3e06 ebdc c633 640b c000"
    "020d cc6c 0050 edd7 5f6f 0000 0000 a002 faf0 a83b 0000 0204 05b4 0402 080a 9739"
    "0747 0000 0000 0103 030a");
// A UDP datagram "hello" after DNAT: IP 0x8b36, UDP 0x2be5.
const Bytes kUdp = hex(
    "0200 0002 000b 0200 0002 0001 0800 4500 0021 c54b 4000 3e11 8b36 c633 640b c000"
    "020b a382 0050 000d 2be5 6865 6c6c 6f");
// An ICMP echo request from client1: IP 0xadca, ICMP 0x53af.
const Bytes kIcmp = hex(
    "0200 0064 0001 0200 0064 000b 0800 4500 0054 2695 4000 4001 adca c633 640b cb00"
    "710a 0800 53af 2b63 0001 a7e5 056b 0000 0000 07c9 0500 0000 0000 1011 1213 1415"
    "1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 2829 2a2b 2c2d 2e2f 3031 3233 3435"
    "3637");

}  // namespace

TEST(InternetChecksum, Rfc1071Example) {
    // RFC 1071 section 3: the one's complement sum of these bytes is 0xddf2.
    const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(internet_checksum(data, sizeof data), static_cast<uint16_t>(~0xddf2));
}

TEST(InternetChecksum, OddLengthPadsWithZero) {
    const uint8_t data[] = {0x12, 0x34, 0x56};
    // 0x1234 + 0x5600 = 0x6834
    EXPECT_EQ(internet_checksum(data, sizeof data), static_cast<uint16_t>(~0x6834));
}

TEST(VerifyFrame, KnownTcpSynIsValid) {
    auto c = verify_frame(kSyn.data(), kSyn.size());
    EXPECT_EQ(c.ip.status, CsumStatus::Valid);
    EXPECT_EQ(c.ip.computed, 0xebdc);
    EXPECT_EQ(c.l4_name, "tcp");
    EXPECT_EQ(c.l4.status, CsumStatus::Valid);
    EXPECT_EQ(c.l4.computed, 0xa83b);
    EXPECT_TRUE(c.valid());
    EXPECT_TRUE(c.fully_verified());
}

TEST(VerifyFrame, KnownUdpIsValid) {
    auto c = verify_frame(kUdp.data(), kUdp.size());
    EXPECT_EQ(c.ip.computed, 0x8b36);
    EXPECT_EQ(c.l4_name, "udp");
    EXPECT_EQ(c.l4.status, CsumStatus::Valid);
    EXPECT_EQ(c.l4.computed, 0x2be5);
}

TEST(VerifyFrame, KnownIcmpIsValid) {
    auto c = verify_frame(kIcmp.data(), kIcmp.size());
    EXPECT_EQ(c.ip.computed, 0xadca);
    EXPECT_EQ(c.l4_name, "icmp");
    EXPECT_EQ(c.l4.status, CsumStatus::Valid);
    EXPECT_EQ(c.l4.computed, 0x53af);
}

TEST(VerifyFrame, RewrittenDestinationWithoutChecksumUpdateIsBad) {
    // What a NAT that forgets the checksum would emit: dst 192.0.2.13 → .12.
    Bytes b = kSyn;
    b[14 + 19] = 0x0c;
    auto c = verify_frame(b.data(), b.size());
    EXPECT_EQ(c.ip.status, CsumStatus::Invalid);
    EXPECT_EQ(c.ip.stored, 0xebdc);
    EXPECT_EQ(c.l4.status, CsumStatus::Invalid);  // the pseudo-header covers the address
    EXPECT_FALSE(c.valid());
    EXPECT_NE(c.describe().find("BAD"), std::string::npos);
}

TEST(VerifyFrame, LibtinsFramesAreValid) {
    for (const char* proto : {"tcp", "udp", "icmp"}) {
        labtest::FrameSpec f;
        f.proto = proto;
        f.payload = "some payload bytes";
        Bytes b = labtest::build(f);
        auto c = verify_frame(b.data(), b.size());
        EXPECT_TRUE(c.valid() && c.fully_verified()) << proto << ": " << c.describe();
        EXPECT_EQ(c.l4_name, proto);
    }
}

TEST(VerifyFrame, FlippedPayloadByteBreaksOnlyTheL4Checksum) {
    labtest::FrameSpec f;
    f.payload = "payload";
    Bytes b = labtest::build(f);
    b.back() ^= 0x01;
    auto c = verify_frame(b.data(), b.size());
    EXPECT_EQ(c.ip.status, CsumStatus::Valid);
    EXPECT_EQ(c.l4.status, CsumStatus::Invalid);
    EXPECT_FALSE(c.l4.partial);
}

TEST(VerifyFrame, BadIpHeaderChecksum) {
    Bytes b = labtest::build({});
    b[14 + 10] ^= 0xff;
    auto c = verify_frame(b.data(), b.size());
    EXPECT_EQ(c.ip.status, CsumStatus::Invalid);
    EXPECT_EQ(c.l4.status, CsumStatus::Valid);
}

TEST(VerifyFrame, TruncatedCaptureIsUnverifiableNotInvalid) {
    labtest::FrameSpec f;
    f.payload = std::string(1000, 'x');
    Bytes b = labtest::build(f);
    auto c = verify_frame(b.data(), 54 + 10);  // headers and 10 payload bytes
    EXPECT_EQ(c.ip.status, CsumStatus::Valid);
    EXPECT_EQ(c.l4.status, CsumStatus::Unverifiable);
    EXPECT_TRUE(c.valid());
    EXPECT_FALSE(c.fully_verified());
    Packet p = decode_frame(b.data(), 64);
    EXPECT_TRUE(p.truncated);
    EXPECT_EQ(p.ip_total_length, 20u + 20u + 1000u);  // the real size, not the captured one
}

TEST(VerifyFrame, UdpWithoutChecksumIsNotApplicable) {
    labtest::FrameSpec f;
    f.proto = "udp";
    Bytes b = labtest::build(f);
    b[labtest::kL4 + 6] = 0;
    b[labtest::kL4 + 7] = 0;
    auto c = verify_frame(b.data(), b.size());
    EXPECT_EQ(c.l4.status, CsumStatus::NotApplicable);
    EXPECT_TRUE(c.valid());
}

TEST(VerifyFrame, PartialChecksumIsRecognised) {
    // A CHECKSUM_PARTIAL TCP segment carries only the folded pseudo-header sum.
    Bytes b = labtest::build({});
    const uint8_t* ip = b.data() + 14;
    uint8_t ph[12] = {ip[12], ip[13], ip[14], ip[15], ip[16], ip[17], ip[18], ip[19], 0, 6, 0, 20};
    uint32_t s = ones_sum(ph, sizeof ph);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    b[labtest::kL4 + 16] = static_cast<uint8_t>(s >> 8);
    b[labtest::kL4 + 17] = static_cast<uint8_t>(s & 0xff);
    auto c = verify_frame(b.data(), b.size());
    EXPECT_EQ(c.l4.status, CsumStatus::Invalid);
    EXPECT_TRUE(c.l4.partial);
    EXPECT_NE(c.describe().find("partial"), std::string::npos);
}

TEST(VerifyFrame, NonIpFrameHasNothingToVerify) {
    Tins::EthernetII eth = Tins::ARP::make_arp_request("203.0.113.10", "203.0.113.1",
                                                       "02:00:00:71:00:01");
    Bytes b = eth.serialize();
    auto c = verify_frame(b.data(), b.size());
    EXPECT_EQ(c.ip.status, CsumStatus::NotApplicable);
    EXPECT_TRUE(c.valid());
    Packet p = decode_frame(b.data(), b.size());
    EXPECT_FALSE(p.is_ipv4);
    EXPECT_EQ(p.protocol_name(), "arp");
}

TEST(DecodeFrame, ReadsEveryField) {
    Packet p = decode_frame(kSyn.data(), kSyn.size());
    EXPECT_EQ(p.src_mac, "02:00:00:02:00:01");
    EXPECT_EQ(p.dst_mac, "02:00:00:02:00:0d");
    EXPECT_EQ(p.src_ip, "198.51.100.11");
    EXPECT_EQ(p.dst_ip, "192.0.2.13");
    EXPECT_EQ(p.src_port, 52332);
    EXPECT_EQ(p.dst_port, 80);
    EXPECT_EQ(p.ttl, 62);
    EXPECT_EQ(p.protocol_name(), "tcp");
    EXPECT_EQ(p.tcp_flags_string(), "S");
    EXPECT_EQ(p.ip_total_length, 60u);
    EXPECT_FALSE(p.truncated);
    Packet q = decode_frame(kIcmp.data(), kIcmp.size());
    EXPECT_TRUE(q.is_icmp);
    EXPECT_EQ(q.icmp_type, 8);
}
