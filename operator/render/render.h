#pragma once
// The renderer: a pure function from a valid EventWorker to the objects the
// operator makes from it (DESIGN.md section 3):
//   ConfigMap   <name>-runtime         always (the runtime's config file)
//   Deployment  <name>-events          when subscriptions are declared
//   StatefulSet <name>-cron            when an unsuspended cron job is declared
//   Deployment  <name>-outbox          when outbox relays are declared (2 replicas: active + standby)
//   Subscription (dapr.io/v2alpha1)    per subscription when Dapr is enabled
// Owner references are not rendered; the reconciler adds them. Same input,
// same output, byte for byte.
//
// Why the cron pod is a StatefulSet and not a Deployment: a scheduled time
// must run once, so at most one cron pod may run at any moment. A Deployment
// (even with strategy Recreate, which only orders rollouts) replaces a pod
// that is deleted or evicted at once, while the old one still runs out its
// grace period: two schedulers, and a fire time run twice. A StatefulSet of
// one replica has one pod name, <name>-cron-0, and its controller creates the
// replacement only after the old pod object is gone: at most one pod, the
// guarantee Kubernetes gives natively. The price: when a node dies, its pod
// stays Terminating (the kubelet cannot confirm it stopped) and cron does not
// run until the node comes back or someone force-deletes the pod
// (kubectl delete pod <name>-cron-0 --force --grace-period=0) after making
// sure it is not running.

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
  std::vector<Json> objects;  // in apply order: ConfigMap first, then the workloads, then Subscriptions
  std::string selector;       // label selector of the events pods
  std::string consumerGroup;  // the Kafka consumer group the worker's events use
};

RenderOutput render(const api::EventWorker& ew, const RenderOptions& options = {});

// The runtime config file (worker-runtime/config/FORMAT.md) for EW.
std::string runtimeConfig(const api::EventWorker& ew);

}  // namespace ew::render
