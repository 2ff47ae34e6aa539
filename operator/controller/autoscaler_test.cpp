#include "controller/autoscaler.h"

#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>

// The autoscaler's scheduling, batching and publishing, driven through
// pollDue() with a scripted lag source and a manual clock. Reading real
// offsets is covered against the broker (lag_reader_test, autoscale_live_test).

using namespace ew;
using namespace ew::controller;
using autoscale::PartitionOffsets;
using Millis = std::chrono::milliseconds;

namespace {

struct Rig {
  Millis clock{1'000'000};
  std::mutex mu;
  std::vector<std::pair<KafkaAccess, std::vector<LagQuery>>> reads;  // cluster, queries
  std::map<std::string, LagResult> answers;                          // by group
  std::map<std::string, std::optional<int>> replicas;                // by key
  std::vector<std::string> changes;
  MetricsRegistry metrics;
  Autoscaler scaler{[this](const KafkaAccess& cluster, const std::vector<LagQuery>& qs) {
                      std::lock_guard l(mu);
                      reads.emplace_back(cluster, qs);
                      std::vector<LagResult> out;
                      for (const auto& q : qs) {
                        auto it = answers.find(q.group);
                        out.push_back(it == answers.end() ? LagResult(Error{"no such group"}) : it->second);
                      }
                      return out;
                    },
                    [this](const std::string& key) {
                      std::lock_guard l(mu);
                      auto it = replicas.find(key);
                      return it == replicas.end() ? std::optional<int>(1) : it->second;
                    },
                    [this](const std::string& key) { changes.push_back(key); },
                    metrics,
                    [] { return 0.5; },
                    [this] { return clock; }};
};

ScaleTarget target(const std::string& cluster, const std::string& group, int interval = 5) {
  ScaleTarget t;
  t.cluster.bootstrapServers = cluster;
  t.group = group;
  t.topics = {"orders"};
  t.offsetReset = autoscale::OffsetReset::Earliest;
  t.policy.minReplicas = 1;
  t.policy.maxReplicas = 12;
  t.policy.lagThreshold = 100;
  t.pollInterval = std::chrono::seconds(interval);
  return t;
}

// `progress` moves every offset on by that much: the group is consuming.
std::vector<PartitionOffsets> lagged(int partitions, std::int64_t lagEach, std::int64_t progress = 0) {
  std::vector<PartitionOffsets> out;
  for (int p = 0; p < partitions; ++p)
    out.push_back({"orders", p, 0, 1000 + progress, 1000 + progress - lagEach, true});
  return out;
}

}  // namespace

TEST_CASE("first polls are spread over the interval, then due targets are read in one batch per cluster") {
  Rig rig;
  rig.scaler.track("ns/a", target("k1:9092", "a"));
  rig.scaler.track("ns/b", target("k1:9092", "b"));
  rig.scaler.track("ns/c", target("k2:9092", "c"));
  // random01 = 0.5: every first poll lands half an interval in.
  Millis next = rig.scaler.pollDue(rig.clock);
  CHECK(rig.reads.empty());
  CHECK(next == rig.clock + Millis(2500));
  rig.clock = next;
  rig.scaler.pollDue(rig.clock);
  REQUIRE(rig.reads.size() == 2);  // one read per cluster, not one per EventWorker
  std::map<std::string, size_t> perCluster;
  for (const auto& [cluster, qs] : rig.reads) perCluster[cluster.bootstrapServers] = qs.size();
  CHECK(perCluster == std::map<std::string, size_t>{{"k1:9092", 2}, {"k2:9092", 1}});
  // The next poll is one interval on (jitter 0.5 -> exactly the interval).
  CHECK(rig.scaler.pollDue(rig.clock) == rig.clock + Millis(5000));
  CHECK(rig.reads.size() == 2);
}

TEST_CASE("a decision that changes the replicas is published once, then refreshed only after the refresh period") {
  Rig rig;
  rig.answers.insert_or_assign("a", LagResult(lagged(12, 500)));  // 6,000 lag at threshold 100: 12 partitions
  rig.scaler.track("ns/a", target("k1:9092", "a"));
  rig.clock += Millis(2500);
  rig.scaler.pollDue(rig.clock);
  auto d = rig.scaler.decision("ns/a");
  REQUIRE(d);
  CHECK(d->desiredReplicas == 12);
  CHECK(d->totalLag == 6000);
  CHECK(rig.changes == std::vector<std::string>{"ns/a"});
  CHECK(rig.metrics.render().find("eventworker_consumer_lag{name=\"a\",namespace=\"ns\"} 6000") != std::string::npos);

  // The reconciler applied 12; the same picture again publishes nothing ...
  rig.replicas["ns/a"] = 12;
  int polls = 1;
  auto poll = [&] {
    rig.answers.insert_or_assign("a", LagResult(lagged(12, 500, 1000 * polls++)));
    rig.clock += Millis(5000);
    rig.scaler.pollDue(rig.clock);
  };
  poll();
  CHECK(rig.changes.size() == 1);
  // ... until the status refresh is due (30 s after the last publish).
  for (int i = 0; i < 4; ++i) poll();
  CHECK(rig.changes.size() == 1);
  poll();
  CHECK(rig.changes.size() == 2);
}

