// lbctl: talks to a running lbd over its control socket.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace {

// Sends one command line and returns the whole answer. Throws with one clear line.
std::string ask(const std::string& path, const std::string& command) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long: " + path);
  std::strcpy(addr.sun_path, path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error("cannot reach lbd at " + path + ": " + std::strerror(e) +
                             (e == ENOENT || e == ECONNREFUSED ? " (is lbd running? --socket names its control socket)" : ""));
  }
  std::string line = command + "\n";
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    ::close(fd);
    throw std::runtime_error("write to " + path + " failed");
  }
  std::string out;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) {
      ::close(fd);
      throw std::runtime_error("lbd did not answer within 5 s");
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lbctl: inspect and control a running lbd"};
  const char* env = std::getenv("LBD_SOCKET");
  std::string socket = env ? env : "/run/lblab/lab/lb-a.sock";
  app.add_option("-s,--socket", socket, "lbd's control socket (env LBD_SOCKET)")->capture_default_str();
  app.require_subcommand(1);
  bool json = false;
  auto* stats = app.add_subcommand("stats", "packet, byte and drop counters, per port, reason and backend");
  stats->add_flag("--json", json, "machine-readable output");
  auto* flows = app.add_subcommand("flows", "the connection table");
  flows->add_flag("--json", json, "machine-readable output");
  CLI11_PARSE(app, argc, argv);

  std::string cmd = app.get_subcommands().front()->get_name() + (json ? " json" : "");
  try {
    std::string reply = ask(socket, cmd);
    std::cout << reply;
    if (reply.rfind("error:", 0) == 0) return 1;
  } catch (const std::exception& e) {
    std::cerr << "lbctl: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
