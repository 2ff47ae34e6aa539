#pragma once
// The renderer: a pure function from a valid EventWorker to the objects the
// operator makes from it (DESIGN.md section 3):
//   ConfigMap  <name>-runtime          always (the runtime's config file)
//   Deployment <name>-events           when subscriptions are declared
//   Deployment <name>-cron             when an unsuspended cron job is declared
//   Subscription (dapr.io/v2alpha1)    per subscription when Dapr is enabled
// Owner references are not rendered; the reconciler adds them. Same input,
// same output, byte for byte.

#include <string>
#include <vector>

#include "api/types.h"
#include "api/yaml_json.h"

namespace ew::render {

using Json = nlohmann::json;

struct RenderOptions {
  // The eventworker-runtime image, unless the resource names one.
  std::string runtimeImage = "ghcr.io/eventworker/eventworker-runtime:0.1.0";
};

struct RenderOutput {
  std::vector<Json> objects;  // in apply order: ConfigMap first, then Deployments, then Subscriptions
  std::string selector;       // label selector of the events pods
  std::string consumerGroup;  // the Kafka consumer group the worker's events use
};

RenderOutput render(const api::EventWorker& ew, const RenderOptions& options = {});

// The runtime config file (worker-runtime/config/FORMAT.md) for EW.
std::string runtimeConfig(const api::EventWorker& ew);

}  // namespace ew::render
