#include "lb/control/admin.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <utility>  // boost 1.74 asio uses std::exchange without including it
#include <boost/asio.hpp>
#include <sstream>
#include <vector>

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

std::string render_stats(Engine& e, bool json) {
  const auto& cfg = e.config();
  const std::vector<BackendInfo> backends = e.backends();
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
    for (const auto& b : backends) {
      o << (first ? "" : ",") << "{\"vip\":\"" << json_escape(b.vip) << "\",\"address\":\"" << b.address.str()
        << "\",\"port\":" << b.port << ",\"weight\":" << b.weight << ",\"packets\":" << b.packets_to + b.packets_from
        << ",\"bytes\":" << b.bytes_to + b.bytes_from << ",\"packets_to\":" << b.packets_to
        << ",\"bytes_to\":" << b.bytes_to << ",\"packets_from\":" << b.packets_from
        << ",\"bytes_from\":" << b.bytes_from << ",\"flows\":" << b.flows_total
        << ",\"flows_active\":" << b.established + b.other << "}";
      first = false;
    }
    o << "],\"flows\":{\"active\":" << st.flows_active.load(std::memory_order_relaxed)
      << ",\"created\":" << get(st.flows_created) << ",\"expired\":" << get(st.flows_expired)
      << ",\"evicted\":" << get(st.flows_evicted) << ",\"picked_up\":" << get(st.flows_picked_up)
      << ",\"capacity\":" << cfg.max_flows << "},\"arp\":{\"replies\":" << get(st.arp_replies)
      << ",\"requests_sent\":" << get(st.arp_requests_sent) << "},\"icmp\":{\"echo_replies\":"
      << get(st.icmp_echo_replies) << ",\"frag_needed_sent\":" << get(st.icmp_frag_needed_sent)
      << ",\"errors_translated\":" << get(st.icmp_errors_translated) << "},\"health\":{\"probes_sent\":"
      << get(st.health_probes_sent) << ",\"replies\":" << get(st.health_replies) << ",\"went_up\":"
      << get(st.health_up) << ",\"went_down\":" << get(st.health_down) << ",\"resets_sent\":"
      << get(st.resets_sent) << ",\"unreachables_sent\":" << get(st.unreachables_sent) << "}}\n";
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
  for (const auto& b : backends) {
    std::string name = b.vip + " " + b.address.str() + ":" + std::to_string(b.port);
    char line[200];
    std::snprintf(line, sizeof line, "%-26s %12llu %13llu %11llu %13llu %6llu %7u\n", name.c_str(),
                  (unsigned long long)b.packets_to, (unsigned long long)b.bytes_to, (unsigned long long)b.packets_from,
                  (unsigned long long)b.bytes_from, (unsigned long long)b.flows_total, b.established + b.other);
    o << line;
  }
  o << "\nflows: active " << st.flows_active.load(std::memory_order_relaxed) << ", created " << get(st.flows_created)
    << ", expired " << get(st.flows_expired) << ", evicted " << get(st.flows_evicted) << ", picked up mid-stream "
    << get(st.flows_picked_up) << ", capacity "
    << cfg.max_flows << "\n";
  o << "arp: replies " << get(st.arp_replies) << ", requests sent " << get(st.arp_requests_sent)
    << "; icmp echo replies " << get(st.icmp_echo_replies) << ", frag-needed sent " << get(st.icmp_frag_needed_sent)
    << ", errors translated " << get(st.icmp_errors_translated) << "\nhealth: probes " << get(st.health_probes_sent)
    << ", replies " << get(st.health_replies) << ", went down " << get(st.health_down) << ", went up "
    << get(st.health_up) << "; all-down answers: resets " << get(st.resets_sent) << ", unreachables "
    << get(st.unreachables_sent) << "\n\ndrops\n";
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

std::string ms(double v) {
  if (v < 0) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  return b;
}

std::string json_ms(double v) { return v < 0 ? "null" : ms(v); }

std::string render_backends(Engine& e, bool json) {
  const auto vips = e.vip_info();
  const auto backends = e.backends();
  std::ostringstream o;
  if (json) {
    o << "{\"vips\":[";
    for (size_t i = 0; i < vips.size(); ++i)
      o << (i ? "," : "") << "{\"name\":\"" << json_escape(vips[i].name) << "\",\"algorithm\":\"" << vips[i].algorithm
        << "\",\"min_active\":" << vips[i].min_active << "}";
    o << "],\"backends\":[";
    for (size_t i = 0; i < backends.size(); ++i) {
      const auto& b = backends[i];
      o << (i ? "," : "") << "{\"vip\":\"" << json_escape(b.vip) << "\",\"backend\":\"" << b.address.str() << ":" << b.port
        << "\",\"address\":\"" << b.address.str() << "\",\"port\":" << b.port << ",\"weight\":" << b.weight
        << ",\"group\":" << b.group << ",\"state\":\"" << b.state << "\",\"established\":" << b.established
        << ",\"other\":" << b.other << ",\"flows_total\":" << b.flows_total << ",\"rtt_ms\":" << json_ms(b.rtt_ms)
        << ",\"connect_ms\":" << json_ms(b.connect_ms) << ",\"response_ms\":" << json_ms(b.response_ms)
        << ",\"rtt_samples\":" << b.rtt_samples << ",\"check\":\"" << b.check << "\",\"checks\":" << b.checks
        << ",\"check_failures\":" << b.check_failures << ",\"transitions\":" << b.transitions
        << ",\"since_ms\":" << b.since_ms << ",\"last_check\":\"" << json_escape(b.last_check)
        << "\",\"change_reason\":\"" << json_escape(b.change_reason) << "\",\"probe_ms\":" << json_ms(b.probe_ms)
        << "}";
    }
    o << "]}\n";
    return o.str();
  }
  for (const auto& v : vips) o << "vip " << v.name << ": algorithm " << v.algorithm << ", min-active " << v.min_active << "\n";
  o << "\nvip        backend               weight group state     estab  other   flows   rtt(ms) connect  response"
       "  check  since(s)  last check\n";
  for (const auto& b : backends) {
    char line[512];
    std::snprintf(line, sizeof line, "%-10s %-21s %6u %5u %-9s %5u %6u %7llu %9s %8s %9s  %-5s %8.1f  %s\n",
                  b.vip.c_str(), (b.address.str() + ":" + std::to_string(b.port)).c_str(), b.weight, b.group,
                  b.state.c_str(), b.established, b.other, (unsigned long long)b.flows_total, ms(b.rtt_ms).c_str(),
                  ms(b.connect_ms).c_str(), ms(b.response_ms).c_str(), b.check.c_str(), b.since_ms / 1000.0,
                  b.last_check.c_str());
    o << line;
  }
  bool any = false;
  for (const auto& b : backends)
    if (!b.change_reason.empty()) {
      if (!any) o << "\nlast health changes\n";
      any = true;
      o << "  " << b.vip << " " << b.address.str() << ":" << b.port << " " << (b.state == "down" ? "down" : "up")
        << " for " << b.since_ms / 1000.0 << " s: " << b.change_reason << "\n";
    }
  return o.str();
}

std::string ip_or_none(uint32_t net_order) { return net_order ? IpAddr::v4(net_order).str() : "none"; }

// `lbctl vrrp`: the VRRP instance's status, what it tracks, and the sync counters.
std::string render_vrrp(Engine& e, bool json) {
  const HaInfo h = e.ha_info();
  std::ostringstream o;
  if (!h.vrrp) {
    if (json) return "{\"vrrp\":false}\n";
    return "vrrp: not configured (no [vrrp] section: this engine serves its VIPs on its own)\n";
  }
  const ha::VrrpStatus& s = h.status;
  const ha::VrrpCounters& c = s.counters;
  const SyncCounters& y = h.sync_counters;
  const uint64_t since = h.now_ms >= s.changed_ms ? h.now_ms - s.changed_ms : 0;
  const size_t ndrops = static_cast<size_t>(ha::VrrpDrop::count_);
  if (json) {
    o << "{\"vrrp\":true,\"vrid\":" << int(s.vrid) << ",\"port\":\"" << json_escape(h.port) << "\",\"state\":\""
      << to_string(s.state) << "\",\"priority\":" << int(s.priority) << ",\"effective_priority\":"
      << int(s.effective_priority) << ",\"penalty\":" << s.penalty << ",\"master_ip\":\"" << ip_or_none(s.master_ip)
      << "\",\"master_priority\":" << int(s.master_priority) << ",\"advert_interval_ms\":" << s.adver_int_ms
      << ",\"master_advert_interval_ms\":" << s.master_adver_int_ms << ",\"skew_ms\":" << s.skew_ms
      << ",\"master_down_interval_ms\":" << s.master_down_int_ms << ",\"last_change\":{\"reason\":\""
      << to_string(s.reason) << "\",\"ago_ms\":" << since << "},\"virtual_mac\":" << (h.virtual_mac ? "true" : "false")
      << ",\"vip_mac\":\"" << h.vip_mac.str() << "\",\"addresses\":[";
    for (size_t i = 0; i < h.addresses.size(); ++i) o << (i ? "," : "") << "\"" << h.addresses[i].str() << "\"";
    o << "],\"extra_addresses\":[";
    for (size_t i = 0; i < h.extra.size(); ++i)
      o << (i ? "," : "") << "{\"port\":\"" << json_escape(h.extra[i].first) << "\",\"address\":\""
        << h.extra[i].second.str() << "\"}";
    o << "],\"tracking\":{\"link_down\":" << (h.link_down ? "true" : "false") << ",\"port_penalty\":"
      << h.track_port_penalty << ",\"backends_down\":" << (h.backends_down ? "true" : "false")
      << ",\"backends_penalty\":" << h.track_backends_penalty << "},\"counters\":{\"adverts_sent\":" << c.adverts_sent
      << ",\"adverts_received\":" << c.adverts_received << ",\"priority_zero_sent\":" << c.priority_zero_sent
      << ",\"priority_zero_received\":" << c.priority_zero_received << ",\"garp_rounds\":" << c.garp_rounds
      << ",\"address_mismatch_seen\":" << c.address_mismatch_seen << ",\"to_master\":" << c.to_master
      << ",\"to_backup\":" << c.to_backup << ",\"to_initialize\":" << c.to_initialize
      << ",\"backup_drops\":" << h.backup_drops << "},\"drops\":{";
    for (size_t d = 1; d < ndrops; ++d)
      o << (d > 1 ? "," : "") << "\"" << to_string(static_cast<ha::VrrpDrop>(d)) << "\":" << c.drops[d];
    o << "},\"sync\":";
    if (!h.sync) {
      o << "null}\n";
      return o.str();
    }
    o << "{\"port\":\"" << json_escape(h.sync_port) << "\",\"peer\":\"" << h.sync_peer.str() << "\",\"udp_port\":"
      << h.sync_udp_port << ",\"dump_wanted\":" << (h.dump_wanted ? "true" : "false") << ",\"dumping\":"
      << (h.dumping ? "true" : "false") << ",\"datagrams_sent\":" << y.datagrams_sent << ",\"datagrams_received\":"
      << y.datagrams_received << ",\"records_sent\":" << y.records_sent << ",\"records_received\":" << y.records_received
      << ",\"records_applied\":" << y.records_applied << ",\"send_failed\":" << y.send_failed << ",\"lost\":" << y.lost
      << ",\"not_from_peer\":" << y.not_from_peer << ",\"bad_checksum\":" << y.bad_checksum
      << ",\"unknown_records\":" << y.unknown_records << ",\"malformed\":{";
    for (size_t m = 1; m < y.malformed.size(); ++m)
      o << (m > 1 ? "," : "") << "\"" << to_string(static_cast<ha::SyncError>(m)) << "\":" << y.malformed[m];
    o << "},\"skipped\":{\"unknown_vip\":" << y.skipped_unknown_vip << ",\"unknown_backend\":"
      << y.skipped_unknown_backend << ",\"unknown_flow\":" << y.skipped_unknown_flow << ",\"mismatch\":"
      << y.skipped_mismatch << ",\"conflict\":" << y.skipped_conflict << "},\"ignored_as_master\":"
      << y.ignored_as_master << ",\"ignored_as_backup\":" << y.ignored_as_backup << ",\"dump_requests_sent\":"
      << y.dump_requests_sent << ",\"dump_requests_received\":" << y.dump_requests_received
      << ",\"dumps_sent\":" << y.dumps_sent << ",\"dump_flows_sent\":" << y.dump_flows_sent
      << ",\"dumps_received\":" << y.dumps_received << "}}\n";
    return o.str();
  }
  o << "vrrp " << int(s.vrid) << " on " << h.port << ": " << to_string(s.state) << " for " << since / 1000.0 << " s ("
    << to_string(s.reason) << ")\n";
  o << "  priority " << int(s.priority) << ", effective " << int(s.effective_priority) << " (penalty " << s.penalty
    << "); master " << ip_or_none(s.master_ip) << " priority " << int(s.master_priority) << "\n";
  o << "  advert interval " << s.adver_int_ms << " ms (master's " << s.master_adver_int_ms << " ms), skew " << s.skew_ms
    << " ms, master down " << s.master_down_int_ms << " ms\n";
  o << "  answers for";
  for (size_t i = 0; i + h.extra.size() < h.addresses.size(); ++i) o << " " << h.addresses[i].str();
  o << " with " << h.vip_mac.str() << (h.virtual_mac ? " (virtual MAC)" : " (the port's MAC)") << "\n";
  for (const auto& [port, a] : h.extra) o << "  and for " << a.str() << " on " << port << " (that port's MAC)\n";
  o << "  tracking: links " << (h.link_down ? "DOWN" : "up") << " (penalty " << h.track_port_penalty << "), backends "
    << (h.backends_down ? "ALL DOWN" : "some up") << " (penalty " << h.track_backends_penalty << ")\n";
  o << "  adverts sent " << c.adverts_sent << ", received " << c.adverts_received << "; priority 0 sent "
    << c.priority_zero_sent << ", received " << c.priority_zero_received << "; GARP rounds " << c.garp_rounds
    << "; address mismatches " << c.address_mismatch_seen << "\n";
  o << "  became master " << c.to_master << ", backup " << c.to_backup << ", stopped " << c.to_initialize
    << "; frames not served as backup " << h.backup_drops << "\n";
  std::string drops;
  for (size_t d = 1; d < ndrops; ++d)
    if (c.drops[d]) drops += " " + std::string(to_string(static_cast<ha::VrrpDrop>(d))) + " " + std::to_string(c.drops[d]);
  o << "  adverts dropped:" << (drops.empty() ? " none" : drops) << "\n";
  if (!h.sync) return o.str() + "sync: not configured\n";
  o << "sync with " << h.sync_peer.str() << ":" << h.sync_udp_port << " on " << h.sync_port
    << (h.dump_wanted ? " (waiting for the master's table)" : "") << (h.dumping ? " (sending the table)" : "") << "\n";
  o << "  datagrams sent " << y.datagrams_sent << ", received " << y.datagrams_received << " (lost " << y.lost
    << "); records sent " << y.records_sent << " (send failed " << y.send_failed << "), received " << y.records_received
    << ", applied " << y.records_applied << "\n";
  o << "  skipped: unknown VIP " << y.skipped_unknown_vip << ", unknown backend " << y.skipped_unknown_backend
    << ", unknown flow " << y.skipped_unknown_flow << ", mismatch " << y.skipped_mismatch << ", conflict "
    << y.skipped_conflict << "; ignored as master " << y.ignored_as_master << ", as backup " << y.ignored_as_backup << "\n";
  std::string bad;
  for (size_t m = 1; m < y.malformed.size(); ++m)
    if (y.malformed[m]) bad += " " + std::string(to_string(static_cast<ha::SyncError>(m))) + " " + std::to_string(y.malformed[m]);
  o << "  rejected: not from the peer " << y.not_from_peer << ", bad checksum " << y.bad_checksum << ", malformed:"
    << (bad.empty() ? " none" : bad) << ", unknown record types " << y.unknown_records << "\n";
  o << "  dumps: requested " << y.dump_requests_sent << ", received " << y.dumps_received << "; requests answered "
    << y.dump_requests_received << ", sent " << y.dumps_sent << " (" << y.dump_flows_sent << " flows)\n";
  return o.str();
}

// "ip:port" -> address and port; false when it is not one.
bool parse_backend(const std::string& s, IpAddr& addr, uint16_t& port) {
  const auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  auto a = IpAddr::parse(s.substr(0, colon));
  if (!a || !a->is_v4()) return false;
  const std::string p = s.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  const unsigned long n = std::stoul(p);
  if (n < 1 || n > 65535) return false;
  addr = *a;
  port = static_cast<uint16_t>(n);
  return true;
}

bool parse_uint(const std::string& s, uint64_t max, uint32_t& out) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  const unsigned long long n = std::stoull(s);
  if (n > max) return false;
  out = static_cast<uint32_t>(n);
  return true;
}

