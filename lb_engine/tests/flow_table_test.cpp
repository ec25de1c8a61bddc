// The connection table (lb/flow/flow_table.hpp): keys, capacity, deadlines, sweeping,
// TCP state tracking, eviction (second chance), the 32-bit clock, memory, and a randomized
// comparison with std::unordered_map.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <unordered_map>
#include <vector>

#include "lb/flow/flow_table.hpp"

namespace {

using lb::Dir;
using lb::FlowKey;
using lb::FlowTable;
using lb::FlowTimeouts;
using lb::TcpState;

FlowKey key(uint32_t saddr_host, uint32_t daddr_host, uint16_t sport, uint16_t dport, uint8_t proto = 6) {
  return FlowKey{htonl(saddr_host), htonl(daddr_host), htons(sport), htons(dport), proto};
}
// The key the backend's reply carries for a client→VIP flow DNATed to `backend`.
FlowKey reply_of(const FlowKey& original, uint32_t backend_host, uint16_t backend_port) {
  return FlowKey{htonl(backend_host), original.saddr, htons(backend_port), original.sport, original.proto};
}

std::string str(const FlowKey& k) {
  char b[96];
  std::snprintf(b, sizeof b, "%08x:%u > %08x:%u/%u", ntohl(k.saddr), ntohs(k.sport), ntohl(k.daddr), ntohs(k.dport),
                k.proto);
  return b;
}
const char* str(Dir d) { return d == Dir::original ? "original" : "reply"; }

constexpr uint32_t kClient = 0xc6336400 | 11, kVip = 0xcb00710a, kBackend = 0xc000020b;  // 198.51.100.11, 203.0.113.10, 192.0.2.11

TEST(FlowTable, InsertThenLookupByEitherKeyGivesTheFlowAndItsDirection) {
  FlowTable t(16);
  const FlowKey o = key(kClient, kVip, 40000, 80);
  const FlowKey r = reply_of(o, kBackend, 8080);
  const uint32_t id = t.insert(o, r, 100);
  ASSERT_NE(id, FlowTable::kNone);
  EXPECT_EQ(t.size(), 1u);

  auto ho = t.lookup(o, 100);
  EXPECT_TRUE(ho);
  EXPECT_EQ(ho.id, id);
  EXPECT_STREQ(str(ho.dir), "original");
  auto hr = t.lookup(r, 100);
  EXPECT_TRUE(hr);
  EXPECT_EQ(hr.id, id);
  EXPECT_STREQ(str(hr.dir), "reply");

  const auto& e = t.at(id);
  EXPECT_TRUE(e.in_use());
  EXPECT_EQ(e.key[0], o);
  EXPECT_EQ(e.key[1], r);
  EXPECT_EQ(e.age_ms(100), 0u);
  EXPECT_EQ(e.age_ms(350), 250u);

  EXPECT_FALSE(t.lookup(key(kClient, kVip, 40001, 80), 100)) << "a different client port is another flow";
  EXPECT_FALSE(t.lookup(key(kClient, kVip, 40000, 80, 17), 100)) << "a different protocol is another flow";
}

TEST(FlowTable, RemoveFreesBothKeysAndTheSlot) {
  FlowTable t(1);
  const FlowKey o = key(kClient, kVip, 40000, 80), r = reply_of(o, kBackend, 80);
  const uint32_t id = t.insert(o, r, 0);
  ASSERT_NE(id, FlowTable::kNone);
  t.remove(id);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.at(id).in_use());
  auto ho = t.lookup(o, 0), hr = t.lookup(r, 0);
  EXPECT_EQ(ho.id, FlowTable::kNone) << "original key still found";
  EXPECT_EQ(hr.id, FlowTable::kNone) << "reply key still found";
  EXPECT_NE(t.insert(o, r, 0), FlowTable::kNone) << "the freed entry and keys must be usable again";
}

TEST(FlowTable, RemovingAFreeIdChangesNothing) {
  FlowTable t(4);
  const FlowKey o = key(kClient, kVip, 40000, 80);
  const uint32_t id = t.insert(o, reply_of(o, kBackend, 80), 0);
  ASSERT_NE(id, FlowTable::kNone);
  t.remove(id);
  t.remove(id);
  EXPECT_EQ(t.size(), 0u);
  std::set<uint32_t> ids;
  for (uint16_t p = 1; p <= 4; ++p) {
    const FlowKey k = key(kClient, kVip, p, 80);
    ids.insert(t.insert(k, reply_of(k, kBackend, 80), 0));
  }
  EXPECT_EQ(ids, (std::set<uint32_t>{0, 1, 2, 3})) << "a double remove must not free an id twice";
}

