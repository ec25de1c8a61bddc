// Scheduling: which backend a new flow goes to. One Scheduler per VIP, owned and called
// by the data-path thread only. It never allocates in pick(); update() may (it rebuilds
// the Maglev table and the smooth-WRR state when backends, weights or states change).
//
// Algorithms (config `algorithm`):
//   rr        round robin over the backends that may take new flows, weights ignored
//   wrr       smooth weighted round robin (nginx): weights 5:1:1 give a a b a c a a
//   lc        least connections: the fewest (established << 8) + other live entries
//   wlc       weighted least connections: that load divided by the weight
//   rtt       fastest response: the lowest measured response time (see below)
//   priority  priority groups (as F5 BIG-IP's): the groups are taken in preference
//             order (lowest `group` number first) until together they have at least
//             `min_active` members that take new flows; only those groups serve, by
//             smooth WRR. So traffic stays in group 1 while it has min_active usable
//             members and spills over to group 2 as well when it has fewer.
//   sh        source hash: weighted rendezvous hash of the client address
//   maglev    Maglev consistent hashing (weighted) of the flow's 5-tuple hash; table
//             size prime, 65537 by default. When backends only leave (removed, drained,
//             down; the others' weights unchanged), the slots of those that stay are
//             kept and only the leavers' slots are refilled from the fresh table: no
//             flow hash moves between two remaining backends. Any other change (an
//             addition, a weight) rebuilds the table from scratch, as the paper does.
//
// Every algorithm skips backends that may not take new flows: weight 0 (draining),
// down (health), or removed. pick() returns -1 when none may.
//
// rtt: each backend's score is its moving average response time (RttEstimator). New
// flows go round robin over the backends whose score is within max(1 ms, 50 %) of the
// fastest, so equally fast servers share the load. Unmeasured backends are tried first.
// One new flow in kRttExploreEvery goes round robin over the others, so a slow server
// keeps being measured and wins traffic back when it recovers.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "lb/config/config.hpp"

namespace lb {

// What the scheduler knows of one backend at pick() time. The engine keeps one per
// backend and refreshes the counts as flows come and go.
struct SchedBackend {
  uint32_t key = 0;          // stable identity for hashing: hash of address and port
  uint32_t weight = 1;       // 0: draining, no new flows
  uint32_t group = 1;        // priority group: 1 is the most preferred
  bool up = true;            // health: false, no new flows
  bool removed = false;      // taken out at runtime: no new flows
  uint32_t established = 0;  // live flows in state established (lc, wlc)
  uint32_t other = 0;        // live flows in any other state
  double rtt_ms = -1;        // response-time score, < 0: not measured yet (rtt)

  bool takes_new_flows() const { return weight > 0 && up && !removed; }
};

struct SchedOptions {
  Algorithm algorithm = Algorithm::rr;
  uint32_t min_active = 1;             // priority: usable members a group needs
  uint32_t maglev_table_size = 65537;  // maglev: a prime
};

inline constexpr uint32_t kRttExploreEvery = 16;

class Scheduler {
 public:
  explicit Scheduler(const SchedOptions& o = {});

  // Call after backends were added or removed, or a weight, group, up or removed flag
  // changed (not for connection counts or RTT, which pick() reads as they are).
  void update(std::span<const SchedBackend> b);
  // Switches the algorithm (lbctl algo); calls update().
  void set_algorithm(Algorithm a, std::span<const SchedBackend> b);
  Algorithm algorithm() const { return opt_.algorithm; }

  // The backend for a new flow: an index into b, or -1 when none may take it.
  // `src_hash` hashes the client address (sh), `flow_hash` the 5-tuple (maglev).
  int pick(std::span<const SchedBackend> b, uint32_t src_hash, uint32_t flow_hash);

  // For tests and lbctl: the Maglev lookup table (backend index per slot, -1 empty).
  const std::vector<int32_t>& maglev_table() const { return maglev_; }

