// Scheduling (lb/sched/scheduler.hpp): every algorithm's exact order or distribution,
// how each skips backends that may not take new flows, Maglev's table, and RttEstimator.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "lb/sched/scheduler.hpp"

namespace {

using lb::Algorithm;
using lb::SchedBackend;
using lb::Scheduler;
using lb::SchedOptions;

// Backends with distinct hash keys (the engine hashes address and port) and these weights.
std::vector<SchedBackend> backends(const std::vector<uint32_t>& weights) {
  std::vector<SchedBackend> b(weights.size());
  for (size_t i = 0; i < b.size(); ++i) {
    b[i].key = 0xc0000200u + static_cast<uint32_t>(i) * 0x10001u;  // 192.0.2.x-ish, spread
    b[i].weight = weights[i];
  }
  return b;
}
std::vector<SchedBackend> equal_backends(size_t n) { return backends(std::vector<uint32_t>(n, 1)); }

Scheduler make(Algorithm a, const std::vector<SchedBackend>& b, uint32_t min_active = 1) {
  Scheduler s(SchedOptions{.algorithm = a, .min_active = min_active});
  s.update(b);
  return s;
}

// n picks as letters: backend 0 is 'a', -1 is '-'.
std::string picks(Scheduler& s, const std::vector<SchedBackend>& b, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    const int r = s.pick(b, 0, 0);
    out += r < 0 ? '-' : static_cast<char>('a' + r);
  }
  return out;
}

// How many of n picks each backend got.
std::vector<int> counts(Scheduler& s, const std::vector<SchedBackend>& b, int n) {
  std::vector<int> c(b.size(), 0);
  for (int i = 0; i < n; ++i) {
    const int r = s.pick(b, 0, 0);
    if (r < 0 || static_cast<size_t>(r) >= b.size()) {
      ADD_FAILURE() << "pick " << i << " returned " << r;
      continue;
    }
    ++c[r];
  }
  return c;
}

// ------------------------------------------------------------------------------------- rr

TEST(SchedRr, CyclesThroughThreeBackendsInExactOrder) {
  auto b = equal_backends(3);
  auto s = make(Algorithm::rr, b);
  EXPECT_EQ(picks(s, b, 9), "abcabcabc");
}

TEST(SchedRr, IgnoresWeights) {
  auto b = backends({5, 1, 1});
  auto s = make(Algorithm::rr, b);
  EXPECT_EQ(picks(s, b, 6), "abcabc");
}

TEST(SchedRr, SkipsADrainingDownOrRemovedBackendFromTheStart) {
  struct Case {
    const char* what;
    void (*unusable)(SchedBackend&);
  };
  const Case cases[] = {
      {"draining", [](SchedBackend& x) { x.weight = 0; }},
      {"down", [](SchedBackend& x) { x.up = false; }},
      {"removed", [](SchedBackend& x) { x.removed = true; }},
  };
  for (const auto& c : cases) {
    auto b = equal_backends(3);
    c.unusable(b[1]);
    auto s = make(Algorithm::rr, b);
    EXPECT_EQ(picks(s, b, 6), "acacac") << c.what;
  }
}

TEST(SchedRr, ABackendLeavingMidCycleDoesNotBreakTheOrderOfTheRest) {
  auto b = equal_backends(4);
  auto s = make(Algorithm::rr, b);
  EXPECT_EQ(picks(s, b, 2), "ab");
  b[2].removed = true;
  s.update(b);
  EXPECT_EQ(picks(s, b, 4), "dabd") << "continues after b, skipping c";
  b[2].removed = false;
  s.update(b);
  EXPECT_EQ(picks(s, b, 5), "abcda") << "c rejoins in its place";
}

TEST(SchedRr, NoUsableBackendGivesMinusOne) {
  auto b = equal_backends(2);
  b[0].up = false;
  b[1].weight = 0;
  auto s = make(Algorithm::rr, b);
  EXPECT_EQ(picks(s, b, 2), "--");
  std::vector<SchedBackend> none;
  auto e = make(Algorithm::rr, none);
  EXPECT_EQ(e.pick(none, 0, 0), -1);
}

// ------------------------------------------------------------------------------------ wrr

TEST(SchedWrr, Weights511GiveAABACAATwiceInARow) {
  auto b = backends({5, 1, 1});
  auto s = make(Algorithm::wrr, b);
  EXPECT_EQ(picks(s, b, 14), "aabacaa" "aabacaa");
}

