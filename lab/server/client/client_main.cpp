// lab_client: the lab's own small client (see README.md).
#include <signal.h>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>

#include "commands.hpp"

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"lab_client: UDP probes, HTTP connection counts, timelines and held connections, the byte pattern for lblab"};
  app.require_subcommand(1);
  lab::client::setup_udp(app);
  lab::client::setup_http_many(app);
  lab::client::setup_http_timeline(app);
  lab::client::setup_hold(app);
  lab::client::setup_vrrp_advert(app);
  lab::client::setup_pattern_sha256(app);
  lab::client::setup_make_file(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);  // a subcommand's own exit code arrives here as RuntimeError
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lab_client: %s\n", e.what());
    return 1;
  }
  return 0;
}
