#include "lb/control/admin.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <utility>  // boost 1.74 asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <sstream>

#include "lb/engine.hpp"
#include "lb/log.hpp"

namespace lb {

namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) o += ' ';
    else o += c;
  }
  return o;
}

uint64_t get(const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); }

std::string render_stats(const Engine& e, bool json) {
  const auto& cfg = e.config();
  const auto& st = e.stats();
  std::ostringstream o;
  if (json) {
    o << "{\"engine\":\"" << json_escape(cfg.name) << "\",\"ports\":{";
    for (size_t i = 0; i < cfg.ports.size(); ++i) {
      auto& ps = e.port_stats(i);
      o << (i ? "," : "") << "\"" << json_escape(cfg.ports[i].name) << "\":{\"rx_packets\":" << get(ps.rx_packets)
        << ",\"rx_bytes\":" << get(ps.rx_bytes) << ",\"tx_packets\":" << get(ps.tx_packets)
        << ",\"tx_bytes\":" << get(ps.tx_bytes) << "}";
    }
    o << "},\"drops\":{";
    for (size_t d = 0; d < static_cast<size_t>(Drop::count_); ++d)
      o << (d ? "," : "") << "\"" << to_string(static_cast<Drop>(d)) << "\":" << get(st.drops[d]);
    o << "},\"backends\":[";
    bool first = true;
    for (size_t v = 0; v < cfg.vips.size(); ++v) {
      for (size_t b = 0; b < cfg.vips[v].backends.size(); ++b) {
        auto& bc = cfg.vips[v].backends[b];
        auto& bs = e.backend_stats(v, b);
        o << (first ? "" : ",") << "{\"vip\":\"" << json_escape(cfg.vips[v].name) << "\",\"address\":\""
          << bc.address.str() << "\",\"port\":" << bc.port << ",\"weight\":" << bc.weight
          << ",\"packets\":" << get(bs.packets_to) + get(bs.packets_from)
          << ",\"bytes\":" << get(bs.bytes_to) + get(bs.bytes_from) << ",\"packets_to\":" << get(bs.packets_to)
          << ",\"bytes_to\":" << get(bs.bytes_to) << ",\"packets_from\":" << get(bs.packets_from)
          << ",\"bytes_from\":" << get(bs.bytes_from) << ",\"flows\":" << get(bs.flows_total)
          << ",\"flows_active\":" << bs.flows_active.load(std::memory_order_relaxed) << "}";
        first = false;
      }
    }
    o << "],\"flows\":{\"active\":" << st.flows_active.load(std::memory_order_relaxed)
      << ",\"created\":" << get(st.flows_created) << ",\"expired\":" << get(st.flows_expired)
      << ",\"capacity\":" << cfg.max_flows << "},\"arp\":{\"replies\":" << get(st.arp_replies)
      << ",\"requests_sent\":" << get(st.arp_requests_sent) << "},\"icmp\":{\"echo_replies\":"
      << get(st.icmp_echo_replies) << ",\"frag_needed_sent\":" << get(st.icmp_frag_needed_sent)
      << ",\"errors_translated\":" << get(st.icmp_errors_translated) << "}}\n";
    return o.str();
  }
  o << "engine " << cfg.name << "\n\nports      rx_packets     rx_bytes   tx_packets     tx_bytes\n";
  for (size_t i = 0; i < cfg.ports.size(); ++i) {
    auto& ps = e.port_stats(i);
    char line[160];
    std::snprintf(line, sizeof line, "%-8s %12llu %12llu %12llu %12llu\n", cfg.ports[i].name.c_str(),
                  (unsigned long long)get(ps.rx_packets), (unsigned long long)get(ps.rx_bytes),
                  (unsigned long long)get(ps.tx_packets), (unsigned long long)get(ps.tx_bytes));
    o << line;
  }
  o << "\nbackends                      to(pkts)     to(bytes)  from(pkts)   from(bytes)  flows  active\n";
  for (size_t v = 0; v < cfg.vips.size(); ++v) {
    for (size_t b = 0; b < cfg.vips[v].backends.size(); ++b) {
      auto& bc = cfg.vips[v].backends[b];
      auto& bs = e.backend_stats(v, b);
      std::string name = cfg.vips[v].name + " " + bc.address.str() + ":" + std::to_string(bc.port);
      char line[200];
      std::snprintf(line, sizeof line, "%-26s %12llu %13llu %11llu %13llu %6llu %7u\n", name.c_str(),
                    (unsigned long long)get(bs.packets_to), (unsigned long long)get(bs.bytes_to),
                    (unsigned long long)get(bs.packets_from), (unsigned long long)get(bs.bytes_from),
                    (unsigned long long)get(bs.flows_total), bs.flows_active.load(std::memory_order_relaxed));
      o << line;
    }
  }
  o << "\nflows: active " << st.flows_active.load(std::memory_order_relaxed) << ", created " << get(st.flows_created)
    << ", expired " << get(st.flows_expired) << ", capacity " << cfg.max_flows << "\n";
  o << "arp: replies " << get(st.arp_replies) << ", requests sent " << get(st.arp_requests_sent)
    << "; icmp echo replies " << get(st.icmp_echo_replies) << ", frag-needed sent " << get(st.icmp_frag_needed_sent)
    << ", errors translated " << get(st.icmp_errors_translated) << "\n\ndrops\n";
  for (size_t d = 0; d < static_cast<size_t>(Drop::count_); ++d)
    if (get(st.drops[d])) o << "  " << to_string(static_cast<Drop>(d)) << " " << get(st.drops[d]) << "\n";
  return o.str();
}

