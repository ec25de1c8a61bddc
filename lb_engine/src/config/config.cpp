#include "lb/config/config.hpp"
#include "lb/flow/flow_table.hpp"
#include "lb/ha/sync.hpp"
#include "lb/hash.hpp"

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <toml++/toml.h>
#include <tuple>

namespace lb {

const char* to_string(Mode m) {
  switch (m) {
    case Mode::inline_nat: return "inline";
    case Mode::proxy: return "proxy";
    case Mode::dsr_l2: return "dsr-l2";
    case Mode::dsr_l3_dscp: return "dsr-l3-dscp";
    case Mode::dsr_l3_tunnel: return "dsr-l3-tunnel";
  }
  return "?";
}

const char* to_string(CheckType t) {
  switch (t) {
    case CheckType::none: return "none";
    case CheckType::icmp: return "icmp";
    case CheckType::tcp: return "tcp";
    case CheckType::http: return "http";
  }
  return "?";
}

const char* to_string(Algorithm a) {
  switch (a) {
    case Algorithm::rr: return "rr";
    case Algorithm::wrr: return "wrr";
    case Algorithm::lc: return "lc";
    case Algorithm::wlc: return "wlc";
    case Algorithm::rtt: return "rtt";
    case Algorithm::priority: return "priority";
    case Algorithm::sh: return "sh";
    case Algorithm::maglev: return "maglev";
  }
  return "?";
}

const char* to_string(Proto p) { return p == Proto::tcp ? "tcp" : "udp"; }

namespace {

// A DSR server answers the client directly, from the VIP's port: no port translation.
std::string port_problem(const VipConfig& v, const BackendConfig& b) {
  const bool dsr = v.mode == Mode::dsr_l2 || v.mode == Mode::dsr_l3_dscp || v.mode == Mode::dsr_l3_tunnel;
  if (!dsr || b.port == v.port) return "";
  return "port " + std::to_string(b.port) + " differs from the VIP's " + std::to_string(v.port) + ": " +
         to_string(v.mode) + " cannot translate ports (the server answers the client directly)";
}

// Walks a parsed document, turning every problem into one ConfigError line that names
// the file, the line and the dotted key.
class Loader {
 public:
  explicit Loader(std::string source) : src_(std::move(source)) {}

  [[noreturn]] void fail(const toml::node* n, const std::string& key, const std::string& msg) const {
    std::ostringstream o;
    o << src_;
    if (n && n->source().begin.line) o << ":" << n->source().begin.line;
    o << ": " << key << ": " << msg;
    throw ConfigError(o.str());
  }

  // Every key of `t` must be one of `allowed`: a typo is an error, not a silent default.
  void only_keys(const toml::table& t, const std::string& where, std::set<std::string> allowed) const {
    for (auto&& [k, v] : t) {
      if (!allowed.count(std::string(k.str()))) {
        std::string list;
        for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
        fail(&v, join(where, std::string(k.str())), "unknown key (expected one of: " + list + ")");
      }
    }
  }

  static std::string join(const std::string& a, const std::string& b) { return a.empty() ? b : a + "." + b; }

  const toml::node* need(const toml::table& t, const std::string& where, const char* key) const {
    const toml::node* n = t.get(key);
    if (!n) fail(&t, join(where, key), "missing");
    return n;
  }

  std::string str(const toml::node* n, const std::string& key) const {
    if (auto v = n->value<std::string>()) return *v;
    fail(n, key, "expected a string");
  }

  int64_t integer(const toml::node* n, const std::string& key, int64_t lo, int64_t hi) const {
    auto v = n->value<int64_t>();
    if (!n->is_integer() || !v) fail(n, key, "expected an integer");
    if (*v < lo || *v > hi)
      fail(n, key, std::to_string(*v) + " is out of range (" + std::to_string(lo) + ".." + std::to_string(hi) + ")");
    return *v;
  }

  bool boolean(const toml::node* n, const std::string& key) const {
    if (auto v = n->value<bool>(); v && n->is_boolean()) return *v;
    fail(n, key, "expected true or false");
  }

