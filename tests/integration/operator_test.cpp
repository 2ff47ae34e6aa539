// The EventWorker controller (in process, the product's own code) against the
// real kube-apiserver and kube-controller-manager.
#include <catch2/catch.hpp>

#include <random>
#include <set>

#include "operator_fixture.h"

using namespace ew;
using namespace ew::testing;
using namespace std::chrono_literals;
using kube::Json;
namespace resources = kube::resources;

TEST_CASE("create, edit, prune and delete: children follow the EventWorker") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "op-life");
  RunningController rc(ns);
  auto created = user.apply(resources::kEventWorker, ns, "customer", eventWorker("customer"));
  REQUIRE(created.ok());
  const std::string uid = (*created)["metadata"]["uid"];

  REQUIRE(eventually([&] {
    return get(user, resources::kDeployment, ns, "customer-events") &&
           get(user, resources::kStatefulSet, ns, "customer-cron") &&
           get(user, resources::kConfigMap, ns, "customer-runtime");
  }));
  CHECK_FALSE(get(user, resources::kDeployment, ns, "customer-cron"));
  for (const auto& [type, name] :
       std::vector<std::pair<kube::ResourceType, std::string>>{{resources::kDeployment, "customer-events"},
                                                               {resources::kStatefulSet, "customer-cron"},
                                                               {resources::kConfigMap, "customer-runtime"}}) {
    auto o = get(user, type, ns, name);
    REQUIRE(o);
    CHECK(ownerOf(*o)["uid"] == uid);
    CHECK(ownerOf(*o)["controller"] == true);
    CHECK((*o)["metadata"]["labels"]["eventworker.dev/name"] == "customer");
  }

  // Edit: a new image rolls the events Deployment.
  REQUIRE(user.apply(resources::kEventWorker, ns, "customer", eventWorker("customer", "registry.local/customer:2.0")));
  REQUIRE(eventually([&] {
    auto d = get(user, resources::kDeployment, ns, "customer-events");
    return d && d->dump().find("registry.local/customer:2.0") != std::string::npos;
  }));

  // Remove the cron jobs: the cron StatefulSet is pruned.
  REQUIRE(user.apply(resources::kEventWorker, ns, "customer",
                     eventWorker("customer", "registry.local/customer:2.0", false)));
  REQUIRE(eventually([&] { return !get(user, resources::kStatefulSet, ns, "customer-cron"); }));
  CHECK(get(user, resources::kDeployment, ns, "customer-events"));

  // Delete: the garbage collector of kube-controller-manager removes the children.
  REQUIRE(user.remove(resources::kEventWorker, ns, "customer").ok());
  REQUIRE(eventually(
      [&] {
        return !get(user, resources::kDeployment, ns, "customer-events") &&
               !get(user, resources::kConfigMap, ns, "customer-runtime");
      },
      60s));
}

