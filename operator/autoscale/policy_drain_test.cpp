// The scaling policy (policy.h), drain-time mode: production plus backlog, pod
// start, the lag allowance, noise and the deadband, the rebalance a scale-down
// causes.
#include "autoscale/policy.h"

#include <catch2/catch.hpp>
#include <optional>

#include "autoscale/policy_test_support.h"

using namespace ew::autoscale;
using namespace ew::autoscale::policy_test;
using namespace std::chrono_literals;

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
  d.config.lagThreshold = 10;  // a lag allowance of 10: it absorbs no shortfall
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

TEST_CASE("the production of the rebalance a scale-down caused does not grow the group again") {
  Driver d;  // lag mode, lagThreshold 100
  d.config.rebalanceSeconds = 5;
  d.poll(at(0, 4, partitions(4, 0, 0)));
  d.poll(at(5, 4, partitions(4, 100, 100)));  // 80 msg/s, kept up with
  d.state.history.clear();                    // the window has passed
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

TEST_CASE("a shortfall that the lag allowance absorbs until new pods would consume grows the group only when it must") {
  Driver d;
  d.config.targetDrainSeconds = 60;
  d.config.lagThreshold = 5000;  // an allowance of 2,500 per replica
  d.config.podStartSeconds = 10;
  d.config.rebalanceSeconds = 5;
  d.poll(at(0, 3, partitions(12, 10000, 10000)));
  d.state.perReplicaRate = 100.0;
  // 319.2 msg/s against 300: 19.2 msg/s short for a pod start, a rebalance
  // and two polls (25 s) is 480 messages, within the 7,500 of 3 replicas.
  auto held = d.poll(at(5, 3, partitions(12, 10133, 10133)));
  CHECK(held.desiredReplicas == 3);
  CHECK(held.reason == Reason::DrainTime);
  CHECK(held.message ==
        "production 319.2 msg/s and lag 0 to drain in 60 s need 3 replicas at 100.0 msg/s each; holding 3 while "
        "the lag allowance absorbs 19.2 msg/s short");
  // With 7,200 of the 7,500 taken, the next 25 s would overflow it: grow.
  auto grown = d.poll(at(10, 3, partitions(12, 10266, 9666)));
  CHECK(grown.desiredReplicas == 4);
  CHECK(grown.reason == Reason::DrainTime);
}

TEST_CASE("a group shrinks below the deadband when its lag allowance buffers the margin for the stabilization window") {
  SECTION("lagThreshold 5,000: 300 msg/s on 3 replicas, 33 msg/s short of the deadband for 120 s fits 7,500") {
    RateDriver d(4);
    d.config.lagThreshold = 5000;
    std::optional<Decision> shrink;
    for (int t = 5; t <= 300; t += 5)
      if (auto dec = d.step(t, 300); dec.desiredReplicas < 4 && !shrink) shrink = dec;
    REQUIRE(shrink);
    CHECK(shrink->desiredReplicas == 3);
    CHECK(shrink->message ==
          "production 300.0 msg/s and lag 0 to drain in 60 s need 3 replicas at 100.0 msg/s each; the lag allowance "
          "buffers 33.3 msg/s short for 120 s");
    CHECK(d.replicas == 3);
  }
  SECTION("lagThreshold 5,000: 450 msg/s on 4 replicas would be 100 msg/s short, 12,000 over 120 s: 6 stay") {
    RateDriver d(6);
    d.config.lagThreshold = 5000;
    for (int t = 5; t <= 300; t += 5) CHECK(d.step(t, 450).desiredReplicas == 6);
  }
  SECTION("lagThreshold 1,000: 1,500 does not buffer 33 msg/s for 120 s: the deadband holds 4") {
    RateDriver d(4);
    for (int t = 5; t <= 300; t += 5) CHECK(d.step(t, 300).desiredReplicas == 4);
  }
}