  // The index of the port named by the string at `n`.
  size_t port_named(const Config& c, const toml::node* n, const std::string& key) const {
    const std::string name = str(n, key);
    std::string names;
    for (size_t i = 0; i < c.ports.size(); ++i) {
      if (c.ports[i].name == name) return i;
      names += (names.empty() ? "" : ", ") + c.ports[i].name;
    }
    fail(n, key, "no port named '" + name + "' (ports: " + names + ")");
  }

  IpAddr ip(const toml::node* n, const std::string& key) const {
    auto s = str(n, key);
    auto a = IpAddr::parse(s);
    if (!a) fail(n, key, "'" + s + "' is not an IP address");
    if (!a->is_v4()) fail(n, key, "'" + s + "': only IPv4 is forwarded so far");
    return *a;
  }

  Prefix prefix(const toml::node* n, const std::string& key) const {
    auto s = str(n, key);
    auto p = Prefix::parse(s);
    if (!p) fail(n, key, "'" + s + "' is not an address/prefix-length");
    if (!p->addr.is_v4()) fail(n, key, "'" + s + "': only IPv4 is forwarded so far");
    return *p;
  }

  const toml::table& table(const toml::node* n, const std::string& key) const {
    if (!n->is_table()) fail(n, key, "expected a table");
    return *n->as_table();
  }

  const toml::array& array(const toml::node* n, const std::string& key) const {
    if (!n->is_array()) fail(n, key, "expected an array");
    return *n->as_array();
  }

  // dsr-l3-dscp: the code maps back to the VIP address on the server, so one code per
  // VIP address: explicit codes must not collide across addresses; the rest get free ones.
  void assign_dscp_codes(Config& c, const toml::array& varr) const {
    // Errors point at the VIP's dscp key when it has one, else at its [[vips]] table.
    auto where = [&](size_t i) -> std::pair<const toml::node*, std::string> {
      const std::string key = "vips[" + std::to_string(i) + "].dscp";
      const toml::node* t = &varr[i];
      if (auto* tt = t->as_table())
        if (auto* d = tt->get("dscp")) return {d, key};
      return {t, key};
    };
    std::map<uint32_t, uint8_t> code_of;  // VIP address -> code
    std::map<uint8_t, uint32_t> owner;    // code -> VIP address
    for (size_t i = 0; i < c.vips.size(); ++i) {
      auto& v = c.vips[i];
      if (v.mode != Mode::dsr_l3_dscp || !v.dscp) continue;
      auto a = v.address.v4_net();
      auto [it, fresh] = code_of.emplace(a, v.dscp);
      if (!fresh && it->second != v.dscp) {
        auto [n, k] = where(i);
        fail(n, k, "VIP " + v.address.str() + " has two DSCP codes (" + std::to_string(it->second) + " and " + std::to_string(v.dscp) + ")");
      }
      auto [ot, ofresh] = owner.emplace(v.dscp, a);
      if (!ofresh && ot->second != a) {
        auto [n, k] = where(i);
        fail(n, k, "DSCP " + std::to_string(v.dscp) + " marks two VIP addresses: the server could not tell them apart");
      }
    }
    uint8_t next = 1;
    for (size_t i = 0; i < c.vips.size(); ++i) {
      auto& v = c.vips[i];
      if (v.mode != Mode::dsr_l3_dscp || v.dscp) continue;
      auto a = v.address.v4_net();
      if (auto it = code_of.find(a); it != code_of.end()) { v.dscp = it->second; continue; }
      while (next <= 63 && owner.count(next)) ++next;
      if (next > 63) {
        auto [n, k] = where(i);
        fail(n, k, "more dsr-l3-dscp VIP addresses than DSCP codes (63)");
      }
      v.dscp = next;
      code_of[a] = next;
      owner[next] = a;
    }
  }

