// The connection table: IPv4 5-tuple flows, each reachable by two keys (the packet as
// the client sends it, and the packet as the backend sends its reply), with TCP state
// tracking and per-state idle timeouts. Fixed capacity, mapped once (huge pages where the
// kernel gives them); no allocation on lookup, insert or removal.
//
// Memory: 64 bytes a flow in all. The entry is 52 bytes; the keys live in an open-
// addressing index of 4-byte slots, three per flow (linear probing, at most 2/3 full,
// backward-shift deletion). When the table is full, victim() picks the flow to give up
// by second chance (CLOCK) rather than an exact LRU list, which would cost 8 bytes a flow
// and two more cache lines written on every packet.
#pragma once
#include <cstdint>
#include <cstddef>
#include <vector>

namespace lb {

// Packed: 13 bytes, so that a flow's two keys take 26 bytes of its entry.
struct __attribute__((packed)) FlowKey {
  uint32_t saddr = 0;  // network order
  uint32_t daddr = 0;  // network order
  uint16_t sport = 0;  // network order
  uint16_t dport = 0;  // network order
  uint8_t proto = 0;   // 0 only in a free entry
  bool operator==(const FlowKey& o) const {
    return saddr == o.saddr && daddr == o.daddr && sport == o.sport && dport == o.dport &&
           proto == o.proto;
  }
};
static_assert(sizeof(FlowKey) == 13);

enum class TcpState : uint8_t { none, syn_sent, syn_recv, established, fin_wait, closing, closed };
const char* to_string(TcpState s);

enum class Dir : uint8_t { original = 0, reply = 1 };  // client→server, server→client

// One flow in 52 bytes. Times are the engine's millisecond clock (Engine::now_ms) kept
// to 32 bits and read back relative to `now`: a deadline works while it lies within
// 24 days of now (idle timeouts are at most 7), an age up to 49 days.
struct FlowEntry {
  uint32_t expires32 = 0;       // the deadline, truncated
  uint32_t created32 = 0;       // when the flow was made, truncated
  uint32_t packets[2] = {0, 0};
  uint32_t rtt_mark_us = 0;     // the engine's RTT sampling: when the timed packet passed (µs, truncated)
  FlowKey key[2];               // [original], [reply]
  uint16_t vip = 0;             // index into the engine's VIP table
  uint16_t backend = 0;         // index into that VIP's backends
  TcpState state = TcpState::none;
  uint8_t fin_seen : 2 = 0;     // bit 0: original direction sent FIN, bit 1: reply direction
  uint8_t one_way : 1 = 0;      // DSR: only the client's direction crosses the LB
  uint8_t referenced : 1 = 0;   // used since the eviction hand last passed (see FlowTable::victim)
  uint8_t rtt_marks : 4 = 0;    // the engine's RTT sampling progress

  bool in_use() const { return key[0].proto != 0; }
  bool expired(uint64_t now_ms) const { return static_cast<int32_t>(expires32 - static_cast<uint32_t>(now_ms)) <= 0; }
  // The deadline on the 64-bit clock.
  uint64_t expires_at(uint64_t now_ms) const {
    return now_ms + static_cast<int64_t>(static_cast<int32_t>(expires32 - static_cast<uint32_t>(now_ms)));
  }
  void set_expires(uint64_t t_ms) { expires32 = static_cast<uint32_t>(t_ms); }
  uint64_t age_ms(uint64_t now_ms) const { return static_cast<uint32_t>(static_cast<uint32_t>(now_ms) - created32); }
  void set_created(uint64_t t_ms) { created32 = static_cast<uint32_t>(t_ms); }
};
static_assert(sizeof(FlowEntry) == 52);

struct FlowTimeouts {  // milliseconds
  uint64_t tcp_syn = 30000, tcp_established = 900000, tcp_fin = 60000, tcp_close = 10000,
           udp = 60000;
};

class FlowTable {
 public:
  static constexpr uint32_t kNone = 0xffffffffu;
  // Key slots name a flow in 25 bits (id and direction), which bounds the table.
  static constexpr uint32_t kMaxCapacity = (1u << 24) - 1;
  // Throws std::invalid_argument above kMaxCapacity, std::bad_alloc when memory is short.
  explicit FlowTable(uint32_t capacity);
  ~FlowTable();
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

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

  // Adds a flow with both keys; returns its id, or kNone when the table is full, a key is
  // already present, or a key has protocol 0. A one-way flow (DSR: replies bypass the LB)
  // has no reply key.
  uint32_t insert(const FlowKey& original, const FlowKey& reply, uint64_t now_ms);
  uint32_t insert_one_way(const FlowKey& original, uint64_t now_ms);

