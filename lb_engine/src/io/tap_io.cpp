#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef LB_HAVE_URING
#include <liburing.h>
#endif

#include "lb/io/packet_io.hpp"
#include "lb/packet/headers.hpp"

namespace lb {

namespace {

// Enters a network namespace for the life of the object (this thread only), then
// returns to the one we came from. TUNSETIFF looks the device name up in the current
// namespace; once attached, the fd works from anywhere.
class NetnsGuard {
 public:
  explicit NetnsGuard(const std::string& netns) {
    if (netns.empty()) return;
    self_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self_ < 0) throw std::runtime_error(std::string("cannot open our network namespace: ") + std::strerror(errno));
    std::string path = "/run/netns/" + netns;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      ::close(self_);
      throw std::runtime_error("network namespace '" + netns + "' (" + path + "): " + std::strerror(e));
    }
    int rc = ::setns(fd, CLONE_NEWNET);
    int e = errno;
    ::close(fd);
    if (rc != 0) {
      ::close(self_);
      throw std::runtime_error("cannot enter network namespace '" + netns + "': " + std::strerror(e));
    }
  }
  ~NetnsGuard() {
    if (self_ < 0) return;
    if (::setns(self_, CLONE_NEWNET) != 0) std::abort();  // running on in the wrong namespace would be worse
    ::close(self_);
  }
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  int self_ = -1;
};

// Opens the TAP, and a datagram socket in the same namespace (for its link flags).
int open_tap(const TapIo::PortSpec& spec, bool tso, int& ctl_fd) {
  NetnsGuard in_ns(spec.netns);
  ctl_fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);  // -1: link state unknown, taken as up
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(std::string("/dev/net/tun: ") + std::strerror(errno) + " (is the tun module there, are we root?)");
  struct ifreq ifr {};
  std::strncpy(ifr.ifr_name, spec.tap.c_str(), IFNAMSIZ - 1);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error("TAP '" + spec.tap + "'" + (spec.netns.empty() ? "" : " in netns '" + spec.netns + "'") +
                             ": TUNSETIFF: " + std::strerror(e) + (e == EBUSY ? " (another process has it open)" : ""));
  }
  int hdr = sizeof(pkt::VnetHdr);
  // The kernel may hand us frames with partial checksums and TCP GSO super-frames:
  // we rewrite them in place and pass the vnet_hdr through, so neither is ever split.
  unsigned offload = TUN_F_CSUM | (tso ? TUN_F_TSO4 | TUN_F_TSO6 : 0u);
  if (::ioctl(fd, TUNSETVNETHDRSZ, &hdr) != 0 || ::ioctl(fd, TUNSETOFFLOAD, offload) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error("TAP '" + spec.tap + "': setting vnet_hdr/offloads: " + std::strerror(e));
  }
  return fd;
}

}  // namespace

// Batched writes: send() copies a frame of up to kSlot bytes into a free buffer and
// queues an IORING_OP_WRITE for it; flush() submits the queue with one system call and
// collects what completed, freeing buffers. TAP writes never block, so the kernel does
// each write inline during the submission, in queue order. A bigger frame (a GSO
// super-frame) flushes the queue first and is written directly, which keeps the order.
#ifdef LB_HAVE_URING
struct TapIo::TxRing {
  static constexpr unsigned kSlots = 256;
  static constexpr size_t kSlot = 2048;  // a 1514-byte frame and its vnet_hdr fit
  io_uring ring{};
  std::vector<uint8_t> pool = std::vector<uint8_t>(kSlots * kSlot);
  std::vector<uint16_t> free_slots;
  std::vector<uint32_t> lens = std::vector<uint32_t>(kSlots);
  unsigned queued = 0;
  size_t failed = 0;

  bool ready = false;  // the ring was set up (else there is nothing to tear down)

  explicit TxRing(int& err) {
    err = -io_uring_queue_init(kSlots, &ring, 0);
    ready = err == 0;
    for (unsigned i = kSlots; i-- > 0;) free_slots.push_back(static_cast<uint16_t>(i));
  }
  ~TxRing() {
    if (ready) io_uring_queue_exit(&ring);  // on a ring never set up it would close fd 0
  }

