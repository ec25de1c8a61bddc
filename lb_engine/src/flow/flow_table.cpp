#include "lb/flow/flow_table.hpp"

#include <sys/mman.h>

#include <new>
#include <random>
#include <stdexcept>
#include <string>

namespace lb {

const char* to_string(TcpState s) {
  switch (s) {
    case TcpState::none: return "none";
    case TcpState::syn_sent: return "syn_sent";
    case TcpState::syn_recv: return "syn_recv";
    case TcpState::established: return "established";
    case TcpState::fin_wait: return "fin_wait";
    case TcpState::closing: return "closing";
    case TcpState::closed: return "closed";
  }
  return "?";
}

namespace {

// Anonymous memory: zero pages the kernel fills as they are touched, with huge pages
// asked for (a 10M-flow table is 640 MB; 4K pages would make most lookups a TLB miss).
void* map_zeroed(std::size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  ::madvise(p, bytes, MADV_HUGEPAGE);  // advice only: without THP the table still works
#endif
  return p;
}

}  // namespace

FlowTable::FlowTable(uint32_t capacity) : capacity_(capacity ? capacity : 1) {
  std::random_device rd;
  seed_ = (uint64_t{rd()} << 32) | rd();
  if (capacity_ > kMaxCapacity)
    throw std::invalid_argument("flow table: " + std::to_string(capacity_) + " flows is above the most it holds (" +
                                std::to_string(kMaxCapacity) + ")");
  nslots_ = capacity_ * 3;
  entries_bytes_ = std::size_t{capacity_} * sizeof(FlowEntry);
  slots_bytes_ = std::size_t{nslots_} * sizeof(uint32_t);
  entries_ = static_cast<FlowEntry*>(map_zeroed(entries_bytes_));
  try {
    slots_ = static_cast<uint32_t*>(map_zeroed(slots_bytes_));
  } catch (...) {
    ::munmap(entries_, entries_bytes_);
    throw;
  }
}

FlowTable::~FlowTable() {
  ::munmap(entries_, entries_bytes_);
  ::munmap(slots_, slots_bytes_);
}

uint32_t FlowTable::hash_key(const FlowKey& k) const {
  // The 13 meaningful bytes folded into 64 bits with this table's random seed, then
  // MurmurHash3's fmix64: every input bit reaches every output bit, so keys that differ
  // only in a port (a proxy's replies, one client's connections) land far apart, as
  // linear probing needs; and where keys collide is not the same from one run to the next.
  const uint64_t a = ((uint64_t{k.saddr} << 32) | k.daddr) ^ seed_;
  const uint64_t b = (uint64_t{k.sport} << 32) | (uint64_t{k.dport} << 16) | k.proto;
  uint64_t h = a * 0x9e3779b97f4a7c15ull ^ b;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return static_cast<uint32_t>(h);
}

uint32_t FlowTable::find_slot(const FlowKey& k, uint32_t h) const {
  const uint32_t tag = slot_of(h, 0);
  for (uint32_t i = home(h);; i = next(i)) {
    const uint32_t s = slots_[i];
    if (s == 0) return kNone;
    if ((s & ~kRefMask) == tag && key_of(s) == k) return i;
  }
}

void FlowTable::insert_slot(uint32_t h, uint32_t ref) {
  uint32_t i = home(h);
  while (slots_[i] != 0) i = next(i);
  slots_[i] = slot_of(h, ref);
}

// Linear probing with backward-shift deletion: no tombstones, probes stay short. A slot
// keeps only a tag of its hash, so the home of each slot looked at is computed again
// from its key (deletions are per flow, not per packet).
void FlowTable::erase_slot(uint32_t idx) {
  // Ask for the entries of the run after idx first, so that their cache misses overlap.
  for (uint32_t j = next(idx); slots_[j] != 0; j = next(j)) {
    const uint32_t r = (slots_[j] & kRefMask) - 1;
    __builtin_prefetch(&entries_[r >> 1].key[r & 1]);
  }
  uint32_t hole = idx;
  for (uint32_t j = next(idx); slots_[j] != 0; j = next(j)) {
    const uint32_t h = home(hash_key(key_of(slots_[j])));
    // Move j into the hole if its home is not cyclically within (hole, j].
    const bool between = hole <= j ? (h > hole && h <= j) : (h > hole || h <= j);
    if (!between) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = 0;
}

uint32_t FlowTable::take_id() {
  if (free_head_ != kNone) {
    const uint32_t id = free_head_;
    free_head_ = entries_[id].expires32;
    return id;
  }
  return fresh_ < capacity_ ? fresh_++ : kNone;
}

FlowTable::Hit FlowTable::lookup(const FlowKey& k, uint64_t now_ms) const {
  const uint32_t i = find_slot(k, hash_key(k));
  if (i == kNone) return {};
  const uint32_t r = (slots_[i] & kRefMask) - 1;
  const uint32_t id = r >> 1;
  return Hit{id, static_cast<Dir>(r & 1), entries_[id].expired(now_ms)};
}

uint32_t FlowTable::insert(const FlowKey& original, const FlowKey& reply, uint64_t now_ms) {
  return add(original, &reply, now_ms);
}

uint32_t FlowTable::insert_one_way(const FlowKey& original, uint64_t now_ms) {
  return add(original, nullptr, now_ms);
}

uint32_t FlowTable::add(const FlowKey& original, const FlowKey* reply, uint64_t now_ms) {
  if (used_ >= capacity_ || original.proto == 0 || (reply && reply->proto == 0)) return kNone;
  const uint32_t h0 = hash_key(original), h1 = reply ? hash_key(*reply) : 0;
  if (find_slot(original, h0) != kNone) return kNone;
  if (reply && (original == *reply || find_slot(*reply, h1) != kNone)) return kNone;
  const uint32_t id = take_id();
  FlowEntry& e = entries_[id];
  e = FlowEntry{};
  e.key[0] = original;
  if (reply) e.key[1] = *reply;
  e.set_created(now_ms);
  e.set_expires(now_ms + 1000);
  e.one_way = reply ? 0 : 1;
  insert_slot(h0, (id << 1) + 1);
  if (reply) insert_slot(h1, ((id << 1) | 1) + 1);
  ++used_;
  return id;
}

void FlowTable::remove(uint32_t id) {
  if (id >= fresh_) return;
  FlowEntry& e = entries_[id];
  if (!e.in_use()) return;
  for (int d = 0; d < (e.one_way ? 1 : 2); ++d) {
    const uint32_t i = find_slot(e.key[d], hash_key(e.key[d]));
    if (i != kNone) erase_slot(i);
  }
  e = FlowEntry{};  // protocol 0: free
  e.expires32 = free_head_;
  free_head_ = id;
  --used_;
}

uint32_t FlowTable::victim() {
  if (used_ == 0) return kNone;
  uint32_t spared = kNone;
  for (uint32_t looked = 0; looked < kVictimScan || spared == kNone;) {
    hand_ = hand_ + 1 >= fresh_ ? 0 : hand_ + 1;
    FlowEntry& e = entries_[hand_];
    if (!e.in_use()) continue;
    ++looked;
    if (!e.referenced) return hand_;
    e.referenced = 0;
    if (spared == kNone) spared = hand_;
  }
  return spared;
}

void FlowTable::touch(uint32_t id, Dir dir, uint8_t proto, uint8_t flags, uint64_t now_ms,
                      const FlowTimeouts& t) {
  FlowEntry& e = entries_[id];
  ++e.packets[static_cast<int>(dir)];
  if (proto != 6) {
    e.referenced = 1;
    e.set_expires(now_ms + t.udp);
    return;
  }
  constexpr uint8_t kFin = 0x01, kSyn = 0x02, kRst = 0x04, kAck = 0x10;
  const bool orig = dir == Dir::original;
  if (flags & kRst) {
    e.state = TcpState::closed;
  } else if (flags & kFin) {
    e.fin_seen |= orig ? 1 : 2;
    e.state = e.fin_seen == 3 ? TcpState::closing : TcpState::fin_wait;
  } else if (e.state == TcpState::none && orig && (flags & kSyn)) {
    e.state = TcpState::syn_sent;
  } else if (e.state == TcpState::syn_sent && !orig && (flags & kSyn) && (flags & kAck)) {
    e.state = TcpState::syn_recv;
  } else if (e.state == TcpState::syn_recv && orig && (flags & kAck) && !(flags & kSyn)) {
    e.state = TcpState::established;
  } else if (e.one_way && (e.state == TcpState::syn_sent || e.state == TcpState::none) && (flags & kAck) &&
             !(flags & kSyn)) {
    // DSR: the SYN-ACK went straight to the client; or (none) a flow picked up mid-stream.
    e.state = TcpState::established;
  }
  uint64_t idle = t.tcp_established;
  switch (e.state) {
    case TcpState::none:
    case TcpState::syn_sent:
    case TcpState::syn_recv: idle = t.tcp_syn; break;
    case TcpState::established: idle = t.tcp_established; break;
    case TcpState::fin_wait: idle = t.tcp_fin; break;
    case TcpState::closing:
    case TcpState::closed: idle = t.tcp_close; break;
  }
  if (e.state == TcpState::established) e.referenced = 1;
  e.set_expires(now_ms + idle);
}

}  // namespace lb