TEST(FlowTable, InsertFailsWhenFull) {
  FlowTable t(4);
  EXPECT_EQ(t.capacity(), 4u);
  for (uint16_t p = 1; p <= 4; ++p) {
    const FlowKey k = key(kClient, kVip, p, 80);
    ASSERT_NE(t.insert(k, reply_of(k, kBackend, 80), 0), FlowTable::kNone) << "flow " << p;
  }
  const FlowKey k5 = key(kClient, kVip, 5, 80);
  EXPECT_EQ(t.insert(k5, reply_of(k5, kBackend, 80), 0), FlowTable::kNone);
  EXPECT_EQ(t.size(), 4u);
  EXPECT_FALSE(t.lookup(k5, 0)) << "a refused flow must leave no key behind";
  t.remove(t.lookup(key(kClient, kVip, 2, 80), 0).id);
  EXPECT_NE(t.insert(k5, reply_of(k5, kBackend, 80), 0), FlowTable::kNone) << "room again after a removal";
}

TEST(FlowTable, InsertFailsWhenEitherKeyIsAlreadyPresent) {
  FlowTable t(8);
  const FlowKey o = key(kClient, kVip, 40000, 80), r = reply_of(o, kBackend, 80);
  const uint32_t id = t.insert(o, r, 0);
  ASSERT_NE(id, FlowTable::kNone);
  const FlowKey other = key(kClient, kVip, 40001, 80);
  EXPECT_EQ(t.insert(o, reply_of(other, kBackend, 80), 0), FlowTable::kNone) << "same original key";
  EXPECT_EQ(t.insert(other, r, 0), FlowTable::kNone) << "same reply key";
  EXPECT_EQ(t.insert(other, o, 0), FlowTable::kNone) << "reply key equal to another flow's original key";
  EXPECT_EQ(t.size(), 1u);
  EXPECT_FALSE(t.lookup(other, 0)) << "a refused flow must leave no key behind";
  auto h = t.lookup(o, 0);
  EXPECT_EQ(h.id, id);
  EXPECT_STREQ(str(h.dir), "original");
}

TEST(FlowTable, LookupAfterTheDeadlineReturnsExpired) {
  FlowTable t(4);
  const FlowKey o = key(kClient, kVip, 40000, 53, 17), r = reply_of(o, kBackend, 53);
  const uint32_t id = t.insert(o, r, 1000);
  t.touch(id, Dir::original, 17, 0, 1000, FlowTimeouts{.udp = 5000});
  EXPECT_EQ(t.at(id).expires_at(1000), 6000u);

  auto before = t.lookup(r, 5999);
  EXPECT_TRUE(before);
  EXPECT_FALSE(before.expired);

  auto at = t.lookup(r, 6000);
  EXPECT_FALSE(at) << "a flow at its deadline must not match";
  EXPECT_TRUE(at.expired);
  EXPECT_EQ(at.id, id) << "the expired flow is still named so its owner can release it";
  EXPECT_STREQ(str(at.dir), "reply");
  EXPECT_TRUE(t.lookup(o, 99999).expired);
}

TEST(FlowTable, SweepRemovesExpiredFlowsAndCallsBackForEach) {
  FlowTable t(8);
  const FlowTimeouts to{.udp = 1000};
  std::vector<uint32_t> ids;
  for (uint16_t p = 0; p < 6; ++p) {
    const FlowKey k = key(kClient, kVip, 1000 + p, 53, 17);
    ids.push_back(t.insert(k, reply_of(k, kBackend, 53), 0));
    t.touch(ids.back(), Dir::original, 17, 0, p % 2 ? 5000 : 0, to);  // even: expire at 1000, odd: 6000
  }
  std::set<uint32_t> called;
  const uint32_t removed = t.sweep(2000, t.capacity(), [&](uint32_t id) {
    EXPECT_TRUE(t.at(id).in_use()) << "the callback sees the flow before it is removed";
    called.insert(id);
  });
  EXPECT_EQ(removed, 3u);
  EXPECT_EQ(called, (std::set<uint32_t>{ids[0], ids[2], ids[4]}));
  EXPECT_EQ(t.size(), 3u);
  for (uint16_t p = 0; p < 6; ++p) {
    const FlowKey k = key(kClient, kVip, 1000 + p, 53, 17);
    EXPECT_EQ(t.lookup(k, 2000).id != FlowTable::kNone, p % 2 == 1) << "client port " << 1000 + p;
    EXPECT_EQ(t.lookup(reply_of(k, kBackend, 53), 2000).id != FlowTable::kNone, p % 2 == 1) << "reply, port " << 1000 + p;
  }
}

