#include "autoscale/keda_model.h"

#include <catch2/catch.hpp>

using namespace ew::autoscale;

namespace {

std::vector<PartitionOffsets> lagging(int count, std::int64_t lagEach) {
  std::vector<PartitionOffsets> out;
  for (int i = 0; i < count; ++i) out.push_back({"events", i, 0, 1000 + lagEach, 1000, true});
  return out;
}

KedaConfig keda(std::int64_t threshold = 100) {
  KedaConfig k;
  k.lagThreshold = threshold;
  return k;
}

}  // namespace

TEST_CASE("KEDA's documented defaults") {
  KedaConfig k;
  CHECK(k.pollingIntervalSeconds == 30);
  CHECK(k.cooldownPeriodSeconds == 300);
  CHECK(k.minReplicaCount == 0);
  CHECK(k.maxReplicaCount == 100);
  CHECK(k.lagThreshold == 10);
  CHECK(k.activationLagThreshold == 0);
  CHECK_FALSE(k.allowIdleConsumers);
  CHECK(k.offsetResetPolicy == OffsetReset::Latest);
  CHECK(k.hpaSyncPeriodSeconds == 15);
  CHECK(k.tolerance == 0.1);
  CHECK(k.scaleDownStabilizationSeconds == 300);
  CHECK(k.scaleUpStabilizationSeconds == 0);
  CHECK(k.scaleUpPods == 4);
  CHECK(k.scaleUpPercent == 100);
  CHECK(k.scaleDownPercent == 100);
}

TEST_CASE("the Kafka scaler's metric: summed lag, capped at partitions x lagThreshold") {
  auto k = keda(100);
  SECTION("below the cap, and up to (P + 1) x threshold in integer division") {
    CHECK(kedaKafkaMetric(lagging(12, 50), k).metric == 600);
    CHECK(kedaKafkaMetric(lagging(12, 108), k).metric == 1296);  // 1296 / 100 = 12, not > 12
  }
  SECTION("capped") {
    auto m = kedaKafkaMetric(lagging(12, 109), k);  // 1308 / 100 = 13 > 12
    CHECK(m.metric == 1200);
    CHECK(m.lag == 1308);
  }
  SECTION("allowIdleConsumers: uncapped") {
    k.allowIdleConsumers = true;
    CHECK(kedaKafkaMetric(lagging(12, 1000), k).metric == 12000);
  }
  SECTION("activity above activationLagThreshold, on the uncapped lag") {
    k.activationLagThreshold = 1308;
    CHECK_FALSE(kedaKafkaMetric(lagging(12, 109), k).active);
    k.activationLagThreshold = 1307;
    CHECK(kedaKafkaMetric(lagging(12, 109), k).active);
  }
  SECTION("no committed offset: 1 under latest, 0 with scaleToZeroOnInvalidOffset, the end offset under earliest") {
    std::vector<PartitionOffsets> parts = {{"events", 0, 900, 1000, std::nullopt, true}};
    CHECK(kedaKafkaMetric(parts, k).lag == 1);
    k.scaleToZeroOnInvalidOffset = true;
    CHECK(kedaKafkaMetric(parts, k).lag == 0);
    k.offsetResetPolicy = OffsetReset::Earliest;
    CHECK(kedaKafkaMetric(parts, k).lag == 1000);  // retention-deleted messages included (#7936)
  }
}

TEST_CASE("the HPA's AverageValue calculation with its 10% tolerance") {
  CHECK(hpaExternalPerPodReplicas(500, 100, 5, 0.1) == 5);
  CHECK(hpaExternalPerPodReplicas(540, 100, 5, 0.1) == 5);  // ratio 1.08: within tolerance
  CHECK(hpaExternalPerPodReplicas(560, 100, 5, 0.1) == 6);  // ratio 1.12
  CHECK(hpaExternalPerPodReplicas(460, 100, 5, 0.1) == 5);  // ratio 0.92
  CHECK(hpaExternalPerPodReplicas(440, 100, 5, 0.1) == 5);  // ratio 0.88 -> ceil(4.4) = 5
  CHECK(hpaExternalPerPodReplicas(0, 100, 5, 0.1) == 0);
  // kedacore/keda #2908: the capped metric 12 x 100 over 11 replicas is within tolerance.
  CHECK(hpaExternalPerPodReplicas(1200, 100, 11, 0.1) == 11);
}

