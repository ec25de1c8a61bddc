// The engine: the LB's whole network stack on its data ports. It answers ARP and ICMP
// echo for the VIPs and its own addresses, load balances new flows to backends,
// rewrites headers in place, and counts every frame it does not forward by reason.
#pragma once
#include <arpa/inet.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lb/config/config.hpp"
#include "lb/control/stats.hpp"
#include "lb/flow/flow_table.hpp"
#include "lb/ha/sync.hpp"
#include "lb/ha/vrrp.hpp"
#include "lb/io/packet_io.hpp"
#include "lb/packet/parsed.hpp"
#include "lb/sched/scheduler.hpp"

namespace lb {

// One backend of one VIP as lbctl shows it (a snapshot taken on the data path).
struct BackendInfo {
  std::string vip;
  IpAddr address;
  uint16_t port = 0;
  uint32_t weight = 0, group = 1;
  std::string state;  // up | draining | down | removed
  uint32_t established = 0, other = 0;
  uint64_t flows_total = 0, packets_to = 0, bytes_to = 0, packets_from = 0, bytes_from = 0;
  double rtt_ms = -1, connect_ms = -1, response_ms = -1;  // -1: not measured
  uint64_t rtt_samples = 0;
  std::string check;              // none | icmp | tcp | http
  uint64_t checks = 0, check_failures = 0, transitions = 0;
  uint64_t since_ms = 0;          // how long it has been in its health state
  std::string last_check, change_reason;
  double probe_ms = -1;           // the last successful probe's round trip
};

struct VipInfo {
  std::string name, algorithm;
  uint32_t min_active = 1;
};

struct FlowInfo {
  std::string vip, protocol, client, backend, state;
  uint64_t age_ms = 0, expires_in_ms = 0;
  uint32_t packets_in = 0, packets_out = 0;
};

// Connection sync counters (lb/ha/sync.hpp), as lbctl shows them.
struct SyncCounters {
  uint64_t datagrams_sent = 0, datagrams_received = 0;
  uint64_t records_sent = 0, records_received = 0, records_applied = 0;
  uint64_t send_failed = 0;          // records lost: the peer's MAC was not resolved yet
  uint64_t lost = 0;                 // datagrams missing from the peer's sequence
  uint64_t not_from_peer = 0;        // to our sync port, from another address
  uint64_t bad_checksum = 0;         // UDP checksum wrong
  uint64_t unknown_records = 0;      // record types of a later version, skipped
  std::array<uint64_t, static_cast<size_t>(ha::SyncError::count_)> malformed{};  // by SyncError
  uint64_t skipped_unknown_vip = 0, skipped_unknown_backend = 0, skipped_unknown_flow = 0;
  uint64_t skipped_mismatch = 0;     // the VIP here differs (DSR or not, persistence)
  uint64_t skipped_conflict = 0;     // a flow key could not be placed
  uint64_t ignored_as_master = 0;    // table records that reached us while master
  uint64_t ignored_as_backup = 0;    // dump requests that reached us while not master
  uint64_t dump_requests_sent = 0, dump_requests_received = 0;
  uint64_t dumps_sent = 0, dump_flows_sent = 0, dumps_received = 0;
};

// What `lbctl vrrp` shows (a snapshot taken on the data path).
struct HaInfo {
  bool vrrp = false;                 // [vrrp] configured; without it the rest is empty
  ha::VrrpStatus status;
  uint64_t now_ms = 0;               // the engine's clock when taken (status.changed_ms is on it)
  std::string port;                  // the VRRP port
  bool virtual_mac = false;
  MacAddr vip_mac;                   // the MAC the VIPs are answered with on that port
  std::vector<IpAddr> addresses;     // advertised: every VIP address and proxy IP, then `extra`
  std::vector<std::pair<std::string, IpAddr>> extra;  // [vrrp] addresses: (port, address)
  bool link_down = false, backends_down = false;  // tracked conditions in force
  uint32_t track_port_penalty = 0, track_backends_penalty = 0;
  uint64_t backup_drops = 0;         // Drop::vrrp_backup
  bool sync = false;                 // [sync] configured
  std::string sync_port;
  IpAddr sync_peer;
  uint16_t sync_udp_port = 0;
  bool dump_wanted = false, dumping = false;
  SyncCounters sync_counters;
};

class Engine {
 public:
  // `io` must outlive the engine and have one port per config.ports entry, in order.
  Engine(const Config& cfg, PacketIo& io);
  ~Engine();

  // Handles one frame (virtio_net_hdr + Ethernet) received on `port`; the buffer may be
  // rewritten in place and sent. `cap` is the buffer's capacity from `buf` (an
  // encapsulation may grow the frame), `headroom` how many bytes before `buf` are free.
  void handle_frame(size_t port, uint8_t* buf, size_t len, size_t cap, uint64_t now_ms, size_t headroom = 0);

