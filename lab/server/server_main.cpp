// lab_server: the lab's HTTP + UDP echo server (see README.md). Parses options, starts
// the server, waits for SIGTERM/SIGINT/SIGHUP, stops within a second.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>

#include "net.hpp"
#include "server.hpp"

namespace {

struct Options {
  lab::srv::ServerConfig server;
  int port = 80;
};

void setup_options(CLI::App& app, Options& opt) {
  app.add_option("--name", opt.server.name, "server name, e.g. server1")->required();
  app.add_option("--port", opt.port, "TCP and UDP port (0: any free port)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  app.add_option("--bind", opt.server.bind_address, "numeric address to bind")
      ->capture_default_str();
  app.add_option("--control", opt.server.control_path, "unix control socket path");
  app.add_option("--idle-timeout-ms", opt.server.idle_timeout_ms,
                 "drop a peer that makes no progress for this long")
      ->capture_default_str()
      ->check(CLI::Range(100, 3'600'000));
  app.add_option("--max-connections", opt.server.max_connections,
                 "concurrent TCP connections; more get 503")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  app.add_flag("!--no-log", opt.server.log_requests, "do not log one line per request");
}

// The name lands in a header, bodies and datagrams: keep it one printable word.
bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return true;
}

// Many concurrent connections need many descriptors: take what the hard limit allows.
void raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int run_server(const Options& opt) {
  lab::srv::ServerConfig config = opt.server;
  config.port = static_cast<std::uint16_t>(opt.port);
  if (!valid_name(config.name)) {
    std::fprintf(stderr, "lab_server: --name must be 1-64 printable characters without spaces\n");
    return 2;
  }
  raise_fd_limit();
  signal(SIGPIPE, SIG_IGN);
  // Block the stop signals in every thread; this thread collects them with sigwait.
  const sigset_t stop_signals = lab::srv::stop_signal_set();
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  lab::srv::Server server(config);
  server.start();
  std::fprintf(stderr, "lab_server %s listening on %s port %u (tcp+udp)%s%s\n",
               config.name.c_str(), config.bind_address.c_str(), server.port(),
               config.control_path.empty() ? "" : ", control ",
               config.control_path.c_str());
  std::fflush(stderr);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "lab_server %s: signal %d, stopping\n", config.name.c_str(), sig);
  server.stop();
  if (!server.wait(std::chrono::milliseconds(800))) {
    // A thread stuck outside a stop-aware wait must not hold up the exit.
    std::fprintf(stderr, "lab_server %s: threads still busy, exiting anyway\n",
                 config.name.c_str());
    std::fflush(stderr);
    std::_Exit(0);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lab_server: HTTP/1.1 and UDP echo server for the lblab lab"};
  Options opt;
  setup_options(app, opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run_server(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lab_server: %s\n", e.what());
    return 1;
  }
}
