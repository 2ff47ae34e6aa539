// The scaling policy (policy.h), validation, lag mode, bounds, scale-up and
// scale-down steps, activation, idle, failed polls and the stabilization
// window.
#include "autoscale/policy.h"

#include <catch2/catch.hpp>

#include "autoscale/policy_test_support.h"

using namespace ew::autoscale;
using namespace ew::autoscale::policy_test;
using namespace std::chrono_literals;

TEST_CASE("validate accepts the defaults and names each invalid field") {
  CHECK(validate(PolicyConfig{}).ok());
  auto field = [](auto mutate) {
    PolicyConfig c;
    mutate(c);
    auto s = validate(c);
    return s.ok() ? std::string("ok") : s.error().message;
  };
  CHECK(field([](auto& c) { c.minReplicas = -1; }) == "scaling.minReplicas: must be at least 0");
  CHECK(field([](auto& c) {
          c.maxReplicas = 0;
          c.minReplicas = 0;
        }) == "scaling.maxReplicas: must be at least 1");
  CHECK(field([](auto& c) { c.minReplicas = 11; }) == "scaling.minReplicas: must not exceed maxReplicas");
  CHECK(field([](auto& c) { c.lagThreshold = 0; }) == "scaling.lagThreshold: must be at least 1");
  CHECK(field([](auto& c) { c.activationLagThreshold = -1; }) == "scaling.activationLagThreshold: must be at least 0");
  CHECK(field([](auto& c) { c.targetDrainSeconds = 0; }) == "scaling.targetDrainSeconds: must be at least 1");
  CHECK(field([](auto& c) { c.scaleDownStabilizationSeconds = -1; }) ==
        "scaling.scaleDownStabilizationSeconds: must be at least 0");
  CHECK(field([](auto& c) { c.fallback.failureThreshold = 0; }) ==
        "scaling.fallback.failureThreshold: must be at least 1");
  CHECK(field([](auto& c) { c.fallback.replicas = -2; }) == "scaling.fallback.replicas: must be at least 0");
  CHECK(field([](auto& c) { c.cooldownSeconds = -1; }) == "scaling.cooldownSeconds: must be at least 0");
  CHECK(field([](auto& c) { c.maxScaleDownPercent = 0; }) == "scaling.maxScaleDownPercent: must be between 1 and 100");
  CHECK(field([](auto& c) { c.maxScaleDownPercent = 101; }) ==
        "scaling.maxScaleDownPercent: must be between 1 and 100");
  CHECK(field([](auto& c) { c.stalledAfterPolls = 0; }) == "scaling.stalledAfterPolls: must be at least 1");
  CHECK(field([](auto& c) { c.podStartSeconds = -1; }) == "scaling.podStartSeconds: must be at least 0");
}

TEST_CASE("partitionBreakpoint is the cheapest count with the same busiest share") {
  // 12 partitions: ceil(12/r) = 12, 6, 4, 3, 3, 2, 2, 2, 2, 2, 2, 1 for r = 1..12.
  CHECK(partitionBreakpoint(12, 1) == 1);
  CHECK(partitionBreakpoint(12, 3) == 3);
  CHECK(partitionBreakpoint(12, 4) == 4);
  CHECK(partitionBreakpoint(12, 5) == 4);
  CHECK(partitionBreakpoint(12, 7) == 6);
  CHECK(partitionBreakpoint(12, 11) == 6);
  CHECK(partitionBreakpoint(12, 12) == 12);
  CHECK(partitionBreakpoint(12, 40) == 12);
  CHECK(partitionBreakpoint(1, 3) == 1);
  CHECK(partitionBreakpoint(10, 4) == 4);  // ceil(10/4) = 3 = ceil(10/4); ceil(10/3) = 4
}

TEST_CASE("reasonName names every reason") {
  CHECK(std::string(reasonName(Reason::Lag)) == "Lag");
  CHECK(std::string(reasonName(Reason::DrainTime)) == "DrainTime");
  CHECK(std::string(reasonName(Reason::Bounds)) == "Bounds");
  CHECK(std::string(reasonName(Reason::Activation)) == "Activation");
  CHECK(std::string(reasonName(Reason::Idle)) == "Idle");
  CHECK(std::string(reasonName(Reason::Draining)) == "Draining");
  CHECK(std::string(reasonName(Reason::Stabilizing)) == "Stabilizing");
  CHECK(std::string(reasonName(Reason::MetricsFailed)) == "MetricsFailed");
  CHECK(std::string(reasonName(Reason::Fallback)) == "Fallback");
}

