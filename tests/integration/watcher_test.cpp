// Watcher + Store against the real kube-apiserver and etcd.
#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "kube/watcher.h"
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
  const std::string ns = uniqueName("watch");
  auto r = api.create(resources::kNamespace, "", {{"apiVersion", "v1"}, {"kind", "Namespace"},
                                                 {"metadata", {{"name", ns}}}});
  if (!r) FAIL(r.error().message);
  return ns;
}

Json configMap(const std::string& name, const std::string& value) {
  return {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}, {"labels", {{"w", "1"}}}}},
          {"data", {{"v", value}}}};
}

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds within = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

struct Running {
  Watcher& w;
  std::thread t;
  explicit Running(Watcher& watcher) : w(watcher), t([&] { w.run(); }) {}
  ~Running() {
    w.stop();
    t.join();
  }
};

}  // namespace

TEST_CASE("the store follows adds, updates and deletes, onChange names each key") {
  KubeApi api(client());
  const std::string ns = makeNamespace(api);
  REQUIRE(api.create(resources::kConfigMap, ns, configMap("pre", "0")));
  Store store;
  std::mutex mu;
  std::multiset<std::string> changed;
  WatcherOptions o;
  o.ns = ns;
  o.labelSelector = "w=1";
  Watcher watcher(api, resources::kConfigMap, o, store, [&](const std::string& k) {
    std::lock_guard l(mu);
    changed.insert(k);
  }, [] { return 0.5; });
  Running running(watcher);
  REQUIRE(eventually([&] { return watcher.synced(); }));
  CHECK(store.keys() == std::vector<std::string>{ns + "/pre"});
  CHECK((*store.get(ns + "/pre"))["kind"] == "ConfigMap");  // listed items get their kind back

  REQUIRE(api.create(resources::kConfigMap, ns, configMap("a", "1")));
  REQUIRE(api.apply(resources::kConfigMap, ns, "pre", configMap("pre", "2")));
  REQUIRE(api.remove(resources::kConfigMap, ns, "a").ok());
  REQUIRE(eventually([&] {
    auto pre = store.get(ns + "/pre");
    return store.size() == 1 && pre && (*pre)["data"]["v"] == "2";
  }));
  std::lock_guard l(mu);
  CHECK(changed.count(ns + "/a") == 2);  // added, deleted
  CHECK(changed.count(ns + "/pre") >= 2);  // listed, modified
  CHECK(watcher.stats().lists == 1);
  CHECK(watcher.stats().goneRelists == 0);
}
