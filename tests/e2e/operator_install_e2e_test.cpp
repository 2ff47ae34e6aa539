// The operator installed on the real node as a user installs it
// (`kubectl apply -k manifests/`), running under its own ServiceAccount token:
// its probes, leader election and handover, with real pods and a real kubelet.
#include <catch2/catch.hpp>

#include <iostream>
#include <set>

#include "kube_helpers.h"
#include "node_support.h"

using namespace ew;
using ew::testing::eventually;
using ew::testing::kubectl;
using kube::Json;
using namespace std::chrono_literals;

namespace {

const std::string kNs = "eventworker-system";
const std::string kSelector = "app.kubernetes.io/name=eventworker-operator";
using e2e::holderPod;
using e2e::leaseHolder;

Json worker(const std::string& ns) {
  return Json::parse(R"({"apiVersion": "eventworker.dev/v1alpha1", "kind": "EventWorker",
    "metadata": {"name": "handover", "namespace": ")" +
                     ns + R"("},
    "spec": {"service": "handover", "handler": {"image": "localhost/eventworker/ledger-handler:test"},
             "source": {"kafka": {"brokers": [")" +
                     e2e::podBootstrap() + R"("]}},
             "scaling": {"enabled": false},
             "subscriptions": [{"name": "a", "topic": "e2e.handover", "route": "/a"}]}})");
}

}  // namespace

TEST_CASE(
    "kubectl apply -k installs the operator: both replicas Ready through their probes, one holds the Lease, "
    "and deleting the leader's pod hands over without creating any object twice") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  REQUIRE(eventually([&] { return e2e::readyPods(api, kNs, kSelector) == 2; }, 120s));

  std::string holder;
  REQUIRE(eventually([&] { return !(holder = leaseHolder(api)).empty(); }, 60s));
  auto before = e2e::pods(api, kNs, kSelector);
  const std::string leader = holderPod(holder, before);
  INFO("lease holder " << holder << "\n" << e2e::describePods(api, kNs, kSelector));
  REQUIRE(!leader.empty());
  // The leader reconciles under its ServiceAccount token: a worker's objects appear.
  const std::string ns = e2e::createNodeNamespace(api, "e2e-handover");
  REQUIRE(api.apply({"eventworker.dev", "v1alpha1", "eventworkers", "EventWorker", true}, ns, "handover", worker(ns)));
  const kube::ResourceType kDeployment{"apps", "v1", "deployments", "Deployment", true};
  std::string uidBefore;
  REQUIRE(eventually(
      [&] {
        auto d = api.get(kDeployment, ns, "handover-events");
        if (d) uidBefore = (*d)["metadata"]["uid"];
        return d.ok();
      },
      60s));

  const double t0 = e2e::nowSeconds();
  std::string out;
  REQUIRE(kubectl("-n " + kNs + " delete pod " + leader + " --wait=false", &out) == 0);
  std::string newHolder;
  REQUIRE(eventually(
      [&] {
        newHolder = leaseHolder(api);
        return !newHolder.empty() && newHolder != holder;
      },
      60s));
  const double handover = e2e::nowSeconds() - t0;
  std::cout << "[figure] leader pod deleted -> new Lease holder: " << handover << " s (lease duration 15 s)\n";
  auto after = e2e::pods(api, kNs, kSelector);
  const std::string newLeader = holderPod(newHolder, after);
  INFO("new holder " << newHolder << "\n" << e2e::describePods(api, kNs, kSelector));
  CHECK(!newLeader.empty());
  CHECK(newLeader != leader);

  // The new leader adopts what exists: same Deployment, nothing created twice.
  REQUIRE(api.apply({"eventworker.dev", "v1alpha1", "eventworkers", "EventWorker", true}, ns, "handover", [&] {
    auto w = worker(ns);
    w["spec"]["subscriptions"].push_back({{"name", "b"}, {"topic", "e2e.handover.b"}, {"route", "/b"}});
    return w;
  }()));
  REQUIRE(eventually(
      [&] {
        auto cm = api.get({"", "v1", "configmaps", "ConfigMap", true}, ns, "handover-runtime");
        return cm && (*cm)["data"].value("runtime.yaml", "").find("e2e.handover.b") != std::string::npos;
      },
      60s));
  auto d = api.get(kDeployment, ns, "handover-events");
  REQUIRE(d);
  CHECK((*d)["metadata"]["uid"] == uidBefore);
  kube::ListOptions o;
  o.labelSelector = "eventworker.dev/name=handover";
  auto deployments = api.list(kDeployment, ns, o);
  REQUIRE(deployments);
  CHECK((*deployments)["items"].size() == 1);
  // Both replicas Ready again (the ReplicaSet replaced the deleted pod).
  CHECK(eventually([&] { return e2e::readyPods(api, kNs, kSelector) == 2; }, 120s));
  kubectl("delete namespace " + ns + " --wait=false");
}
