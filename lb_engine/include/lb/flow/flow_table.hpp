// The connection table: IPv4 5-tuple flows, each reachable by two keys (the packet as
// the client sends it, and the packet as the backend sends its reply), with TCP state
// tracking and per-state idle timeouts. Fixed capacity, allocated once; no allocation
// on lookup, insert or removal.
//
// The table also keeps its flows in least-recently-used order: insert and touch make a
// flow the most recent, remove takes it out, and oldest() names the least recent (the
// one to give up when the table is full). The links live beside the entries, not in
// FlowEntry, which stays one 64-byte cache line.
#pragma once
#include <cstdint>
#include <cstddef>
#include <vector>

namespace lb {

struct FlowKey {
  uint32_t saddr = 0;  // network order
  uint32_t daddr = 0;  // network order
  uint16_t sport = 0;  // network order
  uint16_t dport = 0;  // network order
  uint8_t proto = 0;
  uint8_t pad[3] = {0, 0, 0};
  bool operator==(const FlowKey& o) const {
    return saddr == o.saddr && daddr == o.daddr && sport == o.sport && dport == o.dport &&
           proto == o.proto;
  }
};
static_assert(sizeof(FlowKey) == 16);

enum class TcpState : uint8_t { none, syn_sent, syn_recv, established, fin_wait, closing, closed };
const char* to_string(TcpState s);

enum class Dir : uint8_t { original = 0, reply = 1 };  // client→server, server→client

struct FlowEntry {
  FlowKey key[2];          // [original], [reply]
  uint64_t expires_ms = 0; // monotonic deadline
  uint64_t created_ms = 0;
  uint32_t packets[2] = {0, 0};
  uint16_t vip = 0;        // index into the engine's VIP table
  uint16_t backend = 0;    // index into that VIP's backends
  TcpState state = TcpState::none;
  uint8_t fin_seen = 0;    // bit 0: original direction sent FIN, bit 1: reply direction
  bool in_use = false;
  bool one_way = false;    // DSR: only the client's direction crosses the LB
};

struct FlowTimeouts {  // milliseconds
  uint64_t tcp_syn = 30000, tcp_established = 900000, tcp_fin = 60000, tcp_close = 10000,
           udp = 60000;
};

class FlowTable {
 public:
  static constexpr uint32_t kNone = 0xffffffffu;
  explicit FlowTable(uint32_t capacity);

  struct Hit {
    uint32_t id = kNone;
    Dir dir = Dir::original;
    bool expired = false;  // found, but past its deadline: the caller releases it
    explicit operator bool() const { return id != kNone && !expired; }
  };

  // The flow a packet with this key belongs to. A flow past its deadline at `now_ms` is
  // returned with `expired` set (and tests false), so its owner can account for it and
  // remove it.
  Hit lookup(const FlowKey& k, uint64_t now_ms) const;

  // Adds a flow with both keys; returns its id, or kNone when the table is full or a key
  // is already present. A one-way flow (DSR: replies bypass the LB) has no reply key.
  uint32_t insert(const FlowKey& original, const FlowKey& reply, uint64_t now_ms);
  uint32_t insert_one_way(const FlowKey& original, uint64_t now_ms);
  // Whether some flow owns this key (expired or not).
  bool contains(const FlowKey& k) const { return find_slot(k, hash_key(k)) != kNone; }

  // Frees the flow's id and keys; nothing when it is not in use.
  void remove(uint32_t id);
  // The least recently inserted or touched flow in use, or kNone when the table is empty.
  uint32_t oldest() const { return lru_tail_; }
  FlowEntry& at(uint32_t id) { return entries_[id]; }
  const FlowEntry& at(uint32_t id) const { return entries_[id]; }

  // Advances the TCP state for a packet with `tcp_flags` seen in `dir`, refreshes the
  // deadline from `t` and makes the flow the most recently used. For UDP pass proto 17
  // and flags 0.
  void touch(uint32_t id, Dir dir, uint8_t proto, uint8_t tcp_flags, uint64_t now_ms,
             const FlowTimeouts& t);

  // Visits up to `budget` entries from where the last sweep stopped and removes expired
  // ones. Calls on_expire(id) before each removal. Returns how many it removed.
  template <typename F>
  uint32_t sweep(uint64_t now_ms, uint32_t budget, F&& on_expire) {
    uint32_t removed = 0;
    const uint32_t n = static_cast<uint32_t>(entries_.size());
    for (uint32_t i = 0; i < budget && n; ++i) {
      sweep_pos_ = (sweep_pos_ + 1) % n;
      FlowEntry& e = entries_[sweep_pos_];
      if (e.in_use && e.expires_ms <= now_ms) {
        on_expire(sweep_pos_);
        remove(sweep_pos_);
        ++removed;
      }
    }
    return removed;
  }

  uint32_t size() const { return used_; }
  // What the table holds in memory for its capacity: entries, key slots, LRU links, free list.
  std::size_t memory_bytes() const {
    return entries_.capacity() * sizeof(FlowEntry) + slots_.capacity() * sizeof(Slot) + lru_.capacity() * sizeof(Link) +
           free_.capacity() * sizeof(uint32_t);
  }
  uint32_t capacity() const { return static_cast<uint32_t>(entries_.size()); }

  template <typename F>
  void for_each(F&& f) const {
    for (uint32_t i = 0; i < entries_.size(); ++i)
      if (entries_[i].in_use) f(i, entries_[i]);
  }

 private:
  struct Slot {
    uint32_t ref = 0;   // 0 = empty, else (id << 1 | dir) + 1
    uint32_t hash = 0;
  };
  static uint32_t hash_key(const FlowKey& k);
  uint32_t find_slot(const FlowKey& k, uint32_t h) const;  // index of the slot or kNone
  void insert_slot(uint32_t h, uint32_t ref);
  void erase_slot(uint32_t idx);
  void lru_unlink(uint32_t id);
  void lru_push_front(uint32_t id);  // makes id the most recent

  struct Link {
    uint32_t prev = kNone;  // toward the most recent
    uint32_t next = kNone;  // toward the least recent
  };

  std::vector<FlowEntry> entries_;
  std::vector<uint32_t> free_;
  std::vector<Slot> slots_;
  std::vector<Link> lru_;        // per entry; only flows in use are linked
  uint32_t lru_head_ = kNone;    // most recently used
  uint32_t lru_tail_ = kNone;    // least recently used
  uint32_t mask_ = 0;
  uint32_t used_ = 0;
  uint32_t sweep_pos_ = 0;
};

}  // namespace lb
