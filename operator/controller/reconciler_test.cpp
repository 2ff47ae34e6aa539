// The reconciler on kube::FakeApi (held to the real kube-apiserver by
// tests/support/api_contract.h): what it writes, what it leaves alone, and
// what status says, in milliseconds and without servers. The watch caches
// are filled from the fake before each reconcile, as the watchers would.
// Migrations, outbox relays and streams: reconciler_modes_test.cpp.
#include "controller/reconciler_test_harness.h"

using namespace ew;
using namespace ew::controller;
using namespace ew::controller::testing;

TEST_CASE("reconcile: a new worker's ConfigMap, events Deployment and cron StatefulSet are applied, owned by it") {
  Harness h;
  const Json ew = h.add(minimalEventWorker());
  auto out = h.reconcile();
  REQUIRE(out);
  CHECK(out->writes == 3);
  REQUIRE(h.count(r::kConfigMap) == 1);
  REQUIRE(h.count(r::kDeployment) == 1);
  REQUIRE(h.count(r::kStatefulSet) == 1);
  for (const auto* type : {&r::kConfigMap, &r::kDeployment, &r::kStatefulSet}) {
    const Json o = h.api.objects(*type)[0];
    CHECK(o["metadata"]["ownerReferences"][0]["uid"] == ew["metadata"]["uid"]);
    CHECK(o["metadata"]["labels"][kNameLabel] == "customer-worker");
  }
  CHECK(has(h.eventReasons(), "Created"));
  // The first status waits for the workloads (their controllers have not
  // even observed them yet: up to kFirstStatusLimit) instead of writing every
  // step of their start.
  CHECK(out->requeueAfter);
  CHECK(out->requeueAfter <= std::chrono::duration_cast<std::chrono::milliseconds>(kFirstStatusLimit) + 1ms);
  CHECK(h.status().empty());

  h.workloadsAvailable();
  out = h.reconcile();
  REQUIRE(out);
  CHECK(out->writes == 1);  // the status, once
  CHECK(h.condition("Ready")["status"] == "True");
  CHECK(h.condition("Degraded")["status"] == "False");
  CHECK(h.status()["observedGeneration"] == 1);
}

namespace {
// One second before the first status's deadline: nothing until it, then
// one write saying the workloads are not available.
void firstStatusDueIn1s(Harness& h) {
  auto out = h.reconcile();
  REQUIRE(out);
  REQUIRE(out->requeueAfter);
  CHECK(*out->requeueAfter == 1001ms);  // the same deadline, not a new one
  CHECK(h.status().empty());
  h.time.advance(1s);
  out = h.reconcile();
  REQUIRE(out);
  CHECK(out->writes == 1);
  CHECK(h.condition("Ready")["status"] == "False");
  CHECK(h.status()["observedGeneration"] == 1);
}
}  // namespace

TEST_CASE("reconcile: a first status is written kFirstStatusWait after the workloads were observed, settled or not") {
  Harness h;
  h.add(minimalEventWorker());
  auto out = h.reconcile();
  REQUIRE(out);
  REQUIRE(out->requeueAfter);
  CHECK(*out->requeueAfter == std::chrono::duration_cast<std::chrono::milliseconds>(kFirstStatusLimit) + 1ms);
  h.time.advance(5s);         // kube-controller-manager behind: not news
  h.workloadsObservedOnly();  // observed; the pods never come up
  out = h.reconcile();
  REQUIRE(out);
  REQUIRE(out->requeueAfter);
  CHECK(*out->requeueAfter == std::chrono::duration_cast<std::chrono::milliseconds>(kFirstStatusWait) + 1ms);
  h.time.advance(kFirstStatusWait - 1s);
  firstStatusDueIn1s(h);
}

TEST_CASE("reconcile: a first status whose workloads are never observed is written at kFirstStatusLimit") {
  Harness h;
  h.add(minimalEventWorker());
  auto out = h.reconcile();
  REQUIRE(out);
  h.time.advance(kFirstStatusLimit - 1s);  // no kube-controller-manager
  firstStatusDueIn1s(h);
}

