// Watcher + Store against the real kube-apiserver and etcd.
#include <catch2/catch.hpp>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "kube/watcher.h"
#include "kube_helpers.h"
#include "test_env.h"
#include "watcher_helpers.h"

using namespace ew::kube;
using ew::testing::eventually;
using ew::testing::labelledConfigMap;
using ew::testing::RunningWatcher;
using namespace std::chrono_literals;

TEST_CASE("the store follows adds, updates and deletes, onChange names each key") {
  KubeApi api(ew::testing::testKubeClient());
  const std::string ns = ew::testing::createNamespace(api, "watch");
  REQUIRE(api.create(resources::kConfigMap, ns, labelledConfigMap("pre", "0")));
  Store store;
  std::mutex mu;
  std::multiset<std::string> changed;
  WatcherOptions o;
  o.ns = ns;
  o.labelSelector = "w=1";
  Watcher watcher(
      api, resources::kConfigMap, o, store,
      [&](const std::string& k) {
        std::lock_guard l(mu);
        changed.insert(k);
      },
      [] { return 0.5; });
  RunningWatcher running(watcher);
  REQUIRE(eventually([&] { return watcher.synced(); }));
  CHECK(store.keys() == std::vector<std::string>{ns + "/pre"});
  CHECK((*store.get(ns + "/pre"))["kind"] == "ConfigMap");  // listed items get their kind back

  REQUIRE(api.create(resources::kConfigMap, ns, labelledConfigMap("a", "1")));
  REQUIRE(api.apply(resources::kConfigMap, ns, "pre", labelledConfigMap("pre", "2")));
  REQUIRE(api.remove(resources::kConfigMap, ns, "a").ok());
  REQUIRE(eventually([&] {
    auto pre = store.get(ns + "/pre");
    return store.size() == 1 && pre && (*pre)["data"]["v"] == "2";
  }));
  std::lock_guard l(mu);
  CHECK(changed.count(ns + "/a") == 2);    // added, deleted
  CHECK(changed.count(ns + "/pre") >= 2);  // listed, modified
  CHECK(watcher.stats().lists == 1);
  CHECK(watcher.stats().goneRelists == 0);
}
