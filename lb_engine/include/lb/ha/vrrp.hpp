// VRRPv3 (RFC 5798) for IPv4: the advertisement codec, the per-VRID state machine of
// §6.4, and what `lbctl vrrp` shows. Self-contained: no clock, no thread, no I/O. The
// caller feeds received packets and the current time (milliseconds, any monotonic
// origin) and performs the returned actions: send an advertisement, send gratuitous
// ARPs, start or stop answering for the virtual addresses.
//
// On the wire (§5.1, §5.2), all multi-byte fields in network byte order:
//   IPv4: TOS 0xc0 (precedence "internetwork control", as keepalived), DF clear,
//         TTL 255, protocol 112, destination 224.0.0.18, source our primary address.
//   VRRP: version 3 (4 bits) | type 1 (4 bits), VRID, priority, count of addresses,
//         reserved (4 bits, zero) | Max Adver Int (12 bits, centiseconds), checksum
//         (RFC 1071 over the IPv4 pseudo-header and the VRRP message), the addresses.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lb/addr.hpp"

namespace lb::ha {

inline constexpr uint8_t kVrrpProto = 112;
inline constexpr uint8_t kVrrpVersion = 3;
inline constexpr uint8_t kVrrpTypeAdvert = 1;
inline constexpr uint8_t kVrrpTtl = 255;
inline constexpr uint8_t kVrrpTos = 0xc0;
inline constexpr uint32_t kVrrpGroupHost = 0xe0000012;  // 224.0.0.18, host order
inline constexpr uint8_t kPriorityOwner = 255;          // the owner of the addresses
inline constexpr uint8_t kPriorityShutdown = 0;         // "I am leaving" (§5.2.4)
inline constexpr size_t kMaxVrrpAddrs = 255;            // Count IPvX Addr is 8 bits
inline constexpr uint16_t kMaxAdverIntCs = 0x0fff;      // 12 bits of centiseconds

// The VRRP header, without the addresses that follow it.
struct __attribute__((packed)) VrrpHdr {
  uint8_t ver_type;      // version (high 4 bits), type (low 4 bits)
  uint8_t vrid;
  uint8_t priority;
  uint8_t count;         // number of IPv4 addresses that follow
  uint16_t rsvd_adver;   // network order: reserved (4 bits) + Max Adver Int (12 bits, cs)
  uint16_t check;        // network order
};
static_assert(sizeof(VrrpHdr) == 8);

// 00:00:5e:00:01:{vrid} (§7.3): the source MAC of the master's frames and of its ARPs.
MacAddr vrrp_virtual_mac(uint8_t vrid);
// 01:00:5e:00:00:12: the Ethernet destination of 224.0.0.18.
MacAddr vrrp_multicast_mac();

// The fields of one advertisement. Addresses are IPv4 in network byte order.
struct VrrpAdvert {
  uint8_t vrid = 0;
  uint8_t priority = 0;
  uint16_t adver_int_cs = 0;  // Max Adver Int, 12 bits
  uint8_t count = 0;          // addrs[0, count) are meaningful, the rest zero
  std::array<uint32_t, kMaxVrrpAddrs> addrs{};
  bool operator==(const VrrpAdvert&) const = default;
};

// Bytes of the IPv4 packet carrying `count` addresses: 20 + 8 + 4 * count.
constexpr size_t vrrp_packet_len(size_t count) { return 20 + sizeof(VrrpHdr) + 4 * count; }

// Writes the whole IPv4 packet (no options) of `a`, sent from `src` (network order), into
// buf. Returns its length, or 0 (nothing usable written) when cap is too small or
// a.adver_int_cs does not fit 12 bits. Never allocates.
size_t encode_vrrp_advert(const VrrpAdvert& a, uint32_t src, uint8_t* buf, size_t cap,
                          uint16_t ip_id = 0);

// Why an advertisement was not acted upon. Each has a counter; names are what lbctl prints.
enum class VrrpDrop : uint8_t {
  none,              // accepted
  ip_malformed,      // not IPv4, bad header or total length, a fragment, not protocol 112
  ip_checksum,       // IPv4 header checksum wrong
  ttl,               // TTL not 255: sent from off the link (§7.1)
  length,            // shorter than the VRRP header, or the length disagrees with the count
  version,           // VRRP version not 3
  type,              // VRRP type not 1 (advertisement)
  checksum,          // VRRP checksum wrong
  unknown_vrid,      // not the VRID this instance serves
  zero_interval,     // Max Adver Int 0: no timer could be derived from it
  address_mismatch,  // address list differs from ours, dropped (strict_addresses only)
  local_owner,       // we are the address owner (priority 255): owners ignore adverts (§7.1)
  not_running,       // received in the Initialize state
  count_
};
const char* to_string(VrrpDrop d);  // "ttl", "checksum", "unknown_vrid", ...

struct VrrpDecoded {
  VrrpDrop drop = VrrpDrop::none;
  uint32_t src = 0;  // the IPv4 source, network order (set once the IPv4 header parsed)
  VrrpAdvert advert;
  bool ok() const { return drop == VrrpDrop::none; }
};

// Parses and validates (§7.1) the IPv4 packet at ip[0, len) (Ethernet padding past the
// IPv4 total length is ignored). Checks in order: IPv4 header, IPv4 checksum, TTL, VRRP
// length, version, type, count vs length, VRRP checksum, VRID == served_vrid, interval.
// The first failure is returned in .drop; the address list is not compared here.
VrrpDecoded decode_vrrp_advert(const uint8_t* ip, size_t len, uint8_t served_vrid);

// --------------------------------------------------------------- the state machine

enum class VrrpState : uint8_t { initialize, backup, master };
const char* to_string(VrrpState s);  // "init", "backup", "master"

// Why the last state change happened.
enum class VrrpReason : uint8_t {
  none,             // never started
  start,            // start(): to Backup
  owner_start,      // start() with priority 255: straight to Master
  master_down,      // Master_Down_Timer fired after the master fell silent
  priority_zero,    // Master_Down_Timer (Skew_Time) fired after the master's priority-0 advert
  preempt,          // Master_Down_Timer fired while we ignored a lower-priority master
  higher_priority,  // as master, heard a higher priority (or equal and higher address)
  shutdown,         // shutdown(): to Initialize
};
const char* to_string(VrrpReason r);

struct VrrpConfig {
  uint8_t vrid = 1;                // 1..255
  uint8_t priority = 100;          // 1..255; 255 = the address owner
  uint32_t adver_int_ms = 1000;    // a multiple of 10 in 10..40950 (1..4095 cs)
  bool preempt = true;
  uint32_t preempt_delay_ms = 0;   // no preemption until this long after start()
  uint32_t primary_ip = 0;         // network order: the source of our advertisements
  std::vector<uint32_t> vips;      // network order, 1..255 addresses
  uint32_t garp_count = 5;         // gratuitous ARP rounds on becoming master (0 = none)
  uint32_t garp_interval_ms = 100; // between two rounds, >= 1
  uint32_t garp_refresh_ms = 0;    // as master, one more round this often (0 = never)
  // RFC 5798 §7.1 lets a receiver compare the advert's addresses with its own. They are
  // always compared and a mismatch logged and counted; with strict_addresses it is also
  // dropped unless sent by the owner (the RFC's rule), otherwise it is acted upon.
  bool strict_addresses = false;
};

// The first problem of `c`, or "" when it is usable.
std::string validate(const VrrpConfig& c);

enum class VrrpActionType : uint8_t {
  send_advert,    // encode advert(priority) and send it to 224.0.0.18 from the virtual MAC
  send_garp,      // one gratuitous ARP per VIP, from the virtual MAC
  become_master,  // answer ARP and traffic for the VIPs
  become_backup,  // stop answering for the VIPs (also sent on start)
  stop,           // Initialize: stop answering for the VIPs
};
const char* to_string(VrrpActionType t);

struct VrrpAction {
  VrrpActionType type;
  uint8_t priority = 0;  // send_advert: the priority to put in it
  bool operator==(const VrrpAction&) const = default;
};

// The actions of one call, in the order they are to be performed. Fixed capacity.
struct VrrpActions {
  std::array<VrrpAction, 6> items{};
  size_t n = 0;
  void push(VrrpAction a) {
    if (n < items.size()) items[n++] = a;
  }
  const VrrpAction* begin() const { return items.data(); }
  const VrrpAction* end() const { return items.data() + n; }
  size_t size() const { return n; }
  bool empty() const { return n == 0; }
  bool has(VrrpActionType t) const;
};

struct VrrpCounters {
  uint64_t adverts_sent = 0, adverts_received = 0;  // received: accepted for processing
  uint64_t priority_zero_sent = 0, priority_zero_received = 0;
  uint64_t garp_rounds = 0;
  uint64_t address_mismatch_seen = 0;  // dropped or not
  uint64_t to_master = 0, to_backup = 0, to_initialize = 0;
  std::array<uint64_t, static_cast<size_t>(VrrpDrop::count_)> drops{};
  uint64_t drop(VrrpDrop d) const { return drops[static_cast<size_t>(d)]; }
};

// What `lbctl vrrp` prints.
struct VrrpStatus {
  uint8_t vrid = 0;
  VrrpState state = VrrpState::initialize;
  uint8_t priority = 0, effective_priority = 0;
  uint32_t penalty = 0;
  uint32_t master_ip = 0;       // network order: as last seen (ourselves when master), 0 = none
  uint8_t master_priority = 0;  // as last seen
  uint32_t adver_int_ms = 0, master_adver_int_ms = 0, master_down_int_ms = 0, skew_ms = 0;
  uint64_t changed_ms = 0;
  VrrpReason reason = VrrpReason::none;
  VrrpCounters counters;
};

// One virtual router (one VRID on one link). Timers (§6.2), all in milliseconds:
//   Skew_Time            = ((256 - Priority) * Master_Adver_Interval) / 256, rounded down
//   Master_Down_Interval = 3 * Master_Adver_Interval + Skew_Time
// with Priority the effective priority. Master_Adver_Interval is our own interval until a
// master's advert teaches us its own.
class Vrrp {
 public:
  // `cfg` must pass validate().
  explicit Vrrp(VrrpConfig cfg);

