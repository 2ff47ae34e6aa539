// The live autoscaling loop against the real servers: the operator's
// controller (in this process) reads consumer lag from the real broker through
// the lag reader and writes the events Deployment's replicas to the real
// kube-apiserver. Where pods would run, the test starts the real runtime
// binary, one process per replica (there is no kubelet).
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include "autoscale_helpers.h"
#include "controller/kafka_lag.h"
#include "kafka/lag_reader.h"
#include "operator_fixture.h"
#include "runtime_harness.h"

using namespace ew;
using namespace ew::testing;
using namespace std::chrono_literals;
using kube::Json;
namespace resources = kube::resources;

namespace {

controller::LagReadFn lagReader(autoscale::Millis timeout = autoscale::Millis(2000)) {
  return controller::lagReadFn(std::make_shared<autoscale::LagReaderPool>(timeout));
}

}  // namespace

TEST_CASE("a burst into 12 partitions scales out within one poll, drains, then scales down in steps") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "as-burst");
  rttest::Kafka kafka;
  const std::string topic = uniqueName("burst"), group = uniqueName("burst-grp");
  kafka.createTopic(topic, 12);
  RunningController rc(ns, false, lagReader());
  const Json scaling = {{"minReplicas", 1},
                        {"maxReplicas", 20},
                        {"lagThreshold", 100},
                        {"pollIntervalSeconds", 1},
                        {"scaleDownStabilizationSeconds", 5}};
  REQUIRE(user.apply(resources::kEventWorker, ns, "burst",
                     scaledWorker("burst", kafka.bootstrap(), topic, group, scaling)));
  REQUIRE(eventually([&] { return replicasOf(user, ns, "burst-events") == 1; }));
  // Right after the servers start, the broker may still be loading its group coordinator.
  REQUIRE(eventually([&] { return conditionOf(user, ns, "burst", "Scaling").value("status", "") == "True"; }, 45s));

  // The burst: 12,000 events, far above 12 x lagThreshold.
  for (int i = 0; i < 12000; ++i) kafka.produce(topic, "k" + std::to_string(i % 97), rttest::payload("k", i));
  kafka.flush();
  const auto produced = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return replicasOf(user, ns, "burst-events") == 12; }, 10s));
  const double reaction = std::chrono::duration<double>(std::chrono::steady_clock::now() - produced).count();
  std::cout << "autoscale reaction: produce flushed -> 12 replicas applied in " << reaction
            << " s (poll interval 1 s)\n";
  CHECK(reaction < 1.0 + 1.5);  // one poll interval, plus the apply and this test's 50 ms polling

  // Status follows in the same reconcile, right after the apply.
  std::optional<Json> ew;
  CHECK(eventually(
      [&] {
        ew = get(user, resources::kEventWorker, ns, "burst");
        return ew && (*ew)["status"].value("desiredReplicas", 0) == 12;
      },
      5s));
  REQUIRE(ew);
  CHECK((*ew)["status"]["lag"]["total"].get<int64_t>() > 0);
  CHECK(rc.metrics.render().find("eventworker_desired_replicas{name=\"burst\",namespace=\"" + ns + "\"} 12") !=
        std::string::npos);

  // Runtime processes follow the replicas and drain the lag; then, after the
  // stabilization window, the replicas come down step by step.
  rttest::ConfigSpec pod;
  pod.topic = topic;
  pod.group = group;
  Kubelet kubelet(user, ns, "burst-events", pod);
  REQUIRE(eventually([&] { return kafka.committedTotal(group, topic, 12) >= 12000; }, 60s));
  REQUIRE(eventually([&] { return replicasOf(user, ns, "burst-events") == 1; }, 60s));
  REQUIRE(eventually([&] { return kubelet.history().back() == 1; }, 5s));
  const auto seen = kubelet.history();
  INFO("replica counts seen: " << Json(seen).dump());
  std::cout << "autoscale burst: replica counts the kubelet stand-in ran: " << Json(seen).dump() << "\n";
  CHECK(*std::max_element(seen.begin(), seen.end()) == 12);  // bounded by the partitions, not maxReplicas 20
  CHECK(std::is_sorted(seen.rbegin(), seen.rend()));         // down only, after the peak
  CHECK(seen.size() >= 3);                                   // 12 -> ... -> 1 in more than one step
  ew = get(user, resources::kEventWorker, ns, "burst");
  CHECK((*ew)["status"]["lag"]["total"] == 0);
  CHECK((*ew)["status"].contains("lastScaleTime"));
}