TEST(SchedWrr, Weights311Over500PicksGiveExactly300_100_100) {
  auto b = backends({3, 1, 1});
  auto s = make(Algorithm::wrr, b);
  EXPECT_EQ(counts(s, b, 500), (std::vector<int>{300, 100, 100}));
}

TEST(SchedWrr, WeightZeroGetsNothing) {
  auto b = backends({2, 0, 1});
  auto s = make(Algorithm::wrr, b);
  EXPECT_EQ(counts(s, b, 300), (std::vector<int>{200, 0, 100}));
}

TEST(SchedWrr, UpdateRestartsTheSequence) {
  auto b = backends({5, 1, 1});
  auto s = make(Algorithm::wrr, b);
  EXPECT_EQ(picks(s, b, 3), "aab");
  s.update(b);
  EXPECT_EQ(picks(s, b, 7), "aabacaa") << "update() resets the current weights";
  b[0].weight = 1;
  s.update(b);
  EXPECT_EQ(picks(s, b, 6), "abcabc");
}

TEST(SchedWrr, DownBackendIsSkippedAndTheOthersKeepTheirRatio) {
  auto b = backends({2, 5, 1});
  b[1].up = false;
  auto s = make(Algorithm::wrr, b);
  EXPECT_EQ(picks(s, b, 6), "acaaca");
}

// ------------------------------------------------------------------------------- lc / wlc

TEST(SchedLc, PicksTheLeastLoaded) {
  auto b = equal_backends(3);
  b[0].other = 7;
  b[1].other = 3;
  b[2].other = 5;
  auto s = make(Algorithm::lc, b);
  EXPECT_EQ(picks(s, b, 3), "bbb") << "counts are the engine's to update, so b stays the least loaded";
  b[1].other = 9;
  EXPECT_EQ(picks(s, b, 1), "c");
}

TEST(SchedLc, AnEstablishedFlowCountsAs256Others) {
  auto b = equal_backends(2);
  b[0].established = 1;
  b[1].other = 255;
  auto s = make(Algorithm::lc, b);
  EXPECT_EQ(picks(s, b, 1), "b") << "256 > 255";
  b[1].other = 257;
  EXPECT_EQ(picks(s, b, 1), "a") << "256 < 257";
}

TEST(SchedLc, EquallyLoadedBackendsTakeTurns) {
  auto b = equal_backends(3);
  auto s = make(Algorithm::lc, b);
  EXPECT_EQ(picks(s, b, 6), "abcabc");
}

TEST(SchedLc, SkipsTheLeastLoadedWhenItDrains) {
  auto b = equal_backends(3);
  b[0].other = 5;
  b[1].other = 1;
  b[2].other = 3;
  b[1].weight = 0;
  auto s = make(Algorithm::lc, b);
  EXPECT_EQ(picks(s, b, 2), "cc");
}

TEST(SchedWlc, HonoursWeights) {
  // a: 2 established over weight 3 = 170.7 per weight; b: 1 established over weight 1 = 256.
  auto b = backends({3, 1});
  b[0].established = 2;
  b[1].established = 1;
  auto wlc = make(Algorithm::wlc, b);
  EXPECT_EQ(picks(wlc, b, 2), "aa") << "a is the less loaded per unit of weight";
  auto lc = make(Algorithm::lc, b);
  EXPECT_EQ(picks(lc, b, 2), "bb") << "unweighted, b has fewer flows";
  b[0].established = 4;  // 341.3 per weight
  EXPECT_EQ(picks(wlc, b, 1), "b");
}

TEST(SchedWlc, LargeLoadsAndWeightsCompareWithoutOverflow) {
  // a: load 256 over weight 2^31; b: load 2^25 << 8 = 2^33 over weight 1. a is far less
  // loaded, but b's load times a's weight is exactly 2^64: 0 if computed in 64 bits.
  auto b = backends({1u << 31, 1});
  b[0].established = 1;
  b[1].established = 1u << 25;
  auto s = make(Algorithm::wlc, b);
  EXPECT_EQ(picks(s, b, 2), "aa");
}

// ------------------------------------------------------------------------------------ rtt

TEST(SchedRtt, UnmeasuredBackendsAreTriedFirst) {
  auto b = equal_backends(3);
  b[0].rtt_ms = 0.2;
  auto s = make(Algorithm::rtt, b);
  EXPECT_EQ(picks(s, b, 4), "bcbc") << "b and c have no score yet";
  b[1].rtt_ms = 30;
  EXPECT_EQ(picks(s, b, 2), "cc");
  b[2].rtt_ms = 0.4;
  EXPECT_EQ(picks(s, b, 4), "acac") << "then the fast tier";
}

