// Packet I/O the data path is given: TAP devices in the lab, memory in unit tests.
// Frames carry a virtio_net_hdr prefix (pkt::VnetHdr) in both directions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace lb {

class PacketIo {
 public:
  virtual ~PacketIo() = default;
  virtual size_t port_count() const = 0;
  // Reads one frame from `port` into buf. Returns its length, 0 when none is waiting,
  // or -1 on an error (errno set). Never blocks.
  virtual long recv(size_t port, uint8_t* buf, size_t cap) = 0;
  // Sends one frame on `port`; true when the device took it (or, batching, queued it: a
  // failure then shows in the next flush()). `buf` is the caller's again on return.
  virtual bool send(size_t port, const uint8_t* buf, size_t len) = 0;
  // Hands queued frames to the devices, in order; returns how many of the frames sent
  // since the last flush failed. The engine calls it after each batch it handles.
  virtual size_t flush() { return 0; }
  // A file descriptor that becomes readable when `port` has frames, or -1.
  virtual int poll_fd(size_t port) const { return -1; }
  // Whether `port`'s link is up; true when this I/O cannot tell. Not for the packet path
  // (a TAP answers with a system call).
  virtual bool link_up(size_t port) const { return true; }
};

// TAP devices opened with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, offloads enabled.
class TapIo : public PacketIo {
 public:
  struct PortSpec {
    std::string tap;    // device name
    std::string netns;  // name under /run/netns where it lives, or empty for ours
  };
  // Attaches to (or creates) each TAP. Throws std::runtime_error with one clear line.
  // `tso`: accept TCP GSO super-frames from the kernel (off when an engine encapsulates,
  // since a tunnelled super-frame could not be segmented by the kernel afterwards).
  // `batch`: queue small frames and write them with one io_uring submission per flush(),
  // when built with liburing and the kernel allows io_uring; else one write() each.
  explicit TapIo(const std::vector<PortSpec>& ports, bool tso = true, bool batch = true);
  ~TapIo() override;
  size_t port_count() const override { return fds_.size(); }
  long recv(size_t port, uint8_t* buf, size_t cap) override;
  bool send(size_t port, const uint8_t* buf, size_t len) override;
  size_t flush() override;
  // Why writes are not batched ("" when they are).
  const std::string& batch_off_reason() const { return batch_off_; }
  int poll_fd(size_t port) const override { return fds_[port]; }
  // The TAP device is administratively up and has its carrier (IFF_UP and IFF_RUNNING,
  // asked through a socket in the TAP's namespace): `ip link set TAP down` takes it
  // down. What lies beyond it (the bridge, the far side) is not seen.
  bool link_up(size_t port) const override;

 private:
  std::vector<int> fds_;
  std::vector<int> ctl_fds_;        // datagram sockets in each TAP's namespace, for SIOCGIFFLAGS
  std::vector<std::string> names_;
  struct TxRing;                       // io_uring and its frame buffers (tap_io.cpp)
  std::unique_ptr<TxRing> tx_;
  std::string batch_off_;
};

// In-memory ports for tests: inject() queues frames to be received, sent() holds output.
class MemIo : public PacketIo {
 public:
  explicit MemIo(size_t ports) : rx_(ports), tx_(ports) {}
  size_t port_count() const override { return rx_.size(); }
  long recv(size_t port, uint8_t* buf, size_t cap) override;
  bool send(size_t port, const uint8_t* buf, size_t len) override;
  void inject(size_t port, std::vector<uint8_t> frame) { rx_[port].push_back(std::move(frame)); }
  std::deque<std::vector<uint8_t>>& sent(size_t port) { return tx_[port]; }
  bool link_up(size_t port) const override { return !down_.count(port); }
  void set_link_up(size_t port, bool up) { up ? (void)down_.erase(port) : (void)down_.insert(port); }

 private:
  std::vector<std::deque<std::vector<uint8_t>>> rx_, tx_;
  std::set<size_t> down_;
};

}  // namespace lb