TEST_CASE("reconcile: a pod's problem ends the first status's wait at once: the reason is the news") {
  Harness h;
  h.add(minimalEventWorker());
  auto out = h.reconcile();
  REQUIRE(out);
  REQUIRE(out->requeueAfter);
  h.workloadsObservedOnly();
  // What kubelet reports of a pod whose image cannot be pulled.
  const Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata", {{"name", "customer-worker-events-1"}, {"labels", {{kNameLabel, "customer-worker"}}}}},
      {"spec", {{"containers", Json::array({{{"name", "handler"}, {"image", "registry.local/customer:1.0"}}})}}},
      {"status",
       {{"phase", "Pending"},
        {"containerStatuses",
         Json::array({{{"name", "handler"},
                       {"ready", false},
                       {"restartCount", 0},
                       {"state",
                        {{"waiting",
                          {{"reason", "ErrImagePull"},
                           {"message", "failed to resolve reference \"registry.local/customer:1.0\""}}}}}}})}}}};
  REQUIRE(h.api.create(r::kPod, "shop", pod));  // a create drops status, as the apiserver's does
  REQUIRE(h.api.setStatus(r::kPod, "shop", "customer-worker-events-1", pod["status"]));
  out = h.reconcile();  // no time has passed
  REQUIRE(out);
  CHECK(out->writes == 1);
  CHECK(h.condition("Ready")["status"] == "False");
  CHECK(h.condition("Degraded")["reason"] == "ErrImagePull");
}

TEST_CASE("reconcile: the next reconcile reads the status just written, before its watch event arrives") {
  Harness h;
  h.add(minimalEventWorker());
  REQUIRE(h.reconcile());
  h.workloadsAvailable();
  auto out = h.reconcile();
  REQUIRE(out);
  REQUIRE(out->writes == 1);  // the status
  // No syncCaches(): the watch has not delivered the status write yet.
  out = h.reconciler.reconcile("shop/customer-worker");
  REQUIRE(out);
  CHECK(out->writes == 0);  // a stale copy would write the same status again
}

TEST_CASE("reconcile: a resync with nothing changed sends no request that writes") {
  Harness h;
  h.add(minimalEventWorker());
  REQUIRE(h.reconcile());
  h.workloadsAvailable();
  REQUIRE(h.reconcile());
  const int writes = h.api.writes();
  for (int i = 0; i < 3; ++i) {
    auto out = h.reconcile();
    REQUIRE(out);
    CHECK(out->writes == 0);
  }
  CHECK(h.api.writes() == writes);
}

TEST_CASE(
    "reconcile: after a reconcile that applied nothing, the worker is rendered again only when it or an object of it "
    "changes, not for a status") {
  Harness h;
  h.add(minimalEventWorker());
  REQUIRE(h.reconcile());
  h.workloadsAvailable();
  REQUIRE(h.reconcile());  // applies nothing: verified
  const int renders = h.renders;
  auto out = h.reconcile();
  REQUIRE(out);
  CHECK(out->writes == 0);
  CHECK(h.renders == renders);

  // kube-controller-manager's status of a Deployment: the worker's status follows, unrendered.
  const std::string deployment = h.api.objects(r::kDeployment)[0]["metadata"]["name"];
  REQUIRE(h.api.setStatus(r::kDeployment, "shop", deployment,
                          {{"observedGeneration", 1},
                           {"replicas", 1},
                           {"readyReplicas", 0},
                           {"conditions", {{{"type", "Available"}, {"status", "False"}}}}}));
  out = h.reconcile();
  REQUIRE(out);
  CHECK(out->writes == 1);
  CHECK(h.condition("Ready")["status"] == "False");
  CHECK(h.renders == renders);

  // Someone else's edit of the Deployment's spec: rendered again, and put back.
  auto live = h.api.get(r::kDeployment, "shop", deployment);
  REQUIRE(live);
  const Json image = (*live)["spec"]["template"]["spec"]["containers"][0]["image"];
  Json edited = *live;
  edited["spec"]["template"]["spec"]["containers"][0]["image"] = "someone/else:1";
  REQUIRE(h.api.replace(r::kDeployment, "shop", deployment, edited));
  out = h.reconcile();
  REQUIRE(out);
  CHECK(h.renders == renders + 1);
  CHECK(h.api.get(r::kDeployment, "shop", deployment).value()["spec"]["template"]["spec"]["containers"][0]["image"] ==
        image);

  // A spec edit: rendered again.
  h.edit({{"spec", {{"handler", {{"image", "registry.local/customer-service:1.5.0"}}}}}});
  REQUIRE(h.reconcile());
  CHECK(h.renders == renders + 2);
}

