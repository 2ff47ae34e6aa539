// EventWorkers with Dapr for real on the node: Dapr's own control plane
// (hack/dapr/install.sh: sentry, operator, sidecar injector of the release
// hack/build-daprd.sh builds) injects the real daprd into the worker's pods
// from the operator's dapr.io annotations; daprd reads the operator's
// v2alpha1 Subscription through Dapr's operator and delivers the topic, via
// the pubsub.kafka Component on the test broker, to the runtime
// (source.kind: dapr), which calls the ledger handler.
//
// When the Dapr binaries are not built every case exits 77 (a counted skip)
// and says how to build them.
#include <catch2/catch.hpp>

#include <iostream>
#include <map>
#include <set>

#include "dapr_support.h"
#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"

using namespace ew;
using ew::testing::eventually;
using ew::testing::kubectl;
using kube::Json;
using namespace std::chrono_literals;

namespace {

// The container names of the pods of SELECTOR ("runtime,handler,daprd").
std::string containerNames(kube::KubeApi& api, const std::string& ns, const std::string& selector) {
  kube::ListOptions o;
  o.labelSelector = selector;
  auto list = api.list(kube::resources::kPod, ns, o);
  std::string out;
  if (!list) return out;
  for (const auto& p : (*list)["items"])
    for (const auto& c : p["spec"]["containers"]) out += (out.empty() ? "" : ",") + c.value("name", "");
  return out;
}

}  // namespace

TEST_CASE(
    "a Dapr-enabled EventWorker's pods get the real daprd from Dapr's injector, and the runtime (source "
    "dapr) receives the topic through it: every event, in order per key, and what it drops goes to the "
    "Subscription's dead-letter topic") {
  e2e::installDaprOrSkip();
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createDaprNamespace(api, "e2e-dapr");
  e2e::WorkerSpec w = e2e::namedWorker(ns, "dapr-worker");
  w.dapr = true;
  w.autoscale = false;
  kafka.createTopic(w.topic, 3);
  kafka.createTopic(w.ledgerTopic, 1);  // one partition: the ledger's order is the order of acknowledgement
  const std::string dlq = ns + ".orders.dlq";
  kafka.createTopic(dlq, 1);
  Json object = e2e::workerObject(w);
  object["spec"]["subscriptions"][0]["deadLetterTopic"] = dlq;
  const double t0 = e2e::nowSeconds();
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, object));

  const std::string events = e2e::podSelector(w, "events");
  REQUIRE(e2e::waitForPods(
      api, ns, events, [&] { return e2e::readyPods(api, ns, events) == 1; }, 240s));
  std::cout << "[figure] Dapr-enabled EventWorker applied -> events pod Ready with its injected daprd: "
            << e2e::nowSeconds() - t0 << " s\n";
  // The injector added daprd (a pod without it would be Ready too: failurePolicy aside, the check is here).
  CHECK(containerNames(api, ns, events) == "runtime,handler,daprd");
  const auto pod = e2e::pods(api, ns, events).at(0);
  CHECK(pod.containersReady.find("daprd=true") != std::string::npos);

  // The operator's Subscription, scoped to the worker's app id.
  auto sub = api.get(e2e::kDaprSubscription, ns, w.name + "-orders");
  REQUIRE(sub);
  CHECK((*sub)["scopes"] == Json::array({w.name}));
  CHECK((*sub)["spec"].value("deadLetterTopic", "") == dlq);

  constexpr int kEvents = 300, kKeys = 7;
  for (int i = 0; i < kEvents; ++i) {
    const std::string key = "k" + std::to_string(i % kKeys);
    kafka.produce(w.topic, key, rttest::cloudEvent("e-" + std::to_string(i), key, i));
  }
  kafka.flush();
  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.distinct() == kEvents;
      },
      180s));
  CHECK(ledger.distinct() == kEvents);
  // Per key, the first acknowledgement of each event comes in produce order.
  std::map<int, int64_t> lastSeqByKey;
  std::set<int64_t> seen;
  int outOfOrder = 0;
  for (const auto& e : ledger.all()) {
    if (e.seq < 0 || !seen.insert(e.seq).second) continue;
    auto [it, fresh] = lastSeqByKey.try_emplace(static_cast<int>(e.seq % kKeys), e.seq);
    if (!fresh) {
      if (e.seq < it->second) ++outOfOrder;
      it->second = e.seq;
    }
  }
  std::cout << "[figure] through the injected daprd: " << ledger.distinct() << " of " << kEvents << " events, "
            << ledger.duplicates() << " duplicates, " << outOfOrder << " out of order within a key\n";
  CHECK(outOfOrder == 0);
  // The route daprd called is the Subscription's.
  CHECK(ledger.route("/events/orders").size() == ledger.entries());

  // A JSON object that is no CloudEvent: daprd passes it on as it is (no id),
  // the runtime answers DROP, and daprd publishes it to the dead-letter topic.
  constexpr int kPoison = 5;
  for (int i = 0; i < kPoison; ++i) kafka.produce(w.topic, "p", R"({"poison":)" + std::to_string(i) + "}");
  for (int i = kEvents; i < kEvents + 20; ++i) {
    const std::string key = "k" + std::to_string(i % kKeys);
    kafka.produce(w.topic, key, rttest::cloudEvent("e-" + std::to_string(i), key, i));
  }
  kafka.flush();
  const auto dead = kafka.readAll(dlq, kPoison, std::chrono::seconds(60));
  CHECK(dead.size() == static_cast<size_t>(kPoison));
  for (const auto& r : dead) CHECK(r.value.find("poison") != std::string::npos);
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.distinct() == kEvents + 20;
      },
      60s));
  std::cout << "[figure] dropped by the runtime, dead-lettered by daprd: " << dead.size() << " of " << kPoison
            << "; the events after them: " << ledger.distinct() - kEvents << " of 20\n";
  kubectl("delete namespace " + ns + " --wait=false");
}
