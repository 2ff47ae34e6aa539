// The contract between the two halves: the runtime config the operator renders
// (render::runtimeConfig, the ConfigMap's runtime.yaml) is accepted by the
// runtime's parser with every field carried over (worker-runtime/config/FORMAT.md).
// It lives above both halves because it is the one place that links both.

#include <catch2/catch.hpp>

#include "api/load.h"
#include "api/test_objects.h"
#include "core/config.h"
#include "render/render.h"

using namespace ew;
using api::Json;
using api::testing::minimalEventWorker;
using api::testing::patched;

namespace {

api::EventWorker load(const Json& object) {
  auto r = api::loadEventWorker(object);
  if (auto* e = std::get_if<api::FieldErrors>(&r)) FAIL(api::describe(*e));
  return std::get<api::Loaded>(r).eventWorker;
}

const Json* find(const std::vector<Json>& objects, const std::string& kind, const std::string& name) {
  for (const auto& o : objects)
    if (o["kind"] == kind && o["metadata"]["name"] == name) return &o;
  return nullptr;
}

}  // namespace

TEST_CASE("the runtime config the renderer writes is accepted by the runtime, with every field carried over") {
  Json object = minimalEventWorker();
  object["spec"]["subscriptions"][0].merge_patch(
      {{"deadLetterTopic", "order.completed.dlq"},
       {"concurrency", 32},
       {"ordering", "partition"},
       {"retry", {{"maxAttempts", 7}, {"initialBackoff", "1h30m"}, {"maxBackoff", "1h"}}},
       {"idempotency", {{"kind", "redis"}, {"redisAddress", "redis:6379"}}}});
  object["spec"]["subscriptions"][0]["retry"]["initialBackoff"] = "500ms";
  object["spec"]["source"]["kafka"]["security"] = {
      {"protocol", "SASL_SSL"}, {"saslMechanism", "SCRAM-SHA-512"}, {"secretRef", {{"name", "kafka-credentials"}}}};
  const auto ew = load(object);
  auto parsed = runtime::parseConfig(render::runtimeConfig(ew));
  REQUIRE(parsed);
  const runtime::RuntimeConfig& c = *parsed;
  CHECK(c.worker == "customer-worker");
  CHECK(c.namespace_ == "shop");
  REQUIRE(c.source.kafka);
  CHECK(c.source.kafka->consumerGroup == "customer-worker");
  REQUIRE(c.source.kafka->security);
  CHECK(c.source.kafka->security->passwordFile == "/var/run/secrets/kafka/password");
  CHECK(c.source.kafka->security->caFile == "/var/run/secrets/kafka/ca.crt");
  REQUIRE(c.handler.http);
  CHECK(c.handler.http->url == "http://127.0.0.1:8080");
  REQUIRE(c.subscriptions.size() == 1);
  CHECK(c.subscriptions[0].concurrency == 32);
  CHECK(c.subscriptions[0].ordering == runtime::Ordering::Partition);
  CHECK(c.subscriptions[0].retry.maxAttempts == 7);
  CHECK(c.subscriptions[0].retry.initialBackoff == ew::Millis(500));
  CHECK(c.subscriptions[0].deadLetterTopic == "order.completed.dlq");
  CHECK(c.subscriptions[0].idempotency.kind == runtime::IdempotencyKind::Redis);
  REQUIRE(c.cron.size() == 1);
  CHECK(c.cron[0].schedule == "*/5 * * * *");
  CHECK(c.server.address == "0.0.0.0:9090");
  CHECK(c.server.gracePeriod == ew::Millis(25000));

  // The credentials Secret is mounted where the config points.
  const auto out = render::render(ew);
  const Json* events = find(out.objects, "Deployment", "customer-worker-events");
  REQUIRE(events);
  CHECK(events->dump().find("\"secretName\":\"kafka-credentials\"") != std::string::npos);
  // Its files (root's, mode 0440) are readable by the runtime's user through the group.
  CHECK((*events)["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 65532);
}

TEST_CASE("with clientCertificate the runtime config points at the Secret's tls.crt and tls.key") {
  Json object = minimalEventWorker();
  object["spec"]["source"]["kafka"]["security"] = {
      {"protocol", "SSL"}, {"clientCertificate", true}, {"secretRef", {{"name", "kafka-mtls"}}}};
  auto parsed = runtime::parseConfig(render::runtimeConfig(load(object)));
  REQUIRE(parsed);
  REQUIRE(parsed->source.kafka->security);
  const auto& sec = *parsed->source.kafka->security;
  CHECK(sec.protocol == "SSL");
  CHECK(sec.caFile == "/var/run/secrets/kafka/ca.crt");
  CHECK(sec.certFile == "/var/run/secrets/kafka/tls.crt");
  CHECK(sec.keyFile == "/var/run/secrets/kafka/tls.key");
  CHECK(sec.passwordFile.empty());
}

TEST_CASE("a cron-only worker's and a Dapr worker's runtime configs are accepted by the runtime") {
  Json cronOnly = patched({{"spec", {{"subscriptions", nullptr}, {"source", nullptr}}}});
  const auto o = render::render(load(cronOnly));
  REQUIRE(o.objects[0]["kind"] == "ConfigMap");
  auto cron = runtime::parseConfig(o.objects[0]["data"]["runtime.yaml"].get<std::string>());
  REQUIRE(cron);
  CHECK(cron->subscriptions.empty());
  CHECK(cron->cron.size() == 1);

  Json dapr = patched({{"spec", {{"dapr", {{"enabled", true}, {"appId", "customer-events"}}}}}});
  auto parsed = runtime::parseConfig(render::runtimeConfig(load(dapr)));
  REQUIRE(parsed);
  CHECK(parsed->source.kind == runtime::SourceKind::Dapr);
}
