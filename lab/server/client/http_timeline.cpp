// lab_client http-timeline URL --interval-ms I --seconds S: a paced request loop for
// fault scenarios. A new connection with one GET (Connection: close) starts every I ms
// on a fixed schedule, whether or not the previous ones have ended (a request waiting
// out a connect timeout does not delay the next), for S seconds or until SIGTERM,
// SIGINT or SIGHUP; then the requests in flight are finished. One line per request as
// it ends (timeline.hpp), then the `NAME COUNT` lines and `failures N`.
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "commands.hpp"
#include "http_get.hpp"
#include "stop_signals.hpp"
#include "timeline.hpp"

namespace lab::client {
namespace {

// Requests in flight at once, at most: with the defaults (50 ms apart, 2 s each at the
// very worst) about 40 are; beyond this the schedule waits.
constexpr int kMaxInFlight = 200;

struct Running {
  std::thread thread;
  std::shared_ptr<std::atomic<bool>> done;
};

// Joins the requests that have ended.
void reap(std::list<Running>& running) {
  for (auto it = running.begin(); it != running.end();) {
    if (it->done->load()) {
      it->thread.join();
      it = running.erase(it);
    } else {
      ++it;
    }
  }
}

// Waits up to ms for a stop signal; true when one arrived.
bool signalled(int sigfd, int ms) {
  pollfd p{sigfd, POLLIN, 0};
  const int rc = ::poll(&p, 1, std::max(0, ms));
  return rc > 0 && (p.revents & POLLIN);
}

}  // namespace

void setup_http_timeline(CLI::App& app) {
  auto opt = std::make_shared<HttpTimelineOptions>();
  auto* sub = app.add_subcommand(
      "http-timeline",
      "a new connection with one GET every --interval-ms for --seconds; one line per request: "
      "`request I START_MS END_MS ok|failed SERVER [REASON]`");
  sub->add_option("URL", opt->url, "http://HOST[:PORT][/PATH]; the body must begin with the server's name")
      ->required();
  sub->add_option("--interval-ms", opt->interval_ms, "time between request starts (a fixed schedule)")
      ->capture_default_str()
      ->check(CLI::Range(1, 60'000));
  sub->add_option("--seconds", opt->seconds, "how long to start requests (SIGTERM ends it sooner)")
      ->required()
      ->check(CLI::Range(1, 3600));
  sub->add_option("--connect-timeout-ms", opt->connect_timeout_ms, "time allowed for the TCP connect")
      ->capture_default_str()
      ->check(CLI::Range(1, 600'000));
  sub->add_option("--timeout-ms", opt->timeout_ms, "time allowed for the whole request (connect, GET, answer)")
      ->capture_default_str()
      ->check(CLI::Range(1, 600'000));
  sub->callback([opt] {
    if (const int rc = run_http_timeline(*opt); rc != 0) exit_with(rc);
  });
}

int run_http_timeline(const HttpTimelineOptions& opt) {
  const auto target = target_or_complain("http-timeline", opt.url);
  if (!target) return 2;
  // Before the request threads start: they inherit the mask.
  const lab::srv::Fd sigfd = stop_signals_fd("http-timeline");
  if (!sigfd) return 2;

  std::mutex mu;  // guards stdout, counts and failures
  std::map<std::string, int> counts;
  int failures = 0;
  std::list<Running> running;
  const std::int64_t t0 = lab::srv::now_ms();
  const std::int64_t end = t0 + static_cast<std::int64_t>(opt.seconds) * 1000;
  bool stopped = false;
  for (int k = 0; !stopped; ++k) {
    const std::int64_t due = t0 + static_cast<std::int64_t>(k) * opt.interval_ms;
    if (due >= end) break;
    if (signalled(sigfd.get(), static_cast<int>(due - lab::srv::now_ms()))) break;
    reap(running);
    while (static_cast<int>(running.size()) >= kMaxInFlight && !stopped) {
      stopped = signalled(sigfd.get(), 5);
      reap(running);
    }
    if (stopped) break;
    auto done = std::make_shared<std::atomic<bool>>(false);
    const int index = k + 1;
    running.push_back(Running{std::thread([&, index, done] {
                                TimelineRecord r;
                                r.index = index;
                                r.start_ms = wall_ms();
                                const Exchange ex = get_once(target->to, target->url, false, opt.timeout_ms, -1,
                                                             opt.connect_timeout_ms);
                                r.end_ms = wall_ms();
                                r.ok = ex.ok();
                                r.server = ex.ok() ? ex.server : ex.named;
                                r.reason = ex.error;
                                const std::string line = format_timeline_record(r);
                                {
                                  std::lock_guard<std::mutex> lock(mu);
                                  if (r.ok)
                                    ++counts[r.server];
                                  else
                                    ++failures;
                                  std::fwrite(line.data(), 1, line.size(), stdout);
                                  std::fflush(stdout);
                                }
                                done->store(true);
                              }),
                              done});
  }
  for (auto& r : running) r.thread.join();
  std::lock_guard<std::mutex> lock(mu);
  const std::string summary = format_counts(counts, failures);
  std::fwrite(summary.data(), 1, summary.size(), stdout);
  if (std::fflush(stdout) != 0) return 1;
  return failures == 0 ? 0 : 1;
}

}  // namespace lab::client
