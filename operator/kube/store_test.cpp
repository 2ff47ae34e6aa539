#include <catch2/catch.hpp>

#include "kube/store.h"

using ew::kube::Store;
using Json = nlohmann::json;

namespace {
Json object(const std::string& ns, const std::string& name, const std::string& owner) {
  Json o = {{"metadata", {{"namespace", ns}, {"name", name}}}};
  if (!owner.empty()) o["metadata"]["labels"] = {{"owner", owner}};
  return o;
}
}  // namespace

TEST_CASE("the index finds objects by namespace and label value, and follows updates and deletes") {
  Store store("owner");
  store.upsert(object("a", "x-1", "x"));
  store.upsert(object("a", "x-2", "x"));
  store.upsert(object("b", "x-1", "x"));
  store.upsert(object("a", "y-1", "y"));
  store.upsert(object("a", "free", ""));
  CHECK(store.byIndex("a", "x").size() == 2);
  CHECK(store.byIndex("b", "x").size() == 1);
  CHECK(store.byIndex("a", "z").empty());
  store.upsert(object("a", "x-2", "y"));  // relabelled
  CHECK(store.byIndex("a", "x").size() == 1);
  CHECK(store.byIndex("a", "y").size() == 2);
  store.erase("a/y-1");
  CHECK(store.byIndex("a", "y").size() == 1);
  store.replace({object("a", "x-9", "x")});
  CHECK(store.byIndex("a", "y").empty());
  REQUIRE(store.byIndex("a", "x").size() == 1);
  CHECK(store.byIndex("a", "x")[0]["metadata"]["name"] == "x-9");
}

TEST_CASE("managedFields and kubectl's last-applied annotation are not kept") {
  Store store;
  Json o = object("a", "n", "");
  o["metadata"]["managedFields"] = Json::array({{{"manager", "kubectl"}}});
  o["metadata"]["annotations"] = {{"kubectl.kubernetes.io/last-applied-configuration", "{}"}, {"keep", "1"}};
  store.upsert(o);
  const Json kept = *store.get("a/n");
  CHECK_FALSE(kept["metadata"].contains("managedFields"));
  CHECK(kept["metadata"]["annotations"] == Json{{"keep", "1"}});
}

TEST_CASE("objects come back exactly as stored, small and large, across updates") {
  Store store("owner");
  Json big = object("a", "big", "x");
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i * 7919 % 10007) + "\n";
  big["data"] = {{"runtime.yaml", text}, {"empty", ""}, {"utf8", "caf\u00e9 \u2713"}};
  store.upsert(big);
  store.upsert(object("a", "small", "x"));
  CHECK(*store.get("a/big") == big);
  CHECK(*store.get("a/small") == object("a", "small", "x"));
  big["data"]["runtime.yaml"] = "changed";
  store.upsert(big);
  CHECK(*store.get("a/big") == big);
  CHECK(store.list().size() == 2);
  CHECK(store.byIndex("a", "x").size() == 2);
}

TEST_CASE("a transform decides what is kept, on upsert and on a relist, and the index still works") {
  Store store("owner", [](const Json& o) {
    Json kept = {{"metadata", o["metadata"]}};
    CHECK_FALSE(o["metadata"].contains("managedFields"));  // dropped before the transform sees it
    return kept;
  });
  Json big = object("a", "x-1", "x");
  big["spec"] = {{"large", std::string(1000, 'p')}};
  big["metadata"]["managedFields"] = Json::array({{{"manager", "m"}}});
  store.upsert(big);
  CHECK(*store.get("a/x-1") == object("a", "x-1", "x"));
  Json other = object("a", "x-2", "x");
  other["status"] = {{"phase", "Running"}};
  store.replace({big, other});
  CHECK(store.byIndex("a", "x") == std::vector<Json>{object("a", "x-1", "x"), object("a", "x-2", "x")});
}

TEST_CASE("upsertUnlessNewer keeps a newer version the store already holds") {
  Store store("owner");
  Json v5 = object("a", "x", "o");
  v5["metadata"]["resourceVersion"] = "5";
  Json v7 = v5;
  v7["metadata"]["resourceVersion"] = "7";
  v7["spec"] = {{"edited", true}};
  store.upsert(v7);  // the watch brought an edit made after the write
  CHECK_FALSE(store.upsertUnlessNewer(v5));
  CHECK(*store.get("a/x") == v7);
  Json v9 = v5;
  v9["metadata"]["resourceVersion"] = "9";
  CHECK(store.upsertUnlessNewer(v9));
  CHECK(store.get("a/x")->at("metadata")["resourceVersion"] == "9");
  CHECK(store.upsertUnlessNewer(object("a", "y", "o")));  // new, and without a version
  Json opaque = v5;
  opaque["metadata"]["resourceVersion"] = "not-a-number";
  CHECK(store.upsertUnlessNewer(opaque));  // not comparable: the write wins, as before
}