 private:
  int pick_rr(std::span<const SchedBackend> b, std::span<const uint8_t> allowed);
  int pick_wrr(std::span<const SchedBackend> b, std::span<const uint8_t> allowed);
  int pick_lc(std::span<const SchedBackend> b, bool weighted);
  int pick_rtt(std::span<const SchedBackend> b);
  int pick_sh(std::span<const SchedBackend> b, uint32_t src_hash);
  void build_maglev(std::span<const SchedBackend> b);
  void fill_maglev(std::span<const SchedBackend> b);  // the table from scratch
  void choose_group(std::span<const SchedBackend> b);

  SchedOptions opt_;
  size_t rr_next_ = 0;
  std::vector<int64_t> wrr_current_;  // smooth WRR: current weight per backend
  std::vector<int32_t> maglev_;       // slot -> backend index
  std::vector<uint32_t> maglev_w_;    // the weights the table was built for (0: not in it)
  std::vector<uint8_t> in_group_;     // priority: backends of the serving group
  std::vector<uint8_t> all_;          // every backend allowed (rr, wrr without groups)
  uint32_t explore_count_ = 0;
  size_t explore_next_ = 0;
};

// Response time per backend, as an exponentially weighted moving average of samples in
// microseconds (alpha 1/4). Two kinds of sample: connect (SYN -> SYN-ACK as the LB sees
// it, and health-probe round trips) and response (a flow's first request payload ->
// first response payload). The score is connect + response, the time a client waits
// for its first byte beyond the network to the LB; a kind never sampled counts 0.
class RttEstimator {
 public:
  void add_connect_us(uint32_t us);
  void add_response_us(uint32_t us);
  bool measured() const { return connect_n_ + response_n_ > 0; }
  double score_ms() const;  // -1 when never measured
  double connect_ms() const;   // -1 when never measured
  double response_ms() const;  // -1 when never measured
  uint64_t samples() const { return connect_n_ + response_n_; }

 private:
  double connect_us_ = 0, response_us_ = 0;
  uint64_t connect_n_ = 0, response_n_ = 0;
};

// Source-IP persistence (per VIP): client address & netmask -> backend, for `timeout`
// seconds after the client's last new flow. Fixed capacity, allocated once; when full
// the least recently used record is evicted and counted.
class PersistTable {
 public:
  PersistTable(uint32_t capacity, uint32_t timeout_ms);
  // The backend recorded for this masked source (network order), or -1 (none, or expired).
  int lookup(uint32_t masked_src, uint64_t now_ms);
  // Records or refreshes masked_src -> backend; expires at now + timeout.
  void record(uint32_t masked_src, int backend, uint64_t now_ms) { record_until(masked_src, backend, now_ms + timeout_ms_); }
  // The same with an explicit deadline (a record taken over from a sync peer).
  void record_until(uint32_t masked_src, int backend, uint64_t expires_ms);
  // Record i (0 <= i < size()), in no particular order; records move when one is erased.
  struct Entry {
    uint32_t src = 0;  // masked source, network order
    int backend = -1;
    uint64_t expires_ms = 0;
  };
  Entry entry(uint32_t i) const { return Entry{recs_[i].src, recs_[i].backend, recs_[i].expires_ms}; }
  uint32_t timeout_ms() const { return timeout_ms_; }
  // Drops every record pointing at backend (it was removed).
  void forget_backend(int backend);
  uint32_t size() const;
  uint64_t evictions() const { return evictions_; }

 private:
  struct Rec {
    uint32_t src = 0;
    int32_t backend = -1;
    uint64_t expires_ms = 0;
    uint32_t prev = 0, next = 0;  // LRU list (indices into recs_), 0xffffffff = none
    bool used = false;
  };
  uint32_t find(uint32_t src) const;
  void unlink(uint32_t i);
  void push_front(uint32_t i);
  void erase(uint32_t i);

  std::vector<Rec> recs_;
  std::vector<uint32_t> slots_;  // open addressing: rec index + 1, 0 = empty
  uint32_t mask_ = 0;
  uint32_t timeout_ms_ = 0;
  uint32_t head_ = 0xffffffffu, tail_ = 0xffffffffu;
  uint32_t used_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace lb
