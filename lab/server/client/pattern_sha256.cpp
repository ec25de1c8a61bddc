// lab_client pattern-sha256 N: the SHA-256 of the first N pattern bytes, i.e. what a
// download of /bytes/N must hash to.
#include <cstdio>
#include <memory>

#include "commands.hpp"
#include "sha256.hpp"

namespace lab::client {

void setup_pattern_sha256(CLI::App& app) {
  auto opt = std::make_shared<PatternSha256Options>();
  auto* sub = app.add_subcommand("pattern-sha256",
                                 "print the SHA-256 hex of the first N bytes of the pattern");
  sub->add_option("N", opt->bytes, "number of bytes")->required()->check(kByteCount);
  sub->callback([opt] {
    if (const int rc = run_pattern_sha256(*opt); rc != 0) exit_with(rc);
  });
}

int run_pattern_sha256(const PatternSha256Options& opt) {
  std::printf("%s\n", lab::srv::pattern_sha256(opt.bytes).c_str());
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace lab::client