TEST_CASE("HPA scale-up: at most max(+4 pods, +100%) per 15 s") {
  HpaModel hpa(keda(100), 1, 100);
  CHECK(hpa.sync(0, 1, 100000) == 5);
  CHECK(hpa.sync(15, 5, 100000) == 10);
  CHECK(hpa.sync(30, 10, 100000) == 20);
  CHECK(hpa.sync(45, 20, 100000) == 40);
  SECTION("within the same period nothing more") {
    HpaModel h(keda(100), 1, 100);
    CHECK(h.sync(0, 1, 100000) == 5);
    CHECK(h.sync(14, 5, 100000) == 5);
  }
  SECTION("maxReplicas") {
    HpaModel h(keda(100), 1, 3);
    CHECK(h.sync(0, 1, 100000) == 3);
  }
}

TEST_CASE("HPA scale-down: the highest recommendation of the last 300 s, then 100% per 15 s") {
  HpaModel hpa(keda(100), 1, 100);
  REQUIRE(hpa.sync(0, 10, 1000) == 10);
  for (int t = 15; t < 300; t += 15) CHECK(hpa.sync(t, 10, 0) == 10);
  CHECK(hpa.sync(300, 10, 0) == 1);  // t=0 left the window; minReplicas 1
}

TEST_CASE("HPA: disabled at zero, and bounded when outside min and max") {
  HpaModel hpa(keda(100), 2, 5);
  CHECK(hpa.sync(0, 0, 100000) == 0);
  CHECK(hpa.sync(15, 9, 0) == 5);
  CHECK(hpa.sync(30, 1, 0) == 2);
}

TEST_CASE("KEDA activates from zero only on its 30 s poll, and scales to zero after the cooldown") {
  KedaAutoscaler k(keda(100));
  ClusterView idle{0, 0, lagging(12, 0)};
  CHECK(k.tick(idle) == 0);
  ClusterView burst{15, 0, lagging(12, 5)};
  CHECK(k.tick(burst) == 0);  // HPA sync, disabled at zero; not a KEDA poll
  burst.t = 30;
  CHECK(k.tick(burst) == 1);  // activation, then the HPA at 1: 60 over 1 x 100 -> ceil(0.6) = 1
  CHECK(k.note() == "activation");
  // Idle from t=60: lastActive 30; zero once 30 + 300 < t on a poll.
  for (int t = 45; t <= 330; t += 15) CHECK(k.tick({t, 1, lagging(12, 0)}) == 1);
  CHECK(k.tick({360, 1, lagging(12, 0)}) == 0);
  CHECK(k.note() == "cooldown");
}

TEST_CASE("KEDA with minReplicaCount 1 never goes to zero") {
  auto c = keda(100);
  c.minReplicaCount = 1;
  KedaAutoscaler k(c);
  for (int t = 0; t <= 900; t += 15) CHECK(k.tick({t, 1, lagging(12, 0)}) == 1);
}

TEST_CASE("KEDA + HPA stop one short of 12 partitions under a large lag (kedacore/keda #2908)") {
  auto c = keda(100);
  c.minReplicaCount = 1;
  c.maxReplicaCount = 12;
  KedaAutoscaler k(c);
  int replicas = 11;
  for (int t = 0; t <= 600; t += 15) replicas = k.tick({t, replicas, lagging(12, 10000)});
  CHECK(replicas == 11);
  // From 10 the ratio 1200 / 1000 is outside the tolerance: 12.
  CHECK(k.tick({615, 10, lagging(12, 10000)}) == 12);
}
