// lab_tapwire: the ceiling for any TAP-based engine. It opens two TAP devices the way lbd
// does (lb::TapIo: vnet_hdr, offloads on) and copies every frame from one to the other,
// byte for byte, with nothing looked at: what a user-space forwarder costs before it does
// any work. `lab bench` runs it in place of lbd (topo.sh --wire). Stops on SIGTERM/SIGINT
// and prints how many frames it carried each way.
#include <poll.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <memory>
#include <vector>

#include "lb/io/packet_io.hpp"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lab_tapwire: copy frames between two TAP devices, nothing else"};
  std::string a, b, netns;
  app.add_option("--a", a, "first TAP device")->required();
  app.add_option("--b", b, "second TAP device")->required();
  app.add_option("--netns", netns, "the namespace both TAPs live in (a name under /run/netns)");
  bool no_batch = false;
  app.add_flag("--no-batch", no_batch, "a write() per frame, as lbd --no-batch");
  CLI11_PARSE(app, argc, argv);
  struct sigaction sa {};
  sa.sa_handler = on_signal;  // no SA_RESTART: poll returns EINTR and the loop ends
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  std::unique_ptr<lb::TapIo> io;
  try {
    io = std::make_unique<lb::TapIo>(std::vector<lb::TapIo::PortSpec>{{a, netns}, {b, netns}}, true, !no_batch);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lab_tapwire: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr, "lab_tapwire: copying between %s and %s%s\n", a.c_str(), b.c_str(),
               io->batch_off_reason().empty() ? " (writes batched)" : (" (writes not batched: " + io->batch_off_reason() + ")").c_str());
  std::vector<uint8_t> buf(70000);  // a GSO super-frame and its vnet_hdr
  uint64_t frames[2] = {0, 0};
  pollfd fds[2] = {{io->poll_fd(0), POLLIN, 0}, {io->poll_fd(1), POLLIN, 0}};
  while (!g_stop.load()) {
    if (::poll(fds, 2, 500) < 0 && errno != EINTR) break;
    for (size_t from = 0; from < 2; ++from) {
      if (!(fds[from].revents & POLLIN)) continue;
      for (int n = 0; n < 64; ++n) {  // drain a little before looking at the other side
        const long len = io->recv(from, buf.data(), buf.size());
        if (len <= 0) break;
        if (io->send(1 - from, buf.data(), static_cast<size_t>(len))) ++frames[from];
      }
    }
    io->flush();  // the engine's I/O, batching included: the same ceiling
  }
  std::fprintf(stderr, "lab_tapwire: %llu frames %s -> %s, %llu frames %s -> %s\n",
               static_cast<unsigned long long>(frames[0]), a.c_str(), b.c_str(),
               static_cast<unsigned long long>(frames[1]), b.c_str(), a.c_str());
  return 0;
}
