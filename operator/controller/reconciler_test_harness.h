#pragma once
// The reconciler's unit-test harness: a Reconciler on kube::FakeApi (held to
// the real kube-apiserver by tests/support/api_contract.h) with watch caches
// filled from the fake before each reconcile, as the watchers would, and a
// manual clock. Used by reconciler_test.cpp and reconciler_modes_test.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "api/test_objects.h"
#include "controller/reconciler.h"
#include "controller/render_adapter.h"
#include "kube/fake_api.h"

namespace ew::controller::testing {

// What the tests use, with `using namespace ew::controller::testing`.
using ew::api::testing::minimalEventWorker;
using ew::api::testing::patched;
using kube::Json;
namespace r = kube::resources;
using namespace std::chrono_literals;

struct Harness {
  ManualTime time;
  kube::FakeApi api;
  kube::Store eventWorkers;
  kube::Store configMaps{kNameLabel}, deployments{kNameLabel}, statefulSets{kNameLabel}, subscriptions{kNameLabel};
  kube::Store pods{kNameLabel, slimPod};
  EventRecorder events{api};
  int renders = 0;
  Reconciler reconciler{api,
                        eventWorkers,
                        OwnedStores{configMaps, deployments, statefulSets, &subscriptions, &pods, {}},
                        [this](const Json& ew) {
                          ++renders;
                          return renderEventWorker(ew);
                        },
                        events,
                        time};

  // The worker as a user applies it (another field manager: the fake's
  // create, so the reconciler's own applies never touch its spec).
  Json add(const Json& ew) {
    auto created = api.create(r::kEventWorker, "shop", ew);
    REQUIRE(created);
    return *created;
  }
  void edit(const Json& patch, const std::string& name = "customer-worker") {
    auto live = api.get(r::kEventWorker, "shop", name);
    REQUIRE(live);
    Json next = *live;
    next.merge_patch(patch);
    REQUIRE(api.replace(r::kEventWorker, "shop", name, next));
  }
  void syncCaches() {
    api.sync(r::kEventWorker, eventWorkers);
    api.sync(r::kConfigMap, configMaps);
    api.sync(r::kDeployment, deployments);
    api.sync(r::kStatefulSet, statefulSets);
    api.sync(r::kDaprSubscription, subscriptions);
    api.sync(r::kPod, pods);
  }
  Result<ReconcileOutcome> reconcile(const std::string& name = "customer-worker") {
    syncCaches();
    return reconciler.reconcile("shop/" + name);
  }
  // What kube-controller-manager reports once the workloads' pods are up.
  void workloadsAvailable(const std::string& name = "customer-worker") { workloadsObserved(name, true); }
  // What it reports of workloads whose pods do not come up.
  void workloadsObservedOnly(const std::string& name = "customer-worker") { workloadsObserved(name, false); }
  void workloadsObserved(const std::string& name, bool up) {
    for (const auto& d : api.objects(r::kDeployment))
      if (d["metadata"]["labels"].value(kNameLabel, "") == name) {
        Json status = {{"observedGeneration", d["metadata"]["generation"]},
                       {"replicas", d["spec"].value("replicas", 1)},
                       {"conditions", {{{"type", "Available"}, {"status", up ? "True" : "False"}}}}};
        if (up) status["readyReplicas"] = d["spec"].value("replicas", 1);
        REQUIRE(api.setStatus(r::kDeployment, "shop", d["metadata"]["name"], status));
      }
    for (const auto& s : api.objects(r::kStatefulSet))
      if (s["metadata"]["labels"].value(kNameLabel, "") == name) {
        Json status = {{"observedGeneration", s["metadata"]["generation"]}, {"replicas", 1}};
        if (up) status.update({{"availableReplicas", 1}, {"readyReplicas", 1}});
        REQUIRE(api.setStatus(r::kStatefulSet, "shop", s["metadata"]["name"], status));
      }
  }
  Json status(const std::string& name = "customer-worker") {
    auto ew = api.get(r::kEventWorker, "shop", name);
    REQUIRE(ew);
    return ew->value("status", Json::object());
  }
  Json condition(const std::string& type, const std::string& name = "customer-worker") {
    for (const auto& c : status(name).value("conditions", Json::array()))
      if (c["type"] == type) return c;
    return Json::object();
  }
  std::vector<std::string> eventReasons() {
    events.flush(2s);
    std::vector<std::string> out;
    for (const auto& e : api.objects(r::kEvent)) out.push_back(e.value("reason", ""));
    return out;
  }
  int count(const kube::ResourceType& type) { return static_cast<int>(api.objects(type).size()); }
};

inline bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace ew::controller::testing