TEST_CASE("reconcile: an edit re-applies what it changes, and a cron list removed prunes the StatefulSet") {
  Harness h;
  h.add(minimalEventWorker());
  REQUIRE(h.reconcile());
  h.workloadsAvailable();
  REQUIRE(h.reconcile());

  h.edit({{"spec", {{"handler", {{"image", "registry.local/customer-service:1.5.0"}}}}}});
  auto out = h.reconcile();
  REQUIRE(out);
  const Json d = h.api.objects(r::kDeployment)[0];
  bool found = false;
  for (const auto& c : d["spec"]["template"]["spec"]["containers"])
    if (c["image"] == "registry.local/customer-service:1.5.0") found = true;
  CHECK(found);
  CHECK(d["metadata"]["generation"] == 2);

  h.edit({{"spec", {{"cron", nullptr}}}});
  out = h.reconcile();
  REQUIRE(out);
  CHECK(h.count(r::kStatefulSet) == 0);
  CHECK(h.count(r::kDeployment) == 1);
  CHECK(has(h.eventReasons(), "Pruned"));
}

TEST_CASE("reconcile: an invalid spec is Degraded InvalidSpec naming the field, and nothing is applied") {
  Harness h;
  h.add(patched({{"spec", {{"handler", {{"port", 0}}}}}}));
  auto out = h.reconcile();
  REQUIRE(out);
  CHECK(out->writes == 1);
  CHECK(h.count(r::kDeployment) == 0);
  CHECK(h.count(r::kConfigMap) == 0);
  CHECK(h.condition("Degraded")["reason"] == "InvalidSpec");
  CHECK_THAT(h.condition("Degraded")["message"].get<std::string>(), Catch::Contains("spec.handler.port"));
  CHECK(h.condition("Ready")["status"] == "False");
  CHECK(has(h.eventReasons(), "InvalidSpec"));
}

TEST_CASE(
    "reconcile: an apply the API server refuses is Degraded ApplyFailed and returned for backoff, then "
    "clears") {
  Harness h;
  h.add(minimalEventWorker());
  h.api.failNext("apply", "deployments", 500, "InternalError: etcdserver: request timed out");
  auto out = h.reconcile();
  REQUIRE_FALSE(out);
  CHECK(out.error().code == 500);
  CHECK_THAT(out.error().message, Catch::Contains("request timed out"));
  CHECK(h.condition("Degraded")["reason"] == "ApplyFailed");
  CHECK_THAT(h.condition("Degraded")["message"].get<std::string>(),
             Catch::Contains("Deployment customer-worker-events"));

  REQUIRE(h.reconcile());
  h.workloadsAvailable();
  REQUIRE(h.reconcile());
  CHECK(h.condition("Degraded")["status"] == "False");
  CHECK(h.condition("Ready")["status"] == "True");
}

TEST_CASE("reconcile: when the status write that reports a refused apply fails too, the apply's error is returned") {
  Harness h;
  h.add(minimalEventWorker());
  h.api.failNext("apply", "deployments", 500, "InternalError: etcdserver: request timed out");
  h.api.failNext("apply-status", "eventworkers", 503, "ServiceUnavailable");
  auto out = h.reconcile();
  REQUIRE_FALSE(out);
  CHECK(out.error().code == 500);
  CHECK_THAT(out.error().message, Catch::Contains("request timed out"));
  CHECK(h.condition("Degraded").empty());  // the status write failed

  REQUIRE(h.reconcile());  // the retry applies it
  h.workloadsAvailable();
  REQUIRE(h.reconcile());
  CHECK(h.condition("Degraded")["status"] == "False");
}

