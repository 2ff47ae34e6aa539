// Watcher + Store against the real kube-apiserver and etcd: the relist after
// 410 Gone. Compaction is global in etcd, so any other watch that resumes from
// an older resourceVersion while this runs would get 410 Gone too; this binary
// therefore runs alone (SERIAL), apart from watcher_test.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
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
using ew::testing::serverEnv;
using namespace std::chrono_literals;

namespace {

std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) FAIL("popen failed: " << cmd);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  REQUIRE(pclose(p) == 0);
  return out;
}

// Compacts etcd's history up to its current revision, as the apiserver's
// periodic compaction would.
void compactEtcd() {
  const std::string etcd = serverEnv("EW_ETCD_ENDPOINT");
  auto range = Json::parse(shell("curl -sf -X POST " + etcd + "/v3/kv/range -d '{\"key\":\"AA==\"}'"));
  const std::string rev = range["header"]["revision"];
  shell("curl -sf -X POST " + etcd + "/v3/kv/compaction -d '{\"revision\":\"" + rev + "\",\"physical\":true}'");
}

}  // namespace

TEST_CASE("a resourceVersion compacted away in etcd gives 410 Gone and a relist that replaces the store") {
  KubeApi api(ew::testing::testKubeClient());
  const std::string ns = ew::testing::createNamespace(api, "watch");
  REQUIRE(api.create(resources::kConfigMap, ns, labelledConfigMap("old", "1")));
  auto listed = api.list(resources::kConfigMap, ns);
  REQUIRE(listed.ok());
  const std::string staleRv = (*listed)["metadata"]["resourceVersion"];
  REQUIRE(api.remove(resources::kConfigMap, ns, "old").ok());
  REQUIRE(api.create(resources::kConfigMap, ns, labelledConfigMap("new1", "1")));
  REQUIRE(api.create(resources::kConfigMap, ns, labelledConfigMap("new2", "1")));
  compactEtcd();

  Store store;
  Json known = labelledConfigMap("old", "1");
  known["metadata"]["namespace"] = ns;
  store.upsert(known);  // what the watcher knew before it lost the stream
  WatcherOptions o;
  o.ns = ns;
  o.resumeFrom = staleRv;
  Watcher watcher(
      api, resources::kConfigMap, o, store, [](const std::string&) {}, [] { return 0.0; });
  RunningWatcher running(watcher);
  REQUIRE(eventually([&] { return watcher.stats().lists == 1; }));
  CHECK(watcher.stats().goneRelists == 1);
  auto keys = store.keys();
  std::set<std::string> seen(keys.begin(), keys.end());
  seen.erase(ns + "/kube-root-ca.crt");  // published by kube-controller-manager, sooner or later
  CHECK(seen == std::set<std::string>{ns + "/new1", ns + "/new2"});
}
