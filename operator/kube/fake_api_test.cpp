#include "kube/fake_api.h"

#include <catch2/catch.hpp>

#include <thread>

#include "api_contract.h"

using ew::kube::FakeApi;
using ew::kube::Json;
namespace r = ew::kube::resources;
using namespace std::chrono_literals;

TEST_CASE("the fake answers the kube::Api contract as the real kube-apiserver does") {
  FakeApi api;
  ew::testing::apiContract(
      api, "contract", [&] { api.collectGarbage(); }, 1s);
}

TEST_CASE("the fake fails the requests it is told to, then serves them again") {
  FakeApi api;
  api.failNext("apply", "configmaps", 500, "InternalError: etcd is gone", 2);
  const Json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "c"}}}};
  for (int i = 0; i < 2; ++i) {
    auto failed = api.apply(r::kConfigMap, "ns", "c", cm);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().code == 500);
    CHECK(failed.error().message == "InternalError: etcd is gone");
  }
  CHECK(api.apply(
      r::kDeployment, "ns", "d",
      {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "d"}}}, {"spec", Json::object()}}));
  CHECK(api.apply(r::kConfigMap, "ns", "c", cm));
  CHECK(api.writes() == 2);
  CHECK(api.requests() == 4);
}

TEST_CASE("the fake's status is written apart from the object: apply-status and another controller's report") {
  FakeApi api;
  const Json ew = {{"apiVersion", "eventworker.dev/v1alpha1"},
                   {"kind", "EventWorker"},
                   {"metadata", {{"name", "w"}}},
                   {"spec", {{"service", "s"}}},
                   {"status", {{"ignored", true}}}};
  auto created = api.apply(r::kEventWorker, "ns", "w", ew);
  REQUIRE(created);
  CHECK_FALSE(created->contains("status"));  // status is not written through the main resource
  CHECK_FALSE(api.apply(r::kEventWorker, "ns", "missing", ew, /*status=*/true));
  auto s1 = api.apply(r::kEventWorker, "ns", "w", {{"status", {{"a", 1}, {"b", 2}}}}, true);
  REQUIRE(s1);
  auto s2 = api.apply(r::kEventWorker, "ns", "w", {{"status", {{"a", 1}}}}, true);
  REQUIRE(s2);
  CHECK((*s2)["status"] == Json{{"a", 1}});
  CHECK((*s2)["metadata"]["generation"] == 1);
  auto spec = api.apply(r::kEventWorker, "ns", "w", ew);
  REQUIRE(spec);
  CHECK((*spec)["status"] == Json{{"a", 1}});  // a spec apply leaves status alone
  REQUIRE(api.setStatus(r::kDeployment, "ns", "nothing", Json::object()).error().code == 404);
}

TEST_CASE("the fake's garbage collector deletes what a deleted owner owned, in the background too") {
  FakeApi api;
  auto owner = api.apply(r::kEventWorker, "ns", "w",
                         {{"apiVersion", "eventworker.dev/v1alpha1"},
                          {"kind", "EventWorker"},
                          {"metadata", {{"name", "w"}}},
                          {"spec", Json::object()}});
  REQUIRE(owner);
  Json child = {{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata",
                 {{"name", "w-runtime"},
                  {"ownerReferences", {{{"uid", (*owner)["metadata"]["uid"]}, {"kind", "EventWorker"}}}}}}};
  REQUIRE(api.apply(r::kConfigMap, "ns", "w-runtime", child));
  REQUIRE(api.apply(r::kConfigMap, "ns", "free", {{"metadata", {{"name", "free"}}}}));
  REQUIRE(api.remove(r::kEventWorker, "ns", "w"));
  CHECK(api.objects(r::kConfigMap).size() == 2);  // the collector has not run yet
  api.collectGarbage();
  REQUIRE(api.objects(r::kConfigMap).size() == 1);
  CHECK(api.objects(r::kConfigMap)[0]["metadata"]["name"] == "free");
}

TEST_CASE("the fake's watch answers 410 for a resourceVersion older than its compaction, and ends on cancel") {
  FakeApi api;
  REQUIRE(api.apply(r::kConfigMap, "ns", "a", {{"metadata", {{"name", "a"}}}}));
  api.compact();
  ew::kube::WatchOptions wo;
  wo.resourceVersion = "1";
  std::string got;
  auto reply = api.watch(
      r::kConfigMap, "ns", wo,
      [&](std::string_view b) {
        got.append(b);
        return true;
      },
      ew::kube::StreamCancel{}, 1s);
  REQUIRE(reply);
  const Json ev = Json::parse(got);
  CHECK(ev["type"] == "ERROR");
  CHECK(ev["object"]["code"] == 410);

  // From now on: nothing until something changes; cancel ends it.
  ew::kube::StreamCancel cancel;
  std::vector<std::string> types;
  bool written = false;
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    written = api.apply(r::kConfigMap, "ns", "b", {{"metadata", {{"name", "b"}}}}).ok();
  });
  wo.resourceVersion.clear();  // "now": ADDED for what exists, then changes
  auto r2 = api.watch(
      r::kConfigMap, "ns", wo,
      [&](std::string_view b) {
        types.push_back(Json::parse(b)["object"]["metadata"]["name"]);
        if (types.size() == 2) cancel.cancel();
        return true;
      },
      cancel, 1s);
  writer.join();
  CHECK(written);
  REQUIRE(r2);
  CHECK(types == std::vector<std::string>{"a", "b"});
}
