#include "autoscale/policy.h"

#include <catch2/catch.hpp>

using namespace ew::autoscale;
using namespace std::chrono_literals;

namespace {

// P partitions of "orders", every one with the same offsets.
std::vector<PartitionOffsets> partitions(int count, std::int64_t end, std::optional<std::int64_t> committed,
                                         bool owned = true) {
  std::vector<PartitionOffsets> out;
  for (int i = 0; i < count; ++i) out.push_back({"orders", i, 0, end, committed, owned});
  return out;
}

Observation at(int seconds, int replicas, std::vector<PartitionOffsets> parts,
               OffsetReset reset = OffsetReset::Latest) {
  return {Millis(seconds * 1000LL), replicas, reset, std::move(parts)};
}

PolicyConfig config() {
  PolicyConfig c;
  c.minReplicas = 1;
  c.maxReplicas = 20;
  c.lagThreshold = 100;
  c.scaleDownStabilizationSeconds = 60;
  c.podStartSeconds = 0;
  return c;
}

// Drives the policy poll by poll, keeping the state as the live loop would.
struct Driver {
  PolicyConfig config = ::config();
  PolicyState state;
  Decision poll(const Observation& o) {
    auto step = policyPoll(state, config, o);
    state = step.state;
    return step.decision;
  }
  Decision fail(int replicas) {
    auto step = policyFailed(state, config, replicas);
    state = step.state;
    return step.decision;
  }
};

}  // namespace

