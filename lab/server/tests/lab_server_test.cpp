// lab_server and lab_client, tested as the lab uses them: lab_server runs as a child
// process on 127.0.0.1 (port 0, so the kernel picks a free high port for TCP and UDP)
// with a control socket in a temporary directory. No root needed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "control.hpp"
#include "http.hpp"
#include "lab/server/pattern.hpp"
#include "sha256.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kName = "test1";
constexpr int kIdleTimeoutMs = 1500;

// ---- independent reference: the pattern byte by byte, hashed in one go ----

std::vector<std::uint8_t> reference_pattern(std::uint64_t offset, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint64_t i = offset + j;
    out[j] = static_cast<std::uint8_t>((i * 2654435761u) >> 24);
  }
  return out;
}

std::string sha256_hex(const void* data, std::size_t n) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data, n, md, &len, EVP_sha256(), nullptr), 1);
  std::string hex;
  char two[3];
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(two, sizeof two, "%02x", md[i]);
    hex += two;
  }
  return hex;
}

std::string reference_sha256(std::uint64_t n) {
  const auto bytes = reference_pattern(0, static_cast<std::size_t>(n));
  return sha256_hex(bytes.data(), bytes.size());
}

// ---- processes ----

struct Child {
  pid_t pid = -1;
  std::string log_path;
};