  // A `health` table over `base` (the VIP's check, or the defaults): only the keys it
  // names change. Checked as a whole once merged.
  HealthConfig health(const toml::node* n, const std::string& w, HealthConfig h) const {
    auto& t = table(n, w);
    only_keys(t, w, {"type", "interval_ms", "timeout_ms", "rise", "fall", "port", "path", "status", "body"});
    if (auto* x = t.get("type")) {
      auto ty = str(x, w + ".type");
      if (ty == "none") h.type = CheckType::none;
      else if (ty == "icmp") h.type = CheckType::icmp;
      else if (ty == "tcp") h.type = CheckType::tcp;
      else if (ty == "http") h.type = CheckType::http;
      else fail(x, w + ".type", "unknown check type '" + ty + "' (expected none, icmp, tcp or http)");
    }
    if (auto* x = t.get("interval_ms")) h.interval_ms = static_cast<uint32_t>(integer(x, w + ".interval_ms", 100, 3600000));
    if (auto* x = t.get("timeout_ms")) h.timeout_ms = static_cast<uint32_t>(integer(x, w + ".timeout_ms", 10, 3600000));
    if (auto* x = t.get("rise")) h.rise = static_cast<uint32_t>(integer(x, w + ".rise", 1, 100));
    if (auto* x = t.get("fall")) h.fall = static_cast<uint32_t>(integer(x, w + ".fall", 1, 100));
    if (auto* x = t.get("port")) h.port = static_cast<uint16_t>(integer(x, w + ".port", 1, 65535));
    if (auto* x = t.get("status")) h.status = static_cast<uint16_t>(integer(x, w + ".status", 100, 599));
    if (auto* x = t.get("path")) {
      h.path = str(x, w + ".path");
      if (h.path.empty() || h.path[0] != '/' || h.path.size() > 200 ||
          h.path.find_first_of(" \r\n\t") != std::string::npos)
        fail(x, w + ".path", "'" + h.path + "' is not a request path (starts with /, no spaces or line breaks, at most 200 bytes)");
    }
    if (auto* x = t.get("body")) {
      h.body = str(x, w + ".body");
      if (h.body.size() > 256) fail(x, w + ".body", "longer than 256 bytes");
    }
    if (h.timeout_ms >= h.interval_ms)
      fail(t.get("timeout_ms") ? t.get("timeout_ms") : n, w + ".timeout_ms",
           std::to_string(h.timeout_ms) + " ms is not below the interval (" + std::to_string(h.interval_ms) +
               " ms): a probe must end before the next one starts");
    return h;
  }

