// Engine configuration: a plain struct with in-class defaults, loaded from TOML and
// validated once at start.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "lb/addr.hpp"

namespace lb {

enum class Mode : uint8_t { inline_nat, proxy, dsr_l2, dsr_l3_dscp, dsr_l3_tunnel };
enum class Algorithm : uint8_t { rr, wrr, lc, wlc, rtt, priority, sh, maglev };
enum class Proto : uint8_t { tcp = 6, udp = 17 };

const char* to_string(Mode m);        // "inline", "proxy", "dsr-l2", ...
const char* to_string(Algorithm a);   // "rr", ...
const char* to_string(Proto p);       // "tcp", "udp"

// Health checks, with HAProxy's meaning: a probe every `interval_ms`, failed when no
// answer within `timeout_ms`; `fall` failures in a row mark an up backend down, `rise`
// successes in a row mark a down backend up. Backends start up.
enum class CheckType : uint8_t { none, icmp, tcp, http };
const char* to_string(CheckType t);  // "none", "icmp", "tcp", "http"

struct HealthConfig {
  CheckType type = CheckType::none;
  uint32_t interval_ms = 2000;
  uint32_t timeout_ms = 1000;  // below interval_ms
  uint32_t rise = 2;
  uint32_t fall = 3;
  uint16_t port = 0;           // tcp/http: 0 = the backend's port
  std::string path = "/";      // http: GET this
  uint16_t status = 200;       // http: the status that means up
  std::string body;            // http: a substring the first 2 KiB must hold ("" = any)
};

// What happens to live flows of a backend that goes down, and to new flows when every
// backend of a VIP is down (TCP: RST to the client; UDP: ICMP port unreachable, or
// ICMP destination unreachable for both with "icmp").
enum class OnDown : uint8_t { keep, reset };
enum class AllDown : uint8_t { reset, icmp };

struct BackendConfig {
  IpAddr address;
  uint16_t port = 0;
  uint32_t weight = 1;  // 0: draining (no new flows)
  uint32_t group = 1;   // priority group, 1 = most preferred (algorithm priority)
  HealthConfig health;  // the VIP's check with this backend's overrides
};

inline constexpr size_t kMaxBackendsPerVip = 1024;
inline constexpr uint32_t kMaxWeight = 1000000;

struct VipConfig {
  std::string name;
  IpAddr address;
  uint16_t port = 0;
  Proto protocol = Proto::tcp;
  Mode mode = Mode::inline_nat;
  Algorithm algorithm = Algorithm::rr;
  std::vector<BackendConfig> backends;
  IpAddr proxy_ip;       // proxy: the source address toward the servers (PIP)
  uint8_t dscp = 0;      // dsr-l3-dscp: the code that marks this VIP's packets (1..63)
  uint32_t min_active = 1;             // priority: usable members the serving groups need
  uint32_t maglev_table_size = 65537;  // maglev: lookup table size, a prime
  uint32_t persistence_timeout = 0;    // seconds a client sticks to its server; 0 = off
  uint8_t persistence_netmask = 32;    // prefix length of the client address that sticks
  HealthConfig health;                 // the default check of its backends
  OnDown on_backend_down = OnDown::keep;
  AllDown when_all_down = AllDown::reset;
};

struct PortConfig {
  std::string name;             // "front", "back": how logs and stats name the port
  std::string tap;              // TAP device to attach to
  std::string netns;            // where the TAP lives (a name under /run/netns); empty = ours
  MacAddr mac;                  // the engine's MAC on this port
  Prefix address;               // the engine's own address and the connected subnet
  uint16_t mtu = 1500;          // largest IP packet sent on this port
};

struct RouteConfig {
  Prefix destination;
  IpAddr via;
};

struct TimeoutConfig {  // seconds of idleness allowed per state
  uint32_t tcp_syn = 30;
  uint32_t tcp_established = 900;
  uint32_t tcp_fin = 60;
  uint32_t tcp_close = 10;
  uint32_t udp = 60;
};

// One more address the VRRP master holds, on any port: `addresses = [{ port = "back",
// address = "192.0.2.1" }]`. Inline mode's servers route through it, so their gateway
// moves with the VIP (keepalived's virtual_ipaddress on a second interface).
struct VrrpAddressConfig {
  std::string port;  // a PortConfig name; the address is on its subnet
  IpAddr address;
};

// [vrrp]: two engines share the VIPs with VRRPv3 (RFC 5798) on one port. The engine
// that is master answers ARP for every VIP and proxy IP (and `addresses`) and forwards;
// a backup answers for none of them and forwards nothing (it still checks its
// backends). Absent: the engine serves on its own, always.
struct HaVrrpConfig {
  uint8_t vrid = 1;                  // 1..255
  uint8_t priority = 100;            // 1..255 (255: the address owner, master at once)
  uint32_t advert_interval_ms = 1000;  // 10..40950, a multiple of 10
  bool preempt = true;
  uint32_t preempt_delay_ms = 0;     // no preemption this long after start
  std::string port;                  // the port the VIPs live on (a PortConfig name)
  bool virtual_mac = false;          // answer for the VIPs with 00:00:5e:00:01:{vrid}
  uint32_t garp_count = 5;           // gratuitous ARP rounds on becoming master
  uint32_t garp_interval_ms = 100;   // between two rounds
  uint32_t garp_refresh_ms = 0;      // as master, one more round this often (0 = never)
  // Tracking: the effective priority is lowered by the sum of the penalties that apply.
  uint32_t track_port_penalty = 0;      // while a data port's link is down
  uint32_t track_backends_penalty = 0;  // while no backend of any VIP is up
  std::vector<VrrpAddressConfig> addresses;  // held by the master besides the VIPs and PIPs
};

// [sync]: the master sends its connection table to the peer as UDP datagrams it builds
// itself (lb/ha/sync.hpp), from its address on `port` to peer:udp_port; a backup
// applies what its peer sends, so it has the flows when it becomes master.
struct HaSyncConfig {
  std::string port;       // a PortConfig name
  IpAddr peer;            // the other engine's address on that port
  uint16_t udp_port = 8848;
};

struct Config {
  std::string source;                // the file it came from
  std::string name = "lbd";
  std::string control_socket = "/run/lbd.sock";
  uint32_t max_flows = 262144;
  TimeoutConfig timeouts;
  std::vector<PortConfig> ports;
  std::vector<RouteConfig> routes;
  std::vector<VipConfig> vips;
  std::optional<HaVrrpConfig> vrrp;  // absent: standalone
  std::optional<HaSyncConfig> sync;  // needs vrrp
};

// A config that cannot be used. what() is one line: "FILE:LINE: KEY: problem".
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Parses an algorithm name ("rr", ..., "maglev"); false for an unknown one.
bool parse_algorithm(const std::string& name, Algorithm& out);

// Why `b` cannot be a backend of `v` in config `c` (reachability and the mode's rules;
// not duplicates), or "" when it can. For the loader and for runtime `add`.
std::string backend_problem(const Config& c, const VipConfig& v, const BackendConfig& b);

// Parses and validates a TOML config file. Throws ConfigError naming file, line and key.
Config load_config(const std::string& path);
// Same, from text (`source_name` stands for the file name in messages).
Config parse_config(const std::string& text, const std::string& source_name);

}  // namespace lb
