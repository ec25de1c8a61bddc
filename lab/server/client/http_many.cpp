// lab_client http-many URL --count N: N new TCP connections one after another, one
// GET each with Connection: close, and how many each server answered. What a load
// balancer's scheduler did is read off these counts (see README.md).
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "commands.hpp"
#include "http_get.hpp"

namespace lab::client {
namespace {

constexpr int kShownErrors = 5;

}  // namespace

void setup_http_many(CLI::App& app) {
  auto opt = std::make_shared<HttpManyOptions>();
  auto* sub = app.add_subcommand(
      "http-many", "N sequential new connections, one GET each (Connection: close); print `serverN COUNT` lines");
  sub->add_option("URL", opt->url, "http://HOST[:PORT][/PATH]; the body must begin with the server's name")
      ->required();
  sub->add_option("--count", opt->count, "connections to make, one after another")
      ->required()
      ->check(CLI::Range(1, 1'000'000));
  sub->add_option("--timeout-ms", opt->timeout_ms, "time allowed for each connection (connect, GET, answer)")
      ->capture_default_str()
      ->check(CLI::Range(1, 600'000));
  sub->callback([opt] {
    if (const int rc = run_http_many(*opt); rc != 0) exit_with(rc);
  });
}

int run_http_many(const HttpManyOptions& opt) {
  const auto target = target_or_complain("http-many", opt.url);
  if (!target) return 2;
  std::map<std::string, int> counts;
  int failures = 0;
  for (int i = 1; i <= opt.count; ++i) {
    const Exchange ex = get_once(target->to, target->url, false, opt.timeout_ms);
    if (ex.ok()) {
      ++counts[ex.server];
      continue;
    }
    if (++failures <= kShownErrors)
      std::fprintf(stderr, "lab_client http-many: connection %d: %s\n", i, ex.error.c_str());
  }
  if (failures > kShownErrors)
    std::fprintf(stderr, "lab_client http-many: ... and %d more failed connections\n", failures - kShownErrors);
  const std::string summary = format_counts(counts, failures);
  std::fwrite(summary.data(), 1, summary.size(), stdout);
  if (std::fflush(stdout) != 0) return 1;
  return failures == 0 ? 0 : 1;
}

}  // namespace lab::client
