#include "http_get.hpp"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace lab::client {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

bool say(std::string* why, std::string text) {
  if (why) *why = std::move(text);
  return false;
}

// The end of the head in buf (after CRLF CRLF or LF LF), or npos.
std::size_t head_end(std::string_view buf) {
  const auto crlf = buf.find("\r\n\r\n");
  const auto lf = buf.find("\n\n");
  if (crlf == std::string_view::npos && lf == std::string_view::npos) return std::string_view::npos;
  if (lf == std::string_view::npos || (crlf != std::string_view::npos && crlf < lf)) return crlf + 4;
  return lf + 2;
}


// One exchange's steps: each waits on ex.fd until `deadline` (or stop_fd), and a failure
// closes the socket and says why.
struct Steps {
  Exchange& ex;
  int stop_fd;
  std::int64_t deadline;
  Exchange fail(std::string why) {
    ex.error = std::move(why);
    ex.fd.reset();
    return std::move(ex);
  }
  // Empty when ex.fd is ready for `events`, else what went wrong in `step`.
  std::string wait(short events, const char* step) const {
    using lab::srv::WaitResult;
    const int left = static_cast<int>(std::max<std::int64_t>(0, deadline - lab::srv::now_ms()));
    switch (lab::srv::wait_fd(ex.fd.get(), events, stop_fd, left)) {
      case WaitResult::ready: return {};
      case WaitResult::timeout: return std::string(step) + ": timed out";
      case WaitResult::stopped: return std::string(step) + ": stopped";
      case WaitResult::error: return std::string(step) + ": poll: " + lab::srv::errno_text(errno);
    }
    return {};
  }
};

// Sends the GET on a connected socket and reads the response (defined below get_once).
Exchange exchange(Exchange ex, const HttpUrl& url, bool keep_alive, std::int64_t deadline, int stop_fd);
}  // namespace

std::string HttpUrl::authority() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return port == 80 ? h : h + ":" + std::to_string(port);
}

std::optional<HttpUrl> parse_http_url(std::string_view url, std::string* why) {
  constexpr std::string_view scheme = "http://";
  if (url.size() < scheme.size() || !iequals(url.substr(0, scheme.size()), scheme)) {
    say(why, "not an http:// URL");
    return std::nullopt;
  }
  url.remove_prefix(scheme.size());
  const auto slash = url.find_first_of("/?#");
  std::string_view authority = url.substr(0, slash);
  HttpUrl out;
  if (slash != std::string_view::npos) {
    std::string_view rest = url.substr(slash);
    if (const auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
    out.path = rest.empty() || rest.front() != '/' ? "/" + std::string(rest) : std::string(rest);
  }
  if (authority.find('@') != std::string_view::npos) {
    say(why, "user information in the URL is not supported");
    return std::nullopt;
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      say(why, "unterminated [IPv6 address]");
      return std::nullopt;
    }
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        say(why, "unexpected text after ]");
        return std::nullopt;
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        say(why, "empty port");
        return std::nullopt;
      }
    }
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) {
        say(why, "empty port");
        return std::nullopt;
      }
    }
  }
  if (out.host.empty()) {
    say(why, "no host in the URL");
    return std::nullopt;
  }
  if (!port_text.empty()) {
    std::uint64_t p = 0;
    if (!parse_u64(port_text, p) || p == 0 || p > 65535) {
      say(why, "bad port '" + std::string(port_text) + "'");
      return std::nullopt;
    }
    out.port = static_cast<std::uint16_t>(p);
  }
  return out;
}