TEST(SchedRtt, PicksTheFastestTier) {
  // Within 1 ms of a 0.2 ms fastest: 0.2 and 1.1 serve, 1.3 does not.
  auto b = equal_backends(4);
  b[0].rtt_ms = 1.3;
  b[1].rtt_ms = 0.2;
  b[2].rtt_ms = 5;
  b[3].rtt_ms = 1.1;
  auto s = make(Algorithm::rtt, b);
  EXPECT_EQ(picks(s, b, 15), "bdbdbdbdbdbdbdb") << "no exploration in the first 15 picks";
  // Within 50 % of a 10 ms fastest: 10 and 14.9 serve, 15.1 does not.
  b[0].rtt_ms = 15.1;
  b[1].rtt_ms = 10;
  b[2].rtt_ms = 14.9;
  b[3].rtt_ms = 40;
  auto t = make(Algorithm::rtt, b);
  EXPECT_EQ(picks(t, b, 15), "bcbcbcbcbcbcbcb");
}

TEST(SchedRtt, ASlowBackendGetsExactlyTheExplorationShare) {
  auto b = equal_backends(3);
  b[0].rtt_ms = 0.2;
  b[1].rtt_ms = 50.2;
  b[2].rtt_ms = 0.2;
  auto s = make(Algorithm::rtt, b);
  EXPECT_EQ(counts(s, b, 1600), (std::vector<int>{750, 100, 750})) << "1 in " << lb::kRttExploreEvery;
}

TEST(SchedRtt, ARecoveredBackendBecomesACandidateAgain) {
  auto b = equal_backends(3);
  b[0].rtt_ms = 0.2;
  b[1].rtt_ms = 50.2;
  b[2].rtt_ms = 0.2;
  auto s = make(Algorithm::rtt, b);
  ASSERT_EQ(counts(s, b, 1600)[1], 100);
  b[1].rtt_ms = 0.3;  // rtt is read at pick(): no update() needed
  EXPECT_EQ(counts(s, b, 300), (std::vector<int>{100, 100, 100}));
}

TEST(SchedRtt, ExplorationFallsBackToTheCandidatesWhenAllAreFast) {
  auto b = equal_backends(2);
  b[0].rtt_ms = 0.2;
  b[1].rtt_ms = 0.3;
  auto s = make(Algorithm::rtt, b);
  EXPECT_EQ(counts(s, b, 1600), (std::vector<int>{800, 800}));
}

// ------------------------------------------------------------------------------- priority

// Groups {1: [a, b], 2: [c]}.
std::vector<SchedBackend> two_groups() {
  auto b = equal_backends(3);
  b[2].group = 2;
  return b;
}

TEST(SchedPriority, TrafficStaysInTheFirstGroupWhileItHasMinActiveMembers) {
  auto b = two_groups();
  auto s = make(Algorithm::priority, b, 2);
  EXPECT_EQ(counts(s, b, 100), (std::vector<int>{50, 50, 0}));
}

TEST(SchedPriority, SpillsOverToTheNextGroupWhenAMemberDrains) {
  auto b = two_groups();
  auto s = make(Algorithm::priority, b, 2);
  b[1].weight = 0;
  s.update(b);
  EXPECT_EQ(counts(s, b, 100), (std::vector<int>{50, 0, 50}));
  b[1].weight = 1;
  s.update(b);
  EXPECT_EQ(counts(s, b, 100), (std::vector<int>{50, 50, 0})) << "and back when it returns";
}

TEST(SchedPriority, GroupOrderIsByNumberNotByPosition) {
  auto b = equal_backends(3);
  b[0].group = 7;
  b[1].group = 3;
  b[2].group = 5;
  auto s = make(Algorithm::priority, b, 1);
  EXPECT_EQ(picks(s, b, 3), "bbb");
  b[1].up = false;
  s.update(b);
  EXPECT_EQ(picks(s, b, 3), "ccc");
}

TEST(SchedPriority, AllUsableMembersServeWhenAllGroupsTogetherHaveTooFew) {
  auto b = equal_backends(3);
  b[1].group = 2;
  b[2].group = 3;
  b[2].up = false;
  auto s = make(Algorithm::priority, b, 3);
  EXPECT_EQ(counts(s, b, 100), (std::vector<int>{50, 50, 0}));
}