TEST_CASE("lag is measured from the log start and follows the reset policy") {
  Driver d;
  std::vector<PartitionOffsets> parts = {
      {"orders", 0, 500, 800, 600, true},           // committed inside the log: 200
      {"orders", 1, 500, 800, 100, true},           // committed below the log start: reset applies
      {"orders", 2, 500, 800, std::nullopt, true},  // no committed offset: reset applies
      {"orders", 3, 0, 50, 70, true},               // committed past the end: 0
      {"audit", 0, 0, 30, 0, true},
  };
  SECTION("earliest: from the log start, never the retention-deleted history (keda #7936)") {
    auto dec = d.poll(at(0, 1, parts, OffsetReset::Earliest));
    CHECK(dec.partitions == 5);
    CHECK(partitionLag(parts[0], OffsetReset::Earliest) == 200);
    CHECK(partitionLag(parts[1], OffsetReset::Earliest) == 300);
    CHECK(partitionLag(parts[2], OffsetReset::Earliest) == 300);
    CHECK(partitionLag(parts[3], OffsetReset::Earliest) == 0);
    CHECK(partitionLag(parts[4], OffsetReset::Earliest) == 30);
    CHECK(dec.totalLag == 830);
    CHECK(dec.lagByTopic.at("orders") == 800);
    CHECK(dec.lagByTopic.at("audit") == 30);
  }
  SECTION("latest: a consumer without a usable offset starts at the end") {
    auto dec = d.poll(at(0, 1, parts, OffsetReset::Latest));
    CHECK(partitionLag(parts[1], OffsetReset::Latest) == 0);
    CHECK(partitionLag(parts[2], OffsetReset::Latest) == 0);
    CHECK(dec.totalLag == 230);
  }
}

TEST_CASE("lag mode sizes ceil(lag / lagThreshold) at partition breakpoints") {
  Driver d;
  SECTION("exact quotient") {
    auto dec = d.poll(at(0, 1, partitions(12, 25, 0)));  // 300 lag
    CHECK(dec.desiredReplicas == 3);
    CHECK(dec.reason == Reason::Lag);
    CHECK(dec.message == "lag 300 over lagThreshold 100 needs 3 replicas");
  }
  SECTION("5 replicas would leave the busiest with 3 of 12 partitions, as 4 do") {
    auto dec = d.poll(at(0, 1, partitions(12, 40, 0)));  // 480 lag: ceil = 5
    CHECK(dec.desiredReplicas == 4);
    CHECK(dec.reason == Reason::Lag);
  }
  SECTION("11 would leave one member with 2 partitions, as 6 do") {
    auto dec = d.poll(at(0, 1, partitions(12, 90, 0)));  // 1080 lag: ceil = 11
    CHECK(dec.desiredReplicas == 6);
  }
  SECTION("with idle consumers allowed the quotient is not bounded by partitions") {
    d.config.allowIdleConsumers = true;
    auto dec = d.poll(at(0, 1, partitions(4, 500, 0)));  // 2000 lag
    CHECK(dec.desiredReplicas == 20);
    CHECK(dec.reason == Reason::Lag);
  }
}

TEST_CASE("the partition count is reached exactly when the lag calls for it (keda #2908, #4791)") {
  Driver d;
  // 11 replicas on 12 partitions and a lag of 1,150 with lagThreshold 100:
  // KEDA's metric (1,150) over 11 replicas is within the HPA's 10% tolerance,
  // so the HPA stays at 11 and one member keeps two partitions.
  auto dec = d.poll(at(0, 11, partitions(12, 96, 0)));  // 1,152 lag
  CHECK(dec.desiredReplicas == 12);
  CHECK(dec.reason == Reason::Lag);
  // Any larger lag: still exactly the partition count, reported as the bound.
  auto big = d.poll(at(10, 12, partitions(12, 100000, 0)));
  CHECK(big.desiredReplicas == 12);
  CHECK(big.reason == Reason::Bounds);
  CHECK(big.message.find("bounded to 12 by [1, 12]") != std::string::npos);
}