std::string get_request(const HttpUrl& url, bool keep_alive) {
  return "GET " + url.path + " HTTP/1.1\r\nHost: " + url.authority() +
         "\r\nUser-Agent: lab_client\r\n" + (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
}

std::optional<ResponseHead> parse_response_head(std::string_view head, std::string* why) {
  ResponseHead out;
  auto next_line = [&head]() {
    const auto nl = head.find('\n');
    std::string_view line = head.substr(0, nl);
    head = nl == std::string_view::npos ? std::string_view{} : head.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
  };
  const std::string_view status_line = next_line();
  // "HTTP/1.1 200 OK"
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
      !std::isdigit(static_cast<unsigned char>(status_line[9])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[10])) ||
      !std::isdigit(static_cast<unsigned char>(status_line[11])) ||
      (status_line.size() > 12 && status_line[12] != ' ')) {
    say(why, "not an HTTP/1.x status line: '" + std::string(status_line.substr(0, 60)) + "'");
    return std::nullopt;
  }
  out.status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
  out.close = status_line[7] == '0';  // HTTP/1.0 closes unless it says keep-alive
  while (!head.empty()) {
    const std::string_view line = next_line();
    if (line.empty()) break;
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      say(why, "malformed header line: '" + std::string(line.substr(0, 60)) + "'");
      return std::nullopt;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "Content-Length")) {
      std::uint64_t n = 0;
      if (!parse_u64(value, n) || (out.content_length && *out.content_length != n)) {
        say(why, "bad Content-Length '" + std::string(value) + "'");
        return std::nullopt;
      }
      out.content_length = n;
    } else if (iequals(name, "Connection")) {
      if (iequals(value, "close")) out.close = true;
      if (iequals(value, "keep-alive")) out.close = false;
    } else if (iequals(name, "X-Server")) {
      out.x_server = std::string(value);
    }
  }
  return out;
}

std::string server_name_from_body(std::string_view body) {
  std::size_t n = 0;
  while (n < body.size() && static_cast<unsigned char>(body[n]) > 0x20 &&
         static_cast<unsigned char>(body[n]) < 0x7f)
    ++n;
  if (n == 0 || n > 64) return {};
  // A name is a whole word: followed by a space, a newline or the end.
  if (n < body.size() && body[n] != ' ' && body[n] != '\n' && body[n] != '\r') return {};
  return std::string(body.substr(0, n));
}

bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && digit(a[ie])) ++ie;
      while (je < b.size() && digit(b[je])) ++je;
      std::string_view x(a.data() + i, ie - i), y(b.data() + j, je - j);
      while (x.size() > 1 && x.front() == '0') x.remove_prefix(1);
      while (y.size() > 1 && y.front() == '0') y.remove_prefix(1);
      if (x.size() != y.size()) return x.size() < y.size();
      if (x != y) return x < y;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  if ((a.size() - i) != (b.size() - j)) return a.size() - i < b.size() - j;
  return a < b;  // equal up to leading zeros: any consistent order
}

std::string format_counts(const std::map<std::string, int>& counts, int failures) {
  std::vector<std::string> names;
  for (const auto& [name, n] : counts) names.push_back(name);
  std::sort(names.begin(), names.end(), natural_less);
  std::string out;
  for (const auto& name : names) out += name + " " + std::to_string(counts.at(name)) + "\n";
  out += "failures " + std::to_string(failures) + "\n";
  return out;
}

std::optional<lab::srv::Endpoint> resolve(const HttpUrl& url, std::string* why) {
  if (auto ep = lab::srv::make_endpoint(url.host, url.port)) return ep;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(url.host.c_str(), nullptr, &hints, &res); rc != 0) {
    say(why, url.host + ": " + gai_strerror(rc));
    return std::nullopt;
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(res, &::freeaddrinfo);
  lab::srv::Endpoint ep;
  std::memcpy(&ep.addr, res->ai_addr, res->ai_addrlen);
  ep.len = res->ai_addrlen;
  if (ep.family() == AF_INET) reinterpret_cast<sockaddr_in*>(&ep.addr)->sin_port = htons(url.port);
  if (ep.family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&ep.addr)->sin6_port = htons(url.port);
  return ep;
}

std::optional<Target> target_or_complain(const char* command, const std::string& url) {
  std::string why;
  auto parsed = parse_http_url(url, &why);
  if (!parsed) {
    std::fprintf(stderr, "lab_client %s: %s: %s\n", command, url.c_str(), why.c_str());
    return std::nullopt;
  }
  auto to = resolve(*parsed, &why);
  if (!to) {
    std::fprintf(stderr, "lab_client %s: %s\n", command, why.c_str());
    return std::nullopt;
  }
  return Target{std::move(*parsed), *to};
}

