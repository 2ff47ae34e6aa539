// The cron pod on the real node: a singleton. Deleting it (or an eviction)
// must not let a replacement run beside it while it terminates, and no
// scheduled time may run twice.
#include <catch2/catch.hpp>

#include <iostream>
#include <set>
#include <sstream>

#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"

using namespace ew;
using ew::testing::eventually;
using ew::testing::kubectl;
using kube::Json;
using namespace std::chrono_literals;

TEST_CASE(
    "cron jobs run in exactly one pod, when it is deleted the replacement resumes, and no job runs twice for "
    "one scheduled time") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-cron");
  e2e::WorkerSpec w = e2e::namedWorker(ns, "cron-worker");
  w.autoscale = false;
  w.cron = R"([{"name": "tick", "schedule": "* * * * * *", "route": "/jobs/tick", "concurrencyPolicy": "Forbid"}])";
  kafka.createTopic(w.topic, 1);
  kafka.createTopic(w.ledgerTopic, 1);
  // The ledger names a pod by its uid: a StatefulSet's replacement pod has
  // the name of the pod it replaces.
  Json worker = e2e::workerObject(w);
  worker["spec"]["handler"]["env"] =
      Json::parse(R"([{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}}])");
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, worker));
  const std::string cron = e2e::podSelector(w, "cron");
  REQUIRE(e2e::waitForPods(
      api, ns, cron, [&] { return e2e::readyPods(api, ns, cron) == 1; }, 180s));
  const auto firstPod = e2e::pods(api, ns, cron).at(0);
  const std::string first = firstPod.uid;

  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  REQUIRE(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.route("/jobs/tick").size() >= 3;
      },
      60s));
  REQUIRE(kubectl("-n " + ns + " delete pod " + firstPod.name + " --wait=false") == 0);
  std::string second;
  REQUIRE(eventually(
      [&] {
        ledger.poll(500ms);
        for (const auto& e : ledger.route("/jobs/tick"))
          if (e.pod != first && !e.pod.empty()) {
            second = e.pod;
            return true;
          }
        return false;
      },
      180s));
  REQUIRE(eventually(
      [&] {  // a few runs by the replacement
        ledger.poll(500ms);
        int n = 0;
        for (const auto& e : ledger.route("/jobs/tick")) n += e.pod == second;
        return n >= 3;
      },
      60s));
  const auto runs = ledger.route("/jobs/tick");
  std::set<std::string> ids, pods;
  int64_t lastOfFirst = 0, firstOfSecond = 0;
  for (const auto& e : runs) {
    ids.insert(e.id);
    pods.insert(e.pod);
    if (e.pod == first) lastOfFirst = std::max(lastOfFirst, e.at);
    if (e.pod == second && (firstOfSecond == 0 || e.at < firstOfSecond)) firstOfSecond = e.at;
  }
  std::ostringstream listing;
  for (const auto& e : runs) listing << "  run " << e.id << " by " << e.pod << " at " << e.at << "\n";
  INFO("runs:\n" << listing.str());
  std::cout << "[figure] cron: " << runs.size() << " runs by " << pods.size() << " pods; the replacement's first run "
            << (firstOfSecond - lastOfFirst) / 1000.0 << " s after the deleted pod's last\n";
  CHECK(ids.size() == runs.size());  // no scheduled time ran twice
  CHECK(pods == std::set<std::string>{first, second});
  CHECK(firstOfSecond > lastOfFirst);  // never both at once
  kubectl("delete namespace " + ns + " --wait=false");
}

TEST_CASE(
    "a cron pod that never becomes Ready (its handler crashes at start) is replaced once the EventWorker "
    "is fixed") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-cron-fix");
  e2e::WorkerSpec w = e2e::namedWorker(ns, "fix-worker");
  w.autoscale = false;
  w.cron = R"([{"name": "tick", "schedule": "* * * * * *", "route": "/jobs/tick"}])";
  kafka.createTopic(w.topic, 1);
  kafka.createTopic(w.ledgerTopic, 1);
  Json broken = e2e::workerObject(w);
  broken["spec"]["handler"]["args"].push_back("--crash-at-start");
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, broken));
  const std::string cron = e2e::podSelector(w, "cron");
  std::string brokenUid;
  REQUIRE(e2e::waitForPods(
      api, ns, cron,
      [&] {  // crash-looping: running, restarted, never Ready
        const auto pods = e2e::pods(api, ns, cron);
        if (pods.size() != 1 || pods[0].restarts < 1 || pods[0].ready) return false;
        brokenUid = pods[0].uid;
        return true;
      },
      180s));

  // The fix: the same worker without the crash. The StatefulSet must replace
  // the pod that is not Ready (an OrderedReady one waits for ever for it to
  // become Ready first: kubernetes/kubernetes#67250).
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, e2e::workerObject(w)));
  const bool replaced = eventually(
      [&] {
        const auto pods = e2e::pods(api, ns, cron);
        return pods.size() == 1 && pods[0].uid != brokenUid && e2e::readyPods(api, ns, cron) == 1;
      },
      180s);
  std::string sets;
  kubectl("-n " + ns + " get statefulsets -o wide", &sets);
  INFO("after the fix:\n" << e2e::describePods(api, ns, cron) << sets);
  REQUIRE(replaced);
  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return !ledger.route("/jobs/tick").empty();
      },
      60s));
  kubectl("delete namespace " + ns + " --wait=false");
}