  // Initialize -> Master (priority 255) or Backup. A no-op unless in Initialize.
  VrrpActions start(uint64_t now);
  // -> Initialize; a master first sends a priority-0 advert. A no-op in Initialize.
  VrrpActions shutdown(uint64_t now);
  // Decodes (see decode_vrrp_advert) and handles one received IPv4 packet; a drop is counted.
  VrrpActions on_packet(const uint8_t* ip, size_t len, uint64_t now);
  // Handles a decoded advert sent from `src` (network order). Checks again what needs
  // no packet (VRID, zero interval), then the receiver's rules: not in Initialize, not
  // the owner, the address list. A drop is counted and returns no action.
  VrrpActions on_advert(const VrrpAdvert& a, uint32_t src, uint64_t now);
  // Fires the timers due at `now`. Call it by next_event_ms() at the latest.
  VrrpActions tick(uint64_t now);
  // While held, a backup does not preempt a lower-priority master (a silent master is still
  // replaced when its timer runs out). The engine holds it while it waits for the master's
  // connection table after a start: preempting with an empty table drops every flow.
  void hold_preempt(bool held) { preempt_held_ = held; }
  // Effective priority = max(1, priority - penalty) (tracking: link down, backends down).
  // A master advertises a changed priority at once.
  VrrpActions set_priority_penalty(uint32_t penalty, uint64_t now);

