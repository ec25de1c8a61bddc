#include "lb/log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace lb {
namespace {
std::string g_name = "lbd";
std::mutex g_mu;
}  // namespace

void set_log_name(const std::string& name) { g_name = name; }

void log(LogLevel level, const std::string& msg) {
  static const char* names[] = {"debug", "info", "warn", "error"};
  using namespace std::chrono;
  auto now = system_clock::now();
  std::time_t t = system_clock::to_time_t(now);
  int ms = static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  std::lock_guard<std::mutex> g(g_mu);
  std::fprintf(stderr, "%s.%03dZ %s %s %s\n", ts, ms, g_name.c_str(), names[static_cast<int>(level)], msg.c_str());
  std::fflush(stderr);
}
}  // namespace lb
