#include "server.hpp"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <mutex>
#include <queue>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "http.hpp"
#include "net.hpp"
#include "pattern.hpp"
#include "sha256.hpp"

namespace lab::srv {
namespace {

constexpr std::size_t kIoChunk = 256 * 1024;
constexpr std::size_t kHeadRead = 16 * 1024;
// Buffers live on the heap, so connection threads need little stack; a small stack
// keeps thousands of concurrent connections cheap.
constexpr std::size_t kThreadStack = 512 * 1024;
constexpr std::size_t kMaxUdpPayload = 65'507;
constexpr std::size_t kMaxUdpPending = 10'000;
constexpr std::size_t kControlLineMax = 1024;
constexpr int kLingerMs = 2'000;
constexpr std::size_t kLingerBytes = 1 << 20;
constexpr const char* kTextPlain = "text/plain; charset=utf-8";

using Clock = std::chrono::steady_clock;

// Printable ASCII only, bounded, so a log line stays one line whatever a peer sends.
// (Methods and targets cannot hold spaces: the parser refuses them.)
std::string sanitize(std::string_view s, std::size_t max = 200) {
  std::string out;
  out.reserve(std::min(s.size(), max) + 3);
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (s.size() > max) out += "...";
  if (out.empty()) out = "-";
  return out;
}

std::string utc_timestamp() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm_utc {};
  gmtime_r(&ts.tv_sec, &tm_utc);
  char buf[40];
  const std::size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm_utc);
  snprintf(buf + n, sizeof buf - n, ".%03ldZ", ts.tv_nsec / 1'000'000);
  return buf;
}

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + errno_text(errno));
}

bool parse_count(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

enum class Io { ok, eof, timeout, stopped, error };

const char* io_text(Io r) {
  switch (r) {
    case Io::ok: return "ok";
    case Io::eof: return "peer closed";
    case Io::timeout: return "timed out";
    case Io::stopped: return "server stopping";
    case Io::error: return "socket error";
  }
  return "?";
}

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  explicit Impl(ServerConfig c) : config(std::move(c)) {}

  ServerConfig config;
  ControlState control;
  Fd stop_event;
  Fd tcp;
  Fd udp;
  Fd ctl;
  std::uint16_t port = 0;
  bool ctl_bound = false;
  dev_t ctl_dev = 0;
  ino_t ctl_ino = 0;

  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> connections{0};
  std::mutex mu;
  std::condition_variable cv;
  std::size_t threads = 0;

  // One write(2) per line: lines from concurrent threads never interleave.
  void log(const std::string& msg) const {
    const std::string line = utc_timestamp() + " " + config.name + " " + msg + "\n";
    [[maybe_unused]] const auto rc = ::write(STDERR_FILENO, line.data(), line.size());
  }
  void log_request(std::string_view method, std::string_view path, std::string_view client,
                   std::string_view status, std::uint64_t bytes, std::string_view note = {}) const {
    if (!config.log_requests) return;
    std::string msg;
    msg.reserve(128);
    msg.append(method).append(" ").append(path).append(" ").append(client).append(" ");
    msg.append(status).append(" ").append(std::to_string(bytes));
    if (!note.empty()) msg.append(" (").append(note).append(")");
    log(msg);
  }

  bool spawn(std::function<void()> fn);
  void open_sockets();
  void open_control();
  void accept_loop();
  void control_accept_loop();
  void control_session(int fd);
  void udp_loop();
  void stop();
};

namespace {

// A connected stream socket with the server's timeouts and stop event.
class Stream {
 public:
  Stream(Server::Impl& srv, int fd) : srv_(srv), fd_(fd) {}
  int fd() const { return fd_.get(); }

  // Receives up to cap bytes; waits until `deadline` at most.
  Io recv_some(char* buf, std::size_t cap, std::size_t& got, Clock::time_point deadline) {
    while (true) {
      if (srv_.stopping.load(std::memory_order_relaxed)) return Io::stopped;
      const ssize_t n = ::recv(fd_.get(), buf, cap, 0);
      if (n > 0) {
        got = static_cast<std::size_t>(n);
        return Io::ok;
      }
      if (n == 0) return Io::eof;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return Io::error;
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return Io::timeout;
      switch (wait_fd(fd_.get(), POLLIN, srv_.stop_event.get(), static_cast<int>(left.count()))) {
        case WaitResult::ready: continue;
        case WaitResult::timeout: return Io::timeout;
        case WaitResult::stopped: return Io::stopped;
        case WaitResult::error: return Io::error;
      }
    }
  }

