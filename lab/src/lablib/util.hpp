// util.hpp: small helpers shared by the lab library: strings, files, errors, the
// interruption flag (SIGINT/SIGTERM) and progress logging.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace lab {

// Every failure the orchestrator reports to its user: one line, already explained.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Thrown by any wait loop once SIGINT or SIGTERM arrived, so scope guards clean up.
class Interrupted : public Error {
public:
    Interrupted() : Error("interrupted") {}
};

// Installs SIGINT/SIGTERM handlers that only set the flag below.
void install_interrupt_handlers();
bool interrupted();
// Throws Interrupted if a signal arrived.
void check_interrupted();
// Sleeps up to `d`, waking early (and throwing Interrupted) on a signal.
void sleep_for(std::chrono::milliseconds d);

// Progress lines on stderr ("lab: ..."); quiet unless verbose or forced.
void set_verbose(bool on);
bool verbose();
void log(const std::string& line);   // only when verbose
void info(const std::string& line);  // always

std::string trim(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
std::vector<std::string> split_ws(std::string_view s);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
// Argv for display: words with shell metacharacters are single-quoted.
std::string shell_join(const std::vector<std::string>& argv);

// Whole file; throws Error naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& p);
// Last `lines` lines of a file, or "" when it is missing.
std::string tail_file(const std::filesystem::path& p, int lines);
void write_file(const std::filesystem::path& p, std::string_view content);

// SHA-256 of a file as lowercase hex; throws Error when it cannot be read.
std::string sha256_file(const std::filesystem::path& p);

// CLOCK_REALTIME in milliseconds: the clock lab_client http-timeline stamps requests
// with, so faults and requests share one time axis.
std::int64_t wall_ms();

// Lab names: letters, digits and dashes, 1 to 12, not starting with a dash
// (the rule of netns_scripts/lib.sh validate_lab_name).
bool valid_lab_name(std::string_view name);

}  // namespace lab