  // Frees the flow's id and keys; nothing when it is not in use.
  void remove(uint32_t id);
  // The flow to give up when the table is full: second chance (CLOCK). A hand moves over
  // the entries; a flow used since the hand last passed (its `referenced` bit) is spared
  // once and its bit cleared; the first flow without the bit is the victim. touch() sets
  // the bit only for established TCP flows and for UDP, so embryonic flows (a SYN flood)
  // go first. The scan is bounded: after kVictimScan flows that were all spared, the
  // first of them is taken. kNone when the table is empty.
  uint32_t victim();
  static constexpr uint32_t kVictimScan = 64;
  FlowEntry& at(uint32_t id) { return entries_[id]; }
  const FlowEntry& at(uint32_t id) const { return entries_[id]; }

  // Advances the TCP state for a packet with `tcp_flags` seen in `dir`, refreshes the
  // deadline from `t` and marks the flow used (see victim()). For UDP pass proto 17 and
  // flags 0.
  void touch(uint32_t id, Dir dir, uint8_t proto, uint8_t tcp_flags, uint64_t now_ms,
             const FlowTimeouts& t);

  // Visits up to `budget` entries from where the last sweep stopped and removes expired
  // ones. Calls on_expire(id) before each removal. Returns how many it removed.
  template <typename F>
  uint32_t sweep(uint64_t now_ms, uint32_t budget, F&& on_expire) {
    uint32_t removed = 0;
    const uint32_t n = fresh_;  // ids beyond were never handed out
    for (uint32_t i = 0; i < budget && n; ++i) {
      sweep_pos_ = sweep_pos_ + 1 >= n ? 0 : sweep_pos_ + 1;
      FlowEntry& e = entries_[sweep_pos_];
      if (e.in_use() && e.expired(now_ms)) {
        on_expire(sweep_pos_);
        remove(sweep_pos_);
        ++removed;
      }
    }
    return removed;
  }

  uint32_t size() const { return used_; }
  // What the table maps for its capacity: the entries and the key slots. Pages are
  // touched as flows arrive, so a table that never fills uses less.
  std::size_t memory_bytes() const { return entries_bytes_ + slots_bytes_; }
  uint32_t capacity() const { return capacity_; }

  template <typename F>
  void for_each(F&& f) const {
    for (uint32_t i = 0; i < fresh_; ++i)
      if (entries_[i].in_use()) f(i, entries_[i]);
  }

 private:
  // A key slot: 0 = empty, else a 7-bit tag of the key's hash above 25 bits that name
  // the entry and direction ((id << 1 | dir) + 1). A tag mismatch skips the entry read.
  static constexpr uint32_t kRefBits = 25, kRefMask = (1u << kRefBits) - 1;
  uint32_t hash_key(const FlowKey& k) const;
  static uint32_t slot_of(uint32_t h, uint32_t ref) { return (h & 0x7fu) << kRefBits | ref; }
  uint32_t home(uint32_t h) const { return static_cast<uint32_t>((uint64_t{h} * nslots_) >> 32); }
  uint32_t next(uint32_t i) const { return i + 1 == nslots_ ? 0 : i + 1; }
  const FlowKey& key_of(uint32_t slot) const {
    const uint32_t r = (slot & kRefMask) - 1;
    return entries_[r >> 1].key[r & 1];
  }
  uint32_t find_slot(const FlowKey& k, uint32_t h) const;  // index of the slot or kNone
  void insert_slot(uint32_t h, uint32_t ref);
  void erase_slot(uint32_t idx);
  uint32_t take_id();
  uint32_t add(const FlowKey& original, const FlowKey* reply, uint64_t now_ms);  // reply null: one way

  FlowEntry* entries_ = nullptr;  // capacity_ entries, zero pages: every one a free FlowEntry{}
  uint32_t* slots_ = nullptr;     // nslots_ = 3 x capacity: two keys a flow, at most 2/3 full
  std::size_t entries_bytes_ = 0, slots_bytes_ = 0;
  uint32_t capacity_ = 0;
  uint32_t nslots_ = 0;
  uint32_t fresh_ = 0;            // ids below were handed out at least once
  uint32_t free_head_ = kNone;    // freed ids, linked through their expires32
  uint32_t used_ = 0;
  uint32_t sweep_pos_ = 0;
  uint32_t hand_ = 0;             // the eviction hand
  uint64_t seed_ = 0;             // mixed into every key's hash
};

}  // namespace lb