  // Sends everything; gives up when the peer makes no progress for the idle timeout.
  bool send_all(const char* p, std::size_t n) {
    while (n > 0) {
      if (srv_.stopping.load(std::memory_order_relaxed)) return false;
      const ssize_t w = ::send(fd_.get(), p, n, MSG_NOSIGNAL);
      if (w > 0) {
        p += w;
        n -= static_cast<std::size_t>(w);
        continue;
      }
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (wait_fd(fd_.get(), POLLOUT, srv_.stop_event.get(), srv_.config.idle_timeout_ms) !=
            WaitResult::ready) {
          return false;
        }
        continue;
      }
      return false;
    }
    return true;
  }
  bool send_all(std::string_view s) { return send_all(s.data(), s.size()); }

  Clock::time_point idle_deadline() const {
    return Clock::now() + std::chrono::milliseconds(srv_.config.idle_timeout_ms);
  }

  // Half-closes and reads what the peer still sends for a moment, so the kernel does
  // not answer unread data with a RST that could destroy the response in flight.
  void lingering_close(char* buf, std::size_t cap) {
    ::shutdown(fd_.get(), SHUT_WR);
    const auto deadline = Clock::now() + std::chrono::milliseconds(kLingerMs);
    std::size_t drained = 0;
    std::size_t got = 0;
    while (drained < kLingerBytes &&
           recv_some(buf, cap, got, deadline) == Io::ok) {
      drained += got;
    }
  }

 private:
  Server::Impl& srv_;
  Fd fd_;
};

class HttpConnection {
 public:
  HttpConnection(Server::Impl& srv, int fd, std::string peer)
      // Not value-initialised: a page of the buffer costs memory only once used, which
      // keeps thousands of idle keep-alive connections cheap.
      : srv_(srv), s_(srv, fd), peer_(std::move(peer)), buf_(new char[kIoChunk]) {}

  void run() {
    while (true) {
      method_ = "-";
      path_ = "-";
      // The whole head of the next request must arrive within one idle timeout.
      const auto deadline = s_.idle_deadline();
      std::size_t head_len = 0;
      while (true) {
        in_.erase(0, http::leading_blank_lines(in_));
        head_len = http::find_head_end(in_);
        if (head_len > 0) break;
        if (in_.size() > http::kMaxHeadBytes) return refuse(431, "request head too large");
        std::size_t got = 0;
        // Read little at a time here: the head is small and the rest stays in the kernel.
        const Io r = s_.recv_some(buf_.get(), kHeadRead, got, deadline);
        if (r == Io::ok) {
          in_.append(buf_.get(), got);
          continue;
        }
        if (r == Io::timeout && !in_.empty()) return refuse(408, "request head timed out");
        return;  // idle timeout, peer closed, stop, error: nothing to answer
      }
      if (head_len > http::kMaxHeadBytes) return refuse(431, "request head too large");
      auto parsed = http::parse_request_head(std::string_view(in_).substr(0, head_len));
      in_.erase(0, head_len);
      if (const auto* err = std::get_if<http::ParseError>(&parsed)) {
        return refuse(err->status, err->reason);
      }
      auto& req = std::get<http::Request>(parsed);
      method_ = sanitize(req.method, 16);
      path_ = sanitize(req.target);
      if (!handle(req)) return;
    }
  }

 private:
  enum class Body { ok, bad, io };
  using Sink = std::function<void(const char*, std::size_t)>;

