// lab_client udp HOST PORT: sends datagrams one at a time from one socket and prints
// each reply payload on its own line. Exit 0 when every datagram was answered within
// the timeout, 1 when some were not, 2 when the socket could not be set up. With
// --from-closed-port it sends them all from a port no socket holds and exits 0 when
// every send worked.
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "net.hpp"

namespace lab::client {
namespace {

constexpr std::size_t kMaxPayload = 65'507;

// A connected UDP socket to host:port (and bound to source_port when non-zero).
// Returns an empty Fd after printing why on stderr.
lab::srv::Fd open_socket(const UdpOptions& opt) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(opt.port);
  if (const int rc = ::getaddrinfo(opt.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    std::fprintf(stderr, "lab_client udp: %s: %s\n", opt.host.c_str(), gai_strerror(rc));
    return {};
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(res, &::freeaddrinfo);
  std::string last_error = "no address";
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    lab::srv::Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) {
      last_error = "socket: " + lab::srv::errno_text(errno);
      continue;
    }
    if (opt.source_port != 0) {
      const int one = 1;
      setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      const auto local = lab::srv::make_endpoint(ai->ai_family == AF_INET6 ? "::" : "0.0.0.0",
                                                 static_cast<std::uint16_t>(opt.source_port));
      if (::bind(fd.get(), local->sa(), local->len) != 0) {
        last_error = "bind source port " + std::to_string(opt.source_port) + ": " +
                     lab::srv::errno_text(errno);
        continue;
      }
    }
    // Connected: only replies from HOST:PORT count, and ICMP errors are reported.
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      last_error = "connect: " + lab::srv::errno_text(errno);
      continue;
    }
    return fd;
  }
  std::fprintf(stderr, "lab_client udp: %s:%u: %s\n", opt.host.c_str(), opt.port,
               last_error.c_str());
  return {};
}

// Drops replies already queued: they answer earlier datagrams that timed out.
void discard_late_replies(int fd, std::vector<char>& buf) {
  while (::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT) >= 0 || errno == EINTR) {
  }
}

uint32_t sum16(const void* data, std::size_t len, uint32_t sum = 0) {
  const auto* b = static_cast<const uint8_t*>(data);
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += static_cast<uint32_t>(b[i] << 8 | b[i + 1]);
  if (len & 1) sum += static_cast<uint32_t>(b[len - 1] << 8);
  return sum;
}

// Sends each datagram as a hand-built UDP header through a raw IPv4 socket, so that no
// socket holds the source port: the reply meets a closed port. `connected` (the
// ordinary socket, never used to send) gives the local address for the checksum.
int send_from_closed_port(int connected, const UdpOptions& opt) {
  sockaddr_storage local{}, peer{};
  socklen_t llen = sizeof local, plen = sizeof peer;
  if (::getsockname(connected, reinterpret_cast<sockaddr*>(&local), &llen) != 0 ||
      ::getpeername(connected, reinterpret_cast<sockaddr*>(&peer), &plen) != 0 || local.ss_family != AF_INET) {
    std::fprintf(stderr, "lab_client udp: --from-closed-port needs an IPv4 destination\n");
    return 2;
  }
  if (opt.source_port == 0) {
    std::fprintf(stderr, "lab_client udp: --from-closed-port needs --source-port\n");
    return 2;
  }
  lab::srv::Fd raw(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!raw) {
    std::fprintf(stderr, "lab_client udp: raw socket: %s\n", lab::srv::errno_text(errno).c_str());
    return 2;
  }
  const auto& src = reinterpret_cast<const sockaddr_in&>(local);
  const auto& dst = reinterpret_cast<const sockaddr_in&>(peer);
  std::vector<uint8_t> dgram(8 + opt.message.size());
  const uint16_t len = static_cast<uint16_t>(dgram.size());
  const uint16_t sport = htons(static_cast<uint16_t>(opt.source_port));
  std::memcpy(&dgram[0], &sport, 2);
  std::memcpy(&dgram[2], &dst.sin_port, 2);
  dgram[4] = static_cast<uint8_t>(len >> 8);
  dgram[5] = static_cast<uint8_t>(len);
  std::memcpy(&dgram[8], opt.message.data(), opt.message.size());
  // RFC 768: over the pseudo-header (addresses, protocol, length) and the datagram.
  uint32_t sum = sum16(&src.sin_addr, 4);
  sum = sum16(&dst.sin_addr, 4, sum);
  sum += IPPROTO_UDP + len;
  sum = sum16(dgram.data(), dgram.size(), sum);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t check = static_cast<uint16_t>(~sum);
  if (check == 0) check = 0xffff;
  dgram[6] = static_cast<uint8_t>(check >> 8);
  dgram[7] = static_cast<uint8_t>(check);
  for (int i = 0; i < opt.count; ++i)
    if (::sendto(raw.get(), dgram.data(), dgram.size(), 0, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) < 0) {
      std::fprintf(stderr, "lab_client udp: sendto: %s\n", lab::srv::errno_text(errno).c_str());
      return 1;
    }
  return 0;
}

}  // namespace

