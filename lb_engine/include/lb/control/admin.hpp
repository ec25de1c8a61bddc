// The control socket: a unix stream socket on which each connection sends one command
// line and reads the answer until the engine closes the connection.
//   stats [json]      counters: ports, drops by reason, backends, flows
//   flows [json]      the connection table
//   backends [json]   per VIP its algorithm; per backend weight, group, state, live
//                     flows (established / other), flows total, RTT score and parts
//   vrrp [json]       VRRP state, priorities, master, timers, last change, counters,
//                     drops by reason, tracking; connection sync counters
//   weight BACKEND W [--vip NAME]     drain BACKEND [--vip NAME]
//   add BACKEND [--weight W] [--group G] [--vip NAME]     remove BACKEND [--vip NAME]
//   group BACKEND G [--vip NAME]      min-active N [--vip NAME]     algo NAME [--vip NAME]
// BACKEND is ip:port. Changes answer "ok: ..." or "error: <why>" (and change nothing).
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