  bool handle(http::Request& req) {
    enum class Route { root, health, bytes, upload, none };
    const std::string_view path = req.path;
    Route route = Route::none;
    if (path == "/") route = Route::root;
    else if (path == "/health") route = Route::health;
    else if (path.substr(0, 7) == "/bytes/") route = Route::bytes;
    else if (path == "/upload") route = Route::upload;

    const bool head_only = req.method == "HEAD";
    const bool get_like = req.method == "GET" || head_only;
    if (route == Route::upload && req.method == "POST") return handle_upload(req);

    // No other route uses a request body: skip it so the next request starts in sync.
    if (req.body != http::BodyKind::none) {
      if (req.expect_continue) {
        req.keep_alive = false;  // the client waits for 100 we never send: close instead
      } else {
        std::string why;
        const Body b = read_body(req, [](const char*, std::size_t) {}, why);
        if (b == Body::bad) {
          refuse(400, why);
          return false;
        }
        if (b == Body::io) return fail_io(why);
      }
    }
    if (route == Route::none) return respond(req, 404, "not found\n");
    if (route == Route::upload) return respond(req, 405, "use POST\n", {"Allow: POST"});
    if (!get_like) return respond(req, 405, "use GET or HEAD\n", {"Allow: GET, HEAD"});

    switch (route) {
      case Route::root:
        return respond(req, srv_.control.status.load(), srv_.config.name + " " + peer_ + "\n");
      case Route::health: {
        const int status = srv_.control.status.load();
        return respond(req, status, status == 200 ? "ok\n" : "status " + std::to_string(status) + "\n");
      }
      case Route::bytes:
        return handle_bytes(req, path.substr(7), head_only);
      default:
        return respond(req, 404, "not found\n");
    }
  }

