// lab_decap: IPIP (RFC 2003) decapsulation for L3 DSR servers on kernels without `ipip`
// (see README.md). Parses options, opens the raw socket and the TUN device, then loops:
// read an IPIP packet, inspect it, write the inner packet to the TUN device.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

#include "decap.hpp"
#include "sys.hpp"

namespace {

using namespace lab::decap;

struct Options {
  std::string tun = "decap0";
  std::vector<std::string> vips;
  double stats_interval = 0;  // seconds; 0 = only on SIGUSR1 and at exit
};

void setup_options(CLI::App& app, Options& opt) {
  app.add_option("--tun", opt.tun, "name of the TUN device to create")->capture_default_str();
  app.add_option("--vip", opt.vips,
                 "inject only inner packets to this IPv4 address (repeatable; default: any)");
  app.add_option("--stats-interval", opt.stats_interval,
                 "print counters to stderr every this many seconds (0: off)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 86400.0));
}

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

void print_stats(const Counters& c) {
  std::fprintf(stderr, "%s\n", format_stats(c).c_str());
  std::fflush(stderr);
}

// A maximum IPv4 packet; static so the loop never allocates.
alignas(8) uint8_t g_buf[65536];

int run_decap(const Options& opt) {
  std::vector<uint32_t> vips;
  for (const auto& text : opt.vips) {
    const auto a = parse_ipv4(text);
    if (!a) throw std::runtime_error("--vip '" + text + "' is not a numeric IPv4 address");
    vips.push_back(*a);
  }
  if (!valid_ifname(opt.tun)) {
    throw std::runtime_error("--tun '" + opt.tun +
                             "' is not an interface name (1-15 of A-Z a-z 0-9 _ . -)");
  }

  // Stop signals and SIGUSR1 arrive through a descriptor, so the loop sees them in poll().
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&sigs, s);
  if (sigprocmask(SIG_BLOCK, &sigs, nullptr) != 0) throw std::runtime_error("sigprocmask");
  Fd sigfd(signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sigfd) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));

  Fd raw = open_ipip_socket();
  Fd tun = open_tun(opt.tun);
  // Inner packets come in on the TUN device, but the route back to their source is via
  // the real interface: strict reverse-path filtering would drop every one of them.
  const std::string conf = "net/ipv4/conf/" + opt.tun + "/";
  write_sysctl(conf + "rp_filter", "0");
  // A client in the same namespace (or a test) may send from a local address.
  write_sysctl(conf + "accept_local", "1");
  // IPv4 only: no link-local address, no router solicitations queued on the device.
  if (!read_sysctl("net/ipv6/conf/" + opt.tun + "/disable_ipv6").empty()) {
    try {
      write_sysctl("net/ipv6/conf/" + opt.tun + "/disable_ipv6", "1");
    } catch (const std::exception&) {
      // Best effort: IPv6 on the device does not affect decapsulation.
    }
  }
  set_link_up(opt.tun);
  // The kernel uses max(all, <tun>): a non-zero conf/all/rp_filter still drops.
  if (const auto all = read_sysctl("net/ipv4/conf/all/rp_filter"); all != "0") {
    std::fprintf(stderr,
                 "lab_decap: warning: net.ipv4.conf.all.rp_filter=%s; the kernel will drop inner "
                 "packets whose source is not routed via %s (set it to 0)\n",
                 all.empty() ? "?" : all.c_str(), opt.tun.c_str());
  }

  TunSink sink(tun.get());
  Decapsulator decap(vips, sink);
  std::string vip_text = opt.vips.empty() ? "any" : "";
  for (size_t i = 0; i < opt.vips.size(); ++i) vip_text += (i ? "," : "") + opt.vips[i];
  std::fprintf(stderr, "lab_decap: ready: IPIP -> %s, destinations %s\n", opt.tun.c_str(),
               vip_text.c_str());
  std::fflush(stderr);

  const bool periodic = opt.stats_interval > 0;
  double next_stats = periodic ? now_seconds() + opt.stats_interval : 0;
  pollfd fds[2] = {{raw.get(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
  for (;;) {
    int timeout_ms = -1;
    if (periodic) {
      const double left = next_stats - now_seconds();
      timeout_ms = left <= 0 ? 0 : static_cast<int>(std::ceil(left * 1000));
    }
    const int r = poll(fds, 2, timeout_ms);
    if (r < 0 && errno != EINTR) throw std::runtime_error(std::string("poll: ") + std::strerror(errno));

    if (r > 0 && (fds[1].revents & POLLIN)) {
      signalfd_siginfo si{};
      while (read(sigfd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        if (si.ssi_signo == SIGUSR1) {
          print_stats(decap.counters());
        } else {
          std::fprintf(stderr, "lab_decap: signal %u, stopping\n", si.ssi_signo);
          print_stats(decap.counters());
          return 0;  // closing the TUN descriptor removes the device
        }
      }
    }
    if (r > 0 && (fds[0].revents & (POLLIN | POLLERR))) {
      // Drain a bounded batch, then look at signals and the clock again.
      for (int i = 0; i < 256; ++i) {
        const ssize_t n = read_packet(raw.get(), g_buf, sizeof g_buf, decap.counters().rcvbuf_overflow);
        if (n == 0) break;
        if (n < 0) {
          const int err = errno;
          if (err == EBADF || err == ENOTSOCK || err == EFAULT || err == EINVAL) {
            throw std::runtime_error(std::string("recvmsg on the IPIP socket: ") + std::strerror(err));
          }
          // A pending socket error is reported once and cleared by the read: go on.
          std::fprintf(stderr, "lab_decap: recvmsg: %s\n", std::strerror(err));
          break;
        }
        decap.handle(g_buf, static_cast<size_t>(n));
      }
    }
    if (periodic && now_seconds() >= next_stats) {
      print_stats(decap.counters());
      next_stats += opt.stats_interval;
      if (next_stats < now_seconds()) next_stats = now_seconds() + opt.stats_interval;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lab_decap: IPIP decapsulation into a TUN device for L3 DSR servers"};
  Options opt;
  setup_options(app, opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run_decap(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lab_decap: %s\n", e.what());
    return 1;
  }
}
