#include <catch2/catch.hpp>

#include <set>

#include "api/cel_rules.h"
#include "api/load.h"
#include "api/test_objects.h"

using namespace ew::api;
using ew::api::testing::minimalEventWorker;
using ew::api::testing::patched;

namespace {

using RuleId = std::pair<std::string, std::string>;  // schema path, message

void collect(const Json& schema, const std::string& path, std::set<RuleId>& out) {
  for (const auto& v : schema.value("x-kubernetes-validations", Json::array()))
    out.insert({path, v.value("message", v.value("rule", ""))});
  const Json properties = schema.value("properties", Json::object());
  for (const auto& [k, prop] : properties.items()) collect(prop, path.empty() ? k : path + "." + k, out);
  if (schema.contains("items")) collect(schema["items"], path + "[*]", out);
  if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object())
    collect(schema["additionalProperties"], path + ".*", out);
}

// The findings of the CEL rules alone, on an object with the CRD's defaults.
FieldErrors celFindings(Json object) {
  eventWorkerSchema();
  StructuralSchema(eventWorkerSchema().root()["properties"]["spec"]).applyDefaults(object["spec"]);
  FieldErrors errors;
  checkCelRules(object, errors);
  return errors;
}

bool firesAt(const Json& object, const std::string& path) {
  const auto errors = celFindings(object);
  for (const auto& e : errors)
    if (e.path == path) return true;
  UNSCOPED_INFO("findings: " << describe(errors));
  return false;
}

Json withSubscription(const Json& fields) {
  Json ew = minimalEventWorker();
  ew["spec"]["subscriptions"][0].merge_patch(fields);
  return ew;
}

Json withCron(const Json& fields) {
  Json ew = minimalEventWorker();
  ew["spec"]["cron"][0].merge_patch(fields);
  return ew;
}

// A worker with one stream (FIELDS merged into it) beside its subscription.
Json withStream(const Json& fields) {
  Json ew = minimalEventWorker();
  ew["spec"]["streams"] = Json::array({{{"name", "orders"}, {"topics", {"order.completed"}}, {"path", "/orders"}}});
  if (fields.is_object()) ew["spec"]["streams"][0].merge_patch(fields);
  return ew;
}

}  // namespace

TEST_CASE("every CEL rule in the CRD has a C++ counterpart with the same message, and no other") {
  std::set<RuleId> inCrd;
  collect(eventWorkerSchema().root(), "", inCrd);
  std::set<RuleId> inCpp;
  for (const auto& r : celRules()) inCpp.insert({r.schemaPath, r.message});
  for (const auto& r : inCrd) {
    INFO("CRD rule at '" << r.first << "': " << r.second);
    CHECK(inCpp.count(r));
  }
  for (const auto& r : inCpp) {
    INFO("C++ rule at '" << r.first << "': " << r.second);
    CHECK(inCrd.count(r));
  }
}

TEST_CASE("a valid worker passes every CEL rule") { CHECK(celFindings(minimalEventWorker()).empty()); }