// Waits up to timeout for pid to exit; returns its wait status, or nullopt.
std::optional<int> wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0) return std::nullopt;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void kill_child(pid_t pid) {
  if (pid <= 0) return;
  ::kill(pid, SIGTERM);
  if (!wait_exit(pid, std::chrono::seconds(3))) {
    ::kill(pid, SIGKILL);
    wait_exit(pid, std::chrono::seconds(3));
  }
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Starts lab_server with stderr in log_path; returns the child and the port it bound,
// read from its "listening on ... port N" line.
std::optional<std::pair<Child, int>> start_server(const std::string& dir, const std::string& name,
                                                  const std::string& control,
                                                  const std::string& bind = "127.0.0.1") {
  Child child;
  child.log_path = dir + "/" + name + ".log";
  const std::string idle = std::to_string(kIdleTimeoutMs);
  std::vector<std::string> args = {LAB_SERVER_BIN, "--name", name, "--bind", bind,
                                   "--port", "0", "--idle-timeout-ms", idle};
  if (!control.empty()) {
    args.push_back("--control");
    args.push_back(control);
  }
  child.pid = ::fork();
  if (child.pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a test that crashed
    const int log = ::open(child.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null = ::open("/dev/null", O_RDWR);
    if (log < 0 || null < 0) ::_exit(127);
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  if (child.pid < 0) return std::nullopt;
  const std::regex listening("listening on \\S+ port ([0-9]+)");
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline) {
    std::smatch m;
    const std::string log = read_file(child.log_path);
    if (std::regex_search(log, m, listening)) {
      if (control.empty()) return std::make_pair(child, std::stoi(m[1]));
      struct stat st {};
      if (::stat(control.c_str(), &st) == 0) return std::make_pair(child, std::stoi(m[1]));
    }
    if (wait_exit(child.pid, std::chrono::milliseconds(0))) break;  // it died
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::fprintf(stderr, "lab_server did not start; its log:\n%s\n", read_file(child.log_path).c_str());
  kill_child(child.pid);
  return std::nullopt;
}

struct RunResult {
  int exit_code = -1;
  std::string out;
};

// Runs a program with a time limit, capturing stdout (stderr passes through).
RunResult run(std::vector<std::string> args, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  RunResult result;
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return result;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], STDOUT_FILENO);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  const auto deadline = Clock::now() + limit;
  char buf[4096];
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{pipefd[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;
    result.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(pipefd[0]);
  const auto status = wait_exit(pid, std::max(std::chrono::milliseconds(100),
                                              std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  deadline - Clock::now())));
  if (!status) {
    ::kill(pid, SIGKILL);
    wait_exit(pid, std::chrono::seconds(2));
    return result;
  }
  if (WIFEXITED(*status)) result.exit_code = WEXITSTATUS(*status);
  return result;
}

// ---- sockets with timeouts, so a broken server fails a test instead of hanging it ----

void set_timeouts(int fd, int ms) {
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket(const Socket&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(int port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<std::uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sin;
}

Socket tcp_connect(int port) {
  Socket s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  set_timeouts(s.get(), 5000);
  const auto sin = loopback(port);
  EXPECT_EQ(::connect(s.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin), 0)
      << std::strerror(errno);
  return s;
}

int local_port(int fd) {
  sockaddr_in sin{};
  socklen_t len = sizeof sin;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  return ntohs(sin.sin_port);
}

bool send_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool send_all(int fd, const std::string& s) { return send_all(fd, s.data(), s.size()); }

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;                            // kept when small
  std::uint64_t body_len = 0;
  std::string body_sha256;
  bool complete = false;
};

// Reads one response from fd; `pending` carries bytes read past it (pipelining).
Response read_response(int fd, std::string& pending, bool head_request = false) {
  Response r;
  char buf[65536];
  std::size_t end;
  while ((end = pending.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return r;
    pending.append(buf, static_cast<std::size_t>(n));
  }
  std::istringstream head(pending.substr(0, end));
  pending.erase(0, end + 4);
  std::string line;
  std::getline(head, line);
  if (line.rfind("HTTP/1.1 ", 0) != 0) return r;
  r.status = std::stoi(line.substr(9, 3));
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
  }
  std::uint64_t want = 0;
  if (!head_request && r.headers.count("content-length")) want = std::stoull(r.headers["content-length"]);
  lab::srv::Sha256 sha;
  while (r.body_len < want) {
    if (pending.empty()) {
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return r;
      pending.append(buf, static_cast<std::size_t>(n));
    }
    const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(want - r.body_len, pending.size()));
    sha.update(pending.data(), take);
    if (r.body.size() < (1 << 20)) r.body.append(pending, 0, take);
    r.body_len += take;
    pending.erase(0, take);
  }
  r.body_sha256 = sha.final_hex();
  r.complete = true;
  return r;
}

Response request(int fd, const std::string& raw, bool head_request = false) {
  std::string pending;
  if (!send_all(fd, raw)) return {};
  return read_response(fd, pending, head_request);
}

std::string get(const std::string& path, bool close = false) {
  return "GET " + path + " HTTP/1.1\r\nHost: test\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n";
}

// True when the peer closes the connection (EOF or reset) before the socket timeout.
bool peer_closes(int fd) {
  char c;
  while (true) {
    const ssize_t n = ::recv(fd, &c, 1, 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

// ---- the shared server ----

class LabServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/lab_server_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    control_ = dir_ + "/control.sock";
    auto started = start_server(dir_, kName, control_);
    ASSERT_TRUE(started.has_value());
    child_ = started->first;
    port_ = started->second;
  }

  static void TearDownTestSuite() {
    kill_child(child_.pid);
    child_.pid = -1;
    if (!dir_.empty()) {
      run({"/bin/rm", "-rf", dir_});
    }
  }

  void SetUp() override {
    ASSERT_GT(child_.pid, 0) << "lab_server did not start";
    ASSERT_FALSE(wait_exit(child_.pid, std::chrono::milliseconds(0)).has_value())
        << "lab_server exited; log:\n" << read_file(child_.log_path);
  }

  void TearDown() override {
    // Leave the knobs as the next test expects them.
    control("delay 0");
    control("status 200");
  }

  // Sends one control line and returns the answer line without its newline.
  static std::string control(const std::string& line) {
    Socket s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    set_timeouts(s.get(), 5000);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s", control_.c_str());
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun) != 0) return "connect failed";
    if (!send_all(s.get(), line + "\n")) return "send failed";
    std::string answer;
    char c;
    while (::recv(s.get(), &c, 1, 0) == 1 && c != '\n') answer.push_back(c);
    return answer;
  }

  static inline std::string dir_;
  static inline std::string control_;
  static inline Child child_;
  static inline int port_ = 0;
};

TEST_F(LabServer, RootShowsNameAndThePeerAddressTheServerSaw) {
  Socket s = tcp_connect(port_);
  const Response r = request(s.get(), get("/"));
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::string(kName) + " 127.0.0.1:" + std::to_string(local_port(s.get())) + "\n");
  EXPECT_EQ(r.headers.at("x-server"), kName);
  EXPECT_EQ(r.headers.at("content-type").rfind("text/plain", 0), 0u);
}