TEST_CASE("minReplicas 0: idle scales to zero after the cooldown, one event activates one replica") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "as-zero");
  rttest::Kafka kafka;
  const std::string topic = uniqueName("zero"), group = uniqueName("zero-grp");
  kafka.createTopic(topic, 3);
  RunningController rc(ns, false, lagReader());
  Json ew = scaledWorker("zero", kafka.bootstrap(), topic, group,
                         {{"minReplicas", 0},
                          {"maxReplicas", 5},
                          {"pollIntervalSeconds", 1},
                          {"cooldownSeconds", 3},
                          {"scaleDownStabilizationSeconds", 0}});
  ew["spec"]["replicas"] = 1;  // starts at one
  REQUIRE(user.apply(resources::kEventWorker, ns, "zero", ew));
  REQUIRE(eventually([&] { return replicasOf(user, ns, "zero-events") == 1; }));
  const auto created = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return replicasOf(user, ns, "zero-events") == 0; }, 20s));
  CHECK(std::chrono::steady_clock::now() - created >= 3s);  // not before the cooldown
  CHECK(eventually([&] { return conditionOf(user, ns, "zero", "Scaling").value("reason", "") == "Idle"; }, 5s));

  kafka.produce(topic, "k", rttest::payload("k", 1));
  kafka.flush();
  REQUIRE(eventually([&] { return replicasOf(user, ns, "zero-events") == 1; }, 10s));
  CHECK(eventually([&] { return conditionOf(user, ns, "zero", "Scaling").value("reason", "") == "Activation"; }, 5s));
}

TEST_CASE("scaling off: kubectl scale sets the events Deployment") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "as-manual");
  RunningController rc(ns, false, lagReader());
  REQUIRE(user.apply(resources::kEventWorker, ns, "manual",
                     scaledWorker("manual", "127.0.0.1:1", "orders", "manual-grp",
                                  {{"enabled", false}, {"minReplicas", 1}, {"maxReplicas", 3}})));
  REQUIRE(eventually([&] { return replicasOf(user, ns, "manual-events") == 1; }));
  const std::string cmd = serverEnv("EW_KUBECTL") + " --kubeconfig " + serverEnv("KUBECONFIG") + " -n " + ns +
                          " scale eventworker/manual --replicas=4 >&2";
  REQUIRE(std::system(cmd.c_str()) == 0);
  // Above maxReplicas on purpose: with scaling off the bounds do not apply.
  REQUIRE(eventually([&] { return replicasOf(user, ns, "manual-events") == 4; }, 10s));
  // No kubelet: the Deployment never becomes available, so the first status
  // comes at the deadline (kFirstStatusWait after kube-controller-manager
  // observed it); with the node, at the image's pull error.
  REQUIRE(eventually([&] { return conditionOf(user, ns, "manual", "Scaling").contains("status"); }, kFirstStatusBound));
  const Json scaling = conditionOf(user, ns, "manual", "Scaling");
  CHECK(scaling.value("status", "") == "False");
  CHECK(scaling.value("reason", "") == "Disabled");
  // Nothing polls the (unreachable) cluster: no lag-read failure shows.
  std::this_thread::sleep_for(2s);
  CHECK(conditionOf(user, ns, "manual", "Degraded").value("status", "") == "False");
  CHECK(rc.ctl.autoscaler()->tracked() == 0);
}