TEST_CASE("bounds: minReplicas, maxReplicas, partitions") {
  Driver d;
  SECTION("maxReplicas below the partition count") {
    d.config.maxReplicas = 5;
    auto dec = d.poll(at(0, 1, partitions(12, 1000, 0)));
    CHECK(dec.desiredReplicas == 5);
    CHECK(dec.reason == Reason::Bounds);
  }
  SECTION("allowIdleConsumers lifts the partition bound up to maxReplicas") {
    d.config.allowIdleConsumers = true;
    d.config.maxReplicas = 8;
    auto dec = d.poll(at(0, 1, partitions(4, 1000, 0)));
    CHECK(dec.desiredReplicas == 8);
    CHECK(dec.reason == Reason::Bounds);
  }
  SECTION("minReplicas when there is no lag") {
    d.config.minReplicas = 2;
    auto dec = d.poll(at(0, 2, partitions(12, 0, 0)));
    CHECK(dec.desiredReplicas == 2);
    CHECK(dec.reason == Reason::Bounds);
  }
  SECTION("above maxReplicas or the partitions (config or topic changed): to the bound at once") {
    d.config.maxReplicas = 8;
    auto dec = d.poll(at(0, 15, partitions(12, 1000, 0)));  // lag 12,000: draining, 12 wanted
    CHECK(dec.desiredReplicas == 8);
    CHECK(dec.reason == Reason::Bounds);
    CHECK(dec.message.rfind("15 replicas above the bound 8; ", 0) == 0);
    d.config.maxReplicas = 20;
    CHECK(d.poll(at(10, 16, partitions(12, 1000, 0))).desiredReplicas == 12);  // partitions
  }
  SECTION("no partitions (topic not created yet): minReplicas") {
    auto dec = d.poll(at(0, 1, {}));
    CHECK(dec.desiredReplicas == 1);
    CHECK(dec.reason == Reason::Bounds);
    CHECK(dec.totalLag == 0);
  }
}

TEST_CASE("scale-up happens at once, in one step to the sized count") {
  Driver d;
  CHECK(d.poll(at(0, 1, partitions(12, 0, 0))).desiredReplicas == 1);
  auto dec = d.poll(at(10, 1, partitions(12, 5000, 0)));
  CHECK(dec.desiredReplicas == 12);
}

TEST_CASE("scale-down waits for the backlog, then the window's maximum, in capped steps") {
  Driver d;  // window 60 s
  d.config.maxScaleDownPercent = 50;
  REQUIRE(d.poll(at(0, 12, partitions(12, 2000, 0))).desiredReplicas == 12);

  // The lag (300) now sizes 3, but is above lagThreshold (100): still draining.
  auto draining = d.poll(at(10, 12, partitions(12, 2000, 1975)));
  CHECK(draining.desiredReplicas == 12);
  CHECK(draining.reason == Reason::Draining);

  // Drained; 12 was recommended within the last 60 s.
  auto held = d.poll(at(20, 12, partitions(12, 2000, 2000)));
  CHECK(held.desiredReplicas == 12);
  CHECK(held.reason == Reason::Stabilizing);
  CHECK(held.message == "holding 12: 12 recommended within 60 s");

  // At 61 s the 12 from t=0 has left the window, which now holds
  // {3 (t=10), 1 (t=20), 1 (t=61)}: step 12 -> 6 (50%), a breakpoint.
  auto step1 = d.poll(at(61, 12, partitions(12, 2000, 2000)));
  CHECK(step1.desiredReplicas == 6);
  CHECK(step1.reason == Reason::Stabilizing);
  CHECK(step1.message == "stepping down to 6 towards 3 (at most 50% per step)");

  auto step2 = d.poll(at(65, 6, partitions(12, 2000, 2000)));
  CHECK(step2.desiredReplicas == 3);
  CHECK(step2.reason == Reason::Stabilizing);  // 3 is the window's maximum, not today's size (1)

  // Once t=10 has left the window too: 3 -> 2 (50% of 3 is 1), then 1.
  auto step3 = d.poll(at(75, 3, partitions(12, 2000, 2000)));
  CHECK(step3.desiredReplicas == 2);
  auto step4 = d.poll(at(85, 2, partitions(12, 2000, 2000)));
  CHECK(step4.desiredReplicas == 1);
  CHECK(step4.reason == Reason::Bounds);  // the target itself: minReplicas
}

