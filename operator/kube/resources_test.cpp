#include "kube/resources.h"

#include <catch2/catch.hpp>

using namespace ew::kube;

TEST_CASE("paths for core, grouped, cluster-scoped and subresources") {
  CHECK(resourcePath(resources::kConfigMap, "shop", "a") == "/api/v1/namespaces/shop/configmaps/a");
  CHECK(resourcePath(resources::kDeployment, "", "") == "/apis/apps/v1/deployments");
  CHECK(resourcePath(resources::kEventWorker, "shop", "w", "status") ==
        "/apis/eventworker.dev/v1alpha1/namespaces/shop/eventworkers/w/status");
  CHECK(resourcePath(resources::kNamespace, "ignored", "shop") == "/api/v1/namespaces/shop");
  CHECK(resources::kDeployment.apiVersion() == "apps/v1");
  CHECK(resources::kConfigMap.apiVersion() == "v1");
}

TEST_CASE("queries are encoded and omit empty options") {
  CHECK(listQuery({}) == "");
  ListOptions l;
  l.labelSelector = "eventworker.dev/name=a b";
  l.limit = 500;
  l.continueToken = "x=/";
  CHECK(listQuery(l) == "?labelSelector=eventworker.dev%2Fname%3Da%20b&continue=x%3D%2F&limit=500");
  WatchOptions w;
  w.resourceVersion = "42";
  CHECK(watchQuery(w) == "?watch=1&resourceVersion=42&allowWatchBookmarks=true&timeoutSeconds=300");
}