  Config load(const toml::table& root) {
    Config c;
    c.source = src_;
    only_keys(root, "", {"engine", "timeouts", "ports", "routes", "vips", "vrrp", "sync"});

    if (auto* n = root.get("engine")) {
      auto& t = table(n, "engine");
      only_keys(t, "engine", {"name", "control_socket", "max_flows"});
      if (auto* v = t.get("name")) c.name = str(v, "engine.name");
      if (auto* v = t.get("control_socket")) c.control_socket = str(v, "engine.control_socket");
      if (auto* v = t.get("max_flows")) c.max_flows = static_cast<uint32_t>(integer(v, "engine.max_flows", 16, FlowTable::kMaxCapacity));
    }
    if (auto* n = root.get("timeouts")) {
      auto& t = table(n, "timeouts");
      only_keys(t, "timeouts", {"tcp_syn", "tcp_established", "tcp_fin", "tcp_close", "udp"});
      auto get = [&](const char* k, uint32_t& out) {
        if (auto* v = t.get(k)) out = static_cast<uint32_t>(integer(v, join("timeouts", k), 1, 86400 * 7));
      };
      get("tcp_syn", c.timeouts.tcp_syn);
      get("tcp_established", c.timeouts.tcp_established);
      get("tcp_fin", c.timeouts.tcp_fin);
      get("tcp_close", c.timeouts.tcp_close);
      get("udp", c.timeouts.udp);
    }

    const toml::node* ports = need(root, "", "ports");
    auto& parr = array(ports, "ports");
    if (parr.empty()) fail(ports, "ports", "at least one port is needed");
    for (size_t i = 0; i < parr.size(); ++i) {
      std::string w = "ports[" + std::to_string(i) + "]";
      auto& t = table(&parr[i], w);
      only_keys(t, w, {"name", "tap", "netns", "mac", "address", "mtu"});
      PortConfig p;
      p.name = str(need(t, w, "name"), w + ".name");
      p.tap = str(need(t, w, "tap"), w + ".tap");
      if (p.tap.empty() || p.tap.size() > 15) fail(t.get("tap"), w + ".tap", "a device name is 1 to 15 characters");
      if (auto* v = t.get("netns")) p.netns = str(v, w + ".netns");
      auto* macn = need(t, w, "mac");
      auto mac = MacAddr::parse(str(macn, w + ".mac"));
      if (!mac || mac->is_multicast() || mac->is_zero()) fail(macn, w + ".mac", "expected a unicast MAC like 02:00:00:00:00:01");
      p.mac = *mac;
      p.address = prefix(need(t, w, "address"), w + ".address");
      if (auto* m = t.get("mtu")) p.mtu = static_cast<uint16_t>(integer(m, w + ".mtu", 576, 9000));
      for (auto& other : c.ports) {
        if (other.name == p.name) fail(t.get("name"), w + ".name", "duplicate port name '" + p.name + "'");
        if (other.tap == p.tap) fail(t.get("tap"), w + ".tap", "TAP '" + p.tap + "' is used by port '" + other.name + "' too");
      }
      c.ports.push_back(p);
    }

    if (auto* n = root.get("routes")) {
      auto& arr = array(n, "routes");
      for (size_t i = 0; i < arr.size(); ++i) {
        std::string w = "routes[" + std::to_string(i) + "]";
        auto& t = table(&arr[i], w);
        only_keys(t, w, {"destination", "via"});
        RouteConfig r;
        r.destination = prefix(need(t, w, "destination"), w + ".destination");
        auto* via = need(t, w, "via");
        r.via = ip(via, w + ".via");
        bool reachable = false;
        for (auto& p : c.ports) reachable |= p.address.contains(r.via);
        if (!reachable) fail(via, w + ".via", r.via.str() + " is not on any port's subnet");
        c.routes.push_back(r);
      }
    }

    const toml::node* vips = need(root, "", "vips");
    auto& varr = array(vips, "vips");
    if (varr.empty()) fail(vips, "vips", "at least one VIP is needed");
    std::set<std::tuple<uint32_t, uint16_t, int>> seen;
    for (size_t i = 0; i < varr.size(); ++i) {
      std::string w = "vips[" + std::to_string(i) + "]";
      auto& t = table(&varr[i], w);
      only_keys(t, w, {"name", "address", "port", "protocol", "mode", "algorithm", "backends", "proxy_ip", "dscp", "encap",
                       "min_active", "maglev_table_size", "persistence_timeout", "persistence_netmask", "health",
                       "on_backend_down", "when_all_down"});
      VipConfig v;
      v.name = t.get("name") ? str(t.get("name"), w + ".name") : "vip" + std::to_string(i);
      v.address = ip(need(t, w, "address"), w + ".address");
      v.port = static_cast<uint16_t>(integer(need(t, w, "port"), w + ".port", 1, 65535));
      auto* pn = need(t, w, "protocol");
      auto proto = str(pn, w + ".protocol");
      if (proto == "tcp") v.protocol = Proto::tcp;
      else if (proto == "udp") v.protocol = Proto::udp;
      else fail(pn, w + ".protocol", "unknown protocol '" + proto + "' (expected tcp or udp)");
      auto* mn = need(t, w, "mode");
      auto mode = str(mn, w + ".mode");
      if (mode == "inline") v.mode = Mode::inline_nat;
      else if (mode == "proxy") v.mode = Mode::proxy;
      else if (mode == "dsr-l2") v.mode = Mode::dsr_l2;
      else if (mode == "dsr-l3-dscp") v.mode = Mode::dsr_l3_dscp;
      else if (mode == "dsr-l3-tunnel") v.mode = Mode::dsr_l3_tunnel;
      else fail(mn, w + ".mode", "unknown mode '" + mode + "' (expected inline, proxy, dsr-l2, dsr-l3-dscp or dsr-l3-tunnel)");
      if (auto* pn2 = t.get("proxy_ip")) {
        if (v.mode != Mode::proxy) fail(pn2, w + ".proxy_ip", "only a proxy-mode VIP has a proxy IP");
        v.proxy_ip = ip(pn2, w + ".proxy_ip");
        bool on_port = false;
        for (auto& p : c.ports) on_port |= p.address.contains(v.proxy_ip);
        if (!on_port) fail(pn2, w + ".proxy_ip", v.proxy_ip.str() + " is not on any port's subnet: nobody would route replies to it");
      } else if (v.mode == Mode::proxy) {
        fail(&t, w + ".proxy_ip", "missing: proxy mode needs a proxy IP (PIP), the source address toward the servers");
      }
      if (auto* dn = t.get("dscp")) {
        if (v.mode != Mode::dsr_l3_dscp) fail(dn, w + ".dscp", "only a dsr-l3-dscp VIP has a DSCP code");
        v.dscp = static_cast<uint8_t>(integer(dn, w + ".dscp", 1, 63));
      }
      if (auto* en = t.get("encap")) {
        if (v.mode != Mode::dsr_l3_tunnel) fail(en, w + ".encap", "only a dsr-l3-tunnel VIP has an encapsulation");
        auto encap = str(en, w + ".encap");
        if (encap != "ipip") fail(en, w + ".encap", "unknown encapsulation '" + encap + "' (expected ipip)");
      }
      if (auto* an = t.get("algorithm")) {
        auto algo = str(an, w + ".algorithm");
        if (!parse_algorithm(algo, v.algorithm))
          fail(an, w + ".algorithm", "unknown algorithm '" + algo + "' (expected rr, wrr, lc, wlc, rtt, priority, sh or maglev)");
      }
      if (auto* n = t.get("min_active")) v.min_active = static_cast<uint32_t>(integer(n, w + ".min_active", 1, kMaxBackendsPerVip));
      if (auto* n = t.get("maglev_table_size")) {
        v.maglev_table_size = static_cast<uint32_t>(integer(n, w + ".maglev_table_size", 251, 1 << 24));
        if (!is_prime(v.maglev_table_size))
          fail(n, w + ".maglev_table_size", std::to_string(v.maglev_table_size) + " is not prime (Maglev needs a prime table size, e.g. 65537)");
      }
      if (auto* n = t.get("health")) v.health = health(n, w + ".health", v.health);
      if (auto* n = t.get("on_backend_down")) {
        auto x = str(n, w + ".on_backend_down");
        if (x == "keep") v.on_backend_down = OnDown::keep;
        else if (x == "reset") v.on_backend_down = OnDown::reset;
        else fail(n, w + ".on_backend_down", "unknown action '" + x + "' (expected keep or reset)");
      }
      if (auto* n = t.get("when_all_down")) {
        auto x = str(n, w + ".when_all_down");
        if (x == "reset") v.when_all_down = AllDown::reset;
        else if (x == "icmp") v.when_all_down = AllDown::icmp;
        else fail(n, w + ".when_all_down", "unknown action '" + x + "' (expected reset or icmp)");
      }
      if (auto* n = t.get("persistence_timeout"))
        v.persistence_timeout = static_cast<uint32_t>(integer(n, w + ".persistence_timeout", 0, 86400 * 7));
      if (auto* n = t.get("persistence_netmask")) {
        v.persistence_netmask = static_cast<uint8_t>(integer(n, w + ".persistence_netmask", 0, 32));
        if (!t.get("persistence_timeout"))
          fail(n, w + ".persistence_netmask", "has no effect without persistence_timeout");
      }
      if (!seen.insert({v.address.v4_net(), v.port, static_cast<int>(v.protocol)}).second)
        fail(&varr[i], w, "duplicate VIP " + v.address.str() + ":" + std::to_string(v.port) + "/" + proto);
      for (auto& p : c.ports)
        if (p.address.addr == v.address) fail(t.get("address"), w + ".address", v.address.str() + " is port '" + p.name + "''s own address");

      auto* bn = need(t, w, "backends");
      auto& barr = array(bn, w + ".backends");
      if (barr.empty()) fail(bn, w + ".backends", "empty backend list: a VIP needs at least one backend");
      for (size_t j = 0; j < barr.size(); ++j) {
        std::string bw = w + ".backends[" + std::to_string(j) + "]";
        auto& bt = table(&barr[j], bw);
        only_keys(bt, bw, {"address", "port", "weight", "group", "health"});
        BackendConfig b;
        b.address = ip(need(bt, bw, "address"), bw + ".address");
        b.port = bt.get("port") ? static_cast<uint16_t>(integer(bt.get("port"), bw + ".port", 1, 65535)) : v.port;
        if (auto why = port_problem(v, b); !why.empty()) fail(bt.get("port"), bw + ".port", why);
        if (auto* wn = bt.get("weight")) b.weight = static_cast<uint32_t>(integer(wn, bw + ".weight", 0, kMaxWeight));
        if (auto* gn = bt.get("group")) b.group = static_cast<uint32_t>(integer(gn, bw + ".group", 1, 255));
        b.health = bt.get("health") ? health(bt.get("health"), bw + ".health", v.health) : v.health;
        for (auto& o : v.backends)
          if (o.address == b.address && o.port == b.port)
            fail(&barr[j], bw, "duplicate backend " + b.address.str() + ":" + std::to_string(b.port));
        if (v.backends.size() >= kMaxBackendsPerVip)
          fail(&barr[j], bw, "more than " + std::to_string(kMaxBackendsPerVip) + " backends in one VIP");
        if (auto why = backend_problem(c, v, b); !why.empty()) fail(bt.get("address"), bw + ".address", why);
        v.backends.push_back(b);
      }
      if (v.maglev_table_size <= v.backends.size())
        fail(&t, w + ".maglev_table_size", "must exceed the number of backends");
      c.vips.push_back(std::move(v));
    }
    assign_dscp_codes(c, varr);
    if (auto* n = root.get("vrrp")) c.vrrp = vrrp(c, n);
    if (auto* n = root.get("sync")) {
      if (!c.vrrp) fail(n, "sync", "needs a [vrrp] section: only the VRRP master sends its table, only a backup applies one");
      c.sync = sync(c, n);
    }
    return c;
  }