TEST(SchedPriority, ServingGroupsUseSmoothWrr) {
  auto b = backends({2, 1, 1, 5});
  b[2].group = 2;
  b[3].group = 2;
  auto s = make(Algorithm::priority, b, 2);
  EXPECT_EQ(picks(s, b, 6), "abaaba");
}

TEST(SchedPriority, AMemberThatStoppedTakingFlowsIsSkippedBeforeTheUpdate) {
  auto b = two_groups();
  auto s = make(Algorithm::priority, b, 2);
  b[1].up = false;  // health changed, update() not called yet
  EXPECT_EQ(counts(s, b, 10), (std::vector<int>{10, 0, 0}));
  b[0].removed = true;  // the whole serving set is gone: pick() chooses the groups again
  EXPECT_EQ(counts(s, b, 10), (std::vector<int>{0, 0, 10}));
}

// ------------------------------------------------------------------------------------- sh

int pick_sh(Scheduler& s, const std::vector<SchedBackend>& b, uint32_t src) { return s.pick(b, src, 0); }

TEST(SchedSh, TheSameSourceGetsTheSameBackend) {
  auto b = equal_backends(5);
  auto s = make(Algorithm::sh, b);
  auto other = make(Algorithm::sh, b);
  std::mt19937 rng(1);
  std::vector<int> seen(5, 0);
  for (int i = 0; i < 2000; ++i) {
    const uint32_t src = rng();
    const int first = pick_sh(s, b, src);
    ASSERT_GE(first, 0);
    ++seen[first];
    EXPECT_EQ(pick_sh(s, b, src), first) << "src " << src << " again";
    EXPECT_EQ(pick_sh(other, b, src), first) << "src " << src << " on another scheduler";
  }
  for (int i = 0; i < 5; ++i) EXPECT_GT(seen[i], 300) << "backend " << i << " must get clients";
}

TEST(SchedSh, RemovingOneOfFourMovesOnlyTheClientsThatWereOnIt) {
  auto b = equal_backends(4);
  auto s = make(Algorithm::sh, b);
  std::mt19937 rng(2);
  std::vector<uint32_t> src(20000);
  std::vector<int> before(src.size());
  for (size_t i = 0; i < src.size(); ++i) before[i] = pick_sh(s, b, src[i] = rng());
  b[2].removed = true;
  s.update(b);
  int moved = 0, on_removed = 0;
  for (size_t i = 0; i < src.size(); ++i) {
    const int after = pick_sh(s, b, src[i]);
    ASSERT_NE(after, 2) << "src " << src[i];
    if (before[i] == 2) {
      ++on_removed;
    } else {
      EXPECT_EQ(after, before[i]) << "src " << src[i] << " moved between two surviving backends";
    }
    moved += after != before[i];
  }
  EXPECT_EQ(moved, on_removed);
  EXPECT_GT(on_removed, 4000);
}

TEST(SchedSh, Weights2To1Give2To1Within5Percent) {
  auto b = backends({2, 1});
  auto s = make(Algorithm::sh, b);
  std::mt19937 rng(3);
  std::vector<int> c(2, 0);
  for (int i = 0; i < 30000; ++i) ++c[pick_sh(s, b, rng())];
  const double ratio = static_cast<double>(c[0]) / c[1];
  EXPECT_NEAR(ratio, 2.0, 0.1) << c[0] << " : " << c[1];
}

TEST(SchedSh, DrainingBackendGetsNoNewClients) {
  auto b = equal_backends(3);
  b[0].weight = 0;
  auto s = make(Algorithm::sh, b);
  for (uint32_t src = 0; src < 1000; ++src) ASSERT_NE(pick_sh(s, b, src * 2654435761u), 0) << "src " << src;
}

// --------------------------------------------------------------------------------- maglev

constexpr uint32_t kM = 65537;

Scheduler maglev(const std::vector<SchedBackend>& b) { return make(Algorithm::maglev, b); }

std::vector<size_t> owned(const std::vector<int32_t>& table, size_t n) {
  std::vector<size_t> c(n, 0);
  for (int32_t x : table) {
    if (x < 0 || static_cast<size_t>(x) >= n) {
      ADD_FAILURE() << "slot owned by " << x;
      continue;
    }
    ++c[x];
  }
  return c;
}