TEST_CASE("validate accepts the defaults and names each invalid field") {
  CHECK(validate(PolicyConfig{}).ok());
  auto field = [](auto mutate) {
    PolicyConfig c;
    mutate(c);
    auto s = validate(c);
    return s.ok() ? std::string("ok") : s.error().message;
  };
  CHECK(field([](auto& c) { c.minReplicas = -1; }) == "scaling.minReplicas: must be at least 0");
  CHECK(field([](auto& c) { c.maxReplicas = 0; c.minReplicas = 0; }) == "scaling.maxReplicas: must be at least 1");
  CHECK(field([](auto& c) { c.minReplicas = 11; }) == "scaling.minReplicas: must not exceed maxReplicas");
  CHECK(field([](auto& c) { c.lagThreshold = 0; }) == "scaling.lagThreshold: must be at least 1");
  CHECK(field([](auto& c) { c.activationLagThreshold = -1; }) == "scaling.activationLagThreshold: must be at least 0");
  CHECK(field([](auto& c) { c.targetDrainSeconds = 0; }) == "scaling.targetDrainSeconds: must be at least 1");
  CHECK(field([](auto& c) { c.scaleDownStabilizationSeconds = -1; }) ==
        "scaling.scaleDownStabilizationSeconds: must be at least 0");
  CHECK(field([](auto& c) { c.fallback.failureThreshold = 0; }) == "scaling.fallback.failureThreshold: must be at least 1");
  CHECK(field([](auto& c) { c.fallback.replicas = -2; }) == "scaling.fallback.replicas: must be at least 0");
  CHECK(field([](auto& c) { c.cooldownSeconds = -1; }) == "scaling.cooldownSeconds: must be at least 0");
  CHECK(field([](auto& c) { c.maxScaleDownPercent = 0; }) == "scaling.maxScaleDownPercent: must be between 1 and 100");
  CHECK(field([](auto& c) { c.maxScaleDownPercent = 101; }) == "scaling.maxScaleDownPercent: must be between 1 and 100");
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
      {"orders", 0, 500, 800, 600, true},            // committed inside the log: 200
      {"orders", 1, 500, 800, 100, true},            // committed below the log start: reset applies
      {"orders", 2, 500, 800, std::nullopt, true},   // no committed offset: reset applies
      {"orders", 3, 0, 50, 70, true},                // committed past the end: 0
      {"audit", 0, 0, 30, 0, true},
  };
  SECTION("earliest: from the log start, never the retention-deleted history (keda #7936)") {
    auto dec = d.poll(at(0, 1, parts, OffsetReset::Earliest));
    REQUIRE(dec.partitions.size() == 5);
    CHECK(dec.partitions[0].lag == 200);
    CHECK(dec.partitions[1].lag == 300);
    CHECK(dec.partitions[2].lag == 300);
    CHECK(dec.partitions[3].lag == 0);
    CHECK(dec.partitions[4].lag == 30);
    CHECK(dec.totalLag == 830);
    CHECK(dec.lagByTopic.at("orders") == 800);
    CHECK(dec.lagByTopic.at("audit") == 30);
  }
  SECTION("latest: a consumer without a usable offset starts at the end") {
    auto dec = d.poll(at(0, 1, parts, OffsetReset::Latest));
    CHECK(dec.partitions[1].lag == 0);
    CHECK(dec.partitions[2].lag == 0);
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

TEST_CASE("stalled partitions are reported and do not drive scale-up (keda #3904)") {
  Driver d;
  d.config.stalledAfterPolls = 3;
  d.config.stalledAfterSeconds = 0;
  auto parts = partitions(12, 0, 0);
  // Partition 5 is stuck at offset 10 while production continues into it.
  auto poll = [&](int t, std::int64_t end5) {
    parts[5].end = end5;
    parts[5].committed = 10;
    return d.poll(at(t, 1, parts));
  };
  auto first = poll(0, 500);
  CHECK(first.stalled.empty());
  CHECK(first.desiredReplicas == 4);  // 490 lag: 5 -> breakpoint 4, not yet stalled
  poll(10, 900);
  auto second = poll(20, 1300);  // two still polls
  CHECK(second.stalled.empty());
  auto third = poll(30, 1700);  // three: stalled
  REQUIRE(third.stalled.size() == 1);
  CHECK(third.stalled[0] == PartitionKey{"orders", 5});
  CHECK(third.partitions[5].stalled);
  CHECK(third.totalLag == 1690);
  CHECK(third.scalingLag == 0);
  CHECK(third.message.find("1 stalled partitions excluded") != std::string::npos);
  // No scale-up from the stalled lag: the recommendation is minReplicas (the
  // earlier scale-up was the policy's own, before the stall was known).
  auto later = d.poll(at(40, 1, [&] { parts[5].end = 2100; return parts; }()));
  CHECK(later.desiredReplicas == 1);
  CHECK(later.scalingLag == 0);
}

TEST_CASE("a stall needs lag, an owner and an unmoved offset") {
  Driver d;
  d.config.stalledAfterPolls = 1;
  d.config.stalledAfterSeconds = 0;
  SECTION("no owner (rebalance, or no pods): not stalled") {
    d.poll(at(0, 0, partitions(1, 100, 10, false)));
    auto dec = d.poll(at(10, 0, partitions(1, 100, 10, false)));
    CHECK(dec.stalled.empty());
  }
  SECTION("moving offset: not stalled") {
    d.poll(at(0, 1, partitions(1, 100, 10)));
    auto dec = d.poll(at(10, 1, partitions(1, 200, 20)));
    CHECK(dec.stalled.empty());
  }
  SECTION("no lag: not stalled") {
    d.poll(at(0, 1, partitions(1, 10, 10)));
    auto dec = d.poll(at(10, 1, partitions(1, 10, 10)));
    CHECK(dec.stalled.empty());
  }
  SECTION("no committed offset under earliest, lag, owner: stalled (keda #5906)") {
    d.poll(at(0, 1, partitions(1, 100, std::nullopt), OffsetReset::Earliest));
    auto dec = d.poll(at(10, 1, partitions(1, 100, std::nullopt), OffsetReset::Earliest));
    CHECK(dec.stalled.size() == 1);
  }
  SECTION("a stall clears as soon as the offset moves") {
    d.poll(at(0, 1, partitions(1, 100, 10)));
    REQUIRE(d.poll(at(10, 1, partitions(1, 100, 10))).stalled.size() == 1);
    CHECK(d.poll(at(20, 1, partitions(1, 100, 11))).stalled.empty());
  }
}

TEST_CASE("a slow handler is not a stuck one: a stall also needs stalledAfterSeconds without progress") {
  Driver d;
  d.config.stalledAfterPolls = 3;
  d.config.stalledAfterSeconds = 60;
  // Polled every 5 s: three still polls after 15 s, not yet a stall.
  d.poll(at(0, 1, partitions(1, 100, 10)));
  for (int t = 5; t < 60; t += 5) CHECK(d.poll(at(t, 1, partitions(1, 100, 10))).stalled.empty());
  CHECK(d.poll(at(60, 1, partitions(1, 100, 10))).stalled.size() == 1);
  // It moved: the clock starts again.
  CHECK(d.poll(at(65, 1, partitions(1, 100, 11))).stalled.empty());
  for (int t = 70; t <= 120; t += 5) CHECK(d.poll(at(t, 1, partitions(1, 100, 11))).stalled.empty());
  CHECK(d.poll(at(125, 1, partitions(1, 100, 11))).stalled.size() == 1);
}

TEST_CASE("rates: production from end offsets, consumption from committed offsets") {
  Driver d;
  auto first = d.poll(at(0, 2, partitions(4, 1000, 1000)));
  CHECK_FALSE(first.produceRate);
  CHECK_FALSE(first.consumeRate);
  auto second = d.poll(at(10, 2, partitions(4, 1500, 1200)));
  REQUIRE(second.produceRate);
  CHECK(*second.produceRate == Approx(200.0));  // 4 x 500 / 10 s
  CHECK(*second.consumeRate == Approx(80.0));   // 4 x 200 / 10 s
  CHECK_FALSE(second.perReplicaRate);           // t=0 had no lag: not backlogged throughout
}

TEST_CASE("per-replica rate is measured only while backlogged and settled, then smoothed") {
  Driver d;
  d.config.podStartSeconds = 10;
  // Every partition lagging and owned, 4 replicas since t=0.
  d.poll(at(0, 4, partitions(12, 1000, 0)));
  CHECK_FALSE(d.poll(at(10, 4, partitions(12, 2000, 500))).perReplicaRate);  // a pod start after the change
  // The interval starts exactly a pod start after the change: a join and its
  // rebalance could fall inside.
  CHECK_FALSE(d.poll(at(20, 4, partitions(12, 3000, 1000))).perReplicaRate);
  auto first = d.poll(at(30, 4, partitions(12, 4000, 1500)));
  REQUIRE(first.perReplicaRate);
  CHECK(*first.perReplicaRate == Approx(150.0));  // 12 x 500 / 10 s / 4 replicas
  auto second = d.poll(at(40, 4, partitions(12, 5000, 1750)));
  CHECK(*second.perReplicaRate == Approx(0.5 * 75.0 + 0.5 * 150.0));

  SECTION("not when a partition ran dry") {
    auto parts = partitions(12, 6000, 2000);
    parts[3].committed = 6000;
    auto dec = d.poll(at(50, 4, parts));
    CHECK(*dec.perReplicaRate == Approx(112.5));  // unchanged
  }
  SECTION("not across a replica change") {
    auto dec = d.poll(at(50, 6, partitions(12, 6000, 2000)));
    CHECK(*dec.perReplicaRate == Approx(112.5));
    auto after = d.poll(at(60, 6, partitions(12, 7000, 2250)));
    CHECK(*after.perReplicaRate == Approx(112.5));  // 6 seen since t=50: not settled before t=60
  }
  SECTION("not while a partition has no owner (rebalancing)") {
    auto dec = d.poll(at(50, 4, partitions(12, 6000, 2000, false)));
    CHECK(*dec.perReplicaRate == Approx(112.5));
  }
}

TEST_CASE("lag that periodic commits explain is not a backlog") {
  Driver d;
  d.config.targetDrainSeconds = 60;
  d.config.lagThreshold = 100;
  d.config.podStartSeconds = 0;
  // 12 replicas keeping up with 1,200 msg/s, committing every few seconds:
  // each poll sees up to 4 s of arrivals (4,800) uncommitted.
  d.poll(at(0, 12, partitions(12, 0, 0)));
  d.poll(at(10, 12, partitions(12, 1000, 600)));
  d.poll(at(20, 12, partitions(12, 2000, 1600)));
  auto dec = d.poll(at(30, 12, partitions(12, 3000, 2600)));
  CHECK_FALSE(dec.perReplicaRate);  // never "busy": no throughput sample from keeping up
  // Then 300 msg/s: a scale-down, not "Draining" on a lag of 4 s of arrivals.
  d.state.perReplicaRate = 100.0;
  d.state.smoothedRate = 300.0;  // as smoothed over the drop
  d.config.scaleDownStabilizationSeconds = 0;
  auto down = d.poll(at(40, 12, partitions(12, 3250, 3150)));  // lag 1,200
  CHECK(down.desiredReplicas == 4);  // 300 / 0.9 + (1,200 - 600) / 60 = 343 msg/s: 3 partitions each
  CHECK(down.reason == Reason::DrainTime);
  // 8 s of arrivals uncommitted is more than commits explain: a backlog.
  auto held = d.poll(at(50, 12, partitions(12, 3500, 3300)));  // lag 2,400, 300 msg/s
  CHECK(held.desiredReplicas == 12);
  CHECK(held.reason == Reason::Draining);
}

TEST_CASE("a group backlogged since within the interval gives a lower bound, kept apart from the measured rate") {
  Driver d;
  d.config.targetDrainSeconds = 60;
  d.config.lagThreshold = 100000;
  d.poll(at(0, 1, partitions(12, 0, 0)));
  d.poll(at(10, 1, partitions(12, 100, 100)));  // keeping up
  // Now 120 msg/s arrive, the replica did 48 msg/s and every partition is
  // behind by 60 (more than half the 100 that arrived each): it can do at
  // least 48 msg/s. 120 + 720 / 60 = 132 msg/s -> 4 partitions each -> 3.
  auto dec = d.poll(at(20, 1, partitions(12, 200, 140)));
  CHECK(dec.desiredReplicas == 3);
  CHECK(dec.reason == Reason::DrainTime);
  CHECK(dec.message ==
        "production 120.0 msg/s and lag 720 to drain in 60 s need 3 replicas at 48.0 msg/s each (at least; not yet "
        "measured)");
  CHECK_FALSE(dec.perReplicaRate);
  REQUIRE(d.state.perReplicaBound);
  CHECK(*d.state.perReplicaBound == Approx(48.0));
  // The next backlogged interval is a measurement.
  auto next = d.poll(at(30, 1, partitions(12, 300, 240)));
  REQUIRE(next.perReplicaRate);
  CHECK(*next.perReplicaRate == Approx(120.0));
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

TEST_CASE("drain-time mode sizes production plus the lag over the target, partition-aware") {
  Driver d;
  d.config.targetDrainSeconds = 60;
  d.config.lagThreshold = 10;  // a lag allowance of 5 per replica: all of it is backlog
  d.poll(at(0, 6, partitions(12, 1000, 1000)));
  d.state.perReplicaRate = 100.0;  // as measured earlier

  SECTION("production alone: 450 msg/s needs 2 partitions per replica -> 6, not ceil(4.5) = 5") {
    auto dec = d.poll(at(10, 6, partitions(12, 1375, 1375)));  // 12 x 375 / 10 s
    CHECK(dec.desiredReplicas == 6);
    CHECK(dec.reason == Reason::DrainTime);
    CHECK(dec.message == "production 450.0 msg/s and lag 0 to drain in 60 s need 6 replicas at 100.0 msg/s each");
  }
  SECTION("production plus lag: 120 msg/s + 12,000 / 60 s = 320 msg/s -> 3 partitions each -> 4") {
    auto dec = d.poll(at(10, 4, partitions(12, 1100, 100)));
    CHECK(dec.desiredReplicas == 4);
    CHECK(dec.reason == Reason::DrainTime);
  }
  SECTION("a scale-up drains in half the target: 120 msg/s + 12,000 / 30 s = 520 msg/s -> 2 partitions each -> 6") {
    auto dec = d.poll(at(10, 2, partitions(12, 1100, 100)));
    CHECK(dec.desiredReplicas == 6);
    CHECK(dec.reason == Reason::DrainTime);
  }
  SECTION("more than the group can ever do: every partition gets a replica") {
    auto dec = d.poll(at(10, 6, partitions(12, 3400, 3400)));  // 2,880 msg/s
    CHECK(dec.desiredReplicas == 12);
    CHECK(dec.reason == Reason::DrainTime);
  }
  SECTION("nothing to do: minReplicas") {
    auto dec = d.poll(at(10, 1, partitions(12, 1000, 1000)));
    CHECK(dec.desiredReplicas == 1);
    CHECK(dec.reason == Reason::Bounds);
  }
}

TEST_CASE("drain-time mode accounts for pod start") {
  Driver d;
  d.config.targetDrainSeconds = 60;
  d.config.lagThreshold = 100000;
  d.poll(at(0, 2, partitions(12, 1000, 1000)));
  d.state.perReplicaRate = 100.0;
  // 600 msg/s against 2 replicas (capacity 200 msg/s), no lag yet.
  SECTION("instant pods: 600 msg/s -> 2 partitions each -> 6") {
    d.config.podStartSeconds = 0;
    CHECK(d.poll(at(10, 2, partitions(12, 1500, 1500))).desiredReplicas == 6);
  }
  SECTION("30 s pods: 400 msg/s pile up meanwhile, 12,000 to drain in 30 s -> 1,000 msg/s -> 12") {
    d.config.podStartSeconds = 30;
    CHECK(d.poll(at(10, 2, partitions(12, 1500, 1500))).desiredReplicas == 12);
  }
}

TEST_CASE("drain-time mode waits for both rates, lag mode until then") {
  Driver d;
  d.config.targetDrainSeconds = 60;
  auto dec = d.poll(at(0, 1, partitions(12, 50, 0)));  // 600 lag, no rates yet
  CHECK(dec.reason == Reason::Lag);
  CHECK(dec.desiredReplicas == 6);
  auto second = d.poll(at(10, 6, partitions(12, 100, 0)));  // produce rate known, per-replica not
  CHECK(second.reason == Reason::Lag);
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

TEST_CASE("a backlog the running group drains within the target adds no pods (no pod-start penalty)") {
  Driver d;
  d.config.targetDrainSeconds = 60;
  d.config.podStartSeconds = 10;
  d.config.lagThreshold = 2;  // a lag allowance of 1
  d.poll(at(0, 1, partitions(12, 1000, 1000)));
  d.state.perReplicaRate = 100.0;
  // 96 msg/s and a lag of 216 (after a rebalance pause): 96 + 215 / 60 = 99.6
  // msg/s fits the running replica; with the pod start taken off the target
  // (216 / 50 s) it would not, but no pod needs to start.
  auto fits = d.poll(at(10, 1, partitions(12, 1080, 1062)));
  CHECK(fits.desiredReplicas == 1);
  CHECK(fits.reason == Reason::DrainTime);
  // A lag of 1,080 does not fit: 96 + 1,079 / 50 s = 117.6 msg/s -> 2.
  auto more = d.poll(at(20, 1, partitions(12, 1160, 1070)));
  CHECK(more.desiredReplicas == 2);
  CHECK(more.reason == Reason::DrainTime);
}

namespace {

// 12 partitions of 100 msg/s replicas, drain-time mode, the group keeping up
// (committed == end) with a production rate chosen per poll; polls every 5 s.
struct RateDriver : Driver {
  std::int64_t end = 0;
  int replicas;
  explicit RateDriver(int start) : replicas(start) {
    config.targetDrainSeconds = 60;
    config.lagThreshold = 1000;
    config.maxReplicas = 12;
    config.scaleDownStabilizationSeconds = 120;
    config.podStartSeconds = 10;
    config.rebalanceSeconds = 5;
    poll(at(0, replicas, partitions(12, 0, 0)));
    state.perReplicaRate = 100.0;  // as measured earlier
  }
  // Production of `rate` msg/s over the 5 s before t; the decision applied.
  Decision step(int t, double rate) {
    end += static_cast<std::int64_t>(rate * 5 / 12);
    auto dec = poll(at(t, replicas, partitions(12, end, end)));
    replicas = dec.desiredReplicas;
    return dec;
  }
};

double burstRate(int t, int first, int period, int length, double base, double peak) {
  return t > first && (t - first) % period > 0 && (t - first) % period <= length ? peak : base;
}

}  // namespace

TEST_CASE("noise of +-40% per poll around a level does not move the replica count") {
  RateDriver d(6);
  int changes = 0;
  for (int t = 5; t <= 3600; t += 5) {
    const double noise[] = {1.0, 1.4, 0.7, 1.2, 0.6, 1.1, 0.9, 1.3};
    int before = d.replicas;
    d.step(t, 400 * noise[(t / 5) % 8]);
    if (d.replicas != before) ++changes;
  }
  CHECK(changes == 0);
  CHECK(d.replicas == 6);
}

TEST_CASE("a jump of more than kSurge above the smoothed rate is sized at once") {
  RateDriver d(1);
  for (int t = 5; t <= 300; t += 5) d.step(t, 50);
  auto dec = d.step(305, 800);
  CHECK(dec.desiredReplicas == 12);  // 800 msg/s: one partition per replica
  CHECK(dec.reason == Reason::DrainTime);
}

TEST_CASE("scale-down needs a surplus below kScaleDownUtilization that lasts the window") {
  RateDriver d(6);
  for (int t = 5; t <= 300; t += 5) d.step(t, 550);
  REQUIRE(d.replicas == 6);
  // 380 msg/s: 4 replicas (capacity 400) would run at 95%: no scale-down.
  for (int t = 305; t <= 900; t += 5) CHECK(d.step(t, 380).desiredReplicas == 6);
  // 300 msg/s: 4 would run at 75%; down only once the window has passed.
  int downAt = 0;
  for (int t = 905; t <= 1300 && !downAt; t += 5)
    if (d.step(t, 300).desiredReplicas < 6) downAt = t;
  CHECK(d.replicas == 4);
  CHECK(downAt >= 905 + 120);
}

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

TEST_CASE("recurring bursts with long gaps: one step down after the window, back up ahead of the next") {
  RateDriver d(1);
  for (int t = 5; t < 100 + 3 * 600 + 60; t += 5) d.step(t, burstRate(t, 100, 600, 30, 40, 800));
  // Between the fourth and fifth bursts: down to 1 in one step, up once.
  int changes = 0;
  for (int t = 100 + 3 * 600 + 60; t <= 100 + 4 * 600 + 5; t += 5) {
    int before = d.replicas;
    d.step(t, burstRate(t, 100, 600, 30, 40, 800));
    if (d.replicas != before) ++changes;
  }
  CHECK(changes == 2);
  CHECK(d.replicas == 12);
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

TEST_CASE("the production of the rebalance a scale-down caused does not grow the group again") {
  Driver d;  // lag mode, lagThreshold 100
  d.config.rebalanceSeconds = 5;
  d.poll(at(0, 4, partitions(4, 0, 0)));
  d.poll(at(5, 4, partitions(4, 100, 100)));  // 80 msg/s, kept up with
  d.state.history.clear();                     // the window has passed
  auto down = d.poll(at(10, 4, partitions(4, 200, 200)));
  REQUIRE(down.desiredReplicas == 1);
  // The pause left 5 s of production (400) behind: not 4 replicas' worth of lag.
  auto after = d.poll(at(15, 1, partitions(4, 300, 200)));
  CHECK(after.desiredReplicas == 1);
  // The same lag without a scale-down just before is sized as lag.
  auto later = d.poll(at(20, 1, partitions(4, 400, 300)));
  CHECK(later.desiredReplicas == 4);
}

TEST_CASE("after a scale-down the group settles after a rebalance, without a pod start") {
  Driver d;
  d.config.podStartSeconds = 30;
  d.config.rebalanceSeconds = 5;
  d.config.lagThreshold = 100000;
  d.poll(at(0, 4, partitions(12, 0, 0)));
  d.poll(at(10, 2, partitions(12, 1000, 400)));  // scaled down after t=0, behind
  // Busy through (10, 20] and settled (t=0 + 5 s <= 10): a measurement, no pod start waited for.
  auto dec = d.poll(at(20, 2, partitions(12, 2000, 640)));
  REQUIRE(dec.perReplicaRate);
  CHECK(*dec.perReplicaRate == Approx(144.0));  // 12 x 240 / 10 s / 2
}
