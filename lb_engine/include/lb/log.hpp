// One-line log messages on stderr: "2026-11-24T17:00:00.123 lbd[name] LEVEL message".
#pragma once
#include <string>

namespace lb {
enum class LogLevel { debug, info, warn, error };
void set_log_name(const std::string& name);
void log(LogLevel level, const std::string& msg);
inline void log_info(const std::string& m) { log(LogLevel::info, m); }
inline void log_warn(const std::string& m) { log(LogLevel::warn, m); }
inline void log_error(const std::string& m) { log(LogLevel::error, m); }
}  // namespace lb
