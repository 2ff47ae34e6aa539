// The reconciler on kube::FakeApi, as in reconciler_test.cpp: a migration off
// an API service, the outbox relays' status and the streams Deployment's size.
#include "controller/reconciler_test_harness.h"

using namespace ew;
using namespace ew::controller;
using namespace ew::controller::testing;

TEST_CASE(
    "reconcile: an overlap migration scopes the worker in, then takes the API's Subscription scope and "
    "programmatic subscriptions once the worker is ready, and the worker's deletion gives both back") {
  Harness h;
  // The API service: a declarative Subscription scoped to it (and another
  // app), and a Deployment running its app id.
  REQUIRE(h.api.create(r::kDaprSubscription, "shop",
                       {{"apiVersion", "dapr.io/v2alpha1"},
                        {"kind", "Subscription"},
                        {"metadata", {{"name", "api-orders"}}},
                        {"spec", {{"pubsubname", "pubsub"}, {"topic", "order.completed"}}},
                        {"scopes", {"customer-api", "audit"}}}));
  REQUIRE(h.api.create(
      r::kDeployment, "shop",
      {{"apiVersion", "apps/v1"},
       {"kind", "Deployment"},
       {"metadata", {{"name", "customer-api"}, {"labels", {{"app", "customer-api"}}}}},
       {"spec", {{"template", {{"metadata", {{"annotations", {{"dapr.io/app-id", "customer-api"}}}}}}}}}}));
  const auto apiScopes = [&] { return (*h.api.get(r::kDaprSubscription, "shop", "api-orders"))["scopes"]; };
  const auto apiAnnotations = [&] {
    return (*h.api.get(r::kDeployment, "shop", "customer-api"))["spec"]["template"]["metadata"].value("annotations",
                                                                                                      Json::object());
  };
  h.add(patched(
      {{"spec",
        {{"cron", nullptr},
         {"dapr", {{"enabled", true}, {"appId", "customer-worker"}, {"pubsubName", "pubsub"}}},
         {"migrateFrom", {{"appId", "customer-api"}, {"handoff", "overlap"}, {"programmaticSubscriptions", true}}}}}}));

  // Not ready yet: the worker is scoped in first, the API keeps everything.
  REQUIRE(h.reconcile());
  CHECK(h.count(r::kDaprSubscription) == 2);
  CHECK(apiScopes() == Json({"customer-api", "audit"}));
  CHECK_FALSE(apiAnnotations().contains(migration::kDisableInitEndpoints));
  CHECK(h.status()["migration"]["phase"] == "Pending");

  h.workloadsAvailable();
  REQUIRE(h.reconcile());
  CHECK(apiScopes() == Json({"audit"}));
  CHECK(apiAnnotations()[migration::kDisableInitEndpoints] == "subscribe");
  CHECK(h.status()["migration"]["phase"] == "Complete");
  CHECK(h.condition("Migrated")["status"] == "True");
  // What it changed is recorded, and a finalizer keeps it until given back.
  CHECK((*h.api.get(r::kEventWorker, "shop", "customer-worker"))["metadata"]["finalizers"] ==
        Json({migration::kFinalizer}));
  const auto reasons = h.eventReasons();
  CHECK(has(reasons, "MigrationScopes"));
  CHECK(has(reasons, "MigrationAnnotation"));

  // Deleted: the finalizer holds the worker until both are given back.
  REQUIRE(h.api.remove(r::kEventWorker, "shop", "customer-worker"));
  REQUIRE(h.reconcile());
  CHECK(apiScopes() == Json({"audit", "customer-api"}));
  CHECK_FALSE(apiAnnotations().contains(migration::kDisableInitEndpoints));
  CHECK_FALSE(h.api.get(r::kEventWorker, "shop", "customer-worker"));
  CHECK(has(h.eventReasons(), "MigrationRestored"));
}

TEST_CASE("reconcile: a migration whose Deployments cannot be listed is Degraded MigrationFailed and returned") {
  Harness h;
  h.add(patched(
      {{"spec",
        {{"cron", nullptr},
         {"dapr", {{"enabled", true}, {"appId", "customer-worker"}, {"pubsubName", "pubsub"}}},
         {"migrateFrom", {{"appId", "customer-api"}, {"handoff", "overlap"}, {"programmaticSubscriptions", true}}}}}}));
  h.api.failNext("list", "deployments", 500, "InternalError: etcdserver: request timed out");
  auto out = h.reconcile();
  REQUIRE_FALSE(out);
  CHECK_THAT(out.error().message, Catch::Contains("list Deployments"));
  CHECK(h.condition("Degraded")["reason"] == "MigrationFailed");
  REQUIRE(h.reconcile());
  CHECK(h.condition("Degraded")["reason"] != "MigrationFailed");
}