TEST(FlowTable, SweepWithABudgetResumesWhereItStopped) {
  FlowTable t(8);
  for (uint16_t p = 0; p < 8; ++p) {
    const FlowKey k = key(kClient, kVip, 1000 + p, 53, 17);
    ASSERT_NE(t.insert(k, reply_of(k, kBackend, 53), 0), FlowTable::kNone);
  }
  std::set<uint32_t> seen;
  uint32_t total = 0;
  for (int round = 0; round < 3; ++round) total += t.sweep(100000, 3, [&](uint32_t id) { seen.insert(id); });
  EXPECT_EQ(total, 8u);
  EXPECT_EQ(seen.size(), 8u) << "three sweeps of 3 entries must visit all 8 entries once";
  EXPECT_EQ(t.size(), 0u);
}

// TCP state machine, one step per packet: the state after it and the timeout it gets.
struct TcpStep {
  Dir dir;
  uint8_t flags;
  TcpState state;
  uint64_t FlowTimeouts::*timeout;
};
constexpr uint8_t F = 0x01, S = 0x02, R = 0x04, A = 0x10;
const FlowTimeouts kTimeouts{.tcp_syn = 11, .tcp_established = 22, .tcp_fin = 33, .tcp_close = 44, .udp = 55};

void run_steps(const std::vector<TcpStep>& steps) {
  FlowTable t(4);
  const FlowKey o = key(kClient, kVip, 40000, 80);
  const uint32_t id = t.insert(o, reply_of(o, kBackend, 80), 0);
  ASSERT_NE(id, FlowTable::kNone);
  uint64_t now = 1000;
  for (size_t i = 0; i < steps.size(); ++i, now += 100) {
    const auto& s = steps[i];
    t.touch(id, s.dir, 6, s.flags, now, kTimeouts);
    EXPECT_STREQ(lb::to_string(t.at(id).state), lb::to_string(s.state))
        << "step " << i << ": flags 0x" << std::hex << int(s.flags) << std::dec << " from " << str(s.dir);
    EXPECT_EQ(t.at(id).expires_at(now), now + kTimeouts.*s.timeout) << "deadline after step " << i;
  }
}

TEST(FlowTableTcp, HandshakeEstablishesAndFinsBothWaysClose) {
  run_steps({
      {Dir::original, S, TcpState::syn_sent, &FlowTimeouts::tcp_syn},
      {Dir::reply, S | A, TcpState::syn_recv, &FlowTimeouts::tcp_syn},
      {Dir::original, A, TcpState::established, &FlowTimeouts::tcp_established},
      {Dir::reply, A, TcpState::established, &FlowTimeouts::tcp_established},
      {Dir::original, F | A, TcpState::fin_wait, &FlowTimeouts::tcp_fin},
      {Dir::reply, A, TcpState::fin_wait, &FlowTimeouts::tcp_fin},
      {Dir::reply, F | A, TcpState::closing, &FlowTimeouts::tcp_close},
      {Dir::original, A, TcpState::closing, &FlowTimeouts::tcp_close},
  });
}

TEST(FlowTableTcp, ServerClosingFirstAlsoEndsInClosing) {
  run_steps({
      {Dir::original, S, TcpState::syn_sent, &FlowTimeouts::tcp_syn},
      {Dir::reply, S | A, TcpState::syn_recv, &FlowTimeouts::tcp_syn},
      {Dir::original, A, TcpState::established, &FlowTimeouts::tcp_established},
      {Dir::reply, F | A, TcpState::fin_wait, &FlowTimeouts::tcp_fin},
      {Dir::original, F | A, TcpState::closing, &FlowTimeouts::tcp_close},
  });
}