TEST_F(LabServer, BytesStreamsTheExactPatternWithContentLength) {
  for (const std::uint64_t n : {0ull, 1ull, 100000ull}) {
    SCOPED_TRACE("N = " + std::to_string(n));
    Socket s = tcp_connect(port_);
    const Response r = request(s.get(), get("/bytes/" + std::to_string(n)));
    ASSERT_TRUE(r.complete);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers.at("content-length"), std::to_string(n));
    EXPECT_EQ(r.headers.at("content-type"), "application/octet-stream");
    EXPECT_EQ(r.headers.at("x-server"), kName);
    EXPECT_EQ(r.body_len, n);
    EXPECT_EQ(r.body_sha256, reference_sha256(n));
  }
}

TEST_F(LabServer, HeadOfBytesHasLengthButNoBody) {
  Socket s = tcp_connect(port_);
  const Response r = request(s.get(), "HEAD /bytes/12345 HTTP/1.1\r\nHost: t\r\n\r\n", true);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers.at("content-length"), "12345");
  // The connection stays usable: no body bytes were sent.
  const Response next = request(s.get(), get("/health"));
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "ok\n");
}

TEST_F(LabServer, BadByteCountIs400AndUnknownPathIs404) {
  Socket s = tcp_connect(port_);
  EXPECT_EQ(request(s.get(), get("/bytes/12x")).status, 400);
  EXPECT_EQ(request(s.get(), get("/bytes/99999999999999999999999")).status, 400);
  const Response r = request(s.get(), get("/no/such/path"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.headers.at("x-server"), kName);
  EXPECT_EQ(request(s.get(), "POST /health HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc").status, 405);
  EXPECT_EQ(request(s.get(), get("/health")).status, 200);  // still in sync after the body
}

TEST_F(LabServer, UploadAnswersLengthAndSha256) {
  const std::size_t n = 300000;
  const auto body = reference_pattern(0, n);
  Socket s = tcp_connect(port_);
  const std::string head = "POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n";
  ASSERT_TRUE(send_all(s.get(), head));
  ASSERT_TRUE(send_all(s.get(), body.data(), body.size()));
  std::string pending;
  const Response r = read_response(s.get(), pending);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::string(kName) + " " + std::to_string(n) + " " + sha256_hex(body.data(), n) + "\n");
}

TEST_F(LabServer, UploadAcceptsChunkedBodiesAndExpectContinue) {
  Socket s = tcp_connect(port_);
  ASSERT_TRUE(send_all(s.get(), "POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                                "Expect: 100-continue\r\n\r\n"));
  std::string pending;
  const Response cont = read_response(s.get(), pending, true);
  EXPECT_EQ(cont.status, 100);
  ASSERT_TRUE(send_all(s.get(), "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n"));
  const Response r = read_response(s.get(), pending);
  ASSERT_TRUE(r.complete);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, std::string(kName) + " 11 " + sha256_hex("hello world", 11) + "\n");
}

TEST_F(LabServer, KeepAliveServesTwoRequestsOnOneConnection) {
  Socket s = tcp_connect(port_);
  const Response first = request(s.get(), get("/"));
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.headers.at("connection"), "keep-alive");
  const Response second = request(s.get(), get("/bytes/10"));
  EXPECT_EQ(second.status, 200);
  EXPECT_EQ(second.body_sha256, reference_sha256(10));
  // Pipelined: two requests in one write, answered in order.
  std::string pending;
  ASSERT_TRUE(send_all(s.get(), get("/health") + get("/", true)));
  EXPECT_EQ(read_response(s.get(), pending).body, "ok\n");
  const Response last = read_response(s.get(), pending);
  EXPECT_EQ(last.headers.at("connection"), "close");
  EXPECT_TRUE(peer_closes(s.get()));
}