TEST_CASE("reconcile: Dapr Subscriptions without Dapr's API installed are Degraded DaprNotInstalled") {
  Harness h;
  h.add(patched({{"spec", {{"dapr", {{"enabled", true}, {"appId", "customer-worker"}, {"pubsubName", "pubsub"}}}}}}));
  h.api.failNext("apply", "subscriptions", 404, "NotFound: the server could not find the requested resource");
  REQUIRE_FALSE(h.reconcile());
  CHECK(h.condition("Degraded")["reason"] == "DaprNotInstalled");
  REQUIRE(h.reconcile());
  CHECK(h.count(r::kDaprSubscription) == 1);
}

TEST_CASE("reconcile: a pod whose image cannot be pulled makes the worker Degraded with the pod's name, once") {
  Harness h;
  h.add(minimalEventWorker());
  REQUIRE(h.reconcile());
  h.workloadsAvailable();
  REQUIRE(h.reconcile());
  REQUIRE(
      h.api.create(r::kPod, "shop",
                   {{"metadata", {{"name", "customer-worker-events-1"}, {"labels", {{kNameLabel, "customer-worker"}}}}},
                    {"spec", {{"containers", {{{"name", "handler"}, {"image", "x"}}}}}}}));
  REQUIRE(h.api.setStatus(
      r::kPod, "shop", "customer-worker-events-1",
      {{"containerStatuses",
        {{{"name", "handler"},
          {"state", {{"waiting", {{"reason", "ImagePullBackOff"}, {"message", "Back-off pulling image \"x\""}}}}}}}}}));
  REQUIRE(h.reconcile());
  CHECK(h.condition("Degraded")["reason"] == "ImagePullBackOff");
  CHECK(h.condition("Degraded")["message"] ==
        "pod customer-worker-events-1: container handler: ImagePullBackOff: Back-off pulling image \"x\"");
  CHECK(h.condition("Ready")["status"] == "True");  // the workloads still say available
  REQUIRE(h.reconcile());
  const auto reasons = h.eventReasons();
  CHECK(std::count(reasons.begin(), reasons.end(), "ImagePullBackOff") == 1);

  REQUIRE(h.api.remove(r::kPod, "shop", "customer-worker-events-1"));
  REQUIRE(h.reconcile());
  CHECK(h.condition("Degraded")["status"] == "False");
}

TEST_CASE(
    "reconcile: the cron Deployment of an earlier operator is deleted with its pods before the StatefulSet "
    "that replaces it is created") {
  Harness h;
  const Json ew = h.add(minimalEventWorker());
  Json old = {{"apiVersion", "apps/v1"},
              {"kind", "Deployment"},
              {"metadata", {{"name", "customer-worker-cron"}, {"labels", {{kNameLabel, "customer-worker"}}}}},
              {"spec", {{"replicas", 1}}}};
  old = withOwner(old, ew);
  REQUIRE(h.api.create(r::kDeployment, "shop", old));
  auto out = h.reconcile();
  REQUIRE(out);
  CHECK(h.count(r::kStatefulSet) == 0);
  auto deleting = h.api.get(r::kDeployment, "shop", "customer-worker-cron");
  REQUIRE(deleting);
  CHECK(deletingInForeground(*deleting));
  CHECK(h.status().empty());  // the first status is still held back
  // The collector removes it (its ReplicaSets and pods first, on a real cluster).
  h.api.collectGarbage();
  REQUIRE(h.reconcile());
  CHECK(h.count(r::kStatefulSet) == 1);
  CHECK(has(h.eventReasons(), "Replacing"));
}

TEST_CASE("reconcile: a worker gone from the cache (deleted) needs no request") {
  Harness h;
  auto out = h.reconcile("never-existed");
  REQUIRE(out);
  CHECK(out->writes == 0);
  CHECK(h.api.writes() == 0);
}
