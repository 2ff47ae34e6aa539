// EventWorkers on the real node: the operator (installed from manifests/,
// running in its pods) renders Deployments whose pods the kubelet runs, with
// the runtime and the ledger handler (tests/support/ledger_handler) as their
// two containers. The ledger handler writes one Kafka record per event it
// acknowledges, so "lost" and "duplicated" are counted across pods that come
// and go.
#include <catch2/catch.hpp>

#include <algorithm>
#include <iostream>

#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"

using namespace ew;
using ew::testing::eventually;
using ew::testing::kubectl;
using kube::Json;
using namespace std::chrono_literals;

TEST_CASE(
    "an EventWorker's events and cron pods run on the node: runtime and handler Ready under Pod Security "
    "restricted, and kubectl get ew shows Ready and the replicas") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-pods");
  e2e::WorkerSpec w = e2e::namedWorker(ns, "shop-worker");
  w.cron = R"([{"name": "tick", "schedule": "*/2 * * * * *", "route": "/jobs/tick"}])";
  kafka.createTopic(w.topic, 3);
  kafka.createTopic(w.ledgerTopic, 3);
  const double t0 = e2e::nowSeconds();
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, e2e::workerObject(w)));

  const std::string events = e2e::podSelector(w, "events");
  const std::string cron = e2e::podSelector(w, "cron");
  const std::string all = "eventworker.dev/name=" + w.name;
  REQUIRE(e2e::waitForPods(
      api, ns, all, [&] { return e2e::readyPods(api, ns, events) == 1; }, 180s));
  std::cout << "[figure] EventWorker applied -> first events pod Ready: " << e2e::nowSeconds() - t0 << " s\n";
  REQUIRE(e2e::waitForPods(
      api, ns, all, [&] { return e2e::readyPods(api, ns, cron) == 1; }, 120s));

  // What a user sees.
  Json got;
  REQUIRE(eventually(
      [&] {
        auto r = api.get(e2e::kEventWorker, ns, w.name);
        if (r) got = *r;
        return r && e2e::condition(got, "Ready") == "True" && got["status"].value("replicas", 0) == 1;
      },
      120s));
  std::string table;
  REQUIRE(kubectl("-n " + ns + " get ew " + w.name, &table) == 0);
  std::cout << table;
  CHECK(table.find("True") != std::string::npos);

  // Events flow through the pod; cron ticks arrive at the handler.
  for (int i = 0; i < 300; ++i) kafka.produce(w.topic, "k" + std::to_string(i % 7), rttest::payload("k", i));
  kafka.flush();
  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.distinct() == 300 && !ledger.route("/jobs/tick").empty();
      },
      120s));
  CHECK(ledger.distinct() == 300);
  CHECK(ledger.duplicates() == 0);
  kubectl("delete namespace " + ns + " --wait=false");
}

TEST_CASE(
    "a lag burst on a 12-partition topic scales real pods out and back in, scale-down ends pods by the "
    "kubelet's SIGTERM, and no acknowledged event is lost") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-burst");
  e2e::WorkerSpec w = e2e::namedWorker(ns, "orders-worker");
  kafka.createTopic(w.topic, 12);
  kafka.createTopic(w.ledgerTopic, 6);
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, e2e::workerObject(w)));
  const std::string events = e2e::podSelector(w, "events");
  REQUIRE(e2e::waitForPods(
      api, ns, events, [&] { return e2e::readyPods(api, ns, events) == 1; }, 180s));
  const std::string first = e2e::pods(api, ns, events).at(0).name;

  constexpr int kBurst = 12000;
  const int64_t burstAt = e2e::wallMillis();
  const double t0 = e2e::nowSeconds();
  for (int i = 0; i < kBurst; ++i) kafka.produce(w.topic, "k" + std::to_string(i % 97), rttest::payload("k", i));
  kafka.flush();

  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  int peakReplicas = 1, peakReady = 1;
  double scaledAt = -1;
  REQUIRE(eventually(
      [&] {
        ledger.poll(500ms);
        const int r = e2e::deploymentReplicas(api, ns, w.name + "-events");
        if (r > 1 && scaledAt < 0) scaledAt = e2e::nowSeconds() - t0;
        peakReplicas = std::max(peakReplicas, r);
        peakReady = std::max(peakReady, e2e::readyPods(api, ns, events));
        return ledger.distinct() == static_cast<size_t>(kBurst);
      },
      400s));
  const double drained = e2e::nowSeconds() - t0;
  int64_t firstNewPodMs = -1;
  for (const auto& [pod, span] : ledger.pods())
    if (pod != first && (firstNewPodMs < 0 || span.first < firstNewPodMs)) firstNewPodMs = span.first;
  std::cout << "[figure] burst of " << kBurst << ": Deployment scaled after " << scaledAt << " s, first new pod "
            << "handled its first event after " << (firstNewPodMs < 0 ? -1 : (firstNewPodMs - burstAt) / 1000.0)
            << " s, drained in " << drained << " s; peak replicas " << peakReplicas << ", peak Ready pods " << peakReady
            << ", pods that handled events " << ledger.pods().size() << ", duplicates " << ledger.duplicates() << "\n";
  CHECK(peakReplicas > 1);
  CHECK(ledger.pods().size() > 1);  // new pods consumed, not only the first

  // Back to one replica: the kubelet ends the surplus pods (SIGTERM, drain).
  REQUIRE(eventually(
      [&] {
        return e2e::deploymentReplicas(api, ns, w.name + "-events") == 1 && e2e::pods(api, ns, events).size() == 1;
      },
      240s));
  // A second batch after the scale-down: all of it arrives too.
  for (int i = kBurst; i < kBurst + 500; ++i)
    kafka.produce(w.topic, "k" + std::to_string(i % 97), rttest::payload("k", i));
  kafka.flush();
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.distinct() == static_cast<size_t>(kBurst + 500);
      },
      120s));
  CHECK(ledger.distinct() == static_cast<size_t>(kBurst + 500));  // zero lost
  std::cout << "[figure] after scale-down: " << ledger.distinct() << " distinct of " << kBurst + 500 << " produced, "
            << ledger.duplicates() << " duplicates\n";
  kubectl("delete namespace " + ns + " --wait=false");
}