TEST_F(LabServer, MalformedRequestGets400AndTheServerServesTheNextConnection) {
  const std::vector<std::string> bad = {
      "GARBAGE\r\n\r\n",
      "GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
      std::string("GET /\0 HTTP/1.1\r\n\r\n", 19),
      "POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  };
  for (const auto& raw : bad) {
    SCOPED_TRACE(raw);
    Socket s = tcp_connect(port_);
    const Response r = request(s.get(), raw);
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.headers.count("x-server"), 1u);
    EXPECT_TRUE(peer_closes(s.get()));
  }
  Socket s = tcp_connect(port_);
  EXPECT_EQ(request(s.get(), "GET / HTTP/2.0\r\n\r\n").status, 505);
  Socket big = tcp_connect(port_);
  EXPECT_EQ(request(big.get(), "GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n").status, 431);
  Socket next = tcp_connect(port_);
  const Response r = request(next.get(), get("/health"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST_F(LabServer, StalledRequestHeadIsAnswered408AndClosed) {
  Socket s = tcp_connect(port_);
  const auto start = Clock::now();
  const Response r = request(s.get(), "GET / HTTP/1.1\r\nHost: t\r\n");  // never finished
  EXPECT_EQ(r.status, 408);
  EXPECT_TRUE(peer_closes(s.get()));
  // Lower bound only; the server's clock may start a moment before ours.
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(kIdleTimeoutMs - 100));
}

TEST_F(LabServer, UdpEchoPrefixesNameAndClientAddress) {
  Socket u(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  set_timeouts(u.get(), 3000);
  const auto sin = loopback(port_);
  ASSERT_EQ(::connect(u.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin), 0);
  const std::string payload = "ping with spaces\nand a newline";
  ASSERT_EQ(::send(u.get(), payload.data(), payload.size(), 0), static_cast<ssize_t>(payload.size()));
  char buf[65536];
  const ssize_t n = ::recv(u.get(), buf, sizeof buf, 0);
  ASSERT_GT(n, 0) << std::strerror(errno);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)),
            std::string(kName) + " 127.0.0.1:" + std::to_string(local_port(u.get())) + " " + payload);

  // A maximal datagram: the reply is truncated to fit 65507 bytes.
  const std::string big(65507, 'x');
  ASSERT_EQ(::send(u.get(), big.data(), big.size(), 0), static_cast<ssize_t>(big.size()));
  EXPECT_EQ(::recv(u.get(), buf, sizeof buf, 0), 65507);
}

