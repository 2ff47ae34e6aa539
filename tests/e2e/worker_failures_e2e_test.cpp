// Workers whose pods fail on the real node: a handler image that does not
// exist and a handler that exits at start. The kubelet reports
// ErrImagePull/ImagePullBackOff and CrashLoopBackOff on the pods; the
// operator (in its pods, with the manifests' RBAC) must say so in the
// EventWorker's conditions with the pod's name, record a Warning Event, leave
// the namespace's healthy worker alone, and clear it once the spec is fixed.
#include <catch2/catch.hpp>

#include <iostream>

#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"

using namespace ew;
using ew::testing::eventually;
using ew::testing::kubectl;
using kube::Json;
using namespace std::chrono_literals;

namespace {

struct Conditions {
  std::string readyStatus, readyReason, readyMessage;
  std::string degradedStatus, degradedReason, degradedMessage;
};

Conditions conditionsOf(kube::KubeApi& api, const std::string& ns, const std::string& name) {
  Conditions c;
  auto ew = api.get(e2e::kEventWorker, ns, name);
  if (!ew) return c;
  for (const auto& cond : (*ew).value("status", Json::object()).value("conditions", Json::array())) {
    if (cond.value("type", "") == "Ready") {
      c.readyStatus = cond.value("status", "");
      c.readyReason = cond.value("reason", "");
      c.readyMessage = cond.value("message", "");
    } else if (cond.value("type", "") == "Degraded") {
      c.degradedStatus = cond.value("status", "");
      c.degradedReason = cond.value("reason", "");
      c.degradedMessage = cond.value("message", "");
    }
  }
  return c;
}

std::ostream& operator<<(std::ostream& o, const Conditions& c) {
  return o << "Ready=" << c.readyStatus << " " << c.readyReason << " (" << c.readyMessage
           << "); Degraded=" << c.degradedStatus << " " << c.degradedReason << " (" << c.degradedMessage << ")";
}

// Warning Events about EventWorker NAME with REASON.
int warnings(kube::KubeApi& api, const std::string& ns, const std::string& name, const std::string& reason) {
  kube::ListOptions o;
  o.fieldSelector = "involvedObject.name=" + name + ",type=Warning,reason=" + reason;
  auto list = api.list(kube::resources::kEvent, ns, o);
  return list ? static_cast<int>((*list)["items"].size()) : -1;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE(
    "a worker whose handler image does not exist, and one whose handler crashes at start, are Degraded with "
    "the container's reason and the pod's name, the namespace's healthy worker is unaffected, and fixing the "
    "spec clears it") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-fail");

  auto worker = [&](const std::string& name) {
    e2e::WorkerSpec w = e2e::namedWorker(ns, name);
    w.topic = ns + "." + name;
    w.ledgerTopic = ns + "." + name + ".ledger";
    w.autoscale = false;
    kafka.createTopic(w.topic, 2);
    kafka.createTopic(w.ledgerTopic, 1);
    return w;
  };
  e2e::WorkerSpec steady = worker("steady");
  e2e::WorkerSpec noImage = worker("no-image");
  noImage.handlerImage = "localhost/eventworker/ledger-handler:missing";
  e2e::WorkerSpec crashes = worker("crashes");
  crashes.handlerArgs = {"--crash-at-start"};
  for (const auto* w : {&steady, &noImage, &crashes})
    REQUIRE(api.apply(e2e::kEventWorker, ns, w->name, e2e::workerObject(*w)));

  // The kubelet's view first: the pods themselves say it.
  const std::string noImagePods = e2e::podSelector(noImage, "events");
  const std::string crashPods = e2e::podSelector(crashes, "events");
  auto waitingFor = [&](const std::string& selector, std::initializer_list<const char*> reasons) {
    for (const auto& p : e2e::pods(api, ns, selector))
      for (const char* r : reasons)
        if (p.waitingReason == r) return true;
    return false;
  };
  REQUIRE(e2e::waitForPods(
      api, ns, noImagePods,
      [&] {
        return waitingFor(noImagePods, {"ErrImagePull", "ImagePullBackOff"});
      },
      120s));
  REQUIRE(e2e::waitForPods(
      api, ns, crashPods, [&] { return waitingFor(crashPods, {"CrashLoopBackOff"}); }, 120s));

  // What the user reads on the EventWorkers.
  const std::string noImagePod = e2e::pods(api, ns, noImagePods).at(0).name;
  Conditions c;
  CHECK(eventually(
      [&] {
        c = conditionsOf(api, ns, noImage.name);
        return c.degradedStatus == "True" &&
               (c.degradedReason == "ImagePullBackOff" || c.degradedReason == "ErrImagePull");
      },
      60s));
  INFO(c);
  CHECK(contains(c.degradedMessage, "pod " + noImagePod + ": container handler: " + c.degradedReason));
  CHECK(contains(c.degradedMessage, "ledger-handler:missing"));
  CHECK(c.readyStatus == "False");
  CHECK(contains(c.readyMessage, "pod " + noImagePod));
  std::cout << "[e2e] " << noImage.name << ": " << c << "\n";
  CHECK(eventually([&] { return warnings(api, ns, noImage.name, c.degradedReason) > 0; }, 30s));

  const std::string crashPod = e2e::pods(api, ns, crashPods).at(0).name;
  Conditions k;
  CHECK(eventually(
      [&] {
        k = conditionsOf(api, ns, crashes.name);
        return k.degradedStatus == "True" && k.degradedReason == "CrashLoopBackOff";
      },
      60s));
  INFO(k);
  CHECK(k.degradedMessage ==
        "pod " + crashPod +
            ": container handler: CrashLoopBackOff: the container keeps exiting; last exit: Error, code 1");
  CHECK(k.readyStatus == "False");
  CHECK(contains(k.readyMessage, "pod " + crashPod));
  std::cout << "[e2e] " << crashes.name << ": " << k << "\n";
  CHECK(eventually([&] { return warnings(api, ns, crashes.name, "CrashLoopBackOff") > 0; }, 30s));

  // The healthy worker beside them runs and consumes as if they did not exist.
  const std::string steadyPods = e2e::podSelector(steady, "events");
  REQUIRE(e2e::waitForPods(
      api, ns, steadyPods, [&] { return e2e::readyPods(api, ns, steadyPods) == 1; }, 120s));
  for (int i = 0; i < 200; ++i) kafka.produce(steady.topic, "k" + std::to_string(i % 5), rttest::payload("k", i));
  kafka.flush();
  e2e::LedgerReader ledger(kafka.bootstrap(), steady.ledgerTopic);
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.distinct() == 200;
      },
      120s));
  CHECK(ledger.duplicates() == 0);
  Conditions s;
  CHECK(eventually(
      [&] {
        s = conditionsOf(api, ns, steady.name);
        return s.readyStatus == "True" && s.degradedStatus == "False";
      },
      60s));
  INFO(s);

  // Fixed: the image exists; the rollout replaces the pod and the condition clears.
  noImage.handlerImage = e2e::WorkerSpec{}.handlerImage;
  REQUIRE(api.apply(e2e::kEventWorker, ns, noImage.name, e2e::workerObject(noImage)));
  CHECK(eventually(
      [&] {
        c = conditionsOf(api, ns, noImage.name);
        return c.readyStatus == "True" && c.degradedStatus == "False" && c.degradedReason == "AsExpected";
      },
      180s));
  INFO(c);
  kubectl("delete namespace " + ns + " --wait=false");
}