  // Reads every port until all are empty or `budget` frames were handled.
  size_t drain(uint64_t now_ms, size_t budget = 256);
  // Timers: health probes, VRRP tracking and timers, sync batches, flow expiry,
  // neighbour refresh. Call every ~100 ms.
  void housekeeping(uint64_t now_ms);
  // Runs the data path (poll, drain, housekeeping, VRRP and sync timers, control
  // requests) until `stop`. It does not leave VRRP: call shutdown() after it returns.
  void run(const std::atomic<bool>& stop);
  // Leaves VRRP (lb_engine/src/ha/ha.cpp): a master first sends its pending sync records,
  // then a priority-0 advertisement, so its backup takes over after Skew_Time instead of
  // Master_Down_Interval. Afterwards the engine answers and forwards for no VIP. Nothing
  // without [vrrp]. Call it on the data-path thread, or once run() returned.
  void shutdown(uint64_t now_ms);

  // Runs `fn` on the data-path thread between batches and waits for it. For the control
  // plane: the data path owns the flow table and never waits on a lock.
  void call_in_datapath(std::function<void()> fn);
  std::vector<FlowInfo> flows();  // via call_in_datapath when running
  std::vector<BackendInfo> backends();  // every backend of every VIP (removed ones while they hold flows)
  std::vector<VipInfo> vip_info();
  HaInfo ha_info();  // VRRP state and sync counters

  // Runtime changes (lbctl), applied on the data path between batches. `vip` names one
  // VIP, or is empty for every VIP that has the backend (algorithm, min_active: every
  // VIP). Each returns "" when it changed something, else why it changed nothing.
  std::string set_weight(const std::string& vip, const IpAddr& addr, uint16_t port, uint32_t weight);
  std::string set_group(const std::string& vip, const IpAddr& addr, uint16_t port, uint32_t group);
  std::string add_backend(const std::string& vip, const BackendConfig& b);
  std::string remove_backend(const std::string& vip, const IpAddr& addr, uint16_t port);
  std::string set_algorithm(const std::string& vip, Algorithm a);
  std::string set_min_active(const std::string& vip, uint32_t n);

  const Config& config() const { return cfg_; }
  const EngineStats& stats() const { return stats_; }
  const PortStats& port_stats(size_t i) const { return ports_[i].stats; }
  const BackendStats& backend_stats(size_t vip, size_t b) const { return *vips_[vip].backends[b].stats; }
  static uint64_t now_ms();

 private:
  struct Port {
    PortConfig cfg;
    PortStats stats;
  };
  // One backend's health check (lb_engine/src/health/health.cpp).
  struct HealthState {
    uint16_t id = 0;                // TCP source port / ICMP echo id of its probes; 0 = unchecked
    uint16_t seq = 0;               // ICMP echo sequence
    bool in_flight = false;
    uint8_t phase = 0;              // tcp/http: SYN sent, then request sent
    uint64_t next_ms = 0, started_ms = 0;
    uint32_t started_us = 0, last_probe_us = 0;
    uint32_t src = 0, dst = 0;      // the probe's addresses (network order)
    uint32_t reply_src = 0;         // where the answer comes from: the RIP, or the VIP (DSR)
    uint32_t isn = 0, snd_next = 0, rcv_next = 0;
    uint32_t ok_run = 0, fail_run = 0;  // results in a row
    uint64_t checks = 0, failures = 0, transitions = 0;
    uint64_t changed_ms = 0;        // the last state change (or the start)
    std::string last_result, change_reason;
    std::string rx;                 // http: the answer so far (at most 2 KiB)
  };
  struct Backend {
    BackendConfig cfg;
    std::unique_ptr<BackendStats> stats = std::make_unique<BackendStats>();
    RttEstimator rtt;
    HealthState health;
  };
  struct Vip {
    VipConfig cfg;
    std::vector<Backend> backends;
    std::vector<SchedBackend> sched_in;  // the scheduler's view, one per backend
    Scheduler sched;
    std::unique_ptr<PersistTable> persist;  // source-IP persistence, when configured
    uint32_t persist_mask = 0;              // network order
    uint32_t pip = 0;             // proxy: our source address toward the servers (network order)
    uint16_t next_port = 1024;    // proxy: where the port search starts
  };
  struct Neighbor {
    uint32_t ip = 0;  // network order
    MacAddr mac;
    bool valid = false;
    uint64_t confirmed_ms = 0, requested_ms = 0;
    size_t port = 0;
    uint8_t unanswered = 0;  // requests since the last answer
  };
  struct Route {
    Prefix dst;
    uint32_t via = 0;  // 0 = connected
    size_t port = 0;
    uint32_t net = 0, mask = 0;  // dst as IPv4 words in network order, for the packet path
    Route(const Prefix& d, uint32_t v, size_t p)
        : dst(d), via(v), port(p), mask(htonl(d.len == 0 ? 0u : ~0u << (32 - d.len))) {
      net = d.addr.v4_net() & mask;
    }
  };

