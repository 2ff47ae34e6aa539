#include "kube/kubeconfig.h"

#include <catch2/catch.hpp>

using ew::kube::parseKubeconfig;

namespace {
// "hello" and "world" in base64.
const char* kInline = R"(
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: c1
  cluster:
    server: https://10.1.2.3:6443/
    certificate-authority-data: aGVsbG8=
- name: c2
  cluster: {server: "http://plain:80"}
users:
- name: u1
  user: {client-certificate-data: aGVsbG8=, client-key-data: d29ybGQ=}
- name: u2
  user: {token: s3cret}
contexts:
- name: a
  context: {cluster: c1, user: u1, namespace: shop}
- name: b
  context: {cluster: c1, user: u2}
- name: insecure
  context: {cluster: c2, user: u2}
- name: dangling
  context: {cluster: nope, user: u2}
)";
}  // namespace

TEST_CASE("current-context selects cluster, user and namespace, inline data is decoded") {
  auto a = parseKubeconfig(kInline, "/nowhere");
  REQUIRE(a.ok());
  CHECK(a->server == "https://10.1.2.3:6443");
  CHECK(a->caPem == "hello");
  CHECK(a->clientCertPem == "hello");
  CHECK(a->clientKeyPem == "world");
  CHECK(a->defaultNamespace == "shop");
  CHECK(a->bearerToken.empty());
}

TEST_CASE("an explicit context overrides current-context") {
  auto a = parseKubeconfig(kInline, "/nowhere", "b");
  REQUIRE(a.ok());
  CHECK(a->bearerToken == "s3cret");
  CHECK(a->clientCertPem.empty());
  CHECK(a->defaultNamespace == "default");
}

TEST_CASE("errors name the field that is wrong") {
  auto missing = parseKubeconfig(kInline, "/nowhere", "zzz");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("no context named \"zzz\""));

  auto plain = parseKubeconfig(kInline, "/nowhere", "insecure");
  REQUIRE_FALSE(plain.ok());
  CHECK_THAT(plain.error().message, Catch::Contains("clusters[c2].cluster.server must be an https://"));

  auto dangling = parseKubeconfig(kInline, "/nowhere", "dangling");
  REQUIRE_FALSE(dangling.ok());
  CHECK_THAT(dangling.error().message, Catch::Contains("no cluster named \"nope\""));

  auto file = parseKubeconfig(R"(
current-context: x
contexts: [{name: x, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "https://h", certificate-authority: missing-ca.crt}}]
)",
                              "/definitely/not/here");
  REQUIRE_FALSE(file.ok());
  CHECK_THAT(file.error().message,
             Catch::Contains("certificate-authority: cannot read /definitely/not/here/missing-ca.crt"));

  auto yaml = parseKubeconfig("{ not: [closed", "/");
  REQUIRE_FALSE(yaml.ok());
  CHECK_THAT(yaml.error().message, Catch::Contains("not valid YAML"));
}

TEST_CASE("skipping TLS verification is refused") {
  auto a = parseKubeconfig(R"(
current-context: x
contexts: [{name: x, context: {cluster: c}}]
clusters: [{name: c, cluster: {server: "https://h", insecure-skip-tls-verify: true}}]
)",
                           "/");
  REQUIRE_FALSE(a.ok());
  CHECK_THAT(a.error().message, Catch::Contains("insecure-skip-tls-verify is not supported"));
}
