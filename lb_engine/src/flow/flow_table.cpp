#include "lb/flow/flow_table.hpp"

#include <bit>
#include <cstring>

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

FlowTable::FlowTable(uint32_t capacity) : entries_(capacity ? capacity : 1), lru_(entries_.size()) {
  // Two keys per flow; keep the load factor at or below 1/2.
  uint32_t slots = std::bit_ceil(static_cast<uint32_t>(entries_.size()) * 4u);
  slots_.assign(slots, Slot{});
  mask_ = slots - 1;
  free_.reserve(entries_.size());
  for (uint32_t i = static_cast<uint32_t>(entries_.size()); i-- > 0;) free_.push_back(i);
}

uint32_t FlowTable::hash_key(const FlowKey& k) {
  // Two rounds of a multiply-xorshift mix over the 13 meaningful bytes.
  uint64_t a = (uint64_t{k.saddr} << 32) | k.daddr;
  uint64_t b = (uint64_t{k.sport} << 32) | (uint64_t{k.dport} << 16) | k.proto;
  uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 32;
  return static_cast<uint32_t>(h) | 1u;  // never 0, so hash alone never looks empty
}

uint32_t FlowTable::find_slot(const FlowKey& k, uint32_t h) const {
  for (uint32_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.ref == 0) return kNone;
    if (s.hash == h) {
      uint32_t r = s.ref - 1;
      if (entries_[r >> 1].key[r & 1] == k) return i;
    }
  }
}

void FlowTable::insert_slot(uint32_t h, uint32_t ref) {
  uint32_t i = h & mask_;
  while (slots_[i].ref != 0) i = (i + 1) & mask_;
  slots_[i] = Slot{ref, h};
}

// Linear probing with backward-shift deletion: no tombstones, probes stay short.
void FlowTable::erase_slot(uint32_t idx) {
  uint32_t hole = idx;
  for (uint32_t j = (idx + 1) & mask_; slots_[j].ref != 0; j = (j + 1) & mask_) {
    uint32_t home = slots_[j].hash & mask_;
    // Move j into the hole if its home is not cyclically within (hole, j].
    bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!between) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = Slot{};
}

void FlowTable::lru_unlink(uint32_t id) {
  Link& l = lru_[id];
  (l.prev != kNone ? lru_[l.prev].next : lru_head_) = l.next;
  (l.next != kNone ? lru_[l.next].prev : lru_tail_) = l.prev;
  l = Link{};
}

void FlowTable::lru_push_front(uint32_t id) {
  Link& l = lru_[id];
  l.prev = kNone;
  l.next = lru_head_;
  (lru_head_ != kNone ? lru_[lru_head_].prev : lru_tail_) = id;
  lru_head_ = id;
}

FlowTable::Hit FlowTable::lookup(const FlowKey& k, uint64_t now_ms) const {
  const uint32_t h = hash_key(k);
  const uint32_t i = find_slot(k, h);
  if (i == kNone) return {};
  const uint32_t r = slots_[i].ref - 1;
  const uint32_t id = r >> 1;
  return Hit{id, static_cast<Dir>(r & 1), entries_[id].expires_ms <= now_ms};
}

uint32_t FlowTable::insert(const FlowKey& original, const FlowKey& reply, uint64_t now_ms) {
  if (free_.empty()) return kNone;
  const uint32_t h0 = hash_key(original), h1 = hash_key(reply);
  if (find_slot(original, h0) != kNone || find_slot(reply, h1) != kNone) return kNone;
  const uint32_t id = free_.back();
  free_.pop_back();
  FlowEntry& e = entries_[id];
  e = FlowEntry{};
  e.key[0] = original;
  e.key[1] = reply;
  e.created_ms = now_ms;
  e.expires_ms = now_ms + 1000;
  e.in_use = true;
  insert_slot(h0, (id << 1) + 1);
  insert_slot(h1, ((id << 1) | 1) + 1);
  lru_push_front(id);
  ++used_;
  return id;
}

uint32_t FlowTable::insert_one_way(const FlowKey& original, uint64_t now_ms) {
  if (free_.empty()) return kNone;
  const uint32_t h0 = hash_key(original);
  if (find_slot(original, h0) != kNone) return kNone;
  const uint32_t id = free_.back();
  free_.pop_back();
  FlowEntry& e = entries_[id];
  e = FlowEntry{};
  e.key[0] = original;
  e.created_ms = now_ms;
  e.expires_ms = now_ms + 1000;
  e.in_use = true;
  e.one_way = true;
  insert_slot(h0, (id << 1) + 1);
  lru_push_front(id);
  ++used_;
  return id;
}

void FlowTable::remove(uint32_t id) {
  FlowEntry& e = entries_[id];
  if (!e.in_use) return;
  for (int d = 0; d < (e.one_way ? 1 : 2); ++d) {
    const uint32_t i = find_slot(e.key[d], hash_key(e.key[d]));
    if (i != kNone) erase_slot(i);
  }
  e.in_use = false;
  lru_unlink(id);
  free_.push_back(id);
  --used_;
}

void FlowTable::touch(uint32_t id, Dir dir, uint8_t proto, uint8_t flags, uint64_t now_ms,
                      const FlowTimeouts& t) {
  FlowEntry& e = entries_[id];
  if (e.in_use && lru_head_ != id) {
    lru_unlink(id);
    lru_push_front(id);
  }
  ++e.packets[static_cast<int>(dir)];
  if (proto != 6) {
    e.expires_ms = now_ms + t.udp;
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
  e.expires_ms = now_ms + idle;
}

}  // namespace lb
