// lab_client vrrp-advert DEV: sends VRRPv3 advertisements (vrrp_frame.hpp) out of DEV as
// a third VRRP router on that segment would: from DEV's own IPv4 address and MAC, through
// an AF_PACKET socket so that every header field is ours to get right or wrong. Prints
// one line per frame ("sent N bytes break=B vrid=V priority=P at_ms=T", T on
// CLOCK_REALTIME in ms); exit 0 when all were sent, 2 when DEV has
// no address or the socket could not be set up. Bounded: at most 10000 frames.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "client/vrrp_frame.hpp"
#include "commands.hpp"
#include "net.hpp"

namespace lab::client {
namespace {

// DEV's index, IPv4 address (host order) and MAC; false after saying why on stderr.
bool read_interface(int fd, const std::string& dev, int& index, std::uint32_t& addr, std::array<std::uint8_t, 6>& mac) {
  ifreq r{};
  if (dev.size() >= sizeof r.ifr_name) {
    std::fprintf(stderr, "lab_client vrrp-advert: interface name too long: %s\n", dev.c_str());
    return false;
  }
  std::memcpy(r.ifr_name, dev.c_str(), dev.size());
  if (::ioctl(fd, SIOCGIFINDEX, &r) != 0) {
    std::fprintf(stderr, "lab_client vrrp-advert: %s: %s\n", dev.c_str(), lab::srv::errno_text(errno).c_str());
    return false;
  }
  index = r.ifr_ifindex;
  if (::ioctl(fd, SIOCGIFHWADDR, &r) != 0) {
    std::fprintf(stderr, "lab_client vrrp-advert: %s: no MAC: %s\n", dev.c_str(), lab::srv::errno_text(errno).c_str());
    return false;
  }
  std::memcpy(mac.data(), r.ifr_hwaddr.sa_data, 6);
  lab::srv::Fd inet(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!inet || ::ioctl(inet.get(), SIOCGIFADDR, &r) != 0) {
    std::fprintf(stderr, "lab_client vrrp-advert: %s has no IPv4 address\n", dev.c_str());
    return false;
  }
  addr = ntohl(reinterpret_cast<const sockaddr_in*>(&r.ifr_addr)->sin_addr.s_addr);
  return true;
}

}  // namespace

void setup_vrrp_advert(CLI::App& app) {
  auto opt = std::make_shared<VrrpAdvertOptions>();
  auto* sub = app.add_subcommand("vrrp-advert",
                                 "send VRRPv3 advertisements out of DEV (valid, or with one field broken on purpose)");
  sub->add_option("dev", opt->dev, "interface to send on (its IPv4 address and MAC are the source)")->required();
  sub->add_option("--vrid", opt->vrid, "virtual router id")->check(CLI::Range(1, 255))->capture_default_str();
  sub->add_option("--priority", opt->priority, "priority (0: the master leaves)")->check(CLI::Range(0, 255))->capture_default_str();
  sub->add_option("--interval-ms", opt->interval_ms, "Max Adver Int in ms (a multiple of 10)")
      ->check(CLI::Range(10, 40950))
      ->capture_default_str();
  sub->add_option("--address", opt->addresses, "an IPvX address the advert lists (repeat)");
  sub->add_option("--break", opt->broken,
                  "what to get wrong: none, version, type, checksum, ttl, length, ip-checksum, zero-interval")
      ->check(CLI::IsMember({"none", "version", "type", "checksum", "ttl", "length", "ip-checksum", "zero-interval"}))
      ->capture_default_str();
  sub->add_option("--count", opt->count, "frames to send")->check(CLI::Range(1, 10000))->capture_default_str();
  sub->add_option("--every-ms", opt->every_ms, "pause between two frames")->check(CLI::Range(0, 10000))->capture_default_str();
  sub->callback([opt] { exit_with(run_vrrp_advert(*opt)); });
}

int run_vrrp_advert(const VrrpAdvertOptions& opt) {
  VrrpSpec s;
  s.vrid = static_cast<std::uint8_t>(opt.vrid);
  s.priority = static_cast<std::uint8_t>(opt.priority);
  s.interval_cs = static_cast<std::uint16_t>(opt.interval_ms / 10);
  s.broken = parse_vrrp_break(opt.broken).value_or(VrrpBreak::none);
  for (const auto& a : opt.addresses) {
    in_addr x{};
    if (::inet_pton(AF_INET, a.c_str(), &x) != 1) {
      std::fprintf(stderr, "lab_client vrrp-advert: not an IPv4 address: %s\n", a.c_str());
      return 2;
    }
    s.addresses.push_back(ntohl(x.s_addr));
  }
  lab::srv::Fd fd(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));  // protocol 0: sends only
  if (!fd) {
    std::fprintf(stderr, "lab_client vrrp-advert: AF_PACKET socket: %s\n", lab::srv::errno_text(errno).c_str());
    return 2;
  }
  int index = 0;
  if (!read_interface(fd.get(), opt.dev, index, s.src, s.src_mac)) return 2;
  const auto frame = vrrp_frame(s);
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = index;
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, frame.data(), 6);
  for (int i = 0; i < opt.count; ++i) {
    if (i > 0 && opt.every_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(opt.every_ms));
    const ssize_t n = ::sendto(fd.get(), frame.data(), frame.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    if (n != static_cast<ssize_t>(frame.size())) {
      std::fprintf(stderr, "lab_client vrrp-advert: send: %s\n", lab::srv::errno_text(errno).c_str());
      return 1;
    }
    const auto at = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    std::printf("sent %zu bytes break=%s vrid=%d priority=%d at_ms=%lld\n", frame.size(), to_string(s.broken), opt.vrid,
                opt.priority, static_cast<long long>(at));
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace lab::client
