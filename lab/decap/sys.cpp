#include "sys.hpp"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace lab::decap {

namespace {

[[noreturn]] void fail(const std::string& what, int err) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == EPERM || err == EACCES) msg += " (lab_decap needs root: CAP_NET_ADMIN, CAP_NET_RAW)";
  throw std::runtime_error(msg);
}

void copy_ifname(char (&dst)[IFNAMSIZ], const std::string& name) {
  std::memset(dst, 0, IFNAMSIZ);
  std::memcpy(dst, name.data(), std::min(name.size(), static_cast<size_t>(IFNAMSIZ - 1)));
}

}  // namespace

bool valid_ifname(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Fd open_ipip_socket() {
  Fd fd(::socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_IPIP));
  if (!fd) fail("socket(AF_INET, SOCK_RAW, IPPROTO_IPIP)", errno);
  // A burst of tunnel traffic must not overflow the default ~200 KB buffer while a stats
  // line is printed. FORCE (root) ignores rmem_max; fall back to the capped request.
  const int want = 4 << 20;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0) {
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  }
  // The kernel's count of packets it dropped for a full buffer, on every recvmsg().
  const int on = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on);
  return fd;
}

Fd open_tun(const std::string& name) {
  if (!valid_ifname(name)) throw std::runtime_error("bad interface name '" + name + "'");
  Fd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
  if (!fd) fail("open /dev/net/tun", errno);
  ifreq ifr{};
  copy_ifname(ifr.ifr_name, name);
  // IFF_TUN_EXCL: never attach to an existing (say persistent) device of that name; the
  // device must be ours so that it disappears with this process.
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_TUN_EXCL;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) != 0) {
    const int err = errno;
    if (err == EBUSY || err == EEXIST) {
      throw std::runtime_error("TUNSETIFF " + name + ": a device of that name already exists");
    }
    fail("TUNSETIFF " + name, err);
  }
  if (name != ifr.ifr_name) {
    throw std::runtime_error("TUNSETIFF " + name + ": kernel named the device " + ifr.ifr_name);
  }
  return fd;
}

void set_link_up(const std::string& name) {
  Fd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) fail("socket(AF_INET, SOCK_DGRAM)", errno);
  ifreq ifr{};
  copy_ifname(ifr.ifr_name, name);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) fail("SIOCGIFFLAGS " + name, errno);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) fail("SIOCSIFFLAGS " + name, errno);
}

void write_sysctl(const std::string& key, const std::string& value) {
  const std::string path = "/proc/sys/" + key;
  Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) fail("open " + path, errno);
  const std::string text = value + "\n";
  const ssize_t n = ::write(fd.get(), text.data(), text.size());
  if (n < 0) fail("write " + path, errno);
  if (static_cast<size_t>(n) != text.size()) throw std::runtime_error("short write to " + path);
}

std::string read_sysctl(const std::string& key) {
  std::ifstream in("/proc/sys/" + key);
  std::string value;
  if (!(in >> value)) return "";
  return value;
}

bool TunSink::write(const uint8_t* data, size_t len) noexcept {
  // One write() is one packet on a TUN device; it is taken whole or not at all.
  for (;;) {
    const ssize_t n = ::write(fd_, data, len);
    if (n >= 0) return static_cast<size_t>(n) == len;
    if (errno != EINTR) return false;
  }
}

ssize_t read_packet(int fd, uint8_t* buf, size_t cap, uint64_t& rcvbuf_overflow) noexcept {
  iovec iov{buf, cap};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(uint32_t))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  for (;;) {
    const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -1;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
          c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
        uint32_t dropped = 0;
        std::memcpy(&dropped, CMSG_DATA(c), sizeof dropped);
        rcvbuf_overflow = dropped;  // the kernel's running total for this socket
      }
    }
    return n;
  }
}

}  // namespace lab::decap
