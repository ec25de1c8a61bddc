#include "net.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>

namespace lab::srv {

std::optional<Endpoint> make_endpoint(const std::string& ip, std::uint16_t port) {
  Endpoint ep;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ep.addr);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    ep.len = sizeof(sockaddr_in);
    return ep;
  }
  ep = Endpoint{};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    ep.len = sizeof(sockaddr_in6);
    return ep;
  }
  return std::nullopt;
}

std::string format_endpoint(const sockaddr* sa, socklen_t len) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &v4->sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(v4->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(sa);
    const auto port = std::to_string(ntohs(v6->sin6_port));
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      inet_ntop(AF_INET, &v6->sin6_addr.s6_addr[12], buf, sizeof buf);
      return std::string(buf) + ":" + port;
    }
    inet_ntop(AF_INET6, &v6->sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + port;
  }
  return "?:0";
}

WaitResult wait_fd(int fd, short events, int stop_fd, int timeout_ms) {
  pollfd fds[2] = {{fd, events, 0}, {stop_fd, POLLIN, 0}};
  const nfds_t n = stop_fd >= 0 ? 2 : 1;
  const std::int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
  while (true) {
    int wait = -1;
    if (deadline >= 0) wait = static_cast<int>(std::max<std::int64_t>(0, deadline - now_ms()));
    const int rc = ::poll(fds, n, wait);
    if (rc < 0) {
      if (errno == EINTR) continue;
      return WaitResult::error;
    }
    if (n == 2 && fds[1].revents != 0) return WaitResult::stopped;
    if (rc == 0) return WaitResult::timeout;
    // Errors and hang-ups are reported as ready: the next read or write says what.
    if (fds[0].revents != 0) return WaitResult::ready;
  }
}

bool sleep_unless_stopped(int stop_fd, int ms) {
  // Never returns early on the clock: the delay is a lower bound callers rely on.
  using clock = std::chrono::steady_clock;
  const auto deadline = clock::now() + std::chrono::milliseconds(ms);
  pollfd p{stop_fd, POLLIN, 0};
  while (true) {
    const auto left = deadline - clock::now();
    if (left <= clock::duration::zero()) return true;
    // Round up so the last poll does not wake a fraction of a millisecond early.
    const auto left_ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    const int rc = ::poll(&p, stop_fd >= 0 ? 1 : 0, static_cast<int>(left_ms));
    if (rc > 0) return false;
    if (rc < 0 && errno != EINTR) return true;
  }
}

std::int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

std::string errno_text(int err) {
  char buf[256];
  // GNU strerror_r returns the message pointer (maybe not buf).
  return std::string(strerror_r(err, buf, sizeof buf));
}

sigset_t stop_signal_set() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace lab::srv