TEST(FlowTableTcp, RstClosesFromAnyState) {
  run_steps({
      {Dir::original, S, TcpState::syn_sent, &FlowTimeouts::tcp_syn},
      {Dir::reply, R | A, TcpState::closed, &FlowTimeouts::tcp_close},
  });
  run_steps({
      {Dir::original, S, TcpState::syn_sent, &FlowTimeouts::tcp_syn},
      {Dir::reply, S | A, TcpState::syn_recv, &FlowTimeouts::tcp_syn},
      {Dir::original, A, TcpState::established, &FlowTimeouts::tcp_established},
      {Dir::original, R, TcpState::closed, &FlowTimeouts::tcp_close},
  });
}

TEST(FlowTableTcp, OutOfOrderHandshakePacketsDoNotAdvanceTheState) {
  run_steps({
      {Dir::original, S, TcpState::syn_sent, &FlowTimeouts::tcp_syn},
      {Dir::original, A, TcpState::syn_sent, &FlowTimeouts::tcp_syn},       // ACK before the SYN-ACK
      {Dir::original, S | A, TcpState::syn_sent, &FlowTimeouts::tcp_syn},   // SYN-ACK from the client
      {Dir::reply, S | A, TcpState::syn_recv, &FlowTimeouts::tcp_syn},
  });
}

TEST(FlowTable, UdpTouchCountsPacketsPerDirectionAndUsesTheUdpTimeout) {
  FlowTable t(4);
  const FlowKey o = key(kClient, kVip, 40000, 53, 17);
  const uint32_t id = t.insert(o, reply_of(o, kBackend, 53), 0);
  t.touch(id, Dir::original, 17, 0, 100, kTimeouts);
  t.touch(id, Dir::reply, 17, 0, 200, kTimeouts);
  t.touch(id, Dir::reply, 17, 0, 300, kTimeouts);
  EXPECT_EQ(t.at(id).packets[0], 1u);
  EXPECT_EQ(t.at(id).packets[1], 2u);
  EXPECT_EQ(t.at(id).expires_at(300), 300u + kTimeouts.udp);
}

// ------------------------------------------------------------------ eviction (second chance)

// Makes `id` an established TCP flow as the engine's packets would.
void establish(FlowTable& t, uint32_t id, uint64_t now) {
  t.touch(id, Dir::original, 6, 0x02, now, kTimeouts);
  t.touch(id, Dir::reply, 6, 0x12, now, kTimeouts);
  t.touch(id, Dir::original, 6, 0x10, now, kTimeouts);
}

TEST(FlowTable, VictimOfAnEmptyTableIsNone) {
  FlowTable t(8);
  EXPECT_EQ(t.victim(), FlowTable::kNone);
  const FlowKey k = key(kClient, kVip, 1000, 80);
  t.remove(t.insert(k, reply_of(k, kBackend, 80), 0));
  EXPECT_EQ(t.victim(), FlowTable::kNone) << "empty again";
}

TEST(FlowTable, EmbryonicFlowsAreEvictedBeforeEstablishedOnes) {
  FlowTable t(8);
  std::vector<uint32_t> id;
  for (uint16_t p = 0; p < 8; ++p) {
    const FlowKey k = key(kClient, kVip, 1000 + p, 80);
    id.push_back(t.insert(k, reply_of(k, kBackend, 80), 0));
    ASSERT_NE(id.back(), FlowTable::kNone);
  }
  std::set<uint32_t> established;
  for (int i : {0, 2, 3, 5, 6, 7}) {
    establish(t, id[i], 1);
    established.insert(id[i]);
  }
  for (int i : {1, 4}) t.touch(id[i], Dir::original, 6, 0x02, 1, kTimeouts);  // SYNs only: no second chance
  // The first two victims are the embryonic flows, whatever order the hand finds them in.
  std::set<uint32_t> first;
  for (int n = 0; n < 2; ++n) {
    const uint32_t v = t.victim();
    ASSERT_NE(v, FlowTable::kNone);
    first.insert(v);
    t.remove(v);
  }
  EXPECT_EQ(first, (std::set<uint32_t>{id[1], id[4]}));
  // Every established flow was spared once (its bit cleared), so now one of them goes.
  const uint32_t v = t.victim();
  EXPECT_TRUE(established.count(v)) << v;
}