  void reap() {
    io_uring_cqe* cqe;
    while (io_uring_peek_cqe(&ring, &cqe) == 0) {
      const auto slot = static_cast<uint16_t>(io_uring_cqe_get_data64(cqe));
      if (cqe->res != static_cast<int>(lens[slot])) ++failed;
      free_slots.push_back(slot);
      io_uring_cqe_seen(&ring, cqe);
    }
  }
  void submit() {
    if (queued) {
      int rc;
      do rc = io_uring_submit(&ring); while (rc == -EINTR);
      if (rc < 0) return;  // left queued: the next flush tries again
      queued = 0;
    }
    reap();
  }
  // A free buffer, waiting for a completion when all are in flight.
  bool take(uint16_t& slot) {
    if (free_slots.empty()) {
      submit();
      io_uring_cqe* cqe;
      while (free_slots.empty() && io_uring_wait_cqe(&ring, &cqe) == 0) reap();
      if (free_slots.empty()) return false;
    }
    slot = free_slots.back();
    free_slots.pop_back();
    return true;
  }
  bool queue(int fd, const uint8_t* buf, size_t len) {
    uint16_t slot;
    if (!take(slot)) return false;
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    if (!sqe) {
      submit();
      sqe = io_uring_get_sqe(&ring);
      if (!sqe) {
        free_slots.push_back(slot);
        return false;
      }
    }
    uint8_t* b = pool.data() + size_t{slot} * kSlot;
    std::memcpy(b, buf, len);
    lens[slot] = static_cast<uint32_t>(len);
    io_uring_prep_write(sqe, fd, b, static_cast<unsigned>(len), 0);
    io_uring_sqe_set_data64(sqe, slot);
    ++queued;
    return true;
  }
};
#else
struct TapIo::TxRing {
  static constexpr size_t kSlot = 0;
  size_t failed = 0;
  void submit() {}
  bool queue(int, const uint8_t*, size_t) { return false; }
};
#endif

TapIo::TapIo(const std::vector<PortSpec>& ports, bool tso, bool batch) {
  try {
    for (auto& p : ports) {
      int ctl = -1;
      try {
        fds_.push_back(open_tap(p, tso, ctl));
      } catch (...) {
        if (ctl >= 0) ::close(ctl);
        throw;
      }
      ctl_fds_.push_back(ctl);
      names_.push_back(p.tap);
    }
  } catch (...) {
    for (int fd : fds_) ::close(fd);
    for (int fd : ctl_fds_)
      if (fd >= 0) ::close(fd);
    throw;
  }
#ifdef LB_HAVE_URING
  if (!batch) {
    batch_off_ = "turned off";
  } else {
    int err = 0;
    tx_ = std::make_unique<TxRing>(err);
    if (err) {
      batch_off_ = std::string("io_uring: ") + std::strerror(err);
      tx_.reset();
    }
  }
#else
  (void)batch;
  batch_off_ = "built without liburing";
#endif
}

TapIo::~TapIo() {
  flush();
  tx_.reset();
  for (int fd : fds_) ::close(fd);
  for (int fd : ctl_fds_)
    if (fd >= 0) ::close(fd);
}

bool TapIo::link_up(size_t port) const {
  if (ctl_fds_[port] < 0) return true;
  struct ifreq ifr {};
  std::strncpy(ifr.ifr_name, names_[port].c_str(), IFNAMSIZ - 1);
  if (::ioctl(ctl_fds_[port], SIOCGIFFLAGS, &ifr) != 0) return true;  // cannot tell
  return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
}

long TapIo::recv(size_t port, uint8_t* buf, size_t cap) {
  ssize_t n = ::read(fds_[port], buf, cap);
  if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
  return n;
}

bool TapIo::send(size_t port, const uint8_t* buf, size_t len) {
  if (tx_) {
    if (len <= TxRing::kSlot && tx_->queue(fds_[port], buf, len)) return true;
    tx_->submit();  // what is queued goes first
  }
  ssize_t n = ::write(fds_[port], buf, len);
  return n == static_cast<ssize_t>(len);
}

size_t TapIo::flush() {
  if (!tx_) return 0;
  tx_->submit();
  const size_t failed = tx_->failed;
  tx_->failed = 0;
  return failed;
}

long MemIo::recv(size_t port, uint8_t* buf, size_t cap) {
  auto& q = rx_[port];
  if (q.empty()) return 0;
  auto f = std::move(q.front());
  q.pop_front();
  if (f.size() > cap) return -1;
  std::memcpy(buf, f.data(), f.size());
  return static_cast<long>(f.size());
}

bool MemIo::send(size_t port, const uint8_t* buf, size_t len) {
  tx_[port].emplace_back(buf, buf + len);
  return true;
}

}  // namespace lb