  bool handle_bytes(const http::Request& req, std::string_view count, bool head_only) {
    std::uint64_t n = 0;
    if (!parse_count(count, n)) return respond(req, 400, "bad byte count: want /bytes/<decimal>\n");
    if (!apply_delay()) return false;
    const std::string head = http::response_head(200, srv_.config.name, "application/octet-stream",
                                                 n, req.keep_alive);
    srv_.control.requests.fetch_add(1, std::memory_order_relaxed);
    if (!s_.send_all(head)) return fail_io("send failed", 200, 0);
    std::uint64_t sent = 0;
    if (!head_only) {
      auto* out = reinterpret_cast<std::uint8_t*>(buf_.get());
      while (sent < n) {
        const std::size_t chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(kIoChunk, n - sent));
        pattern_fill(sent, out, chunk);
        if (!s_.send_all(buf_.get(), chunk)) return fail_io("send failed", 200, sent);
        sent += chunk;
      }
    }
    srv_.log_request(method_, path_, peer_, "200", sent);
    return finish(req.keep_alive);
  }

  bool handle_upload(const http::Request& req) {
    if (req.expect_continue && req.version_minor == 1) {
      if (!s_.send_all("HTTP/1.1 100 Continue\r\nX-Server: " + srv_.config.name + "\r\n\r\n")) {
        return fail_io("send failed");
      }
    }
    Sha256 sha;
    std::uint64_t total = 0;
    std::string why;
    const Body b = read_body(req, [&](const char* p, std::size_t n) {
      sha.update(p, n);
      total += n;
    }, why);
    if (b == Body::bad) {
      refuse(400, why);
      return false;
    }
    if (b == Body::io) {
      return fail_io("upload aborted after " + std::to_string(total) + " bytes: " + why);
    }
    return respond(req, 200,
                   srv_.config.name + " " + std::to_string(total) + " " + sha.final_hex() + "\n");
  }

  // Reads the request body as framed by its head, passing the decoded bytes to sink.
  Body read_body(const http::Request& req, const Sink& sink, std::string& why) {
    if (req.body == http::BodyKind::length) {
      std::uint64_t remaining = req.content_length;
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining, in_.size()));
      sink(in_.data(), take);
      in_.erase(0, take);
      remaining -= take;
      while (remaining > 0) {
        std::size_t got = 0;
        const auto cap = static_cast<std::size_t>(std::min<std::uint64_t>(kIoChunk, remaining));
        const Io r = s_.recv_some(buf_.get(), cap, got, s_.idle_deadline());
        if (r != Io::ok) {
          why = io_text(r);
          return Body::io;
        }
        sink(buf_.get(), got);
        remaining -= got;
      }
      return Body::ok;
    }
    if (req.body == http::BodyKind::chunked) {
      http::ChunkedDecoder dec;
      in_.erase(0, dec.feed(in_, sink));
      while (!dec.done()) {
        if (dec.failed()) {
          why = "bad chunked body: " + dec.error();
          return Body::bad;
        }
        std::size_t got = 0;
        const Io r = s_.recv_some(buf_.get(), kIoChunk, got, s_.idle_deadline());
        if (r != Io::ok) {
          why = io_text(r);
          return Body::io;
        }
        const std::size_t used = dec.feed(std::string_view(buf_.get(), got), sink);
        in_.append(buf_.get() + used, got - used);  // the start of the next request
      }
    }
    return Body::ok;
  }

  // The configured delay before a response head; false if the server stops meanwhile.
  bool apply_delay() {
    const auto ms = srv_.control.delay_ms.load(std::memory_order_relaxed);
    return ms == 0 || sleep_unless_stopped(srv_.stop_event.get(), static_cast<int>(ms));
  }

  bool respond(const http::Request& req, int status, const std::string& body,
               const std::vector<std::string>& extra = {}) {
    return send_response(status, body, req.keep_alive, req.method == "HEAD", extra);
  }

  bool send_response(int status, const std::string& body, bool keep_alive, bool head_only,
                     const std::vector<std::string>& extra = {}, std::string_view note = {}) {
    if (!apply_delay()) return false;
    const bool no_body = http::status_has_no_body(status);
    std::string out = http::response_head(status, srv_.config.name, kTextPlain, body.size(),
                                          keep_alive, extra);
    const bool with_body = !head_only && !no_body;
    if (with_body) out += body;  // one write: no small trailing segment
    srv_.control.requests.fetch_add(1, std::memory_order_relaxed);
    if (!s_.send_all(out)) return fail_io("send failed", status, 0);
    srv_.log_request(method_, path_, peer_, std::to_string(status), with_body ? body.size() : 0,
                     note);
    return finish(keep_alive);
  }

  bool finish(bool keep_alive) {
    if (!keep_alive) s_.lingering_close(buf_.get(), kIoChunk);
    return keep_alive;
  }

  // Answers an unusable request and closes the connection.
  void refuse(int status, const std::string& reason) {
    send_response(status, reason + "\n", false, false, {}, sanitize(reason, 80));
  }

  bool fail_io(const std::string& why, int status = 0, std::uint64_t bytes = 0) {
    srv_.log_request(method_, path_, peer_, status == 0 ? "-" : std::to_string(status), bytes,
                     "aborted: " + why);
    return false;
  }

  Server::Impl& srv_;
  Stream s_;
  std::string peer_;
  std::unique_ptr<char[]> buf_;
  std::string in_;
  std::string method_ = "-";
  std::string path_ = "-";
};

struct ThreadStart {
  std::shared_ptr<Server::Impl> self;
  std::function<void()> fn;
};

void* thread_main(void* arg) {
  std::unique_ptr<ThreadStart> start(static_cast<ThreadStart*>(arg));
  try {
    start->fn();
  } catch (const std::exception& e) {
    start->self->log(std::string("thread failed: ") + e.what());
  } catch (...) {
    start->self->log("thread failed: unknown exception");
  }
  auto self = std::move(start->self);
  start.reset();  // the task's own state goes before we report the thread as done
  {
    std::lock_guard<std::mutex> lock(self->mu);
    --self->threads;
  }
  self->cv.notify_all();
  return nullptr;
}

}  // namespace

bool Server::Impl::spawn(std::function<void()> fn) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopping.load()) return false;
    ++threads;
  }
  auto* start = new ThreadStart{shared_from_this(), std::move(fn)};
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, kThreadStack);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t tid;
  const int rc = pthread_create(&tid, &attr, thread_main, start);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    delete start;
    {
      std::lock_guard<std::mutex> lock(mu);
      --threads;
    }
    cv.notify_all();
    errno = rc;
    return false;
  }
  return true;
}

