// lab_client subcommands: one file each, with its options struct, setup_<x> that adds
// the subcommand to the app and run_<x> that does the work and returns the exit code.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace lab::client {

struct UdpOptions {
  std::string host;
  std::uint16_t port = 0;
  std::string message = "hello";
  int count = 1;
  int timeout_ms = 2000;
  int source_port = 0;  // 0: any
  bool from_closed_port = false;  // send through a raw socket: replies find the port closed
};
void setup_udp(CLI::App& app);
int run_udp(const UdpOptions& opt);

struct HttpManyOptions {
  std::string url;
  int count = 1;
  int timeout_ms = 3000;
};
void setup_http_many(CLI::App& app);
int run_http_many(const HttpManyOptions& opt);

struct HttpTimelineOptions {
  std::string url;
  int interval_ms = 50;
  int seconds = 0;
  int connect_timeout_ms = 500;
  int timeout_ms = 2000;
};
void setup_http_timeline(CLI::App& app);
int run_http_timeline(const HttpTimelineOptions& opt);

struct HoldOptions {
  std::string url;
  int count = 1;
  int seconds = 0;
  int timeout_ms = 3000;
  bool again = false;  // one more GET on each held connection before closing
};
void setup_hold(CLI::App& app);
int run_hold(const HoldOptions& opt);

struct VrrpAdvertOptions {
  std::string dev;
  int vrid = 1;
  int priority = 100;
  int interval_ms = 1000;
  std::vector<std::string> addresses;
  std::string broken = "none";
  int count = 1;
  int every_ms = 0;
};
void setup_vrrp_advert(CLI::App& app);
int run_vrrp_advert(const VrrpAdvertOptions& opt);

struct PatternSha256Options {
  std::uint64_t bytes = 0;
};
void setup_pattern_sha256(CLI::App& app);
int run_pattern_sha256(const PatternSha256Options& opt);

struct MakeFileOptions {
  std::string path;
  std::uint64_t bytes = 0;
};
void setup_make_file(CLI::App& app);
int run_make_file(const MakeFileOptions& opt);

// A byte count: decimal digits only, fitting in uint64 (CLI11 alone would wrap "-5").
inline const CLI::Validator kByteCount(
    [](std::string& s) -> std::string {
      if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos) {
        return "want a decimal byte count";
      }
      if (s.size() == 20 && s > "18446744073709551615") return "byte count too large";
      return {};
    },
    "BYTES");

// Ends a subcommand with `code` from inside its CLI11 callback; main returns it.
[[noreturn]] inline void exit_with(int code) { throw CLI::RuntimeError(code); }

}  // namespace lab::client