TEST(Maglev, TheDefaultTableSizeIsPrimeAndANonPrimeSizeThrows) {
  EXPECT_EQ(SchedOptions{}.maglev_table_size, kM);
  EXPECT_NO_THROW(Scheduler(SchedOptions{.algorithm = Algorithm::maglev}));
  EXPECT_NO_THROW(Scheduler(SchedOptions{.algorithm = Algorithm::maglev, .maglev_table_size = 251}));
  for (uint32_t bad : {0u, 1u, 65536u, 65535u, 251u * 257u})
    EXPECT_THROW(Scheduler(SchedOptions{.algorithm = Algorithm::maglev, .maglev_table_size = bad}), std::invalid_argument)
        << "size " << bad;
}

TEST(Maglev, EqualBackendsEachOwnWithin1PercentOfTheirShare) {
  for (size_t n : {3u, 7u}) {
    auto b = equal_backends(n);
    auto s = maglev(b);
    ASSERT_EQ(s.maglev_table().size(), kM);
    const auto c = owned(s.maglev_table(), n);
    for (size_t i = 0; i < n; ++i)
      EXPECT_NEAR(static_cast<double>(c[i]), double(kM) / n, 0.01 * kM / n) << n << " backends, backend " << i;
  }
}

TEST(Maglev, Weights211OwnWithin2PercentOf50_25_25) {
  auto b = backends({2, 1, 1});
  auto s = maglev(b);
  const auto c = owned(s.maglev_table(), 3);
  const double want[] = {0.5, 0.25, 0.25};
  for (size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(static_cast<double>(c[i]) / kM, want[i], 0.02 * want[i]) << "backend " << i << " owns " << c[i];
}

// Maglev's population is not minimally disruptive (paper, section 3.4 and 5.3): freeing a
// backend's slots changes which preferred slot is still free for the others further on,
// so a few slots move between surviving backends too. Measured with this mix, removing
// one of 10 moves 0.16-0.22 % of the table between survivors. Asserted: every slot of the
// removed backend moves, the total moved stays near 1/N, and survivor-to-survivor moves
// stay under 1 % of the table.
TEST(Maglev, RemovingOneOfTenMovesOnlyItsSlotsAndTheRestStayBalanced) {
  constexpr size_t kN = 10;
  for (size_t gone : {0u, 4u, 9u}) {
    auto b = equal_backends(kN);
    auto s = maglev(b);
    const std::vector<int32_t> before = s.maglev_table();
    b[gone].removed = true;
    s.update(b);
    const std::vector<int32_t>& after = s.maglev_table();
    size_t was_gone = 0, changed = 0, between_survivors = 0;
    for (size_t i = 0; i < kM; ++i) {
      ASSERT_NE(after[i], static_cast<int32_t>(gone)) << "slot " << i;
      was_gone += before[i] == static_cast<int32_t>(gone);
      if (before[i] != after[i]) {
        ++changed;
        between_survivors += before[i] != static_cast<int32_t>(gone);
      }
    }
    const double frac = static_cast<double>(changed) / kM;
    EXPECT_EQ(changed, was_gone + between_survivors) << "removed " << gone;
    EXPECT_NEAR(static_cast<double>(was_gone), double(kM) / kN, 0.01 * kM / kN) << "removed " << gone;
    EXPECT_LE(frac, 1.3 / kN) << "removed " << gone;
    EXPECT_EQ(between_survivors, 0u) << "removed " << gone << ": slots moved between survivors";
    const auto c = owned(after, kN);
    for (size_t i = 0; i < kN; ++i) {
      if (i == gone) continue;
      EXPECT_NEAR(double(c[i]), double(kM) / (kN - 1), 0.02 * kM / (kN - 1)) << "backend " << i;
    }
    std::printf("[ maglev   ] removed %zu of %zu: %zu slots changed (%.3f %%), %zu between survivors (%.3f %%)\n", gone,
                kN, changed, 100.0 * frac, between_survivors, 100.0 * between_survivors / kM);
  }
}

// A return, or any change that is not only departures, builds the table from scratch:
// the same table a fresh scheduler builds for that set.
TEST(Maglev, ABackendComingBackGivesTheTableOfAFreshBuild) {
  auto b = equal_backends(10);
  auto s = maglev(b);
  const std::vector<int32_t> original = s.maglev_table();
  b[3].removed = true;
  s.update(b);
  b[3].removed = false;
  s.update(b);
  EXPECT_EQ(s.maglev_table(), original);
  b[5].weight = 2;
  s.update(b);
  EXPECT_EQ(s.maglev_table(), maglev(b).maglev_table());
}

TEST(Maglev, OnlyBackendsThatTakeNewFlowsEnterTheTable) {
  auto b = equal_backends(4);
  b[0].weight = 0;
  b[1].up = false;
  b[3].removed = true;
  auto s = maglev(b);
  const auto c = owned(s.maglev_table(), 4);
  EXPECT_EQ(c, (std::vector<size_t>{0, 0, kM, 0}));
}

TEST(Maglev, PickIsTheTableSlotOfTheFlowHash) {
  auto b = equal_backends(5);
  auto s = maglev(b);
  const auto& t = s.maglev_table();
  std::mt19937 rng(4);
  for (int i = 0; i < 1000; ++i) {
    const uint32_t h = rng();
    ASSERT_EQ(s.pick(b, 0, h), t[h % kM]) << "flow hash " << h;
  }
}

TEST(Maglev, AStaleOwnerFallsBackToRoundRobinOverTheOthers) {
  auto b = equal_backends(3);
  auto s = maglev(b);
  const auto t = s.maglev_table();
  b[1].up = false;  // not yet update()d
  std::vector<int> c(3, 0);
  for (uint32_t h = 0; h < 3000; ++h) {
    const int r = s.pick(b, 0, h);
    ASSERT_GE(r, 0);
    if (t[h % kM] != 1) {
      ASSERT_EQ(r, t[h % kM]) << "flow hash " << h << " was not on the stale backend";
    } else {
      ++c[r];
    }
  }
  EXPECT_EQ(c[1], 0);
  EXPECT_LE(std::abs(c[0] - c[2]), 1) << "round robin: " << c[0] << " vs " << c[2];
}

TEST(Maglev, NoUsableBackendGivesAnEmptyTableAndMinusOne) {
  auto b = equal_backends(2);
  b[0].up = b[1].up = false;
  auto s = maglev(b);
  for (int32_t x : s.maglev_table()) ASSERT_EQ(x, -1);
  EXPECT_EQ(s.pick(b, 0, 12345), -1);
}

TEST(Maglev, SwitchingAlgorithmBuildsAndDropsTheTable) {
  auto b = equal_backends(3);
  auto s = make(Algorithm::rr, b);
  EXPECT_TRUE(s.maglev_table().empty());
  s.set_algorithm(Algorithm::maglev, b);
  EXPECT_EQ(s.algorithm(), Algorithm::maglev);
  EXPECT_EQ(s.maglev_table().size(), kM);
  s.set_algorithm(Algorithm::rr, b);
  EXPECT_TRUE(s.maglev_table().empty());
}

// ---------------------------------------------------------------------------- RttEstimator

TEST(SchedRttEstimator, NeverMeasuredIsMinusOne) {
  lb::RttEstimator e;
  EXPECT_FALSE(e.measured());
  EXPECT_EQ(e.score_ms(), -1);
  EXPECT_EQ(e.connect_ms(), -1);
  EXPECT_EQ(e.response_ms(), -1);
  EXPECT_EQ(e.samples(), 0u);
}

TEST(SchedRttEstimator, FirstSampleInitializesThenAQuarterOfEachNewSample) {
  lb::RttEstimator e;
  e.add_connect_us(1000);
  EXPECT_DOUBLE_EQ(e.connect_ms(), 1.0);
  EXPECT_DOUBLE_EQ(e.score_ms(), 1.0) << "an unsampled response counts 0";
  e.add_connect_us(5000);  // 1000 + (5000 - 1000) / 4
  EXPECT_DOUBLE_EQ(e.connect_ms(), 2.0);
  e.add_connect_us(0);  // 2000 - 2000 / 4
  EXPECT_DOUBLE_EQ(e.connect_ms(), 1.5);
  EXPECT_EQ(e.response_ms(), -1);
  EXPECT_EQ(e.samples(), 3u);
}

TEST(SchedRttEstimator, ScoreIsConnectPlusResponse) {
  lb::RttEstimator e;
  e.add_response_us(8000);
  EXPECT_DOUBLE_EQ(e.score_ms(), 8.0) << "an unsampled connect counts 0";
  e.add_connect_us(400);
  EXPECT_DOUBLE_EQ(e.score_ms(), 8.4);
  e.add_response_us(0);  // 8000 - 2000
  EXPECT_DOUBLE_EQ(e.response_ms(), 6.0);
  EXPECT_DOUBLE_EQ(e.score_ms(), 6.4);
  EXPECT_TRUE(e.measured());
}

}  // namespace
