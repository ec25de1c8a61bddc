// lab_client hold URL --count N --seconds S: opens N keep-alive connections one after
// another, one GET each, says which server each reached, then keeps them open and idle
// for S seconds, or until stdin closes (when stdin is a pipe, socket or terminal) or a
// SIGTERM/SIGINT/SIGHUP arrives, and closes them. A least-connections scheduler sees
// these as established flows for as long as they are held. With --again, each held
// connection is asked once more before it is closed ("again N ok SERVER" or "again N
// failed: WHY"): an idle connection that must still reach the same server, e.g. across
// an LB failover; any that does not makes the exit code 1.
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "http_get.hpp"
#include "stop_signals.hpp"

namespace lab::client {
namespace {

// Only a stdin someone can close on purpose is watched: /dev/null or a file would end
// the hold at once.
bool stdin_is_a_channel() {
  struct stat st {};
  if (::fstat(STDIN_FILENO, &st) != 0) return false;
  return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || ::isatty(STDIN_FILENO);
}

struct Held {
  int index = 0;
  std::string server;
  lab::srv::Fd fd;
  bool closed_by_server = false;
};

// Drains what the server sent on an idle connection; true when it closed it.
bool server_closed(int fd) {
  char buf[4096];
  while (true) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }
}

}  // namespace

void setup_hold(CLI::App& app) {
  auto opt = std::make_shared<HoldOptions>();
  auto* sub = app.add_subcommand(
      "hold", "open N keep-alive connections (one GET each), print where each went, hold them idle, close");
  sub->add_option("URL", opt->url, "http://HOST[:PORT][/PATH]; the body must begin with the server's name")
      ->required();
  sub->add_option("--count", opt->count, "connections to open, one after another")
      ->required()
      ->check(CLI::Range(1, 10'000));
  sub->add_option("--seconds", opt->seconds, "how long to hold them (stdin closing or SIGTERM ends it sooner)")
      ->required()
      ->check(CLI::Range(0, 86'400));
  sub->add_flag("--again", opt->again, "at the end, one more GET on each held connection (same server expected)");
  sub->add_option("--timeout-ms", opt->timeout_ms, "time allowed for each connection's GET")
      ->capture_default_str()
      ->check(CLI::Range(1, 600'000));
  sub->callback([opt] {
    if (const int rc = run_hold(*opt); rc != 0) exit_with(rc);
  });
}

int run_hold(const HoldOptions& opt) {
  const auto target = target_or_complain("hold", opt.url);
  if (!target) return 2;
  const lab::srv::Fd sigfd = stop_signals_fd("hold");
  if (!sigfd) return 2;

  std::vector<Held> held;
  std::map<std::string, int> counts;
  int failures = 0;
  bool stopped = false;
  for (int i = 1; i <= opt.count && !stopped; ++i) {
    Exchange ex = get_once(target->to, target->url, true, opt.timeout_ms, sigfd.get());
    if (!ex.ok()) {
      ++failures;
      std::fprintf(stderr, "lab_client hold: connection %d: %s\n", i, ex.error.c_str());
      stopped = ex.error.find(": stopped") != std::string::npos;
      continue;
    }
    std::printf("connection %d %s %s\n", i, ex.server.c_str(), ex.local.c_str());
    ++counts[ex.server];
    held.push_back(Held{i, ex.server, std::move(ex.fd)});
  }
  const std::string summary = format_counts(counts, failures);
  std::fwrite(summary.data(), 1, summary.size(), stdout);
  std::printf("holding %zu\n", held.size());
  std::fflush(stdout);

  // Wait: the clock, a stop signal, stdin closing, and every held socket (to notice a
  // server that closes one early).
  const bool watch_stdin = stdin_is_a_channel();
  const std::int64_t deadline = lab::srv::now_ms() + static_cast<std::int64_t>(opt.seconds) * 1000;
  int closed_early = 0;
  while (!stopped) {
    const std::int64_t left = deadline - lab::srv::now_ms();
    if (left <= 0) break;
    std::vector<pollfd> fds;
    fds.push_back({sigfd.get(), POLLIN, 0});
    fds.push_back({watch_stdin ? STDIN_FILENO : -1, POLLIN, 0});
    std::vector<Held*> polled;
    for (auto& h : held) {
      if (h.closed_by_server) continue;
      fds.push_back({h.fd.get(), POLLIN, 0});
      polled.push_back(&h);
    }
    const int rc = ::poll(fds.data(), fds.size(), static_cast<int>(std::min<std::int64_t>(left, 60'000)));
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    if (fds[0].revents) break;  // a stop signal
    if (fds[1].revents) {
      char c[256];
      const ssize_t n = ::read(STDIN_FILENO, c, sizeof c);
      if (n <= 0) break;  // stdin closed
    }
    for (std::size_t k = 0; k < polled.size(); ++k) {
      if (!fds[k + 2].revents || !server_closed(polled[k]->fd.get())) continue;
      polled[k]->closed_by_server = true;
      ++closed_early;
      std::printf("connection %d to %s closed by the server\n", polled[k]->index, polled[k]->server.c_str());
      std::fflush(stdout);
    }
  }
  int again_failed = 0;
  if (opt.again) {
    for (auto& h : held) {
      if (h.closed_by_server) continue;
      Exchange ex = get_again(std::move(h.fd), target->url, opt.timeout_ms);
      if (ex.ok() && ex.server == h.server) {
        std::printf("again %d ok %s\n", h.index, ex.server.c_str());
      } else {
        ++again_failed;
        std::printf("again %d failed: %s\n", h.index,
                    ex.ok() ? ("reached " + ex.server + ", not " + h.server).c_str() : ex.error.c_str());
      }
      h.fd = std::move(ex.fd);
    }
    std::fflush(stdout);
  }
  const std::size_t total = held.size();
  held.clear();  // closes every socket
  std::printf("closed %zu (%d closed early by the server)\n", total, closed_early);
  std::fflush(stdout);
  return failures == 0 && closed_early == 0 && again_failed == 0 ? 0 : 1;
}

}  // namespace lab::client
