// lab_server's engine: an HTTP/1.1 server and a UDP echo on one port number, plus an
// optional unix control socket. See README.md for the protocols.
//
// One thread per TCP connection (and per control connection); one thread runs the UDP
// echo. Every blocking wait also watches a stop event, so stop() ends all of them at
// once, and every wait on a peer has a timeout.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "control.hpp"

namespace lab::srv {

struct ServerConfig {
  std::string name;                   // sent in X-Server, GET /, uploads and UDP replies
  std::string bind_address = "0.0.0.0";  // numeric IPv4 or IPv6
  std::uint16_t port = 80;            // TCP and UDP; 0 picks a free one for both
  std::string control_path;           // unix control socket; empty = none
  int idle_timeout_ms = 30'000;       // a peer that makes no progress this long is dropped
  std::size_t max_connections = 10'000;  // more concurrent TCP connections get 503
  bool log_requests = true;           // one line per request on stderr
};

class Server {
 public:
  explicit Server(ServerConfig config);
  // Calls stop(); threads still running keep their own reference to the state.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the sockets and starts serving. Throws std::runtime_error naming the step
  // that failed, e.g. "bind 0.0.0.0:80/tcp: Address already in use".
  void start();
  // Asks every thread to finish and removes the control socket; returns at once.
  // Idempotent.
  void stop();
  // Waits at most `timeout` for every thread to finish; true when all have.
  bool wait(std::chrono::milliseconds timeout);

  // The port actually bound (useful with port 0). Valid after start().
  std::uint16_t port() const;
  ControlState& control();

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace lab::srv