void Server::Impl::open_sockets() {
  if (config.name.empty()) throw std::runtime_error("--name must not be empty");
  const auto ep0 = make_endpoint(config.bind_address, config.port);
  if (!ep0) {
    throw std::runtime_error("--bind " + config.bind_address +
                             ": not a numeric IPv4 or IPv6 address");
  }
  stop_event.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_event) fail_errno("eventfd");

  const int family = ep0->family();
  const int one = 1;
  // With port 0 the kernel picks the TCP port; UDP may already use that number, so try
  // a few times.
  const int attempts = config.port == 0 ? 20 : 1;
  for (int attempt = 1;; ++attempt) {
    Endpoint ep = *ep0;
    tcp.reset(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!tcp) fail_errno("socket/tcp");
    setsockopt(tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) setsockopt(tcp.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(tcp.get(), ep.sa(), ep.len) != 0) {
      fail_errno("bind " + format_endpoint(ep.sa(), ep.len) + "/tcp");
    }
    if (::listen(tcp.get(), SOMAXCONN) != 0) fail_errno("listen");
    Endpoint bound;
    bound.len = sizeof bound.addr;
    if (::getsockname(tcp.get(), bound.sa(), &bound.len) != 0) fail_errno("getsockname");
    port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound.addr)->sin_port
                                   : reinterpret_cast<sockaddr_in6*>(&bound.addr)->sin6_port);
    ep = *make_endpoint(config.bind_address, port);

    udp.reset(::socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!udp) fail_errno("socket/udp");
    if (family == AF_INET6) setsockopt(udp.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    // Learn each datagram's destination address so the reply leaves from it (a VIP on
    // lo in the DSR modes), not from whatever address the route would pick.
    if (family == AF_INET) {
      setsockopt(udp.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    } else {
      setsockopt(udp.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    }
    const int rcvbuf = 1 << 20;
    setsockopt(udp.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (::bind(udp.get(), ep.sa(), ep.len) == 0) break;
    if (errno == EADDRINUSE && attempt < attempts) continue;
    fail_errno("bind " + format_endpoint(ep.sa(), ep.len) + "/udp");
  }
  if (!config.control_path.empty()) open_control();
}

void Server::Impl::open_control() {
  const std::string& path = config.control_path;
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (path.size() >= sizeof sun.sun_path) {
    throw std::runtime_error("--control " + path + ": path longer than " +
                             std::to_string(sizeof sun.sun_path - 1) + " bytes");
  }
  std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      throw std::runtime_error("--control " + path + ": exists and is not a socket");
    }
    // A socket someone still listens on belongs to a live server: leave it alone.
    Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) == 0) {
      throw std::runtime_error("--control " + path + ": another process is listening on it");
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      fail_errno("--control " + path + ": removing the stale socket");
    }
  }
  ctl.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!ctl) fail_errno("socket/unix");
  if (::bind(ctl.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) {
    fail_errno("bind --control " + path);
  }
  if (::listen(ctl.get(), 16) != 0) fail_errno("listen --control " + path);
  if (::stat(path.c_str(), &st) == 0) {
    ctl_bound = true;
    ctl_dev = st.st_dev;
    ctl_ino = st.st_ino;
  }
}