TEST_CASE("an object's fingerprint and owner index key are kept as stored, gone with it") {
  Store store("owner", {}, [](const Json& o) { return o["metadata"].value("labels", Json::object()).size() + 7; });
  CHECK_FALSE(store.fingerprint("a/x-1"));
  CHECK_FALSE(store.indexKeyOf("a/x-1"));
  store.upsert(object("a", "x-1", "x"));
  store.upsert(object("a", "free", ""));
  CHECK(store.fingerprint("a/x-1") == 8u);
  CHECK(store.fingerprint("a/free") == 7u);
  CHECK(store.indexKeyOf("a/x-1") == "a/x");
  CHECK(store.indexKeyOf("a/free") == "");
  store.upsert(object("a", "x-1", "y"));
  CHECK(store.indexKeyOf("a/x-1") == "a/y");
  store.erase("a/x-1");
  CHECK_FALSE(store.fingerprint("a/x-1"));
  CHECK_FALSE(store.indexKeyOf("a/x-1"));
}

namespace {
// A worker's Deployment as the API server returns it, about 2.5 KiB of JSON
// that differs from the next worker's in its names, uids and versions.
Json deployment(int i) {
  const std::string n = "w" + std::to_string(i);
  const std::string uid = "4e243aed-b462-457d-8091-" + std::to_string(100000000000 + i * 7919);
  Json labels = {{"app.kubernetes.io/component", "events"},
                 {"app.kubernetes.io/instance", n},
                 {"app.kubernetes.io/managed-by", "eventworker-operator"},
                 {"app.kubernetes.io/name", "eventworker"},
                 {"app.kubernetes.io/part-of", "svc" + std::to_string(i)},
                 {"eventworker.dev/name", n}};
  Json container = {{"name", "runtime"},
                    {"image", "registry.local/eventworker-runtime:1.0"},
                    {"args", {"--config", "/etc/eventworker/runtime.yaml", "--group", n}},
                    {"resources", {{"limits", {{"memory", "256Mi"}}}, {"requests", {{"cpu", "50m"}}}}},
                    {"terminationMessagePath", "/dev/termination-log"},
                    {"terminationMessagePolicy", "File"},
                    {"imagePullPolicy", "IfNotPresent"}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata",
           {{"name", n + "-events"},
            {"namespace", "bench"},
            {"uid", uid},
            {"resourceVersion", std::to_string(37000 + i * 13)},
            {"generation", 1},
            {"creationTimestamp", "2026-12-06T22:07:33Z"},
            {"labels", labels},
            {"ownerReferences",
             {{{"apiVersion", "eventworker.dev/v1alpha1"}, {"kind", "EventWorker"}, {"name", n}, {"uid", uid}}}}}},
          {"spec",
           {{"replicas", i % 4},
            {"selector", {{"matchLabels", {{"eventworker.dev/name", n}, {"eventworker.dev/component", "events"}}}}},
            {"template",
             {{"metadata", {{"labels", labels}}},
              {"spec",
               {{"containers", {container, container}},
                {"restartPolicy", "Always"},
                {"dnsPolicy", "ClusterFirst"},
                {"securityContext", {{"runAsNonRoot", true}}}}}}}}},
          {"status",
           {{"observedGeneration", 1},
            {"conditions",
             {{{"type", "Available"},
               {"status", "True"},
               {"reason", "MinimumReplicasAvailable"},
               {"message", "Deployment has minimum availability."}}}}}}};
}
}  // namespace

TEST_CASE("objects of one type are kept in a fraction of their text, and come back exactly") {
  Store store("eventworker.dev/name");
  size_t text = 0;
  for (int i = 0; i < 200; ++i) {
    store.upsert(deployment(i));
    text += deployment(i).dump().size();
  }
  // Deflated alone, each kept about 40% of its text; against the first as
  // dictionary, under 15%.
  CHECK(store.keptBytes() < text * 15 / 100);
  for (int i : {0, 1, 117, 199}) CHECK(store.get("bench/w" + std::to_string(i) + "-events") == deployment(i));
  store.replace({deployment(3), deployment(500)});
  CHECK(store.get("bench/w500-events") == deployment(500));
  REQUIRE(store.byIndex("bench", "w3").size() == 1);
  CHECK(store.byIndex("bench", "w3")[0] == deployment(3));
}