std::string render_flows(const std::vector<FlowInfo>& flows, bool json) {
  std::ostringstream o;
  if (json) {
    o << "[";
    for (size_t i = 0; i < flows.size(); ++i) {
      auto& f = flows[i];
      o << (i ? "," : "") << "{\"vip\":\"" << f.vip << "\",\"protocol\":\"" << f.protocol << "\",\"client\":\""
        << f.client << "\",\"backend\":\"" << f.backend << "\",\"state\":\"" << f.state << "\",\"age_ms\":" << f.age_ms
        << ",\"expires_in_ms\":" << f.expires_in_ms << ",\"packets_in\":" << f.packets_in
        << ",\"packets_out\":" << f.packets_out << "}";
    }
    o << "]\n";
    return o.str();
  }
  o << "proto client                 vip                  backend              state        age(s) expires(s)  pkts in/out\n";
  for (auto& f : flows) {
    char line[256];
    std::snprintf(line, sizeof line, "%-5s %-22s %-20s %-20s %-12s %6.1f %10.1f  %u/%u\n", f.protocol.c_str(),
                  f.client.c_str(), f.vip.c_str(), f.backend.c_str(), f.state.c_str(), f.age_ms / 1000.0,
                  f.expires_in_ms / 1000.0, f.packets_in, f.packets_out);
    o << line;
  }
  o << flows.size() << " flows\n";
  return o.str();
}

}  // namespace

std::string handle_admin_command(Engine& engine, const std::string& line) {
  std::istringstream in(line);
  std::string cmd, arg;
  in >> cmd >> arg;
  const bool json = arg == "json";
  if (!arg.empty() && !json) return "error: unknown argument '" + arg + "' (expected json)\n";
  if (cmd == "stats") return render_stats(engine, json);
  if (cmd == "flows") return render_flows(engine.flows(), json);
  return "error: unknown command '" + cmd + "' (expected stats or flows)\n";
}

struct AdminServer::Impl {
  Engine& engine;
  std::string path;
  asio::io_context io;
  local::acceptor acceptor{io};
  std::thread thread;

  Impl(Engine& e, std::string p) : engine(e), path(std::move(p)) {}

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, local::socket sock) {
      if (ec) return;
      serve(std::move(sock));
      accept();
    });
  }

  // One command per connection; a client that sends nothing within 2 s is dropped, so
  // a stuck client cannot hold the control plane.
  void serve(local::socket sock) {
    auto s = std::make_shared<local::socket>(std::move(sock));
    auto buf = std::make_shared<asio::streambuf>(4096);
    auto timer = std::make_shared<asio::steady_timer>(io, std::chrono::seconds(2));
    timer->async_wait([s](boost::system::error_code ec) {
      if (!ec) s->close();
    });
    asio::async_read_until(*s, *buf, '\n', [this, s, buf, timer](boost::system::error_code ec, size_t) {
      timer->cancel();
      if (ec) return;
      std::istream is(buf.get());
      std::string line;
      std::getline(is, line);
      auto reply = std::make_shared<std::string>(handle_admin_command(engine, line));
      asio::async_write(*s, asio::buffer(*reply), [s, reply](boost::system::error_code, size_t) { s->close(); });
    });
  }
};

AdminServer::AdminServer(Engine& engine, const std::string& path) : impl_(std::make_unique<Impl>(engine, path)) {
  ::unlink(path.c_str());
  boost::system::error_code ec;
  impl_->acceptor.open(local(), ec);
  if (!ec) impl_->acceptor.bind(local::endpoint(path), ec);
  if (ec) throw std::runtime_error("control socket " + path + ": " + ec.message());
  ::chmod(path.c_str(), 0600);  // root only: it can read every flow
  impl_->acceptor.listen(16, ec);
  if (ec) throw std::runtime_error("control socket " + path + ": listen: " + ec.message());
}

void AdminServer::start() {
  impl_->accept();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

AdminServer::~AdminServer() {
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  ::unlink(impl_->path.c_str());
}

}  // namespace lb
