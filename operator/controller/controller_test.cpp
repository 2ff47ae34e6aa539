// The controller on kube::FakeApi (watches included; held to the real
// kube-apiserver by tests/support/api_contract.h): its watches bring the
// reconciles, drift is put back, failures back off and recover, a failing
// pod reaches status, and nothing is written while nothing changes.
#include "controller/controller.h"

#include <catch2/catch.hpp>

#include <thread>

#include "api/test_objects.h"
#include "controller/render_adapter.h"
#include "kube/fake_api.h"

using namespace ew;
using namespace ew::controller;
using kube::Json;
namespace r = kube::resources;
using ew::api::testing::minimalEventWorker;
using namespace std::chrono_literals;

namespace {

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds within = 10s) {
  const auto end = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

struct Running {
  kube::FakeApi api;
  MetricsRegistry metrics;
  Controller controller;
  explicit Running(ControllerOptions options = {})
      : controller(api, std::move(options), renderEventWorker, metrics, [] { return 0.5; }) {
    controller.start();
    REQUIRE(eventually([&] { return controller.synced(); }));
  }
  ~Running() { controller.stop(); }

  std::optional<Json> get(const kube::ResourceType& type, const std::string& name) {
    auto o = api.get(type, "shop", name);
    return o ? std::optional<Json>(*o) : std::nullopt;
  }
  std::string condition(const std::string& type, std::string* reason = nullptr) {
    auto ew = get(r::kEventWorker, "customer-worker");
    if (!ew) return "";
    for (const auto& c : ew->value("status", Json::object()).value("conditions", Json::array()))
      if (c["type"] == type) {
        if (reason) *reason = c.value("reason", "");
        return c.value("status", "");
      }
    return "";
  }
  // What kube-controller-manager reports once the pods are up.
  void available() {
    for (const auto& d : api.objects(r::kDeployment))
      REQUIRE(api.setStatus(r::kDeployment, "shop", d["metadata"]["name"],
                            {{"observedGeneration", d["metadata"]["generation"]},
                             {"replicas", 1},
                             {"readyReplicas", 1},
                             {"conditions", {{{"type", "Available"}, {"status", "True"}}}}}));
    for (const auto& s : api.objects(r::kStatefulSet))
      REQUIRE(api.setStatus(
          r::kStatefulSet, "shop", s["metadata"]["name"],
          {{"observedGeneration", s["metadata"]["generation"]}, {"replicas", 1}, {"availableReplicas", 1}}));
  }
  // The reconcile that creates them applies them one after another.
  bool created() {
    return get(r::kConfigMap, "customer-worker-runtime") && get(r::kDeployment, "customer-worker-events") &&
           get(r::kStatefulSet, "customer-worker-cron");
  }
  std::string handlerImage() {
    auto d = get(r::kDeployment, "customer-worker-events");
    if (!d) return "";
    for (const auto& c : (*d)["spec"]["template"]["spec"]["containers"])
      if (c["name"] == "handler") return c["image"];
    return "";
  }
};

}  // namespace

TEST_CASE(
    "controller: a new EventWorker's objects come from its watch event, its status once they are "
    "available, and then nothing is written while nothing changes") {
  Running rc;
  REQUIRE(rc.api.create(r::kEventWorker, "shop", minimalEventWorker()));
  REQUIRE(eventually([&] { return rc.created(); }));
  rc.available();
  REQUIRE(eventually([&] { return rc.condition("Ready") == "True"; }));
  // Settled: the watch echoes of its own writes and the resync bring no write.
  int writes = rc.api.writes();
  REQUIRE(eventually([&] {
    const int now = rc.api.writes();
    const bool still = now == writes;
    writes = now;
    std::this_thread::sleep_for(300ms);
    return still && rc.api.writes() == now;
  }));
  rc.controller.resyncAll();
  std::this_thread::sleep_for(300ms);
  CHECK(rc.api.writes() == writes);
}

TEST_CASE("controller: an owned object edited or deleted behind its back is put back") {
  Running rc;
  REQUIRE(rc.api.create(r::kEventWorker, "shop", minimalEventWorker()));
  REQUIRE(eventually([&] { return !rc.handlerImage().empty(); }));
  const std::string image = rc.handlerImage();

  auto d = rc.get(r::kDeployment, "customer-worker-events");
  REQUIRE(d);
  for (auto& c : (*d)["spec"]["template"]["spec"]["containers"])
    if (c["name"] == "handler") c["image"] = "registry.local/someone-else:1";
  REQUIRE(rc.api.replace(r::kDeployment, "shop", "customer-worker-events", *d));
  CHECK(eventually([&] { return rc.handlerImage() == image; }));

  REQUIRE(rc.api.remove(r::kConfigMap, "shop", "customer-worker-runtime"));
  CHECK(eventually([&] { return rc.get(r::kConfigMap, "customer-worker-runtime").has_value(); }));
}

TEST_CASE("controller: refused applies are retried with backoff until they succeed") {
  Running rc;
  rc.api.failNext("apply", "deployments", 500, "InternalError: etcdserver: leader changed", 3);
  REQUIRE(rc.api.create(r::kEventWorker, "shop", minimalEventWorker()));
  std::string reason;
  CHECK(eventually([&] { return rc.condition("Degraded", &reason) == "True" && reason == "ApplyFailed"; }));
  REQUIRE(eventually([&] { return rc.created(); }));
  rc.available();
  CHECK(eventually([&] { return rc.condition("Degraded") == "False" && rc.condition("Ready") == "True"; }));
}

TEST_CASE(
    "controller: a worker pod that cannot pull its image reaches the EventWorker's status through the pod "
    "watch, and leaves it when the pod goes") {
  Running rc;
  REQUIRE(rc.api.create(r::kEventWorker, "shop", minimalEventWorker()));
  REQUIRE(eventually([&] { return rc.created(); }));
  rc.available();
  REQUIRE(eventually([&] { return rc.condition("Ready") == "True"; }));
  REQUIRE(rc.api.create(
      r::kPod, "shop",
      {{"metadata", {{"name", "customer-worker-events-abc"}, {"labels", {{kNameLabel, "customer-worker"}}}}},
       {"spec", {{"containers", {{{"name", "handler"}}}}}}}));
  REQUIRE(rc.api.setStatus(
      r::kPod, "shop", "customer-worker-events-abc",
      {{"containerStatuses", {{{"name", "handler"}, {"state", {{"waiting", {{"reason", "ErrImagePull"}}}}}}}}}));
  std::string reason;
  CHECK(eventually([&] { return rc.condition("Degraded", &reason) == "True" && reason == "ErrImagePull"; }));
  REQUIRE(rc.api.remove(r::kPod, "shop", "customer-worker-events-abc"));
  CHECK(eventually([&] { return rc.condition("Degraded") == "False"; }));
}

TEST_CASE("controller: deleting the EventWorker leaves its objects to the garbage collector") {
  Running rc;
  REQUIRE(rc.api.create(r::kEventWorker, "shop", minimalEventWorker()));
  REQUIRE(eventually([&] { return rc.get(r::kStatefulSet, "customer-worker-cron").has_value(); }));
  REQUIRE(eventually([&] { return rc.created(); }));
  REQUIRE(rc.api.remove(r::kEventWorker, "shop", "customer-worker"));
  std::this_thread::sleep_for(200ms);
  CHECK(rc.created());  // the operator deletes nothing itself, and re-creates nothing either
  rc.api.collectGarbage();
  CHECK(rc.api.objects(r::kDeployment).empty());
  CHECK(rc.api.objects(r::kConfigMap).empty());
}
