// Proves the test kube-apiserver and kube-controller-manager are real and
// reachable from the project's own client: client certificate from the
// kubeconfig, server CA verified.
#include <unistd.h>
#include <catch2/catch.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <chrono>
#include <thread>

#include "kube/client.h"
#include "kube/kubeconfig.h"
#include "test_env.h"

using ew::kube::KubeClient;
using ew::kube::Request;
using ew::kube::Verb;
using ew::testing::serverEnv;
using ew::testing::uniqueName;
using nlohmann::json;

namespace {

ew::kube::ClusterAccess access() {
  auto a = ew::kube::loadKubeconfig(serverEnv("KUBECONFIG"));
  if (!a) FAIL(a.error().message);
  return *a;
}

json call(KubeClient& client, Verb verb, const std::string& path, const json& body = nullptr, int expectStatus = 0) {
  auto r = client.send({verb, path, body.is_null() ? "" : body.dump()});
  if (!r) FAIL(r.error().message);
  if (expectStatus) {
    INFO(path << " -> " << r->body);
    REQUIRE(r->status == expectStatus);
  }
  return json::parse(r->body);
}

}  // namespace

TEST_CASE("lists namespaces on the real kube-apiserver") {
  KubeClient client(access());
  json list = call(client, Verb::Get, "/api/v1/namespaces", nullptr, 200);
  std::vector<std::string> names;
  for (const auto& ns : list.at("items")) names.push_back(ns.at("metadata").at("name"));
  CHECK_THAT(names, Catch::VectorContains(std::string("default")));
  CHECK_THAT(names, Catch::VectorContains(std::string("kube-system")));
}

TEST_CASE("creates, reads and deletes a ConfigMap") {
  KubeClient client(access());
  const std::string name = uniqueName("smoke");
  const std::string base = "/api/v1/namespaces/default/configmaps";
  json cm = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", {{"greeting", "hello"}}}};
  call(client, Verb::Post, base, cm, 201);
  json got = call(client, Verb::Get, base + "/" + name, nullptr, 200);
  CHECK(got.at("data").at("greeting") == "hello");
  CHECK_FALSE(got.at("metadata").at("uid").get<std::string>().empty());
  call(client, Verb::Delete, base + "/" + name, nullptr, 200);
  json gone = call(client, Verb::Get, base + "/" + name, nullptr, 404);
  CHECK(gone.at("reason") == "NotFound");
}

TEST_CASE("the server certificate is verified: without the cluster CA the call fails") {
  auto a = access();
  a.caPem.clear();  // fall back to the system roots, which never signed the test CA
  KubeClient client(a);
  auto r = client.send({Verb::Get, "/api/v1/namespaces", ""});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains(serverEnv("EW_KUBE_SERVER")));
}

TEST_CASE("the server certificate is verified: a CA that did not sign it is refused") {
  // A fresh CA of the same name as the test CA: only the key differs.
  const std::string dir = "/tmp/ew-otherca-" + std::to_string(::getpid());
  const std::string cmd = "mkdir -p " + dir + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout " + dir +
                          "/ca.key -out " + dir + "/ca.crt -days 1 -subj /CN=eventworker-test-ca 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  std::ifstream in(dir + "/ca.crt");
  std::stringstream pem;
  pem << in.rdbuf();
  std::system(("rm -rf " + dir).c_str());
  auto a = access();
  a.caPem = pem.str();
  KubeClient client(a);
  auto r = client.send({Verb::Get, "/api/v1/namespaces", ""});
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message, Catch::Contains(serverEnv("EW_KUBE_SERVER")));
  // The right CA, through the same path, works.
  KubeClient good(access());
  CHECK(good.send({Verb::Get, "/api/v1/namespaces", ""}).ok());
}

TEST_CASE("kube-controller-manager runs: a Deployment gets a ReplicaSet") {
  KubeClient client(access());
  const std::string ns = uniqueName("smoke-kcm");
  call(client, Verb::Post, "/api/v1/namespaces",
       {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}}, 201);
  json labels = {{"app", "smoke"}};
  json deployment = {{"apiVersion", "apps/v1"},
                     {"kind", "Deployment"},
                     {"metadata", {{"name", "smoke"}}},
                     {"spec",
                      {{"replicas", 2},
                       {"selector", {{"matchLabels", labels}}},
                       {"template",
                        {{"metadata", {{"labels", labels}}},
                         {"spec", {{"containers", json::array({{{"name", "c"}, {"image", "busybox"}}})}}}}}}}};
  json created = call(client, Verb::Post, "/apis/apps/v1/namespaces/" + ns + "/deployments", deployment, 201);
  const std::string uid = created.at("metadata").at("uid");

  json owners;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    json rs = call(client, Verb::Get, "/apis/apps/v1/namespaces/" + ns + "/replicasets?labelSelector=app%3Dsmoke",
                   nullptr, 200);
    if (!rs.at("items").empty()) {
      owners = rs.at("items")[0].at("metadata").value("ownerReferences", json::array());
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  REQUIRE(owners.size() == 1);
  CHECK(owners[0].at("kind") == "Deployment");
  CHECK(owners[0].at("uid") == uid);
  call(client, Verb::Delete, "/api/v1/namespaces/" + ns, nullptr, 200);
}