constexpr const char* kUsage =
    "stats [json] | flows [json] | backends [json] | vrrp [json] | weight BACKEND W [--vip NAME] | drain BACKEND [--vip NAME] | "
    "add BACKEND [--weight W] [--group G] [--vip NAME] | remove BACKEND [--vip NAME] | group BACKEND G [--vip NAME] | "
    "min-active N [--vip NAME] | algo NAME [--vip NAME]   (BACKEND: ip:port)";

std::string answer(const std::string& why, const std::string& done) {
  return why.empty() ? "ok: " + done + "\n" : "error: " + why + "\n";
}

}  // namespace

std::string handle_admin_command(Engine& engine, const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty()) return std::string("error: empty command (expected ") + kUsage + ")\n";
  const std::string cmd = words[0];
  // Options: --vip NAME, --weight W, --group G (add); the rest are positional.
  std::string vip;
  std::vector<std::string> pos;
  std::string opt_weight, opt_group;
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "--vip" || w == "--weight" || w == "--group") {
      if (i + 1 >= words.size()) return "error: " + w + " needs a value\n";
      (w == "--vip" ? vip : w == "--weight" ? opt_weight : opt_group) = words[++i];
    } else if (w.rfind("--", 0) == 0) {
      return "error: unknown option '" + w + "'\n";
    } else {
      pos.push_back(w);
    }
  }
  auto want = [&](size_t n, const char* form) -> std::string {
    if (pos.size() != n) return std::string("error: usage: ") + form + "\n";
    return "";
  };
  const bool wants_json = pos.size() == 1 && pos[0] == "json";
  if (cmd == "stats" || cmd == "flows" || cmd == "backends" || cmd == "vrrp") {
    if (!pos.empty() && !wants_json) return "error: unknown argument '" + pos[0] + "' (expected json)\n";
    if (cmd == "stats") return render_stats(engine, wants_json);
    if (cmd == "flows") return render_flows(engine.flows(), wants_json);
    if (cmd == "vrrp") return render_vrrp(engine, wants_json);
    return render_backends(engine, wants_json);
  }
  IpAddr addr;
  uint16_t port = 0;
  uint32_t n = 0;
  auto backend_arg = [&]() -> std::string {
    if (!parse_backend(pos[0], addr, port)) return "error: '" + pos[0] + "' is not a backend (expected ip:port, e.g. 192.0.2.11:80)\n";
    return "";
  };
  if (cmd == "weight") {
    if (auto e = want(2, "weight BACKEND W [--vip NAME]"); !e.empty()) return e;
    if (auto e = backend_arg(); !e.empty()) return e;
    if (!parse_uint(pos[1], kMaxWeight, n)) return "error: weight '" + pos[1] + "' is not a whole number 0.." + std::to_string(kMaxWeight) + "\n";
    return answer(engine.set_weight(vip, addr, port, n), pos[0] + " weight " + pos[1]);
  }
  if (cmd == "drain") {
    if (auto e = want(1, "drain BACKEND [--vip NAME]"); !e.empty()) return e;
    if (auto e = backend_arg(); !e.empty()) return e;
    return answer(engine.set_weight(vip, addr, port, 0), pos[0] + " draining (weight 0): no new flows, live ones continue");
  }
  if (cmd == "group") {
    if (auto e = want(2, "group BACKEND G [--vip NAME]"); !e.empty()) return e;
    if (auto e = backend_arg(); !e.empty()) return e;
    if (!parse_uint(pos[1], 255, n) || n == 0) return "error: group '" + pos[1] + "' is not a whole number 1..255\n";
    return answer(engine.set_group(vip, addr, port, n), pos[0] + " group " + pos[1]);
  }
  if (cmd == "remove") {
    if (auto e = want(1, "remove BACKEND [--vip NAME]"); !e.empty()) return e;
    if (auto e = backend_arg(); !e.empty()) return e;
    return answer(engine.remove_backend(vip, addr, port), pos[0] + " removed: no new flows, live ones continue");
  }
  if (cmd == "add") {
    if (auto e = want(1, "add BACKEND [--weight W] [--group G] [--vip NAME]"); !e.empty()) return e;
    if (auto e = backend_arg(); !e.empty()) return e;
    BackendConfig b;
    b.address = addr;
    b.port = port;
    if (!opt_weight.empty() && !parse_uint(opt_weight, kMaxWeight, b.weight))
      return "error: weight '" + opt_weight + "' is not a whole number 0.." + std::to_string(kMaxWeight) + "\n";
    if (!opt_group.empty() && (!parse_uint(opt_group, 255, b.group) || b.group == 0))
      return "error: group '" + opt_group + "' is not a whole number 1..255\n";
    return answer(engine.add_backend(vip, b), pos[0] + " added");
  }
  if (cmd == "algo") {
    if (auto e = want(1, "algo NAME [--vip NAME]"); !e.empty()) return e;
    Algorithm a;
    if (!parse_algorithm(pos[0], a))
      return "error: unknown algorithm '" + pos[0] + "' (expected rr, wrr, lc, wlc, rtt, priority, sh or maglev)\n";
    return answer(engine.set_algorithm(vip, a), "algorithm " + pos[0]);
  }
  if (cmd == "min-active") {
    if (auto e = want(1, "min-active N [--vip NAME]"); !e.empty()) return e;
    if (!parse_uint(pos[0], kMaxBackendsPerVip, n) || n == 0)
      return "error: min-active '" + pos[0] + "' is not a whole number 1.." + std::to_string(kMaxBackendsPerVip) + "\n";
    return answer(engine.set_min_active(vip, n), "min-active " + pos[0]);
  }
  return "error: unknown command '" + cmd + "' (expected " + kUsage + ")\n";
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
