// The scaling policy (policy.h), what one poll measures: stalled partitions,
// production and consumption rates, the per-replica rate.
#include "autoscale/policy.h"

#include <catch2/catch.hpp>

#include "autoscale/policy_test_support.h"

using namespace ew::autoscale;
using namespace ew::autoscale::policy_test;
using namespace std::chrono_literals;

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
  CHECK(third.totalLag == 1690);
  CHECK(third.scalingLag == 0);
  CHECK(third.message.find("1 stalled partitions excluded") != std::string::npos);
  // No scale-up from the stalled lag: the recommendation is minReplicas (the
  // earlier scale-up was the policy's own, before the stall was known).
  auto later = d.poll(at(40, 1, [&] {
    parts[5].end = 2100;
    return parts;
  }()));
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
  d.config.lagThreshold = 10;  // a lag allowance of 5: all of the lag is backlog
  d.poll(at(0, 1, partitions(12, 0, 0)));
  d.poll(at(10, 1, partitions(12, 100, 100)));  // keeping up
  // Now 120 msg/s arrive, the replica did 48 msg/s and every partition is
  // behind by 60 (more than half the 100 that arrived each): it can do at
  // least 48 msg/s. 120 + 715 / 60 = 132 msg/s -> 4 partitions each -> 3.
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

TEST_CASE("the partitions of several topics are each remembered as their own from poll to poll, in any order") {
  Driver d;
  d.config.stalledAfterPolls = 2;
  d.config.stalledAfterSeconds = 10;
  // payments/1 stays at offset 0 while both topics grow; the reader's order is not sorted.
  auto parts = [](std::int64_t ordersEnd, std::int64_t paymentsEnd) {
    return std::vector<PartitionOffsets>{{"payments", 1, 0, paymentsEnd, 0, true},
                                         {"orders", 0, 0, ordersEnd, ordersEnd, true},
                                         {"payments", 0, 0, paymentsEnd, paymentsEnd, true}};
  };
  d.poll(at(0, 1, parts(0, 0)));
  d.poll(at(5, 1, parts(50, 100)));
  d.poll(at(10, 1, parts(100, 200)));
  const Decision dec = d.poll(at(15, 1, parts(150, 300)));
  CHECK(dec.stalled == std::vector<PartitionKey>{{"payments", 1}});
  CHECK(dec.produceRate == Approx((50 + 100 + 100) / 5.0));  // each partition against its own last end
  CHECK(dec.consumeRate == Approx((50 + 100) / 5.0));        // and its own last commit
  CHECK(dec.lagByTopic == std::map<std::string, std::int64_t>{{"orders", 0}, {"payments", 300}});
  // A topic added later starts without memory: no rate from it in its first poll.
  auto more = parts(200, 400);
  more.push_back({"audit", 0, 0, 1000, 1000, true});
  CHECK(d.poll(at(20, 1, more)).produceRate == Approx((50 + 100 + 100) / 5.0));
}
