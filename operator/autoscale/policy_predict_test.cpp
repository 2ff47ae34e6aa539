// The scaling policy (policy.h), recurring bursts: the Predicted scale-out,
// capacity held through short gaps, a pattern forgotten, predictive: false.
#include "autoscale/policy.h"

#include <catch2/catch.hpp>

#include <optional>

#include "autoscale/policy_test_support.h"

using namespace ew::autoscale;
using namespace ew::autoscale::policy_test;
using namespace std::chrono_literals;

TEST_CASE("recurring bursts: a Predicted scale-out a cold start before the fourth, the period in the decision") {
  RateDriver d(1);
  // Base 40 msg/s; 800 msg/s for 30 s every 300 s from t=100.
  std::optional<int> scaledAt;
  std::optional<int> period;
  for (int t = 5; t <= 100 + 3 * 300 + 30; t += 5) {
    const int before = d.replicas;
    auto dec = d.step(t, burstRate(t, 100, 300, 30, 40, 800));
    if (dec.burstPeriodSeconds) period = dec.burstPeriodSeconds;
    if (t > 100 + 2 * 300 + 30 && !scaledAt && before < 12 && dec.desiredReplicas == 12) {
      scaledAt = t;
      CHECK(dec.reason == Reason::Predicted);
      CHECK_THAT(dec.message, Catch::Contains("a burst that recurs every 300 s is due in"));
    }
  }
  REQUIRE(period);
  CHECK(*period == 300);
  REQUIRE(scaledAt);
  // The fourth burst is seen at 1005; the lead is pod start + rebalance + two polls (25 s).
  CHECK(*scaledAt <= 1005 - 25);
  CHECK(*scaledAt >= 1005 - 25 - 5);
}

TEST_CASE("recurring bursts with short gaps: the capacity is held through them") {
  RateDriver d(1);
  for (int t = 5; t <= 100 + 3 * 120; t += 5) d.step(t, burstRate(t, 100, 120, 20, 40, 800));
  // From the third burst on, the 12 replicas stay: the gap of 75 s before the
  // next scale-out is within the window (120 s) and a cold start.
  for (int t = 100 + 3 * 120 + 5; t <= 100 + 10 * 120; t += 5) {
    auto dec = d.step(t, burstRate(t, 100, 120, 20, 40, 800));
    CHECK(dec.desiredReplicas == 12);
  }
}

TEST_CASE("recurring bursts with long gaps: one step down right after the burst, back up ahead of the next") {
  RateDriver d(1);
  for (int t = 5; t < 100 + 3 * 600 + 30; t += 5) d.step(t, burstRate(t, 100, 600, 30, 40, 800));
  REQUIRE(d.replicas == 12);
  // The fourth burst ends at 1930: down to 1 in one step within two polls,
  // not after the stabilization window (120 s); then up once, ahead of the fifth.
  int changes = 0, downAt = 0;
  for (int t = 100 + 3 * 600 + 30; t <= 100 + 4 * 600 + 5; t += 5) {
    int before = d.replicas;
    auto dec = d.step(t, burstRate(t, 100, 600, 30, 40, 800));
    if (d.replicas != before) ++changes;
    if (!downAt && d.replicas == 1) {
      downAt = t;
      CHECK(before == 12);
    }
  }
  CHECK(downAt > 0);
  CHECK(downAt <= 100 + 3 * 600 + 30 + 10);
  CHECK(changes == 2);
  CHECK(d.replicas == 12);
}

TEST_CASE("a gap is held when no longer than the window, the next cold start not counted twice") {
  // 30 s bursts, a lead of 25 s (pod start 10, rebalance 5, two polls), window 120 s.
  auto changesBetweenBursts = [](int period) {
    RateDriver d(1);
    for (int t = 5; t < 100 + 4 * period + 30; t += 5) d.step(t, burstRate(t, 100, period, 30, 40, 800));
    int changes = 0;
    for (int t = 100 + 4 * period + 30; t <= 100 + 6 * period; t += 5) {
      int before = d.replicas;
      d.step(t, burstRate(t, 100, period, 30, 40, 800));
      if (d.replicas != before) ++changes;
    }
    return changes;
  };
  CHECK(changesBetweenBursts(160) == 0);  // gap 105 s: held
  CHECK(changesBetweenBursts(190) == 4);  // gap 135 s: in and out twice (held when the lead counted twice)
}

TEST_CASE("a pattern that stops recurring stops driving the count within two periods") {
  RateDriver d(1);
  for (int t = 5; t <= 100 + 3 * 300 + 40; t += 5) d.step(t, burstRate(t, 100, 300, 30, 40, 800));
  Decision dec;
  for (int t = 100 + 3 * 300 + 45; t <= 100 + 6 * 300; t += 5) dec = d.step(t, 40);
  CHECK_FALSE(dec.burstPeriodSeconds);
  CHECK(dec.reason != Reason::Predicted);
  CHECK(d.replicas == 1);
}

TEST_CASE("predictive: false never predicts and keeps no burst history") {
  RateDriver d(1);
  d.config.predictive = false;
  for (int t = 5; t <= 100 + 5 * 300; t += 5) {
    auto dec = d.step(t, burstRate(t, 100, 300, 30, 40, 800));
    CHECK(dec.reason != Reason::Predicted);
    CHECK_FALSE(dec.burstPeriodSeconds);
  }
  CHECK(d.state.recurrence.bursts.empty());
}

TEST_CASE("a predicted burst is sized to the smallest group whose lag allowance takes its shortfall") {
  // 660 msg/s for 30 s every 300 s; the scale-out ahead of the fourth burst.
  auto predictedReplicas = [](std::int64_t lagThreshold) {
    RateDriver d(1);
    d.config.lagThreshold = lagThreshold;
    std::optional<int> predicted;
    for (int t = 5; t <= 100 + 3 * 300; t += 5) {
      auto dec = d.step(t, burstRate(t, 100, 300, 30, 40, 660));
      if (t > 100 + 3 * 300 - 60 && dec.reason == Reason::Predicted) predicted = dec.desiredReplicas;
    }
    return predicted;
  };
  // lagThreshold 100: 6 replicas would leave 60 x 30 = 1,800 behind, above their 300: all 12.
  CHECK(predictedReplicas(100) == 12);
  // 1,000: 1,800 fits the 3,000 of 6 replicas; 4 would leave 7,800.
  CHECK(predictedReplicas(1000) == 6);
  // 5,000: 7,800 fits the 10,000 of 4; 3 would leave 10,800, above 7,500.
  CHECK(predictedReplicas(5000) == 4);
}
