// lbd: the load balancer daemon. Parses arguments, loads the config and runs the engine
// library; all behaviour lives in the library.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <memory>

#include "lb/config/config.hpp"
#include "lb/control/admin.hpp"
#include "lb/engine.hpp"
#include "lb/io/packet_io.hpp"
#include "lb/log.hpp"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lbd: an L4 load balancer engine on TAP devices"};
  std::string config_path;
  bool check = false;
  app.add_option("-c,--config", config_path, "TOML config file")->required();
  app.add_flag("--check", check, "validate the config and exit (like nginx -t)");
  bool no_batch = false;
  app.add_flag("--no-batch", no_batch, "one write() per frame instead of io_uring batches (for comparison)");
  CLI11_PARSE(app, argc, argv);

  lb::Config cfg;
  try {
    cfg = lb::load_config(config_path);
  } catch (const lb::ConfigError& e) {
    std::fprintf(stderr, "lbd: %s\n", e.what());
    return 2;
  }
  if (check) {
    size_t backends = 0;
    for (auto& v : cfg.vips) backends += v.backends.size();
    std::string ha;
    if (cfg.vrrp) ha += ", vrrp " + std::to_string(cfg.vrrp->vrid) + " on " + cfg.vrrp->port;
    if (cfg.sync) ha += ", sync with " + cfg.sync->peer.str() + " on " + cfg.sync->port;
    std::printf("%s: ok (%zu ports, %zu VIPs, %zu backends%s)\n", config_path.c_str(), cfg.ports.size(),
                cfg.vips.size(), backends, ha.c_str());
    return 0;
  }

  lb::set_log_name("lbd[" + cfg.name + "]");
  try {
    std::vector<lb::TapIo::PortSpec> specs;
    for (auto& p : cfg.ports) specs.push_back({p.tap, p.netns});
    bool tunnels = false;
    for (auto& v : cfg.vips) tunnels |= v.mode == lb::Mode::dsr_l3_tunnel;
    lb::TapIo io(specs, /*tso=*/!tunnels, /*batch=*/!no_batch);
    lb::log_info(io.batch_off_reason().empty() ? "TAP writes batched (io_uring)"
                                               : "TAP writes one by one: " + io.batch_off_reason());
    lb::Engine engine(cfg, io);
    auto admin = std::make_unique<lb::AdminServer>(engine, cfg.control_socket);
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);
    admin->start();
    std::string vips;
    for (auto& v : cfg.vips)
      vips += " " + v.address.str() + ":" + std::to_string(v.port) + "/" + lb::to_string(v.protocol) + "(" +
              lb::to_string(v.mode) + "," + lb::to_string(v.algorithm) + "," + std::to_string(v.backends.size()) + ")";
    if (cfg.vrrp)
      vips += "; vrrp " + std::to_string(cfg.vrrp->vrid) + " on " + cfg.vrrp->port + " priority " +
              std::to_string(cfg.vrrp->priority) + (cfg.sync ? ", sync with " + cfg.sync->peer.str() : "");
    lb::log_info("started; control " + cfg.control_socket + "; VIPs" + vips);
    engine.run(g_stop);
    lb::log_info("stopping on signal");
    admin.reset();  // the control socket closes first: nothing else touches the engine now
    engine.shutdown(lb::Engine::now_ms());  // a VRRP master hands over at once (priority 0)
  } catch (const std::exception& e) {
    lb::log_error(e.what());
    return 1;
  }
  return 0;
}
