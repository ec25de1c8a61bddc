#include "stop_signals.hpp"

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <cstdio>

namespace lab::client {

lab::srv::Fd stop_signals_fd(const char* command) {
  const sigset_t stop_signals = lab::srv::stop_signal_set();
  sigprocmask(SIG_BLOCK, &stop_signals, nullptr);
  lab::srv::Fd sigfd(::signalfd(-1, &stop_signals, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) std::fprintf(stderr, "lab_client %s: signalfd: %s\n", command, lab::srv::errno_text(errno).c_str());
  return sigfd;
}

}  // namespace lab::client
