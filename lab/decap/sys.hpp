// The kernel side of lab_decap: the raw IPIP socket, the TUN device, per-interface
// sysctls. Startup functions throw std::runtime_error with a message that names what
// failed; nothing here is on the per-packet path except TunSink::write and read_packet.
#pragma once

#include "lab/common/fd.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>

#include "decap.hpp"

namespace lab::decap {

// Owns one file descriptor; closes it on destruction.
using Fd = lab::Fd;

// A usable interface name: 1..15 characters of [A-Za-z0-9_.-], not "." or "..", so it is
// also safe inside a /proc/sys path.
bool valid_ifname(const std::string& name);

// socket(AF_INET, SOCK_RAW, IPPROTO_IPIP), non-blocking, with SO_RXQ_OVFL on and a large
// receive buffer where allowed. Receives every IPIP packet addressed to this namespace,
// outer header included.
Fd open_ipip_socket();

// Creates the TUN device `name` (IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL, not persistent: it
// goes away when the descriptor closes). Fails when a device of that name exists.
Fd open_tun(const std::string& name);

// Sets IFF_UP on `name` (SIOCGIFFLAGS + SIOCSIFFLAGS).
void set_link_up(const std::string& name);

// Writes `value` to /proc/sys/`key` (e.g. "net/ipv4/conf/decap0/rp_filter").
void write_sysctl(const std::string& key, const std::string& value);
// The trimmed content of /proc/sys/`key`, or "" when it cannot be read.
std::string read_sysctl(const std::string& key);

// Writes each inner packet to the TUN device in one write().
class TunSink : public PacketSink {
 public:
  explicit TunSink(int fd) : fd_(fd) {}
  bool write(const uint8_t* data, size_t len) noexcept override;

 private:
  int fd_;
};

// One recvmsg() on the raw socket. Returns the packet length, 0 when nothing is waiting
// (EAGAIN), -1 with errno set on another error. Updates `rcvbuf_overflow` from the
// SO_RXQ_OVFL control message when present.
ssize_t read_packet(int fd, uint8_t* buf, size_t cap, uint64_t& rcvbuf_overflow) noexcept;

}  // namespace lab::decap
