// The control socket: a unix stream socket on which each connection sends one command
// line and reads the answer until the engine closes the connection.
//   stats [json]   counters: ports, drops by reason, backends, flows
//   flows [json]   the connection table
#pragma once
#include <memory>
#include <string>
#include <thread>

namespace lb {

class Engine;

// The answer to one command line; unknown commands answer "error: ...".
std::string handle_admin_command(Engine& engine, const std::string& line);

class AdminServer {
 public:
  // Binds `path` (removing a stale socket file first, mode 0600). Throws
  // std::runtime_error with one clear line when it cannot.
  AdminServer(Engine& engine, const std::string& path);
  ~AdminServer();  // stops the thread and removes the socket file
  void start();    // serves on its own thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lb
