#include <catch2/catch.hpp>

#include "api/load.h"
#include "api/operator_rules.h"
#include "api/test_objects.h"

using namespace ew::api;
using ew::api::testing::minimalEventWorker;
using ew::api::testing::patched;

namespace {

// Findings of loadEventWorker; the operator rules run last, so each case
// below is otherwise valid.
bool refusedAt(const Json& object, const std::string& path, const std::string& fragment) {
  auto r = loadEventWorker(object);
  auto* errors = std::get_if<FieldErrors>(&r);
  if (!errors) return false;
  for (const auto& e : *errors)
    if (e.path == path && e.message.find(fragment) != std::string::npos) return true;
  UNSCOPED_INFO("findings: " << describe(*errors));
  return false;
}

Json withCron(const std::string& schedule) {
  Json ew = minimalEventWorker();
  ew["spec"]["cron"][0]["schedule"] = schedule;
  return ew;
}

}  // namespace

TEST_CASE("cron schedules are parsed in full, beyond the CRD's shape check") {
  CHECK(refusedAt(withCron("61 * * * *"), "spec.cron[0].schedule", "out of range"));
  CHECK(refusedAt(withCron("0 0 30 2 *"), "spec.cron[0].schedule", "never"));
  CHECK(refusedAt(withCron("* * * * MON-XYZ"), "spec.cron[0].schedule", ""));
  CHECK(std::holds_alternative<Loaded>(loadEventWorker(withCron("0 2 * * *"))));
}

TEST_CASE("one subscription per topic, and dead letters never loop back") {
  Json twice = minimalEventWorker();
  twice["spec"]["subscriptions"].push_back({{"name", "again"}, {"topic", "order.completed"}, {"route", "/x"}});
  CHECK(refusedAt(twice, "spec.subscriptions[1].topic", "already consumed by subscription \"order-completed\""));
  Json loop = minimalEventWorker();
  loop["spec"]["subscriptions"].push_back(
      {{"name", "refund"}, {"topic", "refund.issued"}, {"route", "/r"}, {"deadLetterTopic", "order.completed"}});
  CHECK(refusedAt(loop, "spec.subscriptions[1].deadLetterTopic", "would loop"));
}

TEST_CASE("ports inside the pod do not collide") {
  CHECK(refusedAt(patched({{"spec", {{"handler", {{"port", 9090}}}}}}), "spec.handler.port", "metricsPort"));
  const Json dapr = {{"enabled", true}};
  CHECK(refusedAt(patched({{"spec", {{"dapr", dapr}, {"handler", {{"port", 3500}}}}}}), "spec.handler.port",
                  "Dapr sidecar"));
  CHECK(refusedAt(patched({{"spec", {{"dapr", {{"enabled", true}, {"appPort", 8080}}}}}}), "spec.dapr.appPort",
                  "distinct"));
  CHECK(refusedAt(patched({{"spec", {{"dapr", dapr}, {"runtime", {{"metricsPort", 50001}}}}}}),
                  "spec.runtime.metricsPort", "Dapr sidecar"));
  // Without Dapr the sidecar's ports are free to use.
  CHECK(std::holds_alternative<Loaded>(loadEventWorker(patched({{"spec", {{"handler", {{"port", 3500}}}}}}))));
}

TEST_CASE("resource quantities parse and requests stay within limits") {
  CHECK(refusedAt(patched({{"spec", {{"handler", {{"resources", {{"requests", {{"cpu", "lots"}}}}}}}}}}),
                  "spec.handler.resources.requests.cpu", "should match"));
  CHECK(refusedAt(
      patched(
          {{"spec",
            {{"handler", {{"resources", {{"requests", {{"memory", "1Gi"}}}, {"limits", {{"memory", "512Mi"}}}}}}}}}}),
      "spec.handler.resources.requests.memory", "exceeds the limit"));
  CHECK(refusedAt(patched({{"spec", {{"runtime", {{"resources", {{"requests", {{"gpu", "1"}}}}}}}}}}),
                  "spec.runtime.resources.requests.gpu", "unsupported resource"));
}

TEST_CASE("Dapr needs an app id that is a DNS label, and migration needs subscriptions") {
  Json dotted = minimalEventWorker("customer.worker");
  dotted["spec"]["dapr"] = {{"enabled", true}};
  CHECK(refusedAt(dotted, "spec.dapr.appId", "not a valid Dapr app id"));
  dotted["spec"]["dapr"]["appId"] = "customer-worker";
  CHECK(std::holds_alternative<Loaded>(loadEventWorker(dotted)));
  Json cronOnly = patched({{"spec",
                            {{"subscriptions", nullptr},
                             {"dapr", {{"enabled", true}}},
                             {"migrateFrom", {{"appId", "customer-service"}}}}}});
  CHECK(refusedAt(cronOnly, "spec.migrateFrom", "nothing to migrate"));
}