TEST_CASE(
    "upgrade: the cron Deployment of an earlier operator is deleted with its pods before the cron "
    "StatefulSet is created") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "op-upgrade");
  auto created = user.apply(resources::kEventWorker, ns, "legacy", eventWorker("legacy"));
  REQUIRE(created.ok());
  // What the earlier operator made: Deployment legacy-cron, controlled by the
  // EventWorker. Its pod carries a finalizer of this test: it stands in for
  // a kubelet that has not yet stopped the pod's containers.
  const kube::ResourceType pod{"", "v1", "pods", "Pod", true};
  Json old = Json::parse(R"({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "legacy-cron", "labels": {"eventworker.dev/name": "legacy", "eventworker.dev/component": "cron"}},
    "spec": {
      "replicas": 1, "strategy": {"type": "Recreate"},
      "selector": {"matchLabels": {"eventworker.dev/name": "legacy", "eventworker.dev/component": "cron"}},
      "template": {
        "metadata": {"labels": {"eventworker.dev/name": "legacy", "eventworker.dev/component": "cron"},
                     "finalizers": ["test.eventworker.dev/hold"]},
        "spec": {"containers": [{"name": "runtime", "image": "registry.local/runtime:0.1"}]}}}})");
  old = controller::withOwner(old, *created);
  REQUIRE(user.create(resources::kDeployment, ns, old));
  kube::ListOptions cronPods;
  cronPods.labelSelector = "eventworker.dev/name=legacy,eventworker.dev/component=cron";
  auto oldPods = [&] {
    std::vector<Json> out;
    if (auto l = user.list(pod, ns, cronPods))
      for (const auto& p : (*l)["items"]) out.push_back(p);
    return out;
  };
  REQUIRE(eventually([&] { return oldPods().size() == 1; }, 60s));

  RunningController rc(ns);
  // The old Deployment is deleted in the foreground: it stays, and so does
  // its ReplicaSet, while its pod is terminating. Meanwhile no StatefulSet.
  REQUIRE(eventually(
      [&] {
        auto pods = oldPods();
        return pods.size() == 1 && pods[0]["metadata"].contains("deletionTimestamp") &&
               conditionOf(user, ns, "legacy", "Ready").value("reason", "") == "ReplacingWorkload";
      },
      60s));
  auto deleting = get(user, resources::kDeployment, ns, "legacy-cron");
  REQUIRE(deleting);
  CHECK(controller::deletingInForeground(*deleting));
  CHECK_FALSE(get(user, resources::kStatefulSet, ns, "legacy-cron"));
  CHECK(get(user, resources::kDeployment, ns, "legacy-events"));  // the rest is not held back
  CHECK_THAT(conditionOf(user, ns, "legacy", "Ready").value("message", ""),
             Catch::Contains("Deployment legacy-cron and its pods before StatefulSet legacy-cron is created"));

  // The pod is gone: the ReplicaSet and the Deployment follow, then the StatefulSet is created.
  const std::string podName = oldPods().at(0)["metadata"]["name"];
  REQUIRE(kubectl("-n " + ns + " patch pod " + podName +
                  " --type=json -p '[{\"op\": \"remove\", "
                  "\"path\": \"/metadata/finalizers\"}]'") == 0);
  REQUIRE(eventually([&] { return get(user, resources::kStatefulSet, ns, "legacy-cron").has_value(); }, 60s));
  CHECK_FALSE(get(user, resources::kDeployment, ns, "legacy-cron"));
  auto set = get(user, resources::kStatefulSet, ns, "legacy-cron");
  REQUIRE(set);
  CHECK(ownerOf(*set)["uid"] == (*created)["metadata"]["uid"]);
  REQUIRE(eventually(
      [&] {
        markPodsReady(user, ns, cronPods.labelSelector);
        markPodsReady(user, ns, "eventworker.dev/name=legacy,eventworker.dev/component=events");
        return conditionOf(user, ns, "legacy", "Ready").value("status", "") == "True";
      },
      60s));
}

TEST_CASE("Dapr: one Subscription per subscription, scoped to the worker, and removed ones are pruned") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "op-dapr");
  RunningController rc(ns);
  REQUIRE(user.apply(resources::kEventWorker, ns, "catalog", eventWorker("catalog", "img:1", false, 2, true)));
  auto subs = [&] {
    auto l = user.list(resources::kDaprSubscription, ns);
    std::set<std::string> names;
    if (l)
      for (const auto& s : (*l)["items"]) names.insert(s["metadata"]["name"].get<std::string>());
    return names;
  };
  REQUIRE(eventually([&] { return subs().size() == 2; }));
  auto one = user.list(resources::kDaprSubscription, ns);
  REQUIRE(one.ok());
  for (const auto& s : (*one)["items"]) CHECK(s["scopes"] == Json::array({"catalog"}));
  auto d = get(user, resources::kDeployment, ns, "catalog-events");
  REQUIRE(d);
  CHECK((*d)["spec"]["template"]["metadata"]["annotations"]["dapr.io/enabled"] == "true");
  CHECK((*d)["spec"]["template"]["metadata"]["annotations"]["dapr.io/app-id"] == "catalog");

  REQUIRE(user.apply(resources::kEventWorker, ns, "catalog", eventWorker("catalog", "img:1", false, 1, true)));
  REQUIRE(eventually([&] { return subs().size() == 1; }));
}

