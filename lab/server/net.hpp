// Small socket helpers shared by lab_server and lab_client.
#pragma once

#include "lab/common/fd.hpp"

#include <signal.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace lab::srv {

// Owns one file descriptor; closes it on destruction.
using Fd = lab::Fd;

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family() const { return addr.ss_family; }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&addr); }
  sockaddr* sa() { return reinterpret_cast<sockaddr*>(&addr); }
};

// A numeric IPv4 or IPv6 address plus port; nullopt if `ip` is not numeric.
std::optional<Endpoint> make_endpoint(const std::string& ip, std::uint16_t port);

// "a.b.c.d:port", or "[v6]:port"; an IPv4-mapped IPv6 address is shown as IPv4.
std::string format_endpoint(const sockaddr* sa, socklen_t len);

enum class WaitResult { ready, timeout, stopped, error };

// Waits until fd reports one of `events` (POLLIN/POLLOUT), stop_fd (when >= 0) becomes
// readable (stopped wins over ready), or timeout_ms passes (< 0: no timeout).
WaitResult wait_fd(int fd, short events, int stop_fd, int timeout_ms);

// Sleeps ms milliseconds; returns false early if stop_fd becomes readable.
bool sleep_unless_stopped(int stop_fd, int ms);

// Monotonic milliseconds.
std::int64_t now_ms();

// strerror_r as a std::string.
std::string errno_text(int err);

// SIGTERM, SIGINT and SIGHUP: the signals that stop lab_server and lab_client's
// long-running subcommands (which block them and wait for them).
sigset_t stop_signal_set();

}  // namespace lab::srv