TEST_CASE("failed polls hold the current count, then the fallback with degraded set, and never zero") {
  Rig rig;
  auto t = target("k1:9092", "gone");
  t.policy.fallback.failureThreshold = 3;
  rig.replicas["ns/a"] = 4;
  rig.scaler.track("ns/a", t);
  rig.clock += Millis(2500);
  for (int i = 0; i < 3; ++i) {
    rig.scaler.pollDue(rig.clock);
    auto d = rig.scaler.decision("ns/a");
    REQUIRE(d);
    CHECK(d->desiredReplicas == 4);
    CHECK(d->degraded == (i == 2));
    CHECK(d->message.find("no such group") != std::string::npos);
    rig.clock += Millis(5000);
  }
  CHECK(rig.scaler.decision("ns/a")->reason == autoscale::Reason::Fallback);
  CHECK(rig.metrics.render().find("eventworker_lag_poll_failures_total{name=\"a\",namespace=\"ns\"} 3") !=
        std::string::npos);
  // A deleted worker leaves no series behind.
  rig.scaler.untrack("ns/a");
  CHECK(rig.metrics.render().find("eventworker_lag_poll_failures_total{name=\"a\"") == std::string::npos);
}

TEST_CASE("no poll counts before the events Deployment exists, and an untracked key is forgotten") {
  Rig rig;
  rig.answers.insert_or_assign("a", LagResult(lagged(3, 10)));
  rig.replicas["ns/a"] = std::nullopt;
  rig.scaler.track("ns/a", target("k1:9092", "a"));
  rig.clock += Millis(2500);
  rig.scaler.pollDue(rig.clock);
  CHECK_FALSE(rig.scaler.decision("ns/a"));
  rig.replicas["ns/a"] = 1;
  rig.clock += Millis(5000);
  rig.scaler.pollDue(rig.clock);
  CHECK(rig.scaler.decision("ns/a"));
  rig.scaler.untrack("ns/a");
  CHECK(rig.scaler.tracked() == 0);
  CHECK_FALSE(rig.scaler.decision("ns/a"));
  CHECK(rig.metrics.render().find("eventworker_desired_replicas{name=\"a\"") == std::string::npos);
}

namespace {

// The value of series NAME{name="a",namespace="ns"} in the registry's text, or nullopt.
std::optional<double> seriesOfA(const MetricsRegistry& metrics, const std::string& name) {
  const std::string text = metrics.render();
  const std::string series = name + "{name=\"a\",namespace=\"ns\"} ";
  const auto at = text.find(series);
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + series.size()));
}

}  // namespace

TEST_CASE("eventworker_max_replicas is maxReplicas limited to the partition count, and untrack drops it") {
  Rig rig;
  rig.answers.insert_or_assign("a", LagResult(lagged(3, 10)));
  rig.scaler.track("ns/a", target("k1:9092", "a"));                 // maxReplicas 12, 3 partitions
  CHECK_FALSE(seriesOfA(rig.metrics, "eventworker_max_replicas"));  // unknown before a poll counts partitions
  rig.clock += Millis(2500);
  rig.scaler.pollDue(rig.clock);
  CHECK(seriesOfA(rig.metrics, "eventworker_max_replicas") == 3);
  // More partitions than maxReplicas: maxReplicas.
  rig.answers.insert_or_assign("a", LagResult(lagged(20, 10)));
  rig.clock += Millis(5000);
  rig.scaler.pollDue(rig.clock);
  CHECK(seriesOfA(rig.metrics, "eventworker_max_replicas") == 12);
  // Idle consumers allowed: maxReplicas whatever the partitions.
  auto idle = target("k1:9092", "a");
  idle.policy.allowIdleConsumers = true;
  rig.answers.insert_or_assign("a", LagResult(lagged(3, 10)));
  rig.scaler.track("ns/a", idle);
  rig.scaler.pollDue(rig.clock);
  CHECK(seriesOfA(rig.metrics, "eventworker_max_replicas") == 12);
  rig.scaler.untrack("ns/a");
  CHECK_FALSE(seriesOfA(rig.metrics, "eventworker_max_replicas"));
}