  HaVrrpConfig vrrp(const Config& c, const toml::node* n) const {
    const std::string w = "vrrp";
    auto& t = table(n, w);
    only_keys(t, w, {"vrid", "priority", "advert_interval_ms", "preempt", "preempt_delay_ms", "port", "virtual_mac",
                     "garp_count", "garp_interval_ms", "garp_refresh_ms", "track_port_penalty", "track_backends_penalty",
                     "addresses"});
    HaVrrpConfig v;
    auto u32 = [&](const char* k, uint32_t& out, int64_t lo, int64_t hi) {
      if (auto* x = t.get(k)) out = static_cast<uint32_t>(integer(x, join(w, k), lo, hi));
    };
    if (auto* x = t.get("vrid")) v.vrid = static_cast<uint8_t>(integer(x, "vrrp.vrid", 1, 255));
    if (auto* x = t.get("priority")) v.priority = static_cast<uint8_t>(integer(x, "vrrp.priority", 1, 255));
    u32("advert_interval_ms", v.advert_interval_ms, 10, 40950);
    if (v.advert_interval_ms % 10)
      fail(t.get("advert_interval_ms"), "vrrp.advert_interval_ms",
           std::to_string(v.advert_interval_ms) + " is not a multiple of 10 (VRRPv3 advertises in centiseconds)");
    if (auto* x = t.get("preempt")) v.preempt = boolean(x, "vrrp.preempt");
    u32("preempt_delay_ms", v.preempt_delay_ms, 0, 3600000);
    v.port = c.ports[port_named(c, need(t, w, "port"), "vrrp.port")].name;
    if (auto* x = t.get("virtual_mac")) v.virtual_mac = boolean(x, "vrrp.virtual_mac");
    u32("garp_count", v.garp_count, 0, 100);
    u32("garp_interval_ms", v.garp_interval_ms, 1, 60000);
    u32("garp_refresh_ms", v.garp_refresh_ms, 0, 3600000);
    u32("track_port_penalty", v.track_port_penalty, 0, 255);
    u32("track_backends_penalty", v.track_backends_penalty, 0, 255);
    // The advertisement lists every VIP address, proxy IP and extra address: at most 255.
    std::set<uint32_t> addrs;
    for (auto& vip : c.vips) {
      addrs.insert(vip.address.v4_net());
      if (vip.mode == Mode::proxy) addrs.insert(vip.proxy_ip.v4_net());
    }
    if (auto* an = t.get("addresses")) {
      auto* arr = an->as_array();
      if (!arr) fail(an, "vrrp.addresses", "must be an array of { port, address } tables");
      for (size_t i = 0; i < arr->size(); ++i) {
        const std::string aw = "vrrp.addresses[" + std::to_string(i) + "]";
        auto& at = table(&(*arr)[i], aw);
        only_keys(at, aw, {"port", "address"});
        VrrpAddressConfig a;
        const PortConfig& p = c.ports[port_named(c, need(at, aw, "port"), aw + ".port")];
        a.port = p.name;
        auto* xn = need(at, aw, "address");
        a.address = ip(xn, aw + ".address");
        if (!p.address.contains(a.address))
          fail(xn, aw + ".address", a.address.str() + " is not on port '" + p.name + "''s subnet " + p.address.str());
        for (auto& q : c.ports)
          if (q.address.addr == a.address) fail(xn, aw + ".address", a.address.str() + " is port '" + q.name + "''s own address");
        if (!addrs.insert(a.address.v4_net()).second)
          fail(xn, aw + ".address", a.address.str() + " is already a VIP, a proxy IP or another entry of vrrp.addresses");
        v.addresses.push_back(std::move(a));
      }
    }
    if (addrs.size() > 255)
      fail(n, w, std::to_string(addrs.size()) + " VIP, proxy and extra addresses: one VRRP advertisement lists at most 255");
    return v;
  }