TEST_CASE("a 100% step goes straight to the window's maximum") {
  Driver d;
  d.config.maxScaleDownPercent = 100;
  d.config.scaleDownStabilizationSeconds = 30;
  REQUIRE(d.poll(at(0, 12, partitions(12, 20, 0))).reason == Reason::Draining);  // 240 lag: 3
  auto dec = d.poll(at(10, 12, partitions(12, 20, 20)));
  CHECK(dec.desiredReplicas == 3);
  CHECK(dec.reason == Reason::Stabilizing);
}

TEST_CASE("a step that lands between breakpoints rounds down to one, never below the target") {
  Driver d;
  d.config.scaleDownStabilizationSeconds = 0;
  d.config.maxScaleDownPercent = 25;
  // 10 replicas, 12 partitions, target 3: 25% of 10 is 2 -> 8, and 8 leaves the
  // busiest with 2 partitions like 6 does: 6.
  auto dec = d.poll(at(0, 10, partitions(12, 25, 0)));  // 300 lag: 3 needed, but above lagThreshold
  CHECK(dec.reason == Reason::Draining);
  auto next = d.poll(at(10, 10, partitions(12, 25, 20)));  // 60 lag: 1 needed
  CHECK(next.desiredReplicas == 6);
  CHECK(next.reason == Reason::Stabilizing);
}

TEST_CASE("the default step takes 12 -> 3 -> 1: two rebalances, not four") {
  Driver d;
  d.config = PolicyConfig{};
  d.config.maxReplicas = 12;
  d.config.scaleDownStabilizationSeconds = 0;
  REQUIRE(d.config.maxScaleDownPercent == 75);
  auto first = d.poll(at(0, 12, partitions(12, 0, 0)));
  CHECK(first.desiredReplicas == 3);
  CHECK(first.reason == Reason::Stabilizing);
  CHECK(d.poll(at(10, 3, partitions(12, 0, 0))).desiredReplicas == 1);
}

TEST_CASE("activation from zero above activationLagThreshold") {
  Driver d;
  d.config.minReplicas = 0;
  d.config.activationLagThreshold = 50;
  SECTION("at or below the threshold: stay at zero") {
    auto dec = d.poll(at(0, 0, partitions(12, 4, 0, false)));  // 48
    CHECK(dec.desiredReplicas == 0);
    CHECK(dec.reason == Reason::Idle);
  }
  SECTION("above: straight to the sized count") {
    auto dec = d.poll(at(0, 0, partitions(12, 30, 0, false)));  // 360 -> 4
    CHECK(dec.desiredReplicas == 4);
    CHECK(dec.reason == Reason::Activation);
  }
  SECTION("above with little lag: one replica") {
    auto dec = d.poll(at(0, 0, partitions(1, 51, 0, false)));
    CHECK(dec.desiredReplicas == 1);
    CHECK(dec.reason == Reason::Activation);
  }
}

TEST_CASE("scale to zero only with minReplicas 0 after cooldownSeconds without lag or production") {
  Driver d;
  d.config.minReplicas = 0;
  d.config.cooldownSeconds = 300;
  d.poll(at(0, 1, partitions(12, 100, 100)));
  CHECK(d.poll(at(10, 1, partitions(12, 100, 100))).desiredReplicas == 1);  // idle since 10
  CHECK(d.poll(at(309, 1, partitions(12, 100, 100))).desiredReplicas == 1);
  auto dec = d.poll(at(310, 1, partitions(12, 100, 100)));
  CHECK(dec.desiredReplicas == 0);
  CHECK(dec.reason == Reason::Idle);

  SECTION("production restarts the cooldown even without lag") {
    Driver e;
    e.config = d.config;
    e.poll(at(0, 1, partitions(12, 100, 100)));
    e.poll(at(10, 1, partitions(12, 100, 100)));
    e.poll(at(200, 1, partitions(12, 101, 101)));  // one message in, consumed
    CHECK(e.poll(at(310, 1, partitions(12, 101, 101))).desiredReplicas == 1);
    CHECK(e.poll(at(609, 1, partitions(12, 101, 101))).desiredReplicas == 1);
    CHECK(e.poll(at(610, 1, partitions(12, 101, 101))).desiredReplicas == 0);
  }
  SECTION("never with minReplicas 1") {
    Driver e;
    e.poll(at(0, 1, partitions(12, 100, 100)));
    CHECK(e.poll(at(1000, 1, partitions(12, 100, 100))).desiredReplicas == 1);
  }
}

