#include "autoscale/sim_options.h"

#include <catch2/catch.hpp>

using namespace ew::autoscale;

TEST_CASE("simulation options name the offending option") {
  auto error = [](auto mutate) {
    SimulationOptions o;
    mutate(o);
    if (auto s = validateModel(o.model); !s.ok()) return s.error().message;
    auto a = makeAutoscaler(o);
    return a.ok() ? std::string("ok") : a.error().message;
  };
  CHECK(error([](auto&) {}) == "ok");
  CHECK(error([](auto& o) { o.policy = "keda"; }) == "ok");
  CHECK(error([](auto& o) { o.policy = "hpa"; }) == "--policy: must be eventworker or keda");
  CHECK(error([](auto& o) { o.lagThreshold = 0; }) == "--lag-threshold: must be at least 1");
  CHECK(error([](auto& o) {
          o.minReplicas = 5;
          o.maxReplicas = 4;
        }) == "--min-replicas, --max-replicas: need 0 <= min <= max and max >= 1");
  CHECK(error([](auto& o) { o.pollIntervalSeconds = 0; }) == "--poll-interval: must be at least 1");
  CHECK(error([](auto& o) { o.maxScaleDownPercent = 0; }) == "scaling.maxScaleDownPercent: must be between 1 and 100");
  CHECK(error([](auto& o) { o.model.partitions = 0; }) == "--partitions: must be at least 1");
  CHECK(error([](auto& o) { o.model.perReplicaRate = 0; }) == "--per-replica-rate: must be above 0");
  CHECK(error([](auto& o) { o.model.commitIntervalSeconds = 0; }) == "--commit-interval: must be at least 1");
  CHECK(error([](auto& o) {
          o.model.stuck = StuckPartition{12, 0, 10};
        }) == "--stuck-partition: must be a partition number below --partitions");
}

TEST_CASE("both policies get the shared options, eventworker also its own") {
  SimulationOptions o;
  o.lagThreshold = 250;
  o.minReplicas = 0;
  o.maxReplicas = 7;
  o.cooldownSeconds = 120;
  o.targetDrainSeconds = 0;
  auto ew = eventWorkerConfig(o);
  CHECK(ew.lagThreshold == 250);
  CHECK(ew.minReplicas == 0);
  CHECK(ew.maxReplicas == 7);
  CHECK(ew.cooldownSeconds == 120);
  CHECK_FALSE(ew.targetDrainSeconds);
  CHECK(ew.podStartSeconds == o.model.podStartSeconds);
  auto k = kedaConfig(o);
  CHECK(k.lagThreshold == 250);
  CHECK(k.minReplicaCount == 0);
  CHECK(k.maxReplicaCount == 7);
  CHECK(k.cooldownPeriodSeconds == 120);
  CHECK(k.hpaSyncPeriodSeconds == 15);  // everything else KEDA's defaults
}
