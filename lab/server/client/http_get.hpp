// The HTTP side of lab_client's http-many, http-timeline and hold: parsing a URL,
// building a GET, reading a response head, naming the server from the body of GET /,
// and the `serverN COUNT` summary. Pure functions (unit-tested without a network),
// plus one blocking exchange over a socket with a deadline and the resolving of a
// subcommand's URL argument.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "net.hpp"

namespace lab::client {

struct HttpUrl {
  std::string host;  // a name, an IPv4 address or an IPv6 address (without brackets)
  std::uint16_t port = 80;
  std::string path = "/";  // with the query, if any
  std::string authority() const;  // for the Host header: host[:port], IPv6 in brackets
};

// Parses "http://HOST[:PORT][/PATH]". Returns nullopt and says why in `why` for
// anything else (another scheme, an empty host, a bad port, user info).
std::optional<HttpUrl> parse_http_url(std::string_view url, std::string* why = nullptr);

// "GET PATH HTTP/1.1" with Host, and Connection: close unless keep_alive.
std::string get_request(const HttpUrl& url, bool keep_alive);

struct ResponseHead {
  int status = 0;
  std::optional<std::uint64_t> content_length;
  bool close = false;     // Connection: close
  std::string x_server;   // the X-Server header lab_server sends ("" when absent)
};

// Parses one complete response head (status line and fields, up to the empty line).
// nullopt with the reason in `why` when it is not HTTP/1.x or the length is malformed.
std::optional<ResponseHead> parse_response_head(std::string_view head, std::string* why = nullptr);

// The server a body of lab_server's GET / names: its first word ("server1" of
// "server1 198.51.100.11:40312\n"), or "" when the body does not start with one.
std::string server_name_from_body(std::string_view body);

// a < b with digit runs compared as numbers: server2 before server10.
bool natural_less(const std::string& a, const std::string& b);

// One `NAME COUNT` line per server in natural order, then `failures N`.
std::string format_counts(const std::map<std::string, int>& counts, int failures);

// One GET on a new TCP connection: the socket (still open, for keep-alive), the
// server that answered, the local address, or why it failed.
struct Exchange {
  lab::srv::Fd fd;
  std::string server;  // from the body; empty on failure
  std::string local;   // "a.b.c.d:port" of our end
  std::string error;   // empty on success
  int status = 0;      // the HTTP status; 0 when no response head arrived
  std::string named;   // on a non-200 answer: the server it came from (body or X-Server), else ""
  bool ok() const { return error.empty(); }
};

// Connects to `to`, sends GET url.path (keep-alive or Connection: close), reads the
// whole response (Content-Length, or until the server closes when it has none) and
// names the server from the body. Every step shares one deadline of timeout_ms; the
// connect alone may be given a shorter one (connect_timeout_ms > 0). A status other
// than 200 or a body without a name is a failure. stop_fd (>= 0) interrupts the wait.
Exchange get_once(const lab::srv::Endpoint& to, const HttpUrl& url, bool keep_alive, int timeout_ms,
                  int stop_fd = -1, int connect_timeout_ms = -1);

// One more GET (keep-alive) on a connection get_once left open: a held connection asked
// again, to prove it still reaches its server. Takes the socket; returns it in .fd.
Exchange get_again(lab::srv::Fd fd, const HttpUrl& url, int timeout_ms, int stop_fd = -1);

// Resolves url.host (numeric, or through getaddrinfo) to an endpoint with url.port.
std::optional<lab::srv::Endpoint> resolve(const HttpUrl& url, std::string* why);

// A subcommand's URL argument, parsed and resolved.
struct Target {
  HttpUrl url;
  lab::srv::Endpoint to;
};

// parse_http_url, then resolve. On failure prints one line to stderr,
// `lab_client COMMAND: URL: WHY` (does not parse) or `lab_client COMMAND: WHY` (does
// not resolve), and returns nullopt; the caller exits with 2.
std::optional<Target> target_or_complain(const char* command, const std::string& url);

}  // namespace lab::client