TEST_CASE("eventworker_lag_fallback is 1 only while the fallback holds, and untrack drops it") {
  Rig rig;
  auto t = target("k1:9092", "a");
  t.policy.fallback.failureThreshold = 2;
  rig.scaler.track("ns/a", t);  // no answer for "a": every poll fails
  rig.clock += Millis(2500);
  rig.scaler.pollDue(rig.clock);
  CHECK(seriesOfA(rig.metrics, "eventworker_lag_fallback") == 0);  // one failure: not yet
  rig.clock += Millis(5000);
  rig.scaler.pollDue(rig.clock);
  CHECK(seriesOfA(rig.metrics, "eventworker_lag_fallback") == 1);
  CHECK(rig.scaler.decision("ns/a")->reason == autoscale::Reason::Fallback);
  // Lag readable again: the fallback ends.
  rig.answers.insert_or_assign("a", LagResult(lagged(3, 10)));
  rig.clock += Millis(5000);
  rig.scaler.pollDue(rig.clock);
  CHECK(seriesOfA(rig.metrics, "eventworker_lag_fallback") == 0);
  rig.scaler.untrack("ns/a");
  CHECK_FALSE(seriesOfA(rig.metrics, "eventworker_lag_fallback"));
  CHECK_FALSE(seriesOfA(rig.metrics, "eventworker_desired_replicas"));
}

TEST_CASE("targets on one cluster with other credentials are read in batches of their own") {
  Rig rig;
  rig.answers.insert_or_assign("a", LagResult(lagged(3, 10)));
  rig.answers.insert_or_assign("b", LagResult(lagged(3, 10)));
  rig.answers.insert_or_assign("c", LagResult(lagged(3, 10)));
  auto scram = [](const std::string& group, const std::string& secret) {
    auto t = target("k1:9093", group);
    t.cluster.protocol = "SASL_SSL";
    t.cluster.saslMechanism = "SCRAM-SHA-512";
    t.cluster.secretName = secret;
    t.cluster.workerNamespace = "ns";
    return t;
  };
  rig.scaler.track("ns/a", scram("a", "team-a"));
  rig.scaler.track("ns/b", scram("b", "team-a"));
  rig.scaler.track("ns/c", scram("c", "team-b"));
  rig.clock += Millis(5000);
  rig.scaler.pollDue(rig.clock);
  REQUIRE(rig.reads.size() == 2);
  std::map<std::string, size_t> perSecret;
  for (const auto& [cluster, qs] : rig.reads) perSecret[cluster.secretName] = qs.size();
  CHECK(perSecret["team-a"] == 2);
  CHECK(perSecret["team-b"] == 1);
}

TEST_CASE("a changed target is polled at once, and keeps its memory unless the group or topics changed") {
  Rig rig;
  rig.answers.insert_or_assign("a", LagResult(lagged(12, 500)));
  rig.answers.insert_or_assign("b", LagResult(lagged(12, 0)));
  rig.scaler.track("ns/a", target("k1:9092", "a"));
  rig.clock += Millis(2500);
  rig.scaler.pollDue(rig.clock);
  REQUIRE(rig.scaler.decision("ns/a"));
  auto bigger = target("k1:9092", "a");
  bigger.policy.maxReplicas = 20;
  rig.scaler.track("ns/a", bigger);
  CHECK(rig.scaler.decision("ns/a"));  // same group: the memory stays
  CHECK(rig.scaler.pollDue(rig.clock) > rig.clock);
  CHECK(rig.reads.size() == 2);  // polled at once
  rig.scaler.track("ns/a", target("k1:9092", "b"));
  CHECK_FALSE(rig.scaler.decision("ns/a"));  // another group: start over
}

TEST_CASE("the applied replicas follow the decision, else keep the live count, always within bounds") {
  autoscale::PolicyConfig bounds;
  bounds.minReplicas = 2;
  bounds.maxReplicas = 8;
  autoscale::Decision d;
  d.desiredReplicas = 5;
  CHECK(scaledReplicas(d, 3, 2, bounds) == 5);
  CHECK(scaledReplicas(std::nullopt, 7, 2, bounds) == 7);  // operator restart: no reset
  CHECK(scaledReplicas(std::nullopt, std::nullopt, 2, bounds) == 2);
  CHECK(scaledReplicas(std::nullopt, 11, 2, bounds) == 8);  // maxReplicas lowered
  d.desiredReplicas = 12;
  CHECK(scaledReplicas(d, 3, 2, bounds) == 8);
  bounds.minReplicas = 0;
  d.desiredReplicas = 0;
  CHECK(scaledReplicas(d, 1, 1, bounds) == 0);
}