void Server::Impl::accept_loop() {
  while (true) {
    const WaitResult w = wait_fd(tcp.get(), POLLIN, stop_event.get(), -1);
    if (w == WaitResult::stopped) return;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const int fd = ::accept4(tcp.get(), reinterpret_cast<sockaddr*>(&ss), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      // Out of descriptors or memory: back off instead of spinning.
      log("accept: " + errno_text(errno));
      if (!sleep_unless_stopped(stop_event.get(), 100)) return;
      continue;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::string peer = format_endpoint(reinterpret_cast<sockaddr*>(&ss), len);
    if (connections.load() >= config.max_connections) {
      const std::string busy = http::response_head(503, config.name, kTextPlain, 0, false);
      [[maybe_unused]] auto rc = ::send(fd, busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      log_request("-", "-", peer, "503", 0, "too many connections");
      continue;
    }
    connections.fetch_add(1);
    const bool ok = spawn([this, fd, peer] {
      HttpConnection(*this, fd, peer).run();
      connections.fetch_sub(1);
    });
    if (!ok) {
      connections.fetch_sub(1);
      ::close(fd);
      if (stopping.load()) return;
      log("cannot start a connection thread: " + errno_text(errno));
    }
  }
}

void Server::Impl::control_accept_loop() {
  while (true) {
    const WaitResult w = wait_fd(ctl.get(), POLLIN, stop_event.get(), -1);
    if (w == WaitResult::stopped) return;
    const int fd = ::accept4(ctl.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      log("control accept: " + errno_text(errno));
      if (!sleep_unless_stopped(stop_event.get(), 100)) return;
      continue;
    }
    if (!spawn([this, fd] { control_session(fd); })) ::close(fd);
  }
}

void Server::Impl::control_session(int fd) {
  Stream s(*this, fd);
  std::string in;
  std::vector<char> buf(4096);
  bool eof = false;
  while (true) {
    auto nl = in.find('\n');
    while (nl == std::string::npos && !eof) {
      if (in.size() > kControlLineMax) {
        s.send_all(std::string_view("error: line too long\n"));
        return;
      }
      std::size_t got = 0;
      const Io r = s.recv_some(buf.data(), buf.size(), got, s.idle_deadline());
      if (r == Io::eof) {
        eof = true;
      } else if (r != Io::ok) {
        return;
      } else {
        in.append(buf.data(), got);
        nl = in.find('\n');
      }
    }
    if (nl == std::string::npos) {
      // Peer closed: a last line without its newline is still a command.
      if (in.find_first_not_of(" \t\r") == std::string::npos) return;
      nl = in.size();
    }
    const std::string line = in.substr(0, nl);
    in.erase(0, std::min(in.size(), nl + 1));
    const std::string answer = line.size() > kControlLineMax ? "error: line too long"
                                                              : apply_control_command(line, control);
    log("control: " + sanitize(line, 80) + " -> " + answer);
    if (!s.send_all(answer + "\n")) return;
  }
}

void Server::Impl::udp_loop() {
  struct Pending {
    Clock::time_point due;
    std::uint64_t seq = 0;
    std::string payload;
    Endpoint to;
    bool have_dst = false;
    in_pktinfo dst4{};
    in6_pktinfo dst6{};
  };
  const auto later = [](const Pending& a, const Pending& b) {
    return a.due > b.due || (a.due == b.due && a.seq > b.seq);
  };
  std::priority_queue<Pending, std::vector<Pending>, decltype(later)> queue(later);
  std::uint64_t seq = 0;
  std::vector<char> data(65'536);
  const std::string prefix = config.name + " ";

  const auto send_reply = [this](const Pending& p) {
    iovec iov{const_cast<char*>(p.payload.data()), p.payload.size()};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
    msghdr msg{};
    msg.msg_name = const_cast<sockaddr*>(p.to.sa());
    msg.msg_namelen = p.to.len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (p.have_dst) {
      msg.msg_control = cbuf;
      cmsghdr* c = nullptr;
      if (p.to.family() == AF_INET) {
        msg.msg_controllen = CMSG_SPACE(sizeof(in_pktinfo));
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
        std::memcpy(CMSG_DATA(c), &p.dst4, sizeof p.dst4);
      } else {
        msg.msg_controllen = CMSG_SPACE(sizeof(in6_pktinfo));
        c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof(in6_pktinfo));
        std::memcpy(CMSG_DATA(c), &p.dst6, sizeof p.dst6);
      }
    }
    ssize_t rc = ::sendmsg(udp.get(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (rc < 0 && p.have_dst && errno == EINVAL) {
      // e.g. the datagram went to a broadcast address, which cannot be a source.
      msg.msg_control = nullptr;
      msg.msg_controllen = 0;
      rc = ::sendmsg(udp.get(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    const std::string client = format_endpoint(p.to.sa(), p.to.len);
    if (rc < 0) {
      log_request("UDP", "-", client, "-", 0, "send failed: " + errno_text(errno));
      return;
    }
    control.requests.fetch_add(1, std::memory_order_relaxed);
    log_request("UDP", "-", client, "echo", p.payload.size());
  };

  while (true) {
    int timeout = -1;
    if (!queue.empty()) {
      timeout = static_cast<int>(std::max<std::int64_t>(
          0, std::chrono::ceil<std::chrono::milliseconds>(queue.top().due - Clock::now()).count()));
    }
    const WaitResult w = wait_fd(udp.get(), POLLIN, stop_event.get(), timeout);
    if (w == WaitResult::stopped) return;
    while (!queue.empty() && queue.top().due <= Clock::now()) {
      send_reply(queue.top());
      queue.pop();
    }
    if (w != WaitResult::ready) continue;

    for (int i = 0; i < 64; ++i) {  // a batch, then look at the queue and stop again
      Pending p;
      alignas(cmsghdr) char cbuf[256];
      iovec iov{data.data(), data.size()};
      msghdr msg{};
      msg.msg_name = p.to.sa();
      msg.msg_namelen = sizeof p.to.addr;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = cbuf;
      msg.msg_controllen = sizeof cbuf;
      const ssize_t n = ::recvmsg(udp.get(), &msg, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) log("udp recvmsg: " + errno_text(errno));
        break;
      }
      p.to.len = msg.msg_namelen;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
          in_pktinfo got{};
          std::memcpy(&got, CMSG_DATA(c), sizeof got);
          p.dst4.ipi_spec_dst = got.ipi_addr;  // reply from the address it was sent to
          p.have_dst = true;
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
          in6_pktinfo got{};
          std::memcpy(&got, CMSG_DATA(c), sizeof got);
          p.dst6.ipi6_addr = got.ipi6_addr;
          // Link-local sources need their interface; others follow the routing table.
          if (IN6_IS_ADDR_LINKLOCAL(&got.ipi6_addr)) p.dst6.ipi6_ifindex = got.ipi6_ifindex;
          p.have_dst = true;
        }
      }
      const std::string client = format_endpoint(p.to.sa(), p.to.len);
      p.payload.reserve(std::min(kMaxUdpPayload, prefix.size() + client.size() + 1 +
                                                     static_cast<std::size_t>(n)));
      p.payload = prefix + client + " ";
      p.payload.append(data.data(), static_cast<std::size_t>(n));
      if (p.payload.size() > kMaxUdpPayload) p.payload.resize(kMaxUdpPayload);

      const auto delay = control.delay_ms.load(std::memory_order_relaxed);
      if (delay == 0) {
        send_reply(p);
      } else if (queue.size() >= kMaxUdpPending) {
        log_request("UDP", "-", client, "-", 0, "dropped: too many delayed replies");
      } else {
        p.due = Clock::now() + std::chrono::milliseconds(delay);
        p.seq = seq++;
        queue.push(std::move(p));
      }
    }
  }
}

void Server::Impl::stop() {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stopping.exchange(true)) return;
  }
  if (stop_event) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto rc = ::write(stop_event.get(), &one, sizeof one);
  }
  // Remove the control socket only if it is still the one we bound.
  struct stat st {};
  if (ctl_bound && ::stat(config.control_path.c_str(), &st) == 0 && st.st_dev == ctl_dev &&
      st.st_ino == ctl_ino) {
    ::unlink(config.control_path.c_str());
  }
}

Server::Server(ServerConfig config) : impl_(std::make_shared<Impl>(std::move(config))) {}

Server::~Server() { impl_->stop(); }

void Server::start() {
  impl_->open_sockets();
  auto& impl = *impl_;
  const auto must_spawn = [&](std::function<void()> fn, const char* what) {
    if (!impl.spawn(std::move(fn))) {
      impl.stop();
      fail_errno(std::string("starting the ") + what + " thread");
    }
  };
  must_spawn([&impl] { impl.accept_loop(); }, "tcp");
  must_spawn([&impl] { impl.udp_loop(); }, "udp");
  if (impl.ctl) must_spawn([&impl] { impl.control_accept_loop(); }, "control");
}

void Server::stop() { impl_->stop(); }

bool Server::wait(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [this] { return impl_->threads == 0; });
}

std::uint16_t Server::port() const { return impl_->port; }

ControlState& Server::control() { return impl_->control; }

}  // namespace lab::srv