  HaSyncConfig sync(const Config& c, const toml::node* n) const {
    const std::string w = "sync";
    auto& t = table(n, w);
    only_keys(t, w, {"port", "peer", "udp_port"});
    HaSyncConfig s;
    const PortConfig& p = c.ports[port_named(c, need(t, w, "port"), "sync.port")];
    s.port = p.name;
    auto* pn = need(t, w, "peer");
    s.peer = ip(pn, "sync.peer");
    if (!p.address.contains(s.peer))
      fail(pn, "sync.peer", s.peer.str() + " is not on port '" + p.name + "''s subnet " + p.address.str() +
                                 " (sync datagrams go to the peer directly)");
    if (s.peer == p.address.addr) fail(pn, "sync.peer", s.peer.str() + " is port '" + p.name + "''s own address");
    if (p.mtu < 20 + 8 + ha::kSyncMaxPayload)
      fail(t.get("port"), "sync.port", "port '" + p.name + "' has MTU " + std::to_string(p.mtu) + ", below " +
                                           std::to_string(20 + 8 + ha::kSyncMaxPayload) + ", the size of a full sync datagram");
    if (auto* x = t.get("udp_port")) s.udp_port = static_cast<uint16_t>(integer(x, "sync.udp_port", 1, 65535));
    return s;
  }