TEST_CASE("a recurring burst: the live loop scales out ahead of it (Predicted) and shows its period") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "as-predict");
  rttest::Kafka kafka;
  const std::string topic = uniqueName("predict"), group = uniqueName("predict-grp");
  kafka.createTopic(topic, 12);
  RunningController rc(ns, false, lagReader());
  // Lag mode, 1 s polls, a 3 s window: between bursts the group is back at 1.
  const Json scaling = {{"minReplicas", 1},
                        {"maxReplicas", 12},
                        {"lagThreshold", 100},
                        {"pollIntervalSeconds", 1},
                        {"scaleDownStabilizationSeconds", 3}};
  REQUIRE(user.apply(resources::kEventWorker, ns, "predict",
                     scaledWorker("predict", kafka.bootstrap(), topic, group, scaling)));
  REQUIRE(eventually([&] { return replicasOf(user, ns, "predict-events") == 1; }));
  REQUIRE(eventually([&] { return conditionOf(user, ns, "predict", "Scaling").value("status", "") == "True"; }, 45s));
  // A handler that takes 20 ms an event, so that one pod cannot swallow a
  // burst before a poll sees it (a noop one drains 20,000 in a second).
  rttest::Ledger handler;
  handler.setDelay(20ms);
  rttest::ConfigSpec pod;
  pod.topic = topic;
  pod.group = group;
  pod.ledgerPort = handler.port();
  Kubelet kubelet(user, ns, "predict-events", pod);

  // Three bursts of 6,000 events, 40 s apart: each scales the group out on
  // its lag (lagThreshold 100) and, once drained, back to 1.
  constexpr auto kPeriod = 40s;
  constexpr int kBurst = 6000;
  auto burst = [&] {
    for (int i = 0; i < kBurst; ++i) kafka.produce(topic, "k" + std::to_string(i % 97), rttest::payload("k", i));
    kafka.flush();
  };
  const auto start = std::chrono::steady_clock::now();
  // What the Scaling condition said, each change with its time (printed
  // after the fourth burst's wait: why it came or did not).
  std::mutex seenMu;
  std::vector<std::string> seen;
  std::atomic<bool> sampling{true};
  std::thread sampler([&] {
    kube::KubeApi reader(testKubeClient(), "test-sampler");  // its own client: not shared across threads
    std::string last;
    while (sampling) {
      const Json c = conditionOf(reader, ns, "predict", "Scaling");
      const std::string now = c.value("reason", "") + ": " + c.value("message", "");
      if (now != last) {
        std::lock_guard l(seenMu);
        seen.push_back(std::to_string(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()) +
                       " s " + now);
        last = now;
      }
      std::this_thread::sleep_for(250ms);
    }
  });
  struct StopSampler {
    std::atomic<bool>& on;
    std::thread& t;
    ~StopSampler() {
      on = false;
      t.join();
    }
  } stopSampler{sampling, sampler};
  int64_t produced = 0;
  for (int n = 0; n < 3; ++n) {
    std::this_thread::sleep_until(start + n * kPeriod);
    burst();
    produced += kBurst;
    std::cout << "burst " << n << " produced at "
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s\n";
    REQUIRE(eventually([&] { return replicasOf(user, ns, "predict-events") > 1; }, 10s));
    REQUIRE(eventually([&] { return kafka.committedTotal(group, topic, 12) >= produced; }, 30s));
    const bool down = eventually([&] { return replicasOf(user, ns, "predict-events") == 1; }, 30s);
    if (!down) std::cout << "burst " << n << ": " << conditionOf(user, ns, "predict", "Scaling").dump() << "\n";
    REQUIRE(down);
  }

  // Before the fourth burst is produced (nothing is, until the check), the
  // policy scales out for it: a pod start, a rebalance and two polls ahead
  // (10 + 5 + 2 s before the onset it expects).
  const auto fourth = start + 3 * kPeriod;
  REQUIRE(std::chrono::steady_clock::now() < fourth - 20s);
  const bool ahead = eventually([&] { return replicasOf(user, ns, "predict-events") > 1; }, 30s);
  {
    std::lock_guard l(seenMu);
    for (const auto& line : seen) std::cout << "Scaling at " << line << "\n";
  }
  if (!ahead)
    std::cout << "no scale-out ahead of the fourth burst; status: "
              << get(user, resources::kEventWorker, ns, "predict")
                     .value_or(Json::object())
                     .value("status", Json::object())
                     .dump()
              << "; counts seen: " << Json(kubelet.history()).dump() << "\n";
  REQUIRE(ahead);
  const auto lead = std::chrono::duration<double>(fourth - std::chrono::steady_clock::now()).count();
  std::cout << "autoscale predicted: " << replicasOf(user, ns, "predict-events").value_or(0) << " replicas " << lead
            << " s before the fourth burst was due; counts seen: " << Json(kubelet.history()).dump() << "\n";
  CHECK(lead > 0);
  CHECK(kafka.committedTotal(group, topic, 12) == produced);  // nothing new arrived to react to
  // The status follows the Deployment's scale in the same reconcile: a read
  // between the two writes sees the new count beside the old condition.
  Json scalingCondition;
  const bool predicted = eventually(
      [&] {
        scalingCondition = conditionOf(user, ns, "predict", "Scaling");
        return scalingCondition.value("reason", "") == "Predicted";
      },
      10s);
  INFO(scalingCondition.dump());
  CHECK(predicted);
  auto ew = get(user, resources::kEventWorker, ns, "predict");
  REQUIRE(ew);
  REQUIRE((*ew)["status"].contains("burstPeriodSeconds"));
  const int period = (*ew)["status"]["burstPeriodSeconds"].get<int>();
  CHECK(period >= 38);
  CHECK(period <= 42);

  // The capacity holds until the burst arrives, which the group then drains.
  std::this_thread::sleep_until(fourth);
  CHECK(replicasOf(user, ns, "predict-events") > 1);
  burst();
  produced += kBurst;
  CHECK(eventually([&] { return kafka.committedTotal(group, topic, 12) >= produced; }, 30s));
}
