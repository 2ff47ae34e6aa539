#pragma once
// What kube::Api must do, as Catch2 sections: run against the real
// kube-apiserver (tests/integration/kube_api_contract_test.cpp) and against
// kube::FakeApi (operator/kube/fake_api_test.cpp), so the fake the
// reconciler's unit tests run on answers as the server does.
//
// NS must exist. SETTLE is called while waiting for the garbage collector
// (the fake's collectGarbage; nothing on the real server, whose
// kube-controller-manager runs by itself). WITHIN bounds those waits.

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "kube/api.h"
#include "kube/json_stream.h"

namespace ew::testing {

inline std::set<std::string> namesOf(const kube::Json& list, const std::set<std::string>& among) {
  std::set<std::string> out;
  for (const auto& item : list["items"]) {
    const std::string n = item["metadata"].value("name", "");
    if (among.count(n)) out.insert(n);
  }
  return out;
}

inline void apiContract(kube::Api& api, const std::string& ns, const std::function<void()>& settle,
                        std::chrono::milliseconds within) {
  using kube::Json;
  namespace r = kube::resources;
  const auto configMap = [&](const std::string& name, const Json& labels, const Json& data) {
    return Json{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", {{"name", name}, {"namespace", ns}, {"labels", labels}}},
                {"data", data}};
  };
  const auto gone = [&](const kube::ResourceType& type, const std::string& name) {
    const auto deadline = std::chrono::steady_clock::now() + within;
    for (;;) {
      settle();
      auto got = api.get(type, ns, name);
      if (!got && got.error().code == 404) return true;
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };

  SECTION("get of a missing object is 404, and deleting one succeeds") {
    auto missing = api.get(r::kConfigMap, ns, "nothing-here");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == 404);
    CHECK(api.remove(r::kConfigMap, ns, "nothing-here"));
  }

  SECTION("create stamps identity, a second create is 409, replace needs the current resourceVersion") {
    auto created = api.create(r::kConfigMap, ns, configMap("c1", {{"app", "a"}}, {{"k", "v"}}));
    REQUIRE(created);
    CHECK_FALSE((*created)["metadata"].value("uid", "").empty());
    const std::string rv1 = (*created)["metadata"].value("resourceVersion", "");
    CHECK_FALSE(rv1.empty());
    auto again = api.create(r::kConfigMap, ns, configMap("c1", {{"app", "a"}}, {{"k", "v"}}));
    REQUIRE_FALSE(again);
    CHECK(again.error().code == 409);

    Json edit = *created;
    edit["data"]["k"] = "w";
    auto replaced = api.replace(r::kConfigMap, ns, "c1", edit);
    REQUIRE(replaced);
    CHECK((*replaced)["data"]["k"] == "w");
    CHECK((*replaced)["metadata"]["resourceVersion"] != rv1);
    CHECK((*replaced)["metadata"]["uid"] == (*created)["metadata"]["uid"]);
    edit["data"]["k"] = "x";  // still carries rv1
    auto stale = api.replace(r::kConfigMap, ns, "c1", edit);
    REQUIRE_FALSE(stale);
    CHECK(stale.error().code == 409);
    auto missing = api.replace(r::kConfigMap, ns, "c-missing", configMap("c-missing", {}, {}));
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == 404);
  }

  SECTION("apply creates, updates, removes the fields it stops applying, and a no-op apply writes nothing") {
    auto first = api.apply(r::kConfigMap, ns, "c2", configMap("c2", {{"app", "b"}}, {{"a", "1"}, {"b", "2"}}));
    REQUIRE(first);
    CHECK((*first)["data"] == Json{{"a", "1"}, {"b", "2"}});
    auto second = api.apply(r::kConfigMap, ns, "c2", configMap("c2", {{"app", "b"}}, {{"a", "1"}}));
    REQUIRE(second);
    CHECK((*second)["data"] == Json{{"a", "1"}});
    CHECK((*second)["metadata"]["resourceVersion"] != (*first)["metadata"]["resourceVersion"]);
    auto same = api.apply(r::kConfigMap, ns, "c2", configMap("c2", {{"app", "b"}}, {{"a", "1"}}));
    REQUIRE(same);
    CHECK((*same)["metadata"]["resourceVersion"] == (*second)["metadata"]["resourceVersion"]);
    auto got = api.get(r::kConfigMap, ns, "c2");
    REQUIRE(got);
    CHECK((*got)["metadata"]["labels"]["app"] == "b");
  }

  SECTION("lists select by label") {
    REQUIRE(api.apply(r::kConfigMap, ns, "l1", configMap("l1", {{"app", "a"}, {"tier", "x"}}, {})));
    REQUIRE(api.apply(r::kConfigMap, ns, "l2", configMap("l2", {{"app", "b"}}, {})));
    REQUIRE(api.apply(r::kConfigMap, ns, "l3", configMap("l3", Json::object(), {})));
    const std::set<std::string> ours = {"l1", "l2", "l3"};
    const auto select = [&](const std::string& selector) {
      kube::ListOptions o;
      o.labelSelector = selector;
      auto list = api.listAll(r::kConfigMap, ns, o);
      REQUIRE(list);
      CHECK_FALSE((*list)["metadata"].value("resourceVersion", "").empty());
      return namesOf(*list, ours);
    };
    CHECK(select("app=a") == std::set<std::string>{"l1"});
    CHECK(select("app==b") == std::set<std::string>{"l2"});
    CHECK(select("app") == std::set<std::string>{"l1", "l2"});
    CHECK(select("app!=a") == std::set<std::string>{"l2", "l3"});
    CHECK(select("!app") == std::set<std::string>{"l3"});
    CHECK(select("app=a,tier=x") == std::set<std::string>{"l1"});
    CHECK(select("") == ours);
  }

