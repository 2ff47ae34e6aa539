#pragma once
// Small valid EventWorkers for unit tests (header-only, tests only).

#include "api/yaml_json.h"

namespace ew::api::testing {

// A valid worker with one Kafka subscription and one cron job.
inline Json minimalEventWorker(const std::string& name = "customer-worker") {
  Json ew = Json::parse(R"({
    "apiVersion": "eventworker.dev/v1alpha1",
    "kind": "EventWorker",
    "metadata": {"namespace": "shop"},
    "spec": {
      "service": "customer",
      "handler": {"image": "registry.local/customer-service:1.4.2"},
      "source": {"kafka": {"brokers": ["kafka:9092"]}},
      "subscriptions": [{"name": "order-completed", "topic": "order.completed", "route": "/events/order-completed"}],
      "cron": [{"name": "price-sync", "schedule": "*/5 * * * *", "route": "/jobs/price-sync"}]
    }
  })");
  ew["metadata"]["name"] = name;
  return ew;
}

// MINIMAL with PATCH merged in (RFC 7386: null deletes).
inline Json patched(const Json& patch, Json base = minimalEventWorker()) {
  base.merge_patch(patch);
  return base;
}

}  // namespace ew::api::testing