void setup_udp(CLI::App& app) {
  auto opt = std::make_shared<UdpOptions>();
  auto* sub = app.add_subcommand("udp", "send datagrams and print each reply");
  sub->add_option("HOST", opt->host, "server name or address")->required();
  sub->add_option("PORT", opt->port, "server port")->required()->check(CLI::Range(1, 65535));
  sub->add_option("--message", opt->message, "payload of each datagram")->capture_default_str();
  sub->add_option("--count", opt->count, "datagrams to send, one at a time")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  sub->add_option("--timeout-ms", opt->timeout_ms, "how long to wait for each reply")
      ->capture_default_str()
      ->check(CLI::Range(1, 600'000));
  sub->add_option("--source-port", opt->source_port, "local port to send from (0: any)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  sub->add_flag("--from-closed-port", opt->from_closed_port,
                 "send each datagram through a raw socket from --source-port, which no socket holds, "
                 "and exit without waiting: a reply finds the port closed and the kernel answers it "
                 "with ICMP port unreachable (IPv4, needs CAP_NET_RAW)");
  sub->callback([opt] {
    if (const int rc = run_udp(*opt); rc != 0) exit_with(rc);
  });
}

int run_udp(const UdpOptions& opt) {
  if (opt.message.size() > kMaxPayload) {
    std::fprintf(stderr, "lab_client udp: --message is longer than %zu bytes\n", kMaxPayload);
    return 2;
  }
  if (opt.from_closed_port) {
    UdpOptions any_port = opt;  // the source port must stay free: this socket only tells addresses
    any_port.source_port = 0;
    lab::srv::Fd probe = open_socket(any_port);
    return probe ? send_from_closed_port(probe.get(), opt) : 2;
  }
  lab::srv::Fd fd = open_socket(opt);
  if (!fd) return 2;

  using Clock = std::chrono::steady_clock;
  std::vector<char> buf(65'536);
  int missing = 0;
  std::string last_error;
  for (int i = 0; i < opt.count; ++i) {
    discard_late_replies(fd.get(), buf);
    if (::send(fd.get(), opt.message.data(), opt.message.size(), 0) < 0) {
      last_error = "send: " + lab::srv::errno_text(errno);
      ++missing;
      continue;
    }
    const auto deadline = Clock::now() + std::chrono::milliseconds(opt.timeout_ms);
    bool answered = false;
    while (!answered) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      if (lab::srv::wait_fd(fd.get(), POLLIN, -1, static_cast<int>(left)) !=
          lab::srv::WaitResult::ready) {
        break;
      }
      const ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), MSG_DONTWAIT);
      if (n >= 0) {
        std::fwrite(buf.data(), 1, static_cast<std::size_t>(n), stdout);
        std::fputc('\n', stdout);
        std::fflush(stdout);
        answered = true;
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        // ECONNREFUSED: an ICMP port unreachable came back for this datagram.
        last_error = lab::srv::errno_text(errno);
        break;
      }
    }
    if (!answered) ++missing;
  }
  if (missing > 0) {
    std::fprintf(stderr, "lab_client udp: %d of %d datagrams to %s:%u got no reply within %d ms%s%s\n",
                 missing, opt.count, opt.host.c_str(), opt.port, opt.timeout_ms,
                 last_error.empty() ? "" : "; last error: ", last_error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace lab::client
