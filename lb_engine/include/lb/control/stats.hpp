// Counters the data path writes and the control plane reads. One writer (the data-path
// thread) per counter: bump() is a relaxed load+store, no locked instruction.
#pragma once
#include <atomic>
#include <cstdint>

namespace lb {

// Why a frame was not forwarded. Each has a counter; names are what lbctl prints.
enum class Drop : uint8_t {
  frame_too_short,     // shorter than an Ethernet header, or vnet_hdr missing
  not_our_mac,         // unicast to another MAC (a bridge flooding)
  unknown_ethertype,   // neither IPv4 nor ARP
  arp_malformed,
  arp_not_for_us,      // ARP for an address we do not own (counted, not answered)
  ip_malformed,        // version, header length or total length wrong
  ip_bad_checksum,
  ip_fragment,         // fragments are not load balanced (yet)
  ttl_exceeded,
  l4_malformed,        // truncated TCP/UDP/ICMP header
  no_service,          // to a VIP address, but no VIP serves this protocol and port
  not_for_vip,         // to an address that is neither a VIP, ours, nor a known flow
  no_flow,             // TCP without SYN and without a flow entry
  no_backend,          // no usable backend for a new flow
  flow_table_full,
  flow_conflict,       // the flow's reply key is taken by another flow
  proxy_ports_exhausted,  // proxy: no free PIP port toward that server
  icmp_unhandled,      // ICMP to us that is not an echo request
  no_route,
  neigh_unresolved,    // next hop MAC not known yet (an ARP request was sent)
  tunnel_too_big,      // would exceed the MTU once encapsulated (DF packets get ICMP frag-needed)
  tunnel_gso,          // a GSO super-frame for a tunnel VIP (TSO should be off on such engines)
  backend_down,        // a packet of a flow whose backend is down, on a VIP that resets such flows
  vrrp_backup,         // VRRP backup: ARP for a VIP, or traffic it would forward (the master serves it)
  tx_error,
  count_
};
const char* to_string(Drop d);

inline void bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

struct PortStats {
  std::atomic<uint64_t> rx_packets{0}, rx_bytes{0}, tx_packets{0}, tx_bytes{0};
};

struct BackendStats {
  std::atomic<uint64_t> packets_to{0}, bytes_to{0}, packets_from{0}, bytes_from{0};
  std::atomic<uint64_t> flows_total{0};
  std::atomic<uint32_t> flows_active{0};
};

struct EngineStats {
  std::atomic<uint64_t> drops[static_cast<size_t>(Drop::count_)]{};
  std::atomic<uint64_t> arp_replies{0}, arp_requests_sent{0}, icmp_echo_replies{0};
  std::atomic<uint64_t> icmp_frag_needed_sent{0}, icmp_errors_translated{0};
  std::atomic<uint64_t> flows_created{0}, flows_expired{0};
  std::atomic<uint64_t> flows_evicted{0};  // the table was full: a flow (FlowTable::victim) made room
  std::atomic<uint64_t> flows_picked_up{0};  // DSR + consistent hash: a flow met mid-stream (no SYN seen)
  std::atomic<uint64_t> health_probes_sent{0}, health_replies{0}, health_up{0}, health_down{0};
  std::atomic<uint64_t> resets_sent{0}, unreachables_sent{0};  // for VIPs whose backends are all down
  std::atomic<uint32_t> flows_active{0};
  void drop(Drop d) { bump(drops[static_cast<size_t>(d)]); }
};

}  // namespace lb
