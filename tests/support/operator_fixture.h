#pragma once
// Shared by the operator integration tests: EventWorker manifests and the
// product's controller running in the test process (installCrds() is in
// kube_helpers.h).

#include <catch2/catch.hpp>

#include <mutex>
#include <optional>
#include <random>

#include "controller/controller.h"
#include "controller/render_adapter.h"
#include "kube_helpers.h"
#include "test_env.h"

namespace ew::testing {

using kube::Json;
using namespace std::chrono_literals;

inline Json eventWorker(const std::string& name, const std::string& image = "registry.local/customer:1.0",
                        bool cron = true, int subscriptions = 1, bool dapr = false) {
  Json subs = Json::array();
  for (int i = 0; i < subscriptions; ++i)
    subs.push_back({{"name", "sub-" + std::to_string(i)},
                    {"topic", "topic." + std::to_string(i)},
                    {"route", "/events/" + std::to_string(i)}});
  Json spec = {{"service", "customer"},
               {"handler", {{"image", image}, {"port", 8080}}},
               {"source", {{"kafka", {{"brokers", {"kafka:9092"}}}}}},
               {"subscriptions", subs},
               {"scaling", {{"minReplicas", 1}, {"maxReplicas", 4}}}};
  if (cron) spec["cron"] = {{{"name", "price-sync"}, {"schedule", "*/5 * * * *"}, {"route", "/jobs/price-sync"}}};
  if (dapr) spec["dapr"] = {{"enabled", true}, {"appId", name}};
  return {{"apiVersion", "eventworker.dev/v1alpha1"},
          {"kind", "EventWorker"},
          {"metadata", {{"name", name}}},
          {"spec", spec}};
}

struct RunningController {
  MetricsRegistry metrics;
  kube::KubeApi api{testKubeClient(), "eventworker-operator"};
  std::mt19937_64 rng{42};
  std::mutex rngMu;
  controller::Controller ctl;
  static controller::ControllerOptions options(const std::string& ns, bool dapr, controller::LagReadFn lag,
                                               controller::MigrationKafka kafka,
                                               controller::PodStatusReadFn podStatus) {
    controller::ControllerOptions o;
    o.ns = ns;
    o.workers = 2;
    o.resyncPeriod = 600s;
    o.daprSubscriptions = dapr;
    o.lagReader = std::move(lag);
    o.migrationKafka = std::move(kafka);
    o.podStatusReader = std::move(podStatus);
    return o;
  }
  // PODSTATUS: reads the pods' /status (status.outbox, the streams' scaling); empty: neither.
  explicit RunningController(const std::string& ns, bool dapr = true, controller::LagReadFn lag = {},
                             controller::MigrationKafka kafka = {}, controller::PodStatusReadFn podStatus = {})
      : ctl(api, options(ns, dapr, std::move(lag), std::move(kafka), std::move(podStatus)),
            controller::renderEventWorker, metrics, [this] {
              std::lock_guard l(rngMu);
              return std::uniform_real_distribution<double>(0, 1)(rng);
            }) {
    ctl.start();
    REQUIRE(eventually([&] { return ctl.synced(); }, 10s));
  }
  ~RunningController() { ctl.stop(); }
};

inline std::optional<Json> get(kube::KubeApi& api, const kube::ResourceType& t, const std::string& ns,
                               const std::string& n) {
  auto r = api.get(t, ns, n);
  if (!r) return std::nullopt;
  return *r;
}

// The Deployment's spec.replicas; nullopt while it does not exist.
inline std::optional<int> replicasOf(kube::KubeApi& api, const std::string& ns, const std::string& deployment) {
  auto d = get(api, kube::resources::kDeployment, ns, deployment);
  if (!d || !(*d)["spec"].contains("replicas")) return std::nullopt;
  return (*d)["spec"]["replicas"].get<int>();
}

// The EventWorker's condition of TYPE; an empty object when absent.
inline Json conditionOf(kube::KubeApi& api, const std::string& ns, const std::string& name, const std::string& type) {
  auto ew = get(api, kube::resources::kEventWorker, ns, name);
  if (!ew) return Json::object();
  for (const auto& c : (*ew).value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == type) return c;
  return Json::object();
}

// How long a new worker's first status may take by design when its pods
// never come up and report no problem (no kubelet): the reconciler's
// kFirstStatusLimit (controller/reconciler.h), plus time for a loaded machine.
// A test waiting for the first status waits this long, not less.
inline constexpr std::chrono::seconds kFirstStatusBound = controller::kFirstStatusLimit + std::chrono::seconds(15);

inline Json ownerOf(const Json& o) { return o["metadata"].value("ownerReferences", Json::array()).at(0); }

}  // namespace ew::testing