 private:
  std::string src_;
};

}  // namespace

bool parse_algorithm(const std::string& name, Algorithm& out) {
  static const std::pair<const char*, Algorithm> names[] = {
      {"rr", Algorithm::rr},   {"wrr", Algorithm::wrr},           {"lc", Algorithm::lc}, {"wlc", Algorithm::wlc},
      {"rtt", Algorithm::rtt}, {"priority", Algorithm::priority}, {"sh", Algorithm::sh}, {"maglev", Algorithm::maglev}};
  for (auto& [n, a] : names)
    if (name == n) return out = a, true;
  return false;
}

std::string backend_problem(const Config& c, const VipConfig& v, const BackendConfig& b) {
  if (!b.address.is_v4()) return b.address.str() + ": only IPv4 is forwarded so far";
  if (auto why = port_problem(v, b); !why.empty()) return why;
  bool connected = false;
  for (auto& p : c.ports) connected |= p.address.contains(b.address);
  bool routed = connected;
  for (auto& r : c.routes) routed |= r.destination.contains(b.address);
  if (v.mode == Mode::inline_nat && !connected)
    return b.address.str() + " is not on any port's subnet (inline backends sit on a connected segment: the LB is their gateway)";
  if (v.mode == Mode::dsr_l2 && !connected)
    return b.address.str() + " is not on the LB's segment: dsr-l2 only rewrites the MAC, so a backend must share a port's subnet";
  if (!routed) return b.address.str() + " is not on any port's subnet and no route reaches it";
  return "";
}

Config parse_config(const std::string& text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << source_name << ":" << e.source().begin.line << ": " << e.description();
    throw ConfigError(o.str());
  }
  return Loader(source_name).load(root);
}

Config load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path);
}

}  // namespace lb