TEST_CASE(
    "reconcile: the outbox relays' figures from the monitor are written to status.outbox with OutboxBacklog, and "
    "go when spec.outbox does") {
  Harness h;
  Json reply = {
      {"outbox",
       Json::array({{{"name", "orders"}, {"state", "active"}, {"pending", 120}, {"oldestPendingAgeSeconds", 95.5}}})}};
  std::vector<std::string> read;
  OutboxMonitor monitor(
      [&](const std::string& ip, int port) -> Result<Json> {
        read.push_back(ip + ":" + std::to_string(port));
        return reply;
      },
      [&](const std::string& key) {
        return runningPods(h.pods.byIndex("shop", key.substr(key.find('/') + 1)), "outbox");
      },
      [](const std::string&) {}, h.time);
  Reconciler reconciler(h.api, h.eventWorkers,
                        OwnedStores{h.configMaps, h.deployments, h.statefulSets, &h.subscriptions, &h.pods, {}},
                        renderEventWorker, h.events, h.time, nullptr, {}, &monitor);
  h.add(patched(
      {{"spec", {{"outbox", Json::array({{{"name", "orders"}, {"connectionSecretRef", {{"name", "orders-db"}}}}})}}}}));
  h.syncCaches();
  REQUIRE(reconciler.reconcile("shop/customer-worker"));
  // The outbox pod the kubelet started, with its IP.
  REQUIRE(h.api.create(r::kPod, "shop",
                       {{"apiVersion", "v1"},
                        {"kind", "Pod"},
                        {"metadata",
                         {{"name", "customer-worker-outbox-0"},
                          {"labels", {{kNameLabel, "customer-worker"}, {"eventworker.dev/component", "outbox"}}}}}}));
  REQUIRE(h.api.setStatus(r::kPod, "shop", "customer-worker-outbox-0", {{"podIP", "10.244.0.9"}}));
  h.syncCaches();
  (void)monitor.pollDue();
  CHECK(read == std::vector<std::string>{"10.244.0.9:9090"});
  h.workloadsAvailable();
  h.syncCaches();
  REQUIRE(reconciler.reconcile("shop/customer-worker"));
  const Json relay = h.status()["outbox"][0];
  CHECK(relay["name"] == "orders");
  CHECK(relay["pendingRows"] == 120);
  CHECK(relay["oldestPendingAgeSeconds"] == 95);
  CHECK(relay["activePod"] == "customer-worker-outbox-0");
  CHECK(h.condition("OutboxBacklog")["status"] == "True");
  CHECK(h.condition("OutboxBacklog")["reason"] == "OldRowsPending");

  h.edit({{"spec", {{"outbox", nullptr}}}});
  h.syncCaches();
  REQUIRE(reconciler.reconcile("shop/customer-worker"));
  CHECK_FALSE(h.status().contains("outbox"));
  CHECK(h.condition("OutboxBacklog").empty());
}

TEST_CASE(
    "reconcile: the streams scaler's decision sizes the streams Deployment, status.streams says why, and a verified "
    "worker is sized again when only the decision changed") {
  Harness h;
  int64_t clients = 12000;
  MetricsRegistry metrics;
  StreamsScaler scaler(
      [&](const std::string&, int) -> Result<Json> {
        return Json{{"streams", Json::array({{{"name", "orders"}, {"clients", clients}}})}};
      },
      [&](const std::string& key) {
        return runningPods(h.pods.byIndex("shop", key.substr(key.find('/') + 1)), "streams");
      },
      [&](const std::string& key) -> std::optional<int> {
        auto d = h.deployments.get(key + "-streams");
        if (!d) return std::nullopt;
        return (*d)["spec"]["replicas"].get<int>();
      },
      [](const std::string&) {}, metrics, h.time);
  Reconciler reconciler(h.api, h.eventWorkers,
                        OwnedStores{h.configMaps, h.deployments, h.statefulSets, &h.subscriptions, &h.pods, {}},
                        renderEventWorker, h.events, h.time, nullptr, {}, nullptr, &scaler);
  h.add(patched({{"spec",
                  {{"subscriptions", nullptr},
                   {"streams", Json::array({{{"name", "orders"}, {"topics", {"order.completed"}}, {"path", "/o"}}})},
                   {"streamsScaling", {{"minReplicas", 1}, {"maxReplicas", 8}, {"targetClientsPerReplica", 5000}}}}}}));
  h.syncCaches();
  REQUIRE(reconciler.reconcile("shop/customer-worker"));
  CHECK((*h.api.get(r::kDeployment, "shop", "customer-worker-streams"))["spec"]["replicas"] == 1);
  REQUIRE(h.api.create(r::kPod, "shop",
                       {{"apiVersion", "v1"},
                        {"kind", "Pod"},
                        {"metadata",
                         {{"name", "customer-worker-streams-0"},
                          {"labels", {{kNameLabel, "customer-worker"}, {"eventworker.dev/component", "streams"}}}}}}));
  REQUIRE(h.api.setStatus(r::kPod, "shop", "customer-worker-streams-0", {{"podIP", "10.244.0.9"}}));
  h.workloadsAvailable();
  h.syncCaches();
  REQUIRE(reconciler.reconcile("shop/customer-worker"));  // verified: nothing to apply

  (void)scaler.pollDue();
  h.syncCaches();
  REQUIRE(reconciler.reconcile("shop/customer-worker"));
  CHECK((*h.api.get(r::kDeployment, "shop", "customer-worker-streams"))["spec"]["replicas"] == 3);
  const Json s = h.status()["streams"];
  CHECK(s["clients"] == 12000);
  CHECK(s["desiredReplicas"] == 3);
  CHECK(s["reason"] == "Clients");
  CHECK(s["message"] == "12000 clients on 1 pod, target 5000 per replica: 3 replicas");
  CHECK(has(h.eventReasons(), "Scaled"));

  // Clients leave: the count holds for the stabilization window (300 s by default).
  clients = 10;
  h.time.advance(StreamsScaler::kPollInterval);
  (void)scaler.pollDue();
  h.syncCaches();
  REQUIRE(reconciler.reconcile("shop/customer-worker"));
  CHECK((*h.api.get(r::kDeployment, "shop", "customer-worker-streams"))["spec"]["replicas"] == 3);
  CHECK(h.status()["streams"]["reason"] == "Stabilizing");

  // Streams no longer declared: their Deployment is pruned and status.streams goes.
  h.edit({{"spec", {{"streams", nullptr}}}});
  h.syncCaches();
  REQUIRE(reconciler.reconcile("shop/customer-worker"));
  CHECK_FALSE(h.status().contains("streams"));
  CHECK_FALSE(h.api.get(r::kDeployment, "shop", "customer-worker-streams"));
}