  SECTION("a spec change bumps the generation, a label change does not") {
    const auto deployment = [&](int minReady, const std::string& team) {
      return Json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d1", "labels": {"team": ")" +
                         team + R"("}},
        "spec": {"replicas": 0, "minReadySeconds": )" +
                         std::to_string(minReady) + R"(,
          "selector": {"matchLabels": {"app": "d1"}},
          "template": {"metadata": {"labels": {"app": "d1"}},
                       "spec": {"containers": [{"name": "c", "image": "registry.local/c:1"}]}}}})");
    };
    auto first = api.apply(r::kDeployment, ns, "d1", deployment(0, "x"));
    REQUIRE(first);
    CHECK((*first)["metadata"]["generation"] == 1);
    auto relabelled = api.apply(r::kDeployment, ns, "d1", deployment(0, "y"));
    REQUIRE(relabelled);
    CHECK((*relabelled)["metadata"]["generation"] == 1);
    CHECK((*relabelled)["metadata"]["labels"]["team"] == "y");
    auto respecced = api.apply(r::kDeployment, ns, "d1", deployment(5, "y"));
    REQUIRE(respecced);
    CHECK((*respecced)["metadata"]["generation"] == 2);
  }

  SECTION("a finalizer holds a deleted object until the apply that set it drops it") {
    Json held = configMap("f1", Json::object(), {{"k", "v"}});
    held["metadata"]["finalizers"] = {"eventworker.dev/test-hold"};
    REQUIRE(api.apply(r::kConfigMap, ns, "f1", held));
    REQUIRE(api.remove(r::kConfigMap, ns, "f1"));
    auto deleting = api.get(r::kConfigMap, ns, "f1");
    REQUIRE(deleting);
    CHECK((*deleting)["metadata"].contains("deletionTimestamp"));
    held["metadata"].erase("finalizers");
    REQUIRE(api.apply(r::kConfigMap, ns, "f1", held));
    CHECK(gone(r::kConfigMap, "f1"));
  }

  SECTION("a watch from a list's resourceVersion replays what changed since, in order, for its selector only") {
    kube::ListOptions lo;
    lo.labelSelector = "watch=yes";
    auto listed = api.listAll(r::kConfigMap, ns, lo);
    REQUIRE(listed);
    REQUIRE(api.apply(r::kConfigMap, ns, "w1", configMap("w1", {{"watch", "yes"}}, {{"v", "1"}})));
    REQUIRE(api.apply(r::kConfigMap, ns, "w2", configMap("w2", {{"watch", "no"}}, {{"v", "1"}})));
    REQUIRE(api.apply(r::kConfigMap, ns, "w1", configMap("w1", {{"watch", "yes"}}, {{"v", "2"}})));
    REQUIRE(api.remove(r::kConfigMap, ns, "w1"));
    kube::WatchOptions wo;
    wo.labelSelector = "watch=yes";
    wo.resourceVersion = (*listed)["metadata"].value("resourceVersion", "");
    wo.timeoutSeconds = 5;
    kube::JsonStreamSplitter splitter;
    std::vector<std::pair<std::string, std::string>> seen;  // type, name + data.v
    auto reply = api.watch(
        r::kConfigMap, ns, wo,
        [&](std::string_view bytes) {
          if (!splitter.feed(bytes)) return false;
          std::string text;
          while (splitter.next(text)) {
            const Json ev = Json::parse(text);
            const Json& o = ev["object"];
            seen.emplace_back(ev.value("type", ""),
                              o["metadata"].value("name", "") + "=" + o.value("data", Json::object()).value("v", ""));
          }
          return seen.size() < 3;
        },
        kube::StreamCancel{}, within);
    REQUIRE(reply);
    CHECK(reply->status == 200);
    const std::vector<std::pair<std::string, std::string>> want = {
        {"ADDED", "w1=1"}, {"MODIFIED", "w1=2"}, {"DELETED", "w1=2"}};
    CHECK(seen == want);
  }

  SECTION("deleted in the foreground, an owner stays until the garbage collector removed its dependents") {
    auto owner = api.apply(r::kConfigMap, ns, "owner", configMap("owner", Json::object(), {}));
    REQUIRE(owner);
    Json dependent = configMap("dependent", Json::object(), {});
    dependent["metadata"]["ownerReferences"] = {{{"apiVersion", "v1"},
                                                 {"kind", "ConfigMap"},
                                                 {"name", "owner"},
                                                 {"uid", (*owner)["metadata"]["uid"]},
                                                 {"controller", true},
                                                 {"blockOwnerDeletion", true}}};
    REQUIRE(api.apply(r::kConfigMap, ns, "dependent", dependent));
    REQUIRE(api.remove(r::kConfigMap, ns, "owner", "Foreground"));
    auto deleting = api.get(r::kConfigMap, ns, "owner");
    if (deleting) {  // the collector may already be done on the real server
      CHECK((*deleting)["metadata"].contains("deletionTimestamp"));
    }
    CHECK(gone(r::kConfigMap, "dependent"));
    CHECK(gone(r::kConfigMap, "owner"));
  }
}

}  // namespace ew::testing