TEST(FlowTable, AFlowUsedSinceTheHandPassedIsSparedAgain) {
  FlowTable t(4);
  std::vector<uint32_t> id;
  for (uint16_t p = 0; p < 4; ++p) {
    const FlowKey k = key(kClient, kVip, 53 + p, 53, 17);
    id.push_back(t.insert(k, reply_of(k, kBackend, 53), 0));
    t.touch(id.back(), Dir::original, 17, 0, 0, kTimeouts);  // UDP: referenced
  }
  // All four are referenced: the scan clears them all and takes the first it passed.
  const uint32_t first = t.victim();
  ASSERT_NE(first, FlowTable::kNone);
  // Use every flow but one again: the unused one is the next victim, wherever the hand is.
  uint32_t unused = FlowTable::kNone;
  for (uint32_t i : id)
    if (i != first && unused == FlowTable::kNone) unused = i;
    else t.touch(i, Dir::reply, 17, 0, 1, kTimeouts);
  EXPECT_EQ(t.victim(), unused);
}

TEST(FlowTable, VictimScanIsBoundedWhenEveryFlowIsInUse) {
  constexpr uint32_t kFlows = 1000;
  FlowTable t(kFlows);
  for (uint32_t p = 0; p < kFlows; ++p) {
    const FlowKey k = key(kClient + p / 60000, kVip, static_cast<uint16_t>(1 + p % 60000), 53, 17);
    const uint32_t id = t.insert_one_way(k, 0);
    ASSERT_NE(id, FlowTable::kNone);
    t.touch(id, Dir::original, 17, 0, 0, kTimeouts);
  }
  // Each call clears at most kVictimScan bits and gives the first flow it spared: the
  // victims come out in hand order, one scan window apart, never the same twice running.
  const uint32_t a = t.victim(), b = t.victim();
  ASSERT_NE(a, FlowTable::kNone);
  EXPECT_EQ((b + kFlows - a) % kFlows, FlowTable::kVictimScan) << a << " then " << b;
}

// ------------------------------------------------------------------- 32-bit clock, memory

TEST(FlowTable, DeadlinesWorkAcrossTheWrapOfTheirThirtyTwoBits) {
  FlowTable t(4);
  const uint64_t before_wrap = (uint64_t{7} << 32) - 2000;  // 2 s before the low 32 bits wrap
  const FlowKey o = key(kClient, kVip, 40000, 53, 17), r = reply_of(o, kBackend, 53);
  const uint32_t id = t.insert(o, r, before_wrap);
  t.touch(id, Dir::original, 17, 0, before_wrap, FlowTimeouts{.udp = 5000});
  EXPECT_EQ(t.at(id).expires_at(before_wrap), before_wrap + 5000);
  EXPECT_TRUE(t.lookup(o, before_wrap + 4999)) << "alive 1 ms before its deadline, past the wrap";
  EXPECT_TRUE(t.lookup(o, before_wrap + 5000).expired);
  EXPECT_EQ(t.at(id).age_ms(before_wrap + 3000), 3000u);
  EXPECT_EQ(t.sweep(before_wrap + 4999, 4, [](uint32_t) {}), 0u);
  EXPECT_EQ(t.sweep(before_wrap + 5000, 4, [](uint32_t) {}), 1u);
}

TEST(FlowTable, AFlowCostsSixtyFourBytesInAll) {
  FlowTable t(1u << 20);
  EXPECT_EQ(t.memory_bytes(), (1u << 20) * 64u);
  EXPECT_EQ(sizeof(lb::FlowEntry), 52u);
}

TEST(FlowTable, CapacityAboveTheLimitIsRefusedWithTheLimitNamed) {
  try {
    FlowTable t(FlowTable::kMaxCapacity + 1);
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(FlowTable::kMaxCapacity)), std::string::npos) << e.what();
  }
}

TEST(FlowTable, RemovedIdsAreReusedAndProtocolZeroIsRefused) {
  FlowTable t(2);
  const FlowKey a = key(kClient, kVip, 1, 80), b = key(kClient, kVip, 2, 80), c = key(kClient, kVip, 3, 80);
  const uint32_t ia = t.insert_one_way(a, 0), ib = t.insert_one_way(b, 0);
  EXPECT_EQ(t.insert_one_way(c, 0), FlowTable::kNone) << "full";
  t.remove(ia);
  EXPECT_EQ(t.insert_one_way(c, 0), ia) << "the freed id";
  EXPECT_TRUE(t.lookup(b, 0));
  EXPECT_EQ(t.lookup(b, 0).id, ib);
  t.remove(ib);
  EXPECT_EQ(t.insert_one_way(key(kClient, kVip, 4, 80, 0), 0), FlowTable::kNone) << "protocol 0 marks a free entry";
  EXPECT_EQ(t.insert(c, c, 0), FlowTable::kNone) << "a flow whose two keys are one";
}