TEST_CASE("failed polls: hold, then the fallback, never zero (keda #4098, #7239)") {
  Driver d;
  d.config.fallback.failureThreshold = 3;
  SECTION("hold the current count below the threshold, then fallback.replicas, degraded") {
    d.config.fallback.replicas = 4;
    auto f1 = d.fail(7);
    CHECK(f1.desiredReplicas == 7);
    CHECK(f1.reason == Reason::MetricsFailed);
    CHECK_FALSE(f1.degraded);
    CHECK(f1.message == "offsets unavailable (1 of 3 failures); holding 7");
    d.fail(7);
    auto f3 = d.fail(7);
    CHECK(f3.desiredReplicas == 4);
    CHECK(f3.reason == Reason::Fallback);
    CHECK(f3.degraded);
    CHECK(f3.message == "offsets unavailable for 3 or more polls in a row; holding fallback.replicas 4");
    // Later failures repeat the same decision word for word (it is written to status).
    auto f4 = d.fail(7);
    CHECK(f4.message == f3.message);
    CHECK(f4.desiredReplicas == f3.desiredReplicas);
  }
  SECTION("without fallback.replicas: the current count") {
    d.fail(5);
    d.fail(5);
    auto f = d.fail(5);
    CHECK(f.desiredReplicas == 5);
    CHECK(f.reason == Reason::Fallback);
    CHECK(f.message == "offsets unavailable for 3 or more polls in a row; holding current 5");
  }
  SECTION("fallback.replicas 0 never empties a running group") {
    d.config.fallback.replicas = 0;
    for (int i = 0; i < 2; ++i) d.fail(3);
    CHECK(d.fail(3).desiredReplicas == 3);
  }
  SECTION("the fallback also leaves zero (keda #7239)") {
    d.config.minReplicas = 0;
    d.config.fallback.replicas = 1;
    for (int i = 0; i < 2; ++i) CHECK(d.fail(0).desiredReplicas == 0);
    CHECK(d.fail(0).desiredReplicas == 1);
  }
  SECTION("a success resets the count and clears degraded") {
    d.fail(2);
    d.fail(2);
    auto ok = d.poll(at(20, 2, partitions(12, 0, 0)));
    CHECK_FALSE(ok.degraded);
    CHECK(d.state.consecutiveFailures == 0);
    CHECK(d.fail(2).reason == Reason::MetricsFailed);
  }
  SECTION("failures restart the idle cooldown: no scale to zero right after an outage") {
    d.config.minReplicas = 0;
    d.config.cooldownSeconds = 300;
    d.poll(at(0, 1, partitions(12, 0, 0)));
    d.poll(at(10, 1, partitions(12, 0, 0)));  // idle since 10
    d.fail(1);
    CHECK(d.poll(at(320, 1, partitions(12, 0, 0))).desiredReplicas == 1);
  }
}

TEST_CASE("the stabilization history stays within its window and keeps only possible maxima") {
  Driver d;
  d.config.scaleDownStabilizationSeconds = 30;
  for (int t = 0; t <= 600; t += 5) d.poll(at(t, 1, partitions(12, 0, 0)));
  // The same recommendation 121 times: the newest one stands for all.
  REQUIRE(d.state.history.size() == 1);
  CHECK(d.state.history[0].at == Millis(600'000));
  CHECK(d.state.partitions.size() == 12);
  // Falling recommendations are each a maximum for part of the window; the
  // ones older than the window go.
  d.state.history = {{Millis(500'000), 9}, {Millis(580'000), 7}, {Millis(590'000), 5}};
  d.poll(at(605, 1, partitions(12, 0, 0)));
  REQUIRE(d.state.history.size() == 3);
  CHECK(d.state.history[0].replicas == 7);
  CHECK(d.state.history[1].replicas == 5);
  CHECK(d.state.history[2].at == Millis(605'000));
}