  void handle_arp(size_t port, uint8_t* buf, size_t len, uint64_t now);
  void handle_ipv4(size_t port, pkt::Parsed& p, uint64_t now);
  uint32_t new_flow(size_t vip, const FlowKey& key, uint64_t now);  // kNone (counted) on failure
  bool allocate_proxy_port(Vip& v, FlowKey& reply, uint64_t now);
  void forward(pkt::Parsed& p, FlowTable::Hit hit, uint8_t tcp_flags, uint64_t now);
  void encapsulate_ipip(pkt::Parsed& p, uint32_t rip, uint64_t now);
  void send_frag_needed(pkt::Parsed& p, uint16_t mtu, uint64_t now);
  void translate_icmp_error(pkt::Parsed& p, uint64_t now);
  void send_frame(uint8_t* buf, size_t len, uint32_t dst, uint64_t now);  // routes to dst
  void send_to_mac(size_t port, uint8_t* buf, size_t len, const MacAddr& mac);
  void answer_icmp_echo(size_t port, pkt::Parsed& p, uint64_t now);
  // Sends an IPv4 packet toward `dst` (routing + neighbour), setting both MACs.
  void route_and_send(pkt::Parsed& p, uint32_t dst, uint64_t now);
  bool lookup_route(uint32_t dst, size_t& port, uint32_t& next_hop) const;
  Neighbor* neighbor(uint32_t ip);
  void learn(size_t port, uint32_t ip, const uint8_t* mac, uint64_t now);
  void send_arp_request(size_t port, uint32_t target_ip, uint64_t now);
  void transmit(size_t port, const uint8_t* buf, size_t len);
  void flush_io();
  void ha_hold_preempt(uint64_t now);  // no preemption while the master's table is on its way  // hands batched frames to the ports; counts the ones that failed
  int find_vip(uint32_t addr, uint8_t proto, uint16_t port_net) const;
  bool is_vip_address(uint32_t addr) const;
  bool is_own_address(uint32_t addr) const;
  void release_flow(uint32_t id, uint64_t now);
  void backend_flow_ended(const FlowEntry& e);  // the backend's live-flow counts
  void count_state(const FlowEntry& e, TcpState from, TcpState to);  // established/other per backend
  void sample_rtt(uint32_t id, Dir dir, const pkt::Parsed& p);
  // Health checks (src/health/health.cpp).
  void init_health(size_t vi, size_t bi, uint64_t now);
  void health_tick(uint64_t now);
  uint64_t next_health_due() const;  // the earliest probe start or timeout (UINT64_MAX: none)
  void send_probe(size_t vi, size_t bi, uint8_t tcp_flags, uint64_t now);
  bool health_reply(pkt::Parsed& p, uint64_t now);
  void probe_result(size_t vi, size_t bi, bool ok, const std::string& what, uint64_t now);
  // Answers for a VIP that cannot serve: a TCP RST, or ICMP destination unreachable
  // (`code`) from `src`, to the packet's sender.
  void send_tcp_rst(pkt::Parsed& p, uint64_t now);
  void send_icmp_unreach(pkt::Parsed& p, uint8_t code, uint16_t mtu, uint32_t src, uint64_t now);
  // Runs fn(vip index, backend index) in the data path for each backend at addr:port of
  // `vip` (or of every VIP); "" when there was one, else why not.
  std::string for_backend(const std::string& vip, const IpAddr& addr, uint16_t port,
                          const std::function<void(size_t, size_t)>& fn);
  std::string for_vips(const std::string& vip, const std::function<void(size_t)>& fn);
  void run_control_requests();
  // VRRP and connection sync (src/ha/ha.cpp).
  void init_ha(uint64_t now);
  void ha_perform(const ha::VrrpActions& acts, uint64_t now);
  void ha_tick(uint64_t now);
  void ha_track(uint64_t now);       // tracking penalties from link and backend states
  uint64_t ha_next_due(uint64_t now) const;  // UINT64_MAX: nothing scheduled
  bool ha_vrrp_frame(size_t port, pkt::Parsed& p, uint64_t now);  // consumed an advertisement
  void send_vrrp_advert(uint8_t priority);
  void send_garps();
  const MacAddr& vip_mac(size_t port) const;  // the MAC ARP answers for a VIP carry
  bool is_ha_address(size_t port, uint32_t addr) const;  // one of [vrrp] addresses, on that port
  void sync_emit(const ha::SyncRecord& r, uint64_t now);
  void sync_flush(uint64_t now);
  void sync_tick(uint64_t now);
  void sync_touched(uint32_t id, TcpState before, uint64_t now);  // after forward()'s touch
  void sync_removed(uint32_t id, uint64_t now);  // before the flow leaves the table
  void sync_persist(size_t vi, uint32_t masked, int bi, uint64_t now);
  void sync_receive(pkt::Parsed& p, uint64_t now);
  void sync_apply(const ha::SyncRecord& r, uint64_t now);
  void sync_apply_flow(const ha::SyncRecord& r, uint64_t now);
  ha::SyncRecord sync_flow_record(uint32_t id, uint64_t now) const;
  int sync_backend(size_t vi, uint32_t addr, uint16_t port) const;  // -1: none

