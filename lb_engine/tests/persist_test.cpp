// Source-IP persistence (lb::PersistTable in lb/sched/scheduler.hpp): deadlines, LRU
// eviction, forgetting a backend, and a randomized comparison with a map + list model.
#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <map>
#include <random>

#include "lb/sched/scheduler.hpp"

namespace {

using lb::PersistTable;

constexpr uint32_t kA = 0x0a000001, kB = 0x0a000002, kC = 0x0a000003, kD = 0x0a000004;

TEST(PersistTable, RecordThenLookupGivesTheBackend) {
  PersistTable t(8, 1000);
  EXPECT_EQ(t.lookup(kA, 0), -1) << "nothing recorded yet";
  t.record(kA, 2, 0);
  t.record(kB, 0, 0);
  EXPECT_EQ(t.lookup(kA, 10), 2);
  EXPECT_EQ(t.lookup(kB, 10), 0);
  EXPECT_EQ(t.lookup(kC, 10), -1);
  EXPECT_EQ(t.size(), 2u);
  t.record(kA, 5, 20);
  EXPECT_EQ(t.lookup(kA, 30), 5) << "recording again replaces the backend";
  EXPECT_EQ(t.size(), 2u);
}

TEST(PersistTable, ARecordExpiresAtItsTimeout) {
  PersistTable t(8, 1000);
  t.record(kA, 3, 5000);  // expires at 6000
  EXPECT_EQ(t.lookup(kA, 5999), 3) << "one millisecond before the deadline";
  EXPECT_EQ(t.lookup(kA, 6000), -1) << "at the deadline";
  EXPECT_EQ(t.size(), 0u) << "an expired record found by lookup is erased";
  EXPECT_EQ(t.lookup(kA, 5999), -1) << "and stays gone";
}

TEST(PersistTable, RecordingAgainExtendsTheDeadline) {
  PersistTable t(8, 1000);
  t.record(kA, 3, 0);
  t.record(kA, 3, 800);  // now expires at 1800
  EXPECT_EQ(t.lookup(kA, 1500), 3);
  EXPECT_EQ(t.lookup(kA, 1799), 3);
  EXPECT_EQ(t.lookup(kA, 1800), -1);
}

TEST(PersistTable, LookupDoesNotExtendTheDeadline) {
  PersistTable t(8, 1000);
  t.record(kA, 1, 0);
  EXPECT_EQ(t.lookup(kA, 900), 1);
  EXPECT_EQ(t.lookup(kA, 1000), -1);
}

TEST(PersistTable, AFullTableEvictsTheLeastRecentlyUsedAndCountsIt) {
  PersistTable t(3, 100000);
  t.record(kA, 0, 0);
  t.record(kB, 1, 1);
  t.record(kC, 2, 2);
  EXPECT_EQ(t.lookup(kA, 3), 0) << "A is now the most recently used; B the least";
  t.record(kD, 3, 4);
  EXPECT_EQ(t.evictions(), 1u);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.lookup(kB, 5), -1) << "B was the least recently used";
  EXPECT_EQ(t.lookup(kA, 5), 0);
  EXPECT_EQ(t.lookup(kC, 5), 2);
  EXPECT_EQ(t.lookup(kD, 5), 3);
  // Newest first: D C A after the lookups above; refreshing C makes it C D A.
  t.record(kC, 7, 6);
  t.record(kB, 1, 7);
  EXPECT_EQ(t.evictions(), 2u);
  EXPECT_EQ(t.lookup(kA, 8), -1) << "A was the least recently used";
  EXPECT_EQ(t.lookup(kC, 8), 7);
  EXPECT_EQ(t.lookup(kD, 8), 3);
  EXPECT_EQ(t.lookup(kB, 8), 1);
}

TEST(PersistTable, RefreshingAFullTableEvictsNothing) {
  PersistTable t(2, 1000);
  t.record(kA, 0, 0);
  t.record(kB, 1, 0);
  for (int i = 0; i < 10; ++i) t.record(i % 2 ? kA : kB, i % 2, i);
  EXPECT_EQ(t.evictions(), 0u);
  EXPECT_EQ(t.size(), 2u);
}