TEST_CASE("each CEL rule refuses what it should, at its field") {
  CHECK(firesAt(minimalEventWorker(std::string(56, 'a')), "metadata.name"));
  CHECK(firesAt(patched({{"spec", {{"dapr", {{"enabled", true}}}, {"migrateFrom", {{"appId", "customer-worker"}}}}}}),
                "spec.migrateFrom.appId"));
  CHECK(
      firesAt(patched({{"spec", {{"dapr", {{"enabled", true}, {"appId", "cw"}}}, {"migrateFrom", {{"appId", "cw"}}}}}}),
              "spec.migrateFrom.appId"));
  CHECK(firesAt(patched({{"spec", {{"migrateFrom", {{"appId", "customer-service"}}}}}}), "spec.migrateFrom"));
  CHECK(firesAt(patched({{"spec", {{"subscriptions", nullptr}, {"cron", nullptr}}}}), "spec"));
  CHECK(firesAt(patched({{"spec", {{"source", nullptr}}}}), "spec.source.kafka"));
  CHECK(firesAt(patched({{"spec", {{"handler", {{"host", "10.0.0.5"}}}}}}), "spec.handler.host"));
  CHECK(celFindings(patched({{"spec", {{"handler", {{"host", "10.0.0.5"}, {"allowNonLoopback", true}}}}}})).empty());
  CHECK(firesAt(patched({{"spec", {{"source", {{"kafka", {{"security", {{"protocol", "SASL_SSL"}}}}}}}}}}),
                "spec.source.kafka.security"));
  auto security = [](const nlohmann::json& sec) {
    return patched({{"spec", {{"source", {{"kafka", {{"security", sec}}}}}}}});
  };
  CHECK(firesAt(security({{"protocol", "PLAINTEXT"}, {"clientCertificate", true}, {"secretRef", {{"name", "s"}}}}),
                "spec.source.kafka.security"));
  CHECK(firesAt(security({{"protocol", "SSL"}, {"clientCertificate", true}}), "spec.source.kafka.security"));
  CHECK(celFindings(security({{"protocol", "SSL"}, {"clientCertificate", true}, {"secretRef", {{"name", "s"}}}}))
            .empty());
  CHECK(firesAt(security({{"protocol", "PLAINTEXT"}, {"operatorSecretRef", {{"name", "s"}}}}),
                "spec.source.kafka.security"));
  CHECK(celFindings(security({{"protocol", "SSL"}, {"operatorSecretRef", {{"name", "s"}}}})).empty());
  CHECK(firesAt(withSubscription({{"deadLetterTopic", "order.completed"}}), "spec.subscriptions[0].deadLetterTopic"));
  CHECK(firesAt(withSubscription({{"retry", {{"initialBackoff", "1m"}, {"maxBackoff", "30s"}}}}),
                "spec.subscriptions[0].retry"));
  CHECK(firesAt(withSubscription({{"retry", {{"maxBackoff", "2h"}}}}), "spec.subscriptions[0].retry.maxBackoff"));
  CHECK(firesAt(withSubscription({{"idempotency", {{"kind", "redis"}}}}), "spec.subscriptions[0].idempotency"));
  CHECK(firesAt(withCron({{"schedule", "* * * *"}}), "spec.cron[0].schedule"));
  CHECK(firesAt(withCron({{"schedule", "0 * * * * * *"}}), "spec.cron[0].schedule"));
  CHECK(celFindings(withCron({{"schedule", "0 * * * * *"}})).empty());
  CHECK(celFindings(withCron({{"schedule", "@every 90s"}})).empty());
  CHECK(firesAt(withCron({{"retry", {{"initialBackoff", "2m"}}}}), "spec.cron[0].retry"));
  CHECK(firesAt(withCron({{"retry", {{"maxBackoff", "90m"}}}}), "spec.cron[0].retry.maxBackoff"));
  CHECK(firesAt(patched({{"spec", {{"handler", {{"timeout", "0s"}}}}}}), "spec.handler.timeout"));
  CHECK(firesAt(withSubscription({{"retry", {{"initialBackoff", "0ms"}}}}),
                "spec.subscriptions[0].retry.initialBackoff"));
  CHECK(firesAt(withSubscription({{"idempotency", {{"kind", "memory"}, {"ttl", "500ms"}}}}),
                "spec.subscriptions[0].idempotency.ttl"));
  CHECK(firesAt(withCron({{"timeout", "0s"}}), "spec.cron[0].timeout"));
  CHECK(firesAt(withCron({{"retry", {{"initialBackoff", "0s"}}}}), "spec.cron[0].retry.initialBackoff"));
  CHECK(celFindings(withStream({})).empty());
  CHECK(firesAt(withStream({{"clientBuffer", 20000}}), "spec.streams[0].clientBuffer"));
  CHECK(firesAt(withStream({{"heartbeatInterval", "500ms"}}), "spec.streams[0].heartbeatInterval"));
  CHECK(firesAt(withStream({{"heartbeatInterval", "10m"}}), "spec.streams[0].heartbeatInterval"));
  CHECK(firesAt(withStream({{"auth", {{"mode", "bearer"}}}}), "spec.streams[0].auth.url"));
  CHECK(celFindings(withStream({{"auth", {{"mode", "bearer"}, {"url", "http://customer:8080/auth"}}}})).empty());
  Json twoPaths = withStream({});
  twoPaths["spec"]["streams"].push_back({{"name", "again"}, {"topics", {"x"}}, {"path", "/orders"}});
  CHECK(firesAt(twoPaths, "spec.streams"));
  const Json streamsOnly = patched({{"spec",
                                     {{"subscriptions", nullptr},
                                      {"cron", nullptr},
                                      {"source", nullptr},
                                      {"streams", withStream({})["spec"]["streams"]}}}});
  CHECK(firesAt(streamsOnly, "spec.source.kafka"));
  CHECK(!firesAt(streamsOnly, "spec"));
  CHECK(firesAt(patched({{"spec", {{"scaling", {{"minReplicas", 5}, {"maxReplicas", 4}}}}}}), "spec.scaling"));
  CHECK(firesAt(patched({{"spec", {{"scaling", {{"maxReplicas", 4}, {"fallback", {{"replicas", 5}}}}}}}}),
                "spec.scaling"));
}
