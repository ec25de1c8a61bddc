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
  CLI::App app{"lbctl: inspect and control a running lbd (changes apply at once, without a restart)"};
  const char* env = std::getenv("LBD_SOCKET");
  std::string socket = env ? env : "/run/lblab/lab/lb-a.sock";
  app.add_option("-s,--socket", socket, "lbd's control socket (env LBD_SOCKET)")->capture_default_str();
  app.require_subcommand(1);
  bool json = false;
  std::string vip, backend, value, weight, group;
  auto with_json = [&](const char* name, const char* what) {
    app.add_subcommand(name, what)->add_flag("--json", json, "machine-readable output");
  };
  with_json("stats", "packet, byte and drop counters, per port, reason and backend");
  with_json("flows", "the connection table");
  with_json("backends", "per VIP: algorithm; per backend: weight, group, state, live flows, measured RTT");
  with_json("vrrp", "VRRP state, priorities, master, timers, last change, counters; connection sync counters");
  auto with_vip = [&](CLI::App* c) {
    c->add_option("--vip", vip, "only this VIP (default: every VIP that has the backend)");
    return c;
  };
  auto backend_cmd = [&](const char* name, const char* what) {
    auto* c = with_vip(app.add_subcommand(name, what));
    c->add_option("BACKEND", backend, "ip:port")->required();
    return c;
  };
  backend_cmd("weight", "set a backend's weight (0 drains it)")->add_option("W", value, "0..1000000")->required();
  backend_cmd("drain", "weight 0: no new flows, live ones continue");
  backend_cmd("remove", "take a backend out: no new flows, live ones continue");
  backend_cmd("group", "set a backend's priority group (1 = most preferred)")->add_option("G", value, "1..255")->required();
  auto* add = backend_cmd("add", "add a backend");
  add->add_option("--weight", weight, "0..1000000 (default 1)");
  add->add_option("--group", group, "1..255 (default 1)");
  with_vip(app.add_subcommand("algo", "switch the scheduling algorithm"))
      ->add_option("NAME", value, "rr wrr lc wlc rtt priority sh maglev")
      ->required();
  with_vip(app.add_subcommand("min-active", "priority: usable members the serving groups need"))
      ->add_option("N", value, "1..1024")
      ->required();
  CLI11_PARSE(app, argc, argv);

  // The control socket's line protocol (lb/control/admin.hpp): the same words.
  std::string cmd = app.get_subcommands().front()->get_name();
  for (const std::string* w : {&backend, &value}) if (!w->empty()) cmd += " " + *w;
  if (!weight.empty()) cmd += " --weight " + weight;
  if (!group.empty()) cmd += " --group " + group;
  if (!vip.empty()) cmd += " --vip " + vip;
  if (json) cmd += " json";
  if (cmd.find('\n') != std::string::npos) {
    std::cerr << "lbctl: an argument holds a newline\n";
    return 2;
  }
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