TEST(PersistTable, ForgetBackendDropsEveryRecordOfItAndNoOther) {
  PersistTable t(64, 1000);
  for (uint32_t i = 0; i < 40; ++i) t.record(0x0a000000 + i, static_cast<int>(i % 4), 0);
  t.forget_backend(2);
  EXPECT_EQ(t.size(), 30u);
  for (uint32_t i = 0; i < 40; ++i)
    EXPECT_EQ(t.lookup(0x0a000000 + i, 1), i % 4 == 2 ? -1 : static_cast<int>(i % 4)) << "source " << i;
  t.forget_backend(9);
  EXPECT_EQ(t.size(), 30u);
}

TEST(PersistTable, ACapacityOfZeroStillHoldsOneRecord) {
  PersistTable t(0, 1000);
  t.record(kA, 1, 0);
  EXPECT_EQ(t.lookup(kA, 0), 1);
  t.record(kB, 2, 0);
  EXPECT_EQ(t.lookup(kA, 0), -1);
  EXPECT_EQ(t.lookup(kB, 0), 2);
  EXPECT_EQ(t.evictions(), 1u);
}

// The same semantics in std::map + std::list (front = most recently used).
struct Model {
  struct Rec {
    int backend;
    uint64_t expires;
  };
  size_t capacity;
  uint64_t timeout;
  std::map<uint32_t, Rec> recs;
  std::list<uint32_t> lru;
  uint64_t evictions = 0;

  void to_front(uint32_t src) {
    lru.remove(src);
    lru.push_front(src);
  }
  void erase(uint32_t src) {
    recs.erase(src);
    lru.remove(src);
  }
  int lookup(uint32_t src, uint64_t now) {
    auto it = recs.find(src);
    if (it == recs.end()) return -1;
    if (it->second.expires <= now) {
      erase(src);
      return -1;
    }
    to_front(src);
    return it->second.backend;
  }
  void record(uint32_t src, int backend, uint64_t now) {
    if (!recs.count(src) && recs.size() == capacity) {
      erase(lru.back());
      ++evictions;
    }
    recs[src] = Rec{backend, now + timeout};
    to_front(src);
  }
  void forget(int backend) {
    for (auto it = recs.begin(); it != recs.end();) {
      if (it->second.backend == backend) {
        lru.remove(it->first);
        it = recs.erase(it);
      } else {
        ++it;
      }
    }
  }
};

// 200k operations on a small table (48 records, 128 slots) from a universe of 160 sources
// drawn from a few /24s: probe chains collide and wrap, erases shift entries back, and
// records expire, get evicted and get forgotten.
TEST(PersistTable, RandomizedOperationsAgreeWithAMapAndListModel) {
  constexpr uint32_t kCapacity = 48, kTimeout = 150;
  PersistTable t(kCapacity, kTimeout);
  Model m{kCapacity, kTimeout};
  std::mt19937 rng(11);
  uint64_t now = 0;
  int hits = 0, expired = 0, forgets = 0;
  auto src = [&] { return 0x0a000000u | ((rng() % 5) << 8) | (rng() % 32); };
  for (int op = 0; op < 200000; ++op) {
    now += rng() % 3;
    const unsigned what = rng() % 100;
    if (what < 45) {
      const uint32_t s = src();
      const int b = static_cast<int>(rng() % 6);
      t.record(s, b, now);
      m.record(s, b, now);
    } else if (what < 99) {
      const uint32_t s = src();
      const bool was = m.recs.count(s) > 0;
      const int want = m.lookup(s, now);
      ASSERT_EQ(t.lookup(s, now), want) << "op " << op << ": lookup " << std::hex << s << std::dec << " at " << now;
      hits += want >= 0;
      expired += was && want < 0;
    } else {
      const int b = static_cast<int>(rng() % 6);
      t.forget_backend(b);
      m.forget(b);
      ++forgets;
    }
    ASSERT_EQ(t.size(), m.recs.size()) << "op " << op;
    ASSERT_EQ(t.evictions(), m.evictions) << "op " << op;
  }
  // Every record the model holds, in its LRU order from the oldest (lookups reorder both
  // the same way, so walking the model's list back to front keeps them in step).
  std::vector<uint32_t> order(m.lru.rbegin(), m.lru.rend());
  for (uint32_t s : order) ASSERT_EQ(t.lookup(s, now), m.lookup(s, now)) << "final " << std::hex << s;
  // The run must have exercised what it claims to.
  EXPECT_GT(hits, 10000);
  EXPECT_GT(expired, 1000);
  EXPECT_GT(m.evictions, 1000u);
  EXPECT_GT(forgets, 1000);
}

}  // namespace
