// A no-op resync sends no write, counted by kube-apiserver's own /metrics
// (apiserver_request_total, cluster-wide): a test of its own, run with
// nothing beside it (SERIAL), since other tests' writes would be counted too.
#include <catch2/catch.hpp>
#include <set>

#include "operator_fixture.h"

using namespace ew;
using namespace ew::testing;
using namespace std::chrono_literals;
using kube::Json;
namespace resources = kube::resources;

TEST_CASE("a resync of 100 converged EventWorkers sends zero writes") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "op-noop");
  RunningController rc(ns);
  constexpr int kWorkers = 100;
  for (int i = 0; i < kWorkers; ++i)
    REQUIRE(user.apply(resources::kEventWorker, ns, "w" + std::to_string(i), eventWorker("w" + std::to_string(i))));
  auto converged = [&] {
    auto l = user.list(resources::kEventWorker, ns);
    if (!l || (*l)["items"].size() != kWorkers) return false;
    for (const auto& ew : (*l)["items"])
      if (ew.value("status", Json::object()).value("observedGeneration", 0) != ew["metadata"]["generation"])
        return false;
    auto d = user.list(resources::kDeployment, ns);
    auto s = user.list(resources::kStatefulSet, ns);
    return d && (*d)["items"].size() == kWorkers && s && (*s)["items"].size() == kWorkers;
  };
  REQUIRE(eventually(converged, 120s));
  // Let the last watch events land and the queue drain, and wait until
  // kube-controller-manager has finished reacting (Deployment status, its
  // Events): the apiserver sees no writes for 5 s.
  REQUIRE(eventually([&] { return rc.ctl.queueDepth() == 0; }, 180s));

  // Events are counted in the namespace, by who reported them: the scheduler
  // and kube-controller-manager post Events about the Deployments' pods (on
  // the node, FailedScheduling again whenever the scheduler retries a pod),
  // and apiserver_request_total cannot tell those from the operator's.
  const std::vector<std::string> ours = {"eventworkers", "deployments", "statefulsets", "configmaps", "subscriptions"};
  auto operatorEvents = [&] {
    auto l = user.list(resources::kEvent, ns);
    REQUIRE(l);
    std::set<std::string> names;
    for (const auto& e : (*l)["items"])
      if (e.value("reportingComponent", "") == "eventworker-operator") names.insert(e["metadata"]["name"]);
    return names;
  };
  auto writes = [&] {
    auto byVerb = apiserverRequestsByVerb(ours);
    return byVerb["POST"] + byVerb["PUT"] + byVerb["PATCH"] + byVerb["DELETE"] + byVerb["APPLY"];
  };
  auto reconciles = [&] {
    return rc.metrics.counter("eventworker_reconcile_total", "", {{"result", "success"}}).value();
  };
  REQUIRE(eventually(
      [&] {
        const double before = writes();
        std::this_thread::sleep_for(5s);
        return writes() == before && rc.ctl.queueDepth() == 0;
      },
      180s));
  const auto requestsBefore = apiserverRequests(ours);
  const auto eventsBefore = operatorEvents();
  const double writesBefore = writes(), reconcilesBefore = reconciles();
  const double writesByController = rc.metrics.counter("eventworker_reconcile_writes_total", "").value();
  rc.ctl.resyncAll();
  REQUIRE(eventually([&] { return reconciles() >= reconcilesBefore + kWorkers; }, 60s));
  std::this_thread::sleep_for(1s);
  std::string delta;
  for (const auto& [key, n] : apiserverRequests(ours)) {
    const double before = requestsBefore.count(key) ? requestsBefore.at(key) : 0;
    if (n != before) delta += key + " +" + std::to_string(n - before) + "\n";
  }
  INFO("requests during the resync:\n" << delta);
  CHECK(writes() - writesBefore == 0);
  // The operator's Events go out from a sender thread: wait for its queue to drain.
  CHECK(rc.ctl.flushEvents(10s));
  CHECK(operatorEvents() == eventsBefore);
  CHECK(rc.metrics.counter("eventworker_reconcile_writes_total", "").value() == writesByController);
  CHECK(rc.metrics.counter("eventworker_reconcile_total", "", {{"result", "error"}}).value() == 0);
}