  // When tick() next has something to do (UINT64_MAX: nothing scheduled).
  uint64_t next_event_ms() const;

  // The advert this instance sends with `priority`: VRID, interval and the VIPs.
  VrrpAdvert advert(uint8_t priority) const;
  // Encodes advert(priority) from primary_ip; as encode_vrrp_advert.
  size_t encode(uint8_t priority, uint8_t* buf, size_t cap);

  VrrpState state() const { return state_; }
  uint8_t effective_priority() const { return eff_priority_; }
  uint32_t skew_ms() const;
  uint32_t master_down_interval_ms() const;
  const VrrpConfig& config() const { return cfg_; }
  const VrrpCounters& counters() const { return counters_; }
  VrrpStatus status() const;

 private:
  void to_master(VrrpActions& out, VrrpReason why, uint64_t now);
  void to_backup(VrrpActions& out, VrrpReason why, uint64_t now);
  void start_garp_burst(VrrpActions& out, uint64_t now);  // garp_count rounds, the first now
  void send_advert(VrrpActions& out, uint8_t priority);
  void drop(VrrpDrop d) { ++counters_.drops[static_cast<size_t>(d)]; }
  bool addresses_match(const VrrpAdvert& a) const;
  bool may_preempt(uint64_t now) const;

  VrrpConfig cfg_;
  std::vector<uint32_t> sorted_vips_;
  VrrpState state_ = VrrpState::initialize;
  uint8_t eff_priority_;
  uint32_t penalty_ = 0;
  uint32_t master_adver_int_ms_;
  uint64_t started_ms_ = 0;
  bool preempt_held_ = false;
  uint64_t master_down_at_ = 0;  // Backup: Master_Down_Timer
  uint64_t adver_at_ = 0;        // Master: Adver_Timer
  uint32_t garps_left_ = 0;      // Master: rounds of the burst still to send
  uint64_t garp_at_ = 0, refresh_at_ = 0;
  VrrpReason pending_reason_ = VrrpReason::master_down;  // why Master_Down_Timer would fire
  bool last_mismatch_ = false;   // to log a mismatch once, not per advert
  uint32_t master_ip_ = 0;
  uint8_t master_priority_ = 0;
  uint64_t changed_ms_ = 0;
  VrrpReason reason_ = VrrpReason::none;
  uint16_t ip_id_ = 0;
  VrrpCounters counters_;
};

}  // namespace lb::ha
