// The stop signals of lab_client's long-running subcommands (http-timeline, hold):
// SIGTERM, SIGINT and SIGHUP, read from a signalfd instead of killing the process, so
// that the command can finish what it has in flight and print its summary.
#pragma once

#include "net.hpp"

namespace lab::client {

// Blocks the stop signals (lab::srv::stop_signal_set) in the calling thread (threads started afterwards
// inherit the mask, so only the descriptor sees them) and returns a non-blocking
// signalfd that becomes readable when one arrives. On failure prints
// `lab_client COMMAND: signalfd: WHY` to stderr and returns an empty Fd; the caller
// exits with 2.
lab::srv::Fd stop_signals_fd(const char* command);

}  // namespace lab::client
