// KubeApi and KubeClient::stream against the real kube-apiserver.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "kube/api.h"
#include "kube/json_stream.h"
#include "test_env.h"

using namespace ew::kube;
using ew::testing::serverEnv;
using ew::testing::uniqueName;
using namespace std::chrono_literals;

namespace {

KubeClient& client() {
  static auto access = loadKubeconfig(serverEnv("KUBECONFIG"));
  if (!access) FAIL(access.error().message);
  static KubeClient c(*access);
  return c;
}

std::string makeNamespace(KubeApi& api) {
  const std::string ns = uniqueName("api");
  auto r = api.create(resources::kNamespace, "",
                      {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  if (!r) FAIL(r.error().message);
  return ns;
}

Json configMap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", name}, {"labels", {{"suite", "api"}}}}},
          {"data", {{"v", value}}}};
}

}  // namespace

TEST_CASE("server-side apply creates, updates, and is a no-op when nothing changed") {
  KubeApi api(client());
  const std::string ns = makeNamespace(api);
  auto first = api.apply(resources::kConfigMap, ns, "cm", configMap("cm", "1"));
  REQUIRE(first.ok());
  auto same = api.apply(resources::kConfigMap, ns, "cm", configMap("cm", "1"));
  REQUIRE(same.ok());
  CHECK((*same)["metadata"]["resourceVersion"] == (*first)["metadata"]["resourceVersion"]);
  auto changed = api.apply(resources::kConfigMap, ns, "cm", configMap("cm", "2"));
  REQUIRE(changed.ok());
  CHECK((*changed)["data"]["v"] == "2");
  CHECK((*changed)["metadata"]["managedFields"][0]["manager"] == "eventworker-operator");
  CHECK(api.remove(resources::kNamespace, "", ns).ok());
}

TEST_CASE("API errors carry the HTTP code and the Status reason, deleting a missing object succeeds") {
  KubeApi api(client());
  auto missing = api.get(resources::kConfigMap, "default", "does-not-exist");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == 404);
  CHECK_THAT(missing.error().message, Catch::StartsWith("NotFound: "));
  CHECK(api.remove(resources::kConfigMap, "default", "does-not-exist").ok());
  auto invalid = api.create(resources::kConfigMap, "default", configMap("Not_A_Valid_Name", "x"));
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.error().code == 422);
  CHECK_THAT(invalid.error().message, Catch::StartsWith("Invalid: ") && Catch::Contains("metadata.name"));
}

TEST_CASE("listAll follows continue tokens") {
  KubeApi api(client());
  const std::string ns = makeNamespace(api);
  for (int i = 0; i < 7; ++i) REQUIRE(api.create(resources::kConfigMap, ns, configMap("c" + std::to_string(i), "x")));
  ListOptions o;
  o.labelSelector = "suite=api";
  o.limit = 3;
  auto page = api.list(resources::kConfigMap, ns, o);
  REQUIRE(page.ok());
  CHECK((*page)["items"].size() == 3);
  CHECK_FALSE((*page)["metadata"].value("continue", "").empty());
  auto all = api.listAll(resources::kConfigMap, ns, o);
  REQUIRE(all.ok());
  CHECK((*all)["items"].size() == 7);
  CHECK_FALSE((*all)["metadata"]["resourceVersion"].get<std::string>().empty());
  CHECK(api.remove(resources::kNamespace, "", ns).ok());
}

TEST_CASE("a watch stream delivers events as they happen and stops promptly on cancel") {
  KubeApi api(client());
  const std::string ns = makeNamespace(api);
  auto list = api.list(resources::kConfigMap, ns);
  REQUIRE(list.ok());
  WatchOptions w;
  w.resourceVersion = (*list)["metadata"]["resourceVersion"];
  StreamCancel cancel;
  std::promise<Json> added;
  std::atomic<bool> delivered{false};
  JsonStreamSplitter splitter;
  auto watcher = std::async(std::launch::async, [&] {
    return client().stream(
        {Verb::Get, resourcePath(resources::kConfigMap, ns) + watchQuery(w), ""},
        [&](std::string_view bytes) {
          splitter.feed(bytes);
          std::string v;
          while (splitter.next(v)) {
            auto ev = Json::parse(v);
            // Only ours: kube-controller-manager adds kube-root-ca.crt to every new namespace.
            if (ev["type"] == "ADDED" && ev["object"]["metadata"]["name"] == "watched" && !delivered.exchange(true))
              added.set_value(ev);
          }
          return true;
        },
        cancel, 60s);
  });
  std::this_thread::sleep_for(200ms);
  const auto createdAt = std::chrono::steady_clock::now();
  REQUIRE(api.create(resources::kConfigMap, ns, configMap("watched", "x")));
  auto fut = added.get_future();
  REQUIRE(fut.wait_for(5s) == std::future_status::ready);
  CHECK(fut.get()["object"]["metadata"]["name"] == "watched");
  CHECK(std::chrono::steady_clock::now() - createdAt < 2s);

  const auto cancelAt = std::chrono::steady_clock::now();
  cancel.cancel();
  REQUIRE(watcher.wait_for(5s) == std::future_status::ready);
  CHECK(std::chrono::steady_clock::now() - cancelAt < 2s);
  auto result = watcher.get();
  CHECK(result.ok());
  CHECK(api.remove(resources::kNamespace, "", ns).ok());
}