  Config cfg_;
  PacketIo& io_;
  std::vector<Port> ports_;
  std::vector<Route> routes_;
  std::vector<Vip> vips_;
  struct HopCache {
    uint32_t dst = 0;
    size_t port = 0;
    const Neighbor* n = nullptr;  // into neighbors_, which never reallocates nor shrinks
  };
  static constexpr int kHopCacheBits = 6;
  std::array<HopCache, 1u << kHopCacheBits> hop_cache_{};  // send_frame's destinations
  std::vector<uint32_t> vip_addrs_;  // every VIP and PIP (network order), for the packet path
  std::vector<uint32_t> own_addrs_;  // every port's address
  std::vector<Neighbor> neighbors_;
  FlowTable flows_;
  std::vector<std::pair<uint16_t, uint16_t>> probe_owner_;  // probe id - base -> (vip, backend)
  uint16_t probe_ip_id_ = 0;
  static constexpr size_t kTxHeadroom = 64;  // txbuf_ room for an IPIP header before a probe

 public:
  // Health probes use ports (ICMP echo ids) from here up, from the ports' own addresses;
  // proxy flows get PIP ports 1024..kProbeIdBase-1, so a PIP may be a port's address.
  static constexpr uint16_t kProbeIdBase = 61000;

 private:
  FlowTimeouts timeouts_;
  EngineStats stats_;
  std::vector<uint8_t> rxbuf_;
  std::vector<uint8_t> txbuf_;

  std::atomic<bool> running_{false};
  std::atomic<bool> requests_pending_{false};
  std::mutex requests_mu_;
  std::vector<std::function<void()>> requests_;
  int wake_fd_ = -1;  // eventfd: wakes the data path for control requests
  size_t cur_headroom_ = 0, cur_cap_ = 0;  // of the frame being handled
  uint16_t ipip_id_ = 1;

  // VRRP and sync state (src/ha/ha.cpp). Without [vrrp], vrrp is empty and standby false.
  struct Ha {
    std::optional<ha::Vrrp> vrrp;
    bool standby = false;            // answer and forward for no VIP (backup, or stopped)
    bool master = false;             // as performed so far (adverts then carry the virtual MAC)
    size_t port = 0;                 // the VRRP port
    bool virtual_mac = false;
    MacAddr vmac;                    // 00:00:5e:00:01:{vrid}
    // What a GARP announces, (port, address in network order): the VIPs and PIPs on the
    // VRRP port's subnet, and [vrrp] addresses on theirs.
    std::vector<std::pair<size_t, uint32_t>> garp_addrs;
    std::vector<std::pair<size_t, uint32_t>> extra;  // [vrrp] addresses (network order)
    bool link_down = false, backends_down = false;
    uint16_t ip_id = 0;
    std::vector<uint8_t> txbuf;      // adverts, GARPs and sync datagrams are built here
    // Sync.
    bool sync = false;
    size_t sync_port = 0;
    uint32_t sync_addr = 0, peer = 0;  // network order
    uint16_t udp_port = 0;           // host order
    ha::SyncWriter out;
    uint64_t flush_at = UINT64_MAX;
    uint32_t seq = 0;                // of the next datagram we send
    bool peer_seq_known = false;
    uint32_t peer_seq = 0;           // the last one received
    std::vector<uint64_t> told;      // per flow id: the deadline the peer has (0 = not announced)
    bool dump_wanted = false;        // backup: ask the master for its table
    uint64_t started_ms = 0;         // when VRRP started (the table wait counts from it)
    uint64_t dump_request_at = 0;
    uint32_t nonce = 0;
    bool dumping = false;            // master: streaming the table
    uint32_t dump_cursor = 0;        // next flow id, then capacity + VIP index for persistence
    uint32_t dump_persist_pos = 0;
    uint32_t dump_nonce = 0, dump_flows = 0;
    SyncCounters counters;
  } ha_;
};

}  // namespace lb