TEST_CASE(
    "status: Ready follows the availability of the events Deployment and the cron StatefulSet, and an "
    "unrenderable spec is Degraded") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "op-status");
  RunningController rc(ns);
  REQUIRE(user.apply(resources::kEventWorker, ns, "pricing", eventWorker("pricing")));
  auto condition = [&](const std::string& name, const std::string& type) {
    auto ew = get(user, resources::kEventWorker, ns, name);
    if (!ew) return Json::object();
    for (const auto& c : (*ew).value("status", Json::object()).value("conditions", Json::array()))
      if (c["type"] == type) return c;
    return Json::object();
  };
  REQUIRE(eventually([&] { return condition("pricing", "Ready").value("reason", "") == "DeploymentsNotAvailable"; }));
  CHECK(condition("pricing", "Ready")["status"] == "False");
  CHECK(condition("pricing", "Degraded")["status"] == "False");

  // Stand in for the kubelet until the Deployment and the StatefulSet report their pods available.
  REQUIRE(eventually(
      [&] {
        markPodsReady(user, ns, "eventworker.dev/name=pricing");
        return condition("pricing", "Ready").value("status", "") == "True";
      },
      60s));
  auto ew = get(user, resources::kEventWorker, ns, "pricing");
  REQUIRE(ew);
  CHECK((*ew)["status"]["observedGeneration"] == (*ew)["metadata"]["generation"]);
  CHECK((*ew)["status"]["readyReplicas"] == 1);

  // Accepted by the API server, refused by the operator's own judgement
  // (two subscriptions on one topic in one consumer group).
  Json bad = eventWorker("broken", "registry.local/customer:1.0", false, 2);
  bad["spec"]["subscriptions"][1]["topic"] = bad["spec"]["subscriptions"][0]["topic"];
  REQUIRE(user.apply(resources::kEventWorker, ns, "broken", bad));
  REQUIRE(eventually([&] { return condition("broken", "Degraded").value("status", "") == "True"; }));
  CHECK(condition("broken", "Degraded")["reason"] == "InvalidSpec");
  CHECK_THAT(condition("broken", "Degraded")["message"].get<std::string>(),
             Catch::Contains("spec.subscriptions[1].topic"));
  CHECK_FALSE(get(user, resources::kDeployment, ns, "broken-events"));
}

TEST_CASE("new EventWorkers whose Deployments become available at once get one status write each") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "op-first");
  RunningController rc(ns);
  constexpr int kWorkers = 10;
  // The controller's own count (the API server's counters are cluster-wide,
  // and other tests run beside this one).
  auto writes = [&] { return rc.metrics.counter("eventworker_reconcile_writes_total", "").value(); };
  for (int i = 0; i < kWorkers; ++i) {
    // Zero replicas and no cron StatefulSet: available as soon as
    // kube-controller-manager has looked at it (there is no kubelet here).
    Json ew = eventWorker("f" + std::to_string(i), "registry.local/customer:1.0", false);
    ew["spec"]["replicas"] = 0;
    ew["spec"]["scaling"] = {{"enabled", false}};
    REQUIRE(user.apply(resources::kEventWorker, ns, "f" + std::to_string(i), ew));
  }
  REQUIRE(eventually(
      [&] {
        for (int i = 0; i < kWorkers; ++i)
          if (conditionOf(user, ns, "f" + std::to_string(i), "Ready").value("status", "") != "True") return false;
        return true;
      },
      60s));
  std::this_thread::sleep_for(2s);  // a second write would follow the first at once
  // A ConfigMap, a Deployment and one status each: the first status waited
  // for the Deployment instead of saying "not available" first and
  // "available" a moment later (4 writes each without the wait). The wait
  // ends after 10 s: under a loaded ctest -j2, kube-controller-manager was
  // once later than that for one worker (31 writes), so a few second
  // statuses are tolerated, and not one per worker.
  CHECK(writes() >= 3 * kWorkers);
  CHECK(writes() <= 3 * kWorkers + kWorkers / 5);
  for (int i = 0; i < kWorkers; ++i)
    CHECK(conditionOf(user, ns, "f" + std::to_string(i), "Scaling").value("reason", "") == "Disabled");
}

TEST_CASE("200 rapid edits of one EventWorker converge to the last") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "op-edits");
  RunningController rc(ns);
  for (int i = 1; i <= 200; ++i)
    REQUIRE(user.apply(resources::kEventWorker, ns, "busy", eventWorker("busy", "img:" + std::to_string(i))));
  REQUIRE(eventually(
      [&] {
        auto d = get(user, resources::kDeployment, ns, "busy-events");
        return d && d->dump().find("\"img:200\"") != std::string::npos;
      },
      60s));
  auto ew = get(user, resources::kEventWorker, ns, "busy");
  REQUIRE(ew);
  REQUIRE(eventually([&] {
    auto e = get(user, resources::kEventWorker, ns, "busy");
    return e && e->value("status", Json::object()).value("observedGeneration", 0) == (*e)["metadata"]["generation"];
  }));
}
