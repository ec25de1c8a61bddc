// Round robin over a VIP's backends (lb/sched/round_robin.hpp).
#include <gtest/gtest.h>

#include <vector>

#include "lb/sched/round_robin.hpp"

namespace {

std::vector<int> picks(lb::RoundRobin& rr, const std::vector<uint8_t>& usable, int n) {
  std::vector<int> out;
  for (int i = 0; i < n; ++i) out.push_back(rr.pick(usable));
  return out;
}

TEST(RoundRobin, CyclesThroughThreeUsableBackendsInOrder) {
  lb::RoundRobin rr;
  EXPECT_EQ(picks(rr, {1, 1, 1}, 7), (std::vector<int>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(RoundRobin, SkipsUnusableBackends) {
  lb::RoundRobin rr;
  EXPECT_EQ(picks(rr, {1, 0, 1}, 4), (std::vector<int>{0, 2, 0, 2}));
  lb::RoundRobin first_down;
  EXPECT_EQ(picks(first_down, {0, 1, 1}, 4), (std::vector<int>{1, 2, 1, 2}));
}

TEST(RoundRobin, ContinuesAfterTheLastPickWhenUsabilityChanges) {
  lb::RoundRobin rr;
  EXPECT_EQ(rr.pick(std::vector<uint8_t>{1, 1, 1}), 0);
  EXPECT_EQ(rr.pick(std::vector<uint8_t>{1, 0, 1}), 2) << "backend 1 went down: the next after 0 is 2";
  EXPECT_EQ(rr.pick(std::vector<uint8_t>{1, 1, 1}), 0) << "after 2 comes 0 again";
  EXPECT_EQ(rr.pick(std::vector<uint8_t>{1, 1, 1}), 1);
}

TEST(RoundRobin, ReturnsMinusOneWhenNoBackendIsUsable) {
  lb::RoundRobin rr;
  EXPECT_EQ(rr.pick(std::vector<uint8_t>{0, 0, 0}), -1);
  EXPECT_EQ(rr.pick(std::vector<uint8_t>{}), -1);
  EXPECT_EQ(rr.pick(std::vector<uint8_t>{0, 0, 1}), 2) << "usable again after a -1";
}

TEST(RoundRobin, OneUsableBackendTakesEveryFlow) {
  lb::RoundRobin rr;
  EXPECT_EQ(picks(rr, {0, 1, 0}, 3), (std::vector<int>{1, 1, 1}));
}

}  // namespace