// ----------------------------------------------------------------- randomized model check

struct KeyHash {
  size_t operator()(const FlowKey& k) const {
    return std::hash<uint64_t>()((uint64_t{k.saddr} << 32 | k.daddr) ^ (uint64_t{k.sport} << 24 | uint64_t{k.dport} << 8 | k.proto) * 0x9e3779b97f4a7c15ull);
  }
};

// 100k mixed inserts, removes and lookups on a small table from a small key universe, so
// that probe chains collide, wrap around the slot array, and deletions shift entries back.
TEST(FlowTable, RandomizedOperationsAgreeWithUnorderedMap) {
  constexpr uint32_t kCapacity = 48;
  constexpr uint64_t kNow = 0;
  FlowTable t(kCapacity);
  std::mt19937 rng(7);
  std::unordered_map<FlowKey, std::pair<uint32_t, Dir>, KeyHash> model;
  std::unordered_map<uint32_t, std::pair<FlowKey, FlowKey>> live;

  auto random_key = [&] {
    return key(0x0a000000 | (rng() % 6), 0x0a000100 | (rng() % 3), static_cast<uint16_t>(1 + rng() % 24),
               rng() % 2 ? 80 : 443, rng() % 2 ? 6 : 17);
  };
  auto check_key = [&](const FlowKey& k, int op) -> ::testing::AssertionResult {
    auto h = t.lookup(k, kNow);
    auto it = model.find(k);
    if (it == model.end()) {
      if (h.id == FlowTable::kNone) return ::testing::AssertionSuccess();
      return ::testing::AssertionFailure() << "op " << op << ": " << str(k) << " expected absent, actual id " << h.id;
    }
    if (h.id == it->second.first && h.dir == it->second.second && !h.expired) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "op " << op << ": " << str(k) << " expected id " << it->second.first << " "
                                         << str(it->second.second) << ", actual id " << h.id << " " << str(h.dir)
                                         << (h.expired ? " (expired)" : "");
  };

  int inserts = 0, full = 0, conflicts = 0, removes = 0;
  for (int op = 0; op < 100000; ++op) {
    const unsigned what = rng() % 100;
    if (what < 45) {
      const FlowKey o = random_key();
      FlowKey r = random_key();
      if (r == o) continue;
      const bool should = live.size() < kCapacity && !model.count(o) && !model.count(r);
      const uint32_t id = t.insert(o, r, kNow);
      ASSERT_EQ(id != FlowTable::kNone, should)
          << "op " << op << ": insert " << str(o) << " / " << str(r) << " with " << live.size() << " flows";
      if (should) {
        ASSERT_LT(id, kCapacity);
        ASSERT_EQ(live.count(id), 0u) << "op " << op << ": id " << id << " handed out twice";
        live[id] = {o, r};
        model[o] = {id, Dir::original};
        model[r] = {id, Dir::reply};
        ++inserts;
      } else {
        (live.size() < kCapacity ? conflicts : full)++;
      }
    } else if (what < 75) {
      if (live.empty()) continue;
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      const uint32_t id = it->first;
      t.remove(id);
      model.erase(it->second.first);
      model.erase(it->second.second);
      live.erase(it);
      ++removes;
    } else {
      ASSERT_TRUE(check_key(random_key(), op));
    }
    ASSERT_EQ(t.size(), live.size()) << "op " << op;
    if (op % 500 == 0) {
      for (auto& [k, v] : model) ASSERT_TRUE(check_key(k, op));
    }
  }
  for (auto& [k, v] : model) ASSERT_TRUE(check_key(k, -1));
  // The run must have exercised what it claims to.
  EXPECT_GT(inserts, 20000);
  EXPECT_GT(removes, 20000);
  EXPECT_GT(full, 100);
  EXPECT_GT(conflicts, 100);
}

}  // namespace