Exchange get_once(const lab::srv::Endpoint& to, const HttpUrl& url, bool keep_alive, int timeout_ms,
                  int stop_fd, int connect_timeout_ms) {
  Exchange ex;
  const std::int64_t start = lab::srv::now_ms();
  const std::int64_t deadline = start + timeout_ms;
  // The connect alone may have a shorter deadline; the exchange after it has the rest.
  Steps s{ex, stop_fd, connect_timeout_ms > 0 ? std::min(deadline, start + connect_timeout_ms) : deadline};

  ex.fd = lab::srv::Fd(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!ex.fd) return s.fail("socket: " + lab::srv::errno_text(errno));
  if (::connect(ex.fd.get(), to.sa(), to.len) != 0) {
    if (errno != EINPROGRESS) return s.fail("connect: " + lab::srv::errno_text(errno));
    if (auto e = s.wait(POLLOUT, "connect"); !e.empty()) return s.fail(e);
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(ex.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return s.fail("connect: " + lab::srv::errno_text(err));
  }
  sockaddr_storage local{};
  socklen_t llen = sizeof local;
  if (::getsockname(ex.fd.get(), reinterpret_cast<sockaddr*>(&local), &llen) == 0)
    ex.local = lab::srv::format_endpoint(reinterpret_cast<sockaddr*>(&local), llen);
  return exchange(std::move(ex), url, keep_alive, deadline, stop_fd);
}

Exchange get_again(lab::srv::Fd fd, const HttpUrl& url, int timeout_ms, int stop_fd) {
  Exchange ex;
  ex.fd = std::move(fd);
  return exchange(std::move(ex), url, true, lab::srv::now_ms() + timeout_ms, stop_fd);
}

namespace {

// Sends GET url.path on ex.fd (connected, non-blocking) and reads the response, all by
// `deadline`.
Exchange exchange(Exchange ex, const HttpUrl& url, bool keep_alive, std::int64_t deadline, int stop_fd) {
  Steps s{ex, stop_fd, deadline};
  const std::string req = get_request(url, keep_alive);
  std::size_t sent = 0;
  while (sent < req.size()) {
    const ssize_t n = ::send(ex.fd.get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (auto e = s.wait(POLLOUT, "send"); !e.empty()) return s.fail(e);
    } else if (errno != EINTR) {
      return s.fail("send: " + lab::srv::errno_text(errno));
    }
  }

  // The body of GET / is one short line; anything beyond kKeep is read and dropped.
  constexpr std::size_t kKeep = 4096;
  std::string buf;
  std::optional<ResponseHead> head;
  std::size_t body_start = 0;
  std::uint64_t body_seen = 0;
  char chunk[16384];
  while (true) {
    if (head && head->content_length && body_seen >= *head->content_length) break;
    const ssize_t n = ::recv(ex.fd.get(), chunk, sizeof chunk, 0);
    if (n == 0) {
      if (head && !head->content_length) break;  // the body ends with the connection
      return s.fail(head ? "the server closed the connection in the body"
                       : "the server closed the connection without a response");
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (auto e = s.wait(POLLIN, head ? "reading the body" : "waiting for the response"); !e.empty())
          return s.fail(e);
        continue;
      }
      if (errno == EINTR) continue;
      return s.fail("recv: " + lab::srv::errno_text(errno));
    }
    if (!head) {
      buf.append(chunk, static_cast<std::size_t>(n));
      const auto end = head_end(buf);
      if (end == std::string::npos) {
        if (buf.size() > 65536) return s.fail("response head over 64 KiB");
        continue;
      }
      std::string why;
      head = parse_response_head(std::string_view(buf).substr(0, end), &why);
      if (!head) return s.fail(why);
      body_start = end;
      body_seen = buf.size() - end;
      if (buf.size() > body_start + kKeep) buf.resize(body_start + kKeep);
    } else {
      body_seen += static_cast<std::uint64_t>(n);
      if (buf.size() < body_start + kKeep)
        buf.append(chunk, std::min(static_cast<std::size_t>(n), body_start + kKeep - buf.size()));
    }
  }
  std::string_view body = std::string_view(buf).substr(body_start);
  if (head->content_length && body.size() > *head->content_length) body = body.substr(0, *head->content_length);
  ex.server = server_name_from_body(body);
  ex.status = head->status;
  if (head->status != 200) {
    const std::string who = ex.server.empty() ? head->x_server : ex.server;
    ex.server.clear();
    ex.named = who;
    return s.fail("HTTP status " + std::to_string(head->status) + (who.empty() ? "" : " from " + who));
  }
  if (ex.server.empty()) return s.fail("the body does not begin with a server name");
  if (head->close && keep_alive) return s.fail("the server ends the connection (Connection: close)");
  return ex;
}

}  // namespace

}  // namespace lab::client