TEST_F(LabServer, ControlDelayHoldsHttpAndUdpRepliesAtLeastThatLong) {
  ASSERT_EQ(control("delay 200"), "ok");
  Socket s = tcp_connect(port_);
  auto start = Clock::now();
  const Response r = request(s.get(), get("/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200));

  Socket u(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  set_timeouts(u.get(), 3000);
  const auto sin = loopback(port_);
  ASSERT_EQ(::connect(u.get(), reinterpret_cast<const sockaddr*>(&sin), sizeof sin), 0);
  start = Clock::now();
  ASSERT_EQ(::send(u.get(), "x", 1, 0), 1);
  char buf[256];
  EXPECT_GT(::recv(u.get(), buf, sizeof buf, 0), 0);
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(200));
}

TEST_F(LabServer, ControlStatusChangesHealthAndRoot) {
  ASSERT_EQ(control("status 500"), "ok");
  {
    Socket s = tcp_connect(port_);
    EXPECT_EQ(request(s.get(), get("/health")).status, 500);
    const Response root = request(s.get(), get("/"));
    EXPECT_EQ(root.status, 500);
    EXPECT_EQ(root.body.rfind(std::string(kName) + " 127.0.0.1:", 0), 0u);
    EXPECT_EQ(request(s.get(), get("/bytes/1")).status, 200);  // other paths unaffected
  }
  ASSERT_EQ(control("status 200"), "ok");
  Socket s = tcp_connect(port_);
  EXPECT_EQ(request(s.get(), get("/health")).status, 200);
}

TEST_F(LabServer, ControlShowReportsStateAndBadCommandsAreErrors) {
  ASSERT_EQ(control("delay 7"), "ok");
  EXPECT_TRUE(std::regex_match(control("show"), std::regex("delay=7 status=200 requests=[0-9]+")))
      << control("show");
  EXPECT_EQ(control("frobnicate").rfind("error: ", 0), 0u);
  EXPECT_EQ(control("delay").rfind("error: ", 0), 0u);
  EXPECT_EQ(control("delay -5").rfind("error: ", 0), 0u);
  EXPECT_EQ(control("status 99").rfind("error: ", 0), 0u);
  EXPECT_EQ(control("").rfind("error: ", 0), 0u);
}

TEST_F(LabServer, ClientUdpPrintsEveryReplyAndFailsWhenRepliesAreMissing) {
  const RunResult ok = run({LAB_CLIENT_BIN, "udp", "127.0.0.1", std::to_string(port_), "--message", "hi",
                            "--count", "3", "--timeout-ms", "2000"});
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_TRUE(std::regex_match(ok.out, std::regex("(" + std::string(kName) + " 127\\.0\\.0\\.1:[0-9]+ hi\n){3}")))
      << ok.out;

  // Nobody listens on the TCP-only port of a fresh socket: every datagram goes unanswered.
  Socket placeholder(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  auto any = loopback(0);
  ASSERT_EQ(::bind(placeholder.get(), reinterpret_cast<sockaddr*>(&any), sizeof any), 0);
  const int silent_port = local_port(placeholder.get());  // bound, never answers
  const RunResult missing = run({LAB_CLIENT_BIN, "udp", "127.0.0.1", std::to_string(silent_port),
                                 "--count", "2", "--timeout-ms", "200"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "");
}

TEST_F(LabServer, ClientPatternSha256MatchesAnIndependentHash) {
  for (const std::uint64_t n : {0ull, 1ull, 100000ull}) {
    const RunResult r = run({LAB_CLIENT_BIN, "pattern-sha256", std::to_string(n)});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, reference_sha256(n) + "\n") << "N = " << n;
  }
}

TEST_F(LabServer, ClientMakeFileWritesThePattern) {
  const std::string path = dir_ + "/upload.bin";
  const RunResult r = run({LAB_CLIENT_BIN, "make-file", path, "100000"});
  EXPECT_EQ(r.exit_code, 0);
  const std::string content = read_file(path);
  EXPECT_EQ(content.size(), 100000u);
  EXPECT_EQ(sha256_hex(content.data(), content.size()), reference_sha256(100000));
}

TEST_F(LabServer, ClientHttpManyCountsTheServerOfEveryNewConnection) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/";
  const RunResult ok = run({LAB_CLIENT_BIN, "http-many", url, "--count", "7"});
  EXPECT_EQ(ok.exit_code, 0);
  EXPECT_EQ(ok.out, std::string(kName) + " 7\nfailures 0\n");
  // Each GET asked to close: seven connections, so seven different client ports logged.
  const std::string log = read_file(child_.log_path);
  std::set<std::string> ports;
  const std::regex line(std::string(kName) + " GET / 127\\.0\\.0\\.1:([0-9]+) 200");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator(); ++it)
    ports.insert((*it)[1]);
  EXPECT_GE(ports.size(), 7u);

  ASSERT_EQ(control("status 503"), "ok");
  const RunResult failing = run({LAB_CLIENT_BIN, "http-many", url, "--count", "2"});
  EXPECT_EQ(failing.exit_code, 1);
  EXPECT_EQ(failing.out, "failures 2\n");

  const RunResult bad_url = run({LAB_CLIENT_BIN, "http-many", "ftp://x/", "--count", "1"});
  EXPECT_EQ(bad_url.exit_code, 2);
}

TEST_F(LabServer, ClientHttpTimelinePacesRequestsAndPrintsOneLinePerRequest) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/";
  const auto t0 = Clock::now();
  const RunResult ok = run({LAB_CLIENT_BIN, "http-timeline", url, "--interval-ms", "100", "--seconds", "1"});
  const auto took = Clock::now() - t0;
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  const std::regex line("request ([0-9]+) ([0-9]+) ([0-9]+) ok " + std::string(kName) + "\n");
  std::vector<long long> starts;
  for (auto it = std::sregex_iterator(ok.out.begin(), ok.out.end(), line); it != std::sregex_iterator(); ++it) {
    starts.push_back(std::stoll((*it)[2]));
    EXPECT_LE(std::stoll((*it)[2]), std::stoll((*it)[3]));
  }
  ASSERT_EQ(starts.size(), 10u) << ok.out;
  std::sort(starts.begin(), starts.end());
  // On schedule: the 10 starts span about 900 ms.
  EXPECT_GE(starts.back() - starts.front(), 850) << ok.out;
  EXPECT_LE(starts.back() - starts.front(), 1100) << ok.out;
  EXPECT_LT(took, std::chrono::seconds(3));
  EXPECT_NE(ok.out.find(std::string(kName) + " 10\nfailures 0\n"), std::string::npos) << ok.out;

  // A failing answer names the server and the status.
  ASSERT_EQ(control("status 500"), "ok");
  const RunResult failing = run({LAB_CLIENT_BIN, "http-timeline", url, "--interval-ms", "200", "--seconds", "1"});
  EXPECT_EQ(failing.exit_code, 1);
  EXPECT_TRUE(std::regex_search(failing.out, std::regex("request 1 [0-9]+ [0-9]+ failed " + std::string(kName) +
                                                        " HTTP status 500")))
      << failing.out;
  EXPECT_NE(failing.out.find("failures 5\n"), std::string::npos) << failing.out;

  // Nobody listens on a closed port: refused, at once.
  const RunResult refused =
      run({LAB_CLIENT_BIN, "http-timeline", "http://127.0.0.1:1/", "--interval-ms", "500", "--seconds", "1"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(std::regex_search(refused.out, std::regex("request 1 [0-9]+ [0-9]+ failed - connect: Connection refused")))
      << refused.out;
}

// Runs lab_client hold with stdin and stdout on pipes; returns once it printed
// "holding N" (what it printed so far in `out`), with stdin's write end in `stdin_fd`.
struct HoldProcess {
  pid_t pid = -1;
  int stdin_fd = -1;
  int stdout_fd = -1;
  std::string out;
};

HoldProcess start_hold(const std::vector<std::string>& args) {
  HoldProcess h;
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return h;
  h.pid = ::fork();
  if (h.pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(in[0], STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    std::vector<std::string> a = args;
    std::vector<char*> argv;
    for (auto& x : a) argv.push_back(x.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  h.stdin_fd = in[1];
  h.stdout_fd = out[0];
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  char buf[4096];
  while (h.out.find("holding ") == std::string::npos && Clock::now() < deadline) {
    pollfd p{h.stdout_fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const ssize_t n = ::read(h.stdout_fd, buf, sizeof buf);
    if (n <= 0) break;
    h.out.append(buf, static_cast<std::size_t>(n));
  }
  return h;
}

// Reads the rest of its output and its exit code (-1 when it did not end in `limit`).
int finish_hold(HoldProcess& h, std::chrono::milliseconds limit) {
  char buf[4096];
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    pollfd p{h.stdout_fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::read(h.stdout_fd, buf, sizeof buf);
    if (n <= 0) break;
    h.out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(h.stdout_fd);
  if (h.stdin_fd >= 0) ::close(h.stdin_fd);
  const auto status = wait_exit(h.pid, std::max(std::chrono::milliseconds(100),
                                                std::chrono::duration_cast<std::chrono::milliseconds>(
                                                    deadline - Clock::now())));
  if (!status) {
    kill_child(h.pid);
    return -1;
  }
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

TEST_F(LabServer, ClientHoldKeepsConnectionsOpenUntilStdinCloses) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/";
  HoldProcess h = start_hold({LAB_CLIENT_BIN, "hold", url, "--count", "3", "--seconds", "60"});
  ASSERT_GT(h.pid, 0);
  const std::string name(kName);
  EXPECT_TRUE(std::regex_search(
      h.out, std::regex("^connection 1 " + name + " 127\\.0\\.0\\.1:[0-9]+\nconnection 2 " + name +
                        " 127\\.0\\.0\\.1:[0-9]+\nconnection 3 " + name + " 127\\.0\\.0\\.1:[0-9]+\n" + name +
                        " 3\nfailures 0\nholding 3\n$")))
      << h.out;
  // Still open: the server has not seen them go (no EOF); then stdin closes and it ends.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(wait_exit(h.pid, std::chrono::milliseconds(0)), std::nullopt) << "hold ended on its own";
  ::close(h.stdin_fd);
  h.stdin_fd = -1;
  const auto t0 = Clock::now();
  EXPECT_EQ(finish_hold(h, std::chrono::seconds(5)), 0) << h.out;
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(2));
  EXPECT_NE(h.out.find("closed 3 (0 closed early by the server)\n"), std::string::npos) << h.out;
}

TEST_F(LabServer, ClientHoldEndsOnSigtermAndReportsConnectionsTheServerClosed) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/";
  // The test server drops idle connections after kIdleTimeoutMs: hold notices.
  HoldProcess h = start_hold({LAB_CLIENT_BIN, "hold", url, "--count", "2", "--seconds", "60"});
  ASSERT_GT(h.pid, 0);
  ASSERT_NE(h.out.find("holding 2\n"), std::string::npos) << h.out;
  std::this_thread::sleep_for(std::chrono::milliseconds(kIdleTimeoutMs + 700));
  ::kill(h.pid, SIGTERM);
  EXPECT_EQ(finish_hold(h, std::chrono::seconds(5)), 1) << h.out;
  EXPECT_NE(h.out.find("connection 1 to " + std::string(kName) + " closed by the server\n"), std::string::npos)
      << h.out;
  EXPECT_NE(h.out.find("closed 2 (2 closed early by the server)\n"), std::string::npos) << h.out;

  // --seconds alone ends it too.
  HoldProcess quick = start_hold({LAB_CLIENT_BIN, "hold", url, "--count", "1", "--seconds", "0"});
  EXPECT_EQ(finish_hold(quick, std::chrono::seconds(5)), 0) << quick.out;
  EXPECT_NE(quick.out.find("closed 1 (0 closed early by the server)\n"), std::string::npos) << quick.out;
}

TEST_F(LabServer, ClientHoldAgainAsksEachHeldConnectionOnceMore) {
  const std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/";
  HoldProcess h = start_hold({LAB_CLIENT_BIN, "hold", url, "--count", "2", "--seconds", "0", "--again"});
  ASSERT_GT(h.pid, 0);
  EXPECT_EQ(finish_hold(h, std::chrono::seconds(5)), 0) << h.out;
  const std::string name(kName);
  EXPECT_NE(h.out.find("again 1 ok " + name + "\nagain 2 ok " + name + "\n"), std::string::npos) << h.out;
  // Each came on the connection it was held on: the server logged 2 requests from each
  // of the two client ports hold printed (the server is shared: other tests' lines too).
  std::vector<std::string> ports;
  const std::regex conn("connection [12] " + name + " 127\\.0\\.0\\.1:([0-9]+)\n");
  for (auto it = std::sregex_iterator(h.out.begin(), h.out.end(), conn); it != std::sregex_iterator(); ++it)
    ports.push_back((*it)[1]);
  ASSERT_EQ(ports.size(), 2u) << h.out;
  const std::string log = read_file(child_.log_path);
  for (const auto& p : ports) {
    const std::regex line("GET / 127\\.0\\.0\\.1:" + p + " 200");
    const auto n = std::distance(std::sregex_iterator(log.begin(), log.end(), line), std::sregex_iterator());
    EXPECT_EQ(n, 2) << "client port " << p << "\n" << log;
  }

  // Held past the server's idle timeout, the connections are gone: --again says so.
  HoldProcess late = start_hold({LAB_CLIENT_BIN, "hold", url, "--count", "1", "--seconds", "60", "--again"});
  ASSERT_GT(late.pid, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(kIdleTimeoutMs + 700));
  ::kill(late.pid, SIGTERM);
  EXPECT_EQ(finish_hold(late, std::chrono::seconds(5)), 1) << late.out;
  EXPECT_EQ(late.out.find("again 1 ok"), std::string::npos) << "a connection the server closed is not asked: " << late.out;
}

TEST_F(LabServer, EveryRequestIsLoggedOnStderr) {
  Socket s = tcp_connect(port_);
  ASSERT_EQ(request(s.get(), get("/bytes/4242", true)).status, 200);
  ASSERT_TRUE(peer_closes(s.get()));
  const std::string expect = "GET /bytes/4242 127.0.0.1:" + std::to_string(local_port(s.get())) + " 200 4242";
  EXPECT_NE(read_file(child_.log_path).find(expect), std::string::npos) << read_file(child_.log_path);
}

// ---- process lifecycle ----

TEST(LabServerProcess, SigtermExitsCleanlyWithAnIdleConnectionOpen) {
  char tmpl[] = "/tmp/lab_server_test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string ctl = dir + "/c.sock";
  {
    // A stale socket file from a killed server must not stop the next one.
    Socket stale(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s", ctl.c_str());
    ASSERT_EQ(::bind(stale.get(), reinterpret_cast<sockaddr*>(&sun), sizeof sun), 0);
  }
  auto started = start_server(dir, "server9", ctl);
  ASSERT_TRUE(started.has_value());
  const pid_t pid = started->first.pid;
  Socket idle = tcp_connect(started->second);
  EXPECT_EQ(request(idle.get(), get("/")).status, 200);

  ::kill(pid, SIGTERM);
  const auto status = wait_exit(pid, std::chrono::seconds(3));
  if (!status) kill_child(pid);
  ASSERT_TRUE(status.has_value()) << "lab_server ignored SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  struct stat st {};
  EXPECT_NE(::stat(ctl.c_str(), &st), 0) << "control socket left behind";
  run({"/bin/rm", "-rf", dir});
}

TEST(LabServerProcess, UdpReplyLeavesFromTheAddressTheDatagramWasSentTo) {
  // Bound to 0.0.0.0, a datagram to 127.0.0.2 must be answered from 127.0.0.2 (as a
  // DSR server answers from the VIP), or the client's connected socket drops it.
  char tmpl[] = "/tmp/lab_server_test.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  auto started = start_server(dir, "server8", "", "0.0.0.0");
  ASSERT_TRUE(started.has_value());
  const RunResult r = run({LAB_CLIENT_BIN, "udp", "127.0.0.2", std::to_string(started->second),
                           "--message", "vip", "--timeout-ms", "2000"});
  kill_child(started->first.pid);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(std::regex_match(r.out, std::regex("server8 127\\.0\\.0\\.1:[0-9]+ vip\n"))) << r.out;
  run({"/bin/rm", "-rf", dir});
}

TEST(LabServerProcess, StartupErrorsStopWithOneClearLine) {
  const RunResult bad_bind = run({LAB_SERVER_BIN, "--name", "x", "--bind", "not-an-ip", "--port", "0"});
  EXPECT_EQ(bad_bind.exit_code, 1);
  const RunResult no_name = run({LAB_SERVER_BIN, "--port", "0"});
  EXPECT_NE(no_name.exit_code, 0);
}

// ---- the pieces, without a process ----

TEST(Pattern, FillMatchesTheByteFormulaAtAnyOffset) {
  for (const std::uint64_t offset : {0ull, 1ull, 4095ull, (1ull << 32) - 3, (1ull << 40) + 17}) {
    std::vector<std::uint8_t> got(1000);
    lab::pattern_fill(offset, got.data(), got.size());
    EXPECT_EQ(got, reference_pattern(offset, got.size())) << "offset " << offset;
  }
  EXPECT_EQ(lab::srv::pattern_sha256(100000), reference_sha256(100000));
}

TEST(HttpParser, RefusesAmbiguousFraming) {
  using lab::srv::http::ParseError;
  using lab::srv::http::parse_request_head;
  const auto status = [](std::string_view head) {
    const auto r = parse_request_head(head);
    return std::holds_alternative<ParseError>(r) ? std::get<ParseError>(r).status : 0;
  };
  EXPECT_EQ(status("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n"), 0);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
  EXPECT_EQ(status("GET / HTTP/1.1\r\n folded\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nExpect: magic\r\n\r\n"), 417);
  EXPECT_EQ(status("GET http://example/bytes/3?x HTTP/1.1\r\n\r\n"), 0);
  const auto ok = parse_request_head("GET http://example/bytes/3?x HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(std::holds_alternative<lab::srv::http::Request>(ok));
  EXPECT_EQ(std::get<lab::srv::http::Request>(ok).path, "/bytes/3");
  EXPECT_FALSE(std::get<lab::srv::http::Request>(ok).keep_alive);  // HTTP/1.0 default
}

TEST(ChunkedDecoder, DecodesAcrossArbitrarySplitsAndLeavesTheNextRequest) {
  const std::string wire = "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\nGET /";
  for (std::size_t step = 1; step <= wire.size(); ++step) {
    lab::srv::http::ChunkedDecoder dec;
    std::string body;
    std::size_t used = 0;
    for (std::size_t pos = 0; pos < wire.size() && !dec.done(); pos += step) {
      used += dec.feed(std::string_view(wire).substr(pos, step),
                       [&](const char* p, std::size_t n) { body.append(p, n); });
      ASSERT_FALSE(dec.failed()) << dec.error();
    }
    ASSERT_TRUE(dec.done()) << "step " << step;
    EXPECT_EQ(body, "Wikipedia in\r\n\r\nchunks.");
    EXPECT_EQ(wire.substr(used), "GET /") << "step " << step;
  }
}

TEST(Control, CommandsAnswerOneLine) {
  lab::srv::ControlState st;
  EXPECT_EQ(lab::srv::apply_control_command("delay 150\r", st), "ok");
  EXPECT_EQ(st.delay_ms.load(), 150u);
  EXPECT_EQ(lab::srv::apply_control_command("  status   503 ", st), "ok");
  EXPECT_EQ(lab::srv::apply_control_command("show", st), "delay=150 status=503 requests=0");
  EXPECT_EQ(lab::srv::apply_control_command("delay 99999999999", st).rfind("error: ", 0), 0u);
  EXPECT_EQ(lab::srv::apply_control_command("status 600", st).rfind("error: ", 0), 0u);
  EXPECT_EQ(st.status.load(), 503);
}

}  // namespace
