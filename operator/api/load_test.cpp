#include <catch2/catch.hpp>

#include "api/load.h"
#include "api/test_objects.h"

using namespace ew::api;
using ew::api::testing::minimalEventWorker;
using ew::api::testing::patched;

namespace {

FieldErrors errorsOf(const Json& object) {
  auto r = loadEventWorker(object);
  if (auto* e = std::get_if<FieldErrors>(&r)) return *e;
  return {};
}

bool refusedAt(const Json& object, const std::string& path) {
  const auto errors = errorsOf(object);
  for (const auto& e : errors)
    if (e.path == path) return true;
  UNSCOPED_INFO("findings: " << describe(errors));
  return false;
}

}  // namespace

TEST_CASE("the embedded CRD defines v1alpha1 with status and scale subresources") {
  const Json& crd = eventWorkerCrd();
  CHECK(crd["spec"]["group"] == "eventworker.dev");
  CHECK(crd["spec"]["names"]["kind"] == "EventWorker");
  CHECK(eventWorkerSchema().root()["properties"].contains("spec"));
}

TEST_CASE("a minimal worker loads with the CRD's defaults applied") {
  auto r = loadEventWorker(minimalEventWorker());
  REQUIRE(std::holds_alternative<Loaded>(r));
  const auto& l = std::get<Loaded>(r);
  const EventWorker& ew = l.eventWorker;
  CHECK(ew.metadata.name == "customer-worker");
  CHECK(ew.metadata.nameSpace == "shop");
  CHECK(ew.spec.handler.port == 8080);
  CHECK(ew.spec.handler.host == "127.0.0.1");
  CHECK(ew.spec.handler.kind == HandlerSpec::Kind::Http);
  CHECK(ew.spec.handler.timeout == Millis(30000));
  CHECK(ew.spec.handler.resources.requests.at("cpu") == "100m");
  CHECK(ew.spec.runtime.metricsPort == 9090);
  CHECK(ew.spec.runtime.gracePeriodSeconds == 30);
  CHECK(ew.spec.dapr.enabled == false);
  CHECK(ew.spec.dapr.appPort == 5005);
  REQUIRE(ew.spec.kafka);
  CHECK(ew.spec.kafka->offsetReset == "earliest");
  REQUIRE(ew.spec.subscriptions.size() == 1);
  const auto& s = ew.spec.subscriptions[0];
  CHECK(s.concurrency == 16);
  CHECK(s.ordering == "key");
  CHECK(s.retry.maxAttempts == 5);
  CHECK(s.retry.initialBackoff == Millis(200));
  CHECK(s.retry.maxBackoff == Millis(30000));
  CHECK(s.maxEventBytes == 1048576);
  CHECK(s.idempotency.kind == "none");
  REQUIRE(ew.spec.cron.size() == 1);
  CHECK(ew.spec.cron[0].concurrencyPolicy == "Forbid");
  CHECK(ew.spec.cron[0].startingDeadlineSeconds == 60);
  CHECK(ew.spec.cron[0].timeout == Millis(300000));
  CHECK(ew.spec.cron[0].retry.maxAttempts == 3);
  CHECK(ew.spec.scaling.minReplicas == 1);
  CHECK(ew.spec.scaling.maxReplicas == 10);
  CHECK(ew.spec.scaling.lagThreshold == 1000);
  CHECK(ew.spec.scaling.scaleDownStabilizationSeconds == 120);
  CHECK(ew.spec.scaling.predictive);
  CHECK(ew.spec.scaling.fallback.failureThreshold == 3);
  CHECK(ew.effectiveConsumerGroup() == "customer-worker");
  CHECK(l.defaulted["spec"]["scaling"]["maxReplicas"] == 10);
}

// hack/bench/streams_node.sh: a pod with the default resources carries
// twice 2500 (a lost peer's clients too); twice 5000 was OOMKilled.
TEST_CASE("streams pods are sized for 2500 clients by default, in the CRD and the decoder alike") {
  auto r = loadEventWorker(patched(Json::parse(R"({
    "spec": {"subscriptions": null, "cron": null, "streamsScaling": {},
             "streams": [{"name": "orders", "topics": ["order.completed"], "path": "/streams/orders"}]}
  })")));
  REQUIRE(std::holds_alternative<Loaded>(r));
  const auto& l = std::get<Loaded>(r);
  const auto& s = l.eventWorker.spec.streamsScaling;
  CHECK(s.minReplicas == 2);
  CHECK(s.maxReplicas == 10);
  CHECK(s.targetClientsPerReplica == 2500);
  CHECK(l.defaulted["spec"]["streamsScaling"]["targetClientsPerReplica"] == 2500);  // the CRD's default
  CHECK(StreamsScalingSpec{}.targetClientsPerReplica == 2500);  // the decoder's, for no streamsScaling
}

TEST_CASE("identity and shape are checked before anything else") {
  CHECK(refusedAt(patched({{"apiVersion", "eventworker.dev/v1"}}), "apiVersion"));
  CHECK(refusedAt(patched({{"kind", "Worker"}}), "kind"));
  CHECK(refusedAt(patched({{"metadata", {{"name", "Bad_Name"}}}}), "metadata.name"));
  CHECK(refusedAt(patched({{"metadata", {{"name", nullptr}}}}), "metadata.name"));
  CHECK(refusedAt(patched({{"spec", nullptr}}), "spec"));
  CHECK(refusedAt(patched({{"extra", 1}}), "extra"));
  CHECK(refusedAt(Json::array(), ""));
}

TEST_CASE("schema findings carry the full field path") {
  CHECK(refusedAt(patched({{"spec", {{"service", nullptr}}}}), "spec.service"));
  CHECK(refusedAt(patched({{"spec", {{"handler", {{"port", 0}}}}}}), "spec.handler.port"));
  CHECK(refusedAt(patched({{"spec", {{"handler", {{"imagee", "x"}}}}}}), "spec.handler.imagee"));
  CHECK(refusedAt(patched({{"spec", {{"scaling", {{"minReplicas", -1}}}}}}), "spec.scaling.minReplicas"));
  Json badOrdering = minimalEventWorker();
  badOrdering["spec"]["subscriptions"][0]["ordering"] = "random";
  CHECK(refusedAt(badOrdering, "spec.subscriptions[0].ordering"));
  Json badDuration = minimalEventWorker();
  badDuration["spec"]["subscriptions"][0]["retry"] = {{"maxBackoff", "30 seconds"}};
  CHECK(refusedAt(badDuration, "spec.subscriptions[0].retry.maxBackoff"));
}

TEST_CASE("the longest allowed name still derives valid DNS labels, one more is refused") {
  const std::string longest(55, 'a');
  auto ok = loadEventWorker(minimalEventWorker(longest));
  REQUIRE(std::holds_alternative<Loaded>(ok));
  CHECK((longest + "-runtime").size() <= 63);
  CHECK(refusedAt(minimalEventWorker(std::string(56, 'a')), "metadata.name"));
}
