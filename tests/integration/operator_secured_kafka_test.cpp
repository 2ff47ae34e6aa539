// Lag-driven scaling over the test broker's secured listeners, the operator
// reading lag with credentials of its own: a Secret in "its" namespace (a
// scratch namespace here), labelled and allowing the worker's namespace,
// kept by a watch as the manager keeps it. The runtime processes standing in
// for the pods use the worker's own credentials (files shaped as the mounted
// Secret). The same burst -> scale out -> drain -> scale in as the PLAINTEXT
// test (autoscale_live_test), on SASL_SSL (SCRAM-SHA-512) and on mTLS; and a
// wrong password in the operator's Secret: Degraded naming the Secret and the
// refusal, never the password, then the fixed Secret used at the next poll,
// no restart. Each kind of refusal (password, CA, client certificate) told
// apart from an unreachable broker on every poll. And the migration's offset
// copy (AlterConsumerGroupOffsets) over SASL_SSL.
#include <catch2/catch.hpp>

#include <algorithm>
#include <iostream>
#include <thread>

#include "autoscale_helpers.h"
#include "controller/kafka_credentials.h"
#include "controller/kafka_lag.h"
#include "kafka/lag_reader.h"
#include "operator_fixture.h"
#include "operator_secrets.h"
#include "runtime_harness.h"

using namespace ew;
using namespace ew::testing;
using namespace std::chrono_literals;
using kube::Json;
namespace resources = kube::resources;

namespace {

// The EventWorker's security block and the runtime pods' one (files).
struct Listener {
  std::string bootstrap;
  Json security;            // spec.source.kafka.security
  std::string podSecurity;  // the runtime config's source.kafka.security, flow style
  std::string operatorDir;  // the operator's credentials (directory shaped as the Secret)
};

Listener scram() {
  const std::string w = serverEnv("EW_KAFKA_SCRAM_WORKER_DIR");
  return {serverEnv("EW_KAFKA_SASL_BOOTSTRAP"),
          {{"protocol", "SASL_SSL"},
           {"saslMechanism", "SCRAM-SHA-512"},
           {"secretRef", {{"name", "worker-kafka"}}},
           {"operatorSecretRef", {{"name", "lag-reader"}}}},
          "{protocol: SASL_SSL, saslMechanism: SCRAM-SHA-512, usernameFile: " + w + "/username, passwordFile: " + w +
              "/password, caFile: " + w + "/ca.crt}",
          serverEnv("EW_KAFKA_SCRAM_OPERATOR_DIR")};
}

Listener mtls() {
  const std::string d = serverEnv("EW_KAFKA_MTLS_DIR");
  return {serverEnv("EW_KAFKA_MTLS_BOOTSTRAP"),
          {{"protocol", "SSL"},
           {"clientCertificate", true},
           {"secretRef", {{"name", "worker-kafka"}}},
           {"operatorSecretRef", {{"name", "lag-reader"}}}},
          "{protocol: SSL, caFile: " + d + "/ca.crt, certFile: " + d + "/tls.crt, keyFile: " + d + "/tls.key}",
          d};
}

// How the operator reaches L's listener with its Secret "lag-reader", for a
// worker in WORKER_NAMESPACE.
controller::KafkaAccess accessTo(const Listener& l, const std::string& workerNamespace) {
  controller::KafkaAccess access;
  access.bootstrapServers = l.bootstrap;
  access.protocol = l.security.value("protocol", "");
  access.saslMechanism = l.security.value("saslMechanism", "");
  access.clientCertificate = l.security.value("clientCertificate", false);
  access.secretName = "lag-reader";
  access.workerNamespace = workerNamespace;
  return access;
}

// The operator's Secret "lag-reader" with DATA, allowing WORKER_NAMESPACE, as
// its watch hands it over (no API server: these reads need only Kafka).
controller::OperatorSecrets fixedSecret(const std::string& ns, const Json& data, const std::string& workerNamespace) {
  const Json secret = {{"metadata",
                        {{"name", "lag-reader"},
                         {"namespace", ns},
                         {"labels", {{controller::kKafkaCredentialsLabel, "true"}}},
                         {"annotations", {{controller::kKafkaNamespacesAnnotation, workerNamespace}}}}},
                       {"data", data}};
  return {ns, [secret](const std::string& name) -> std::optional<Json> {
            if (name != "lag-reader") return std::nullopt;
            return secret;
          }};
}

// READS lag polls, one after another through one operator read path
// (lagReadFn: one pooled client), over L with DATA as the operator's Secret;
// each must fail. Returns their errors.
std::vector<Error> failedPolls(const Listener& l, const Json& data, int reads) {
  const std::string workerNs = uniqueName("shop");
  auto read = controller::lagReadFn(std::make_shared<autoscale::LagReaderPool>(2000ms),
                                    fixedSecret("ew-system", data, workerNs));
  std::vector<Error> errors;
  for (int i = 0; i < reads; ++i) {
    auto result = read(accessTo(l, workerNs), {{"refused-grp", {"orders"}}}).front();
    REQUIRE_FALSE(result);
    errors.push_back(result.error());
  }
  return errors;
}

// burst -> scale out to the partitions -> drain -> scale in, over L.
void burstDrainScaleIn(const std::string& name, const Listener& l) {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "as-" + name);
  OperatorNamespace operatorNs(user);
  operatorNs.putSecret("lag-reader", kafkaSecretData(l.operatorDir), ns);
  rttest::Kafka kafka;  // the test's own clients: the PLAINTEXT listener of the same broker
  const std::string topic = uniqueName(name), group = uniqueName(name + "-grp");
  kafka.createTopic(topic, 6);
  auto pool = std::make_shared<autoscale::LagReaderPool>(2000ms);
  RunningController rc(ns, false, controller::lagReadFn(pool, operatorNs.secrets()));
  Json ew = scaledWorker(name, l.bootstrap, topic, group,
                         {{"minReplicas", 1},
                          {"maxReplicas", 10},
                          {"lagThreshold", 100},
                          {"pollIntervalSeconds", 1},
                          {"scaleDownStabilizationSeconds", 5}});
  ew["spec"]["source"]["kafka"]["security"] = l.security;
  REQUIRE(user.apply(resources::kEventWorker, ns, name, ew));
  const std::string deployment = name + "-events";
  REQUIRE(eventually([&] { return replicasOf(user, ns, deployment) == 1; }));
  REQUIRE(eventually([&] { return conditionOf(user, ns, name, "Scaling").value("status", "") == "True"; }, 45s));

  for (int i = 0; i < 6000; ++i) kafka.produce(topic, "k" + std::to_string(i % 97), rttest::payload("k", i));
  kafka.flush();
  REQUIRE(eventually([&] { return replicasOf(user, ns, deployment) == 6; }, 10s));
  // Status follows in the same reconcile, right after the apply.
  std::optional<Json> got;
  CHECK(eventually(
      [&] {
        got = get(user, resources::kEventWorker, ns, name);
        return got && (*got)["status"].value("desiredReplicas", 0) == 6;
      },
      5s));
  REQUIRE(got);
  CHECK((*got)["status"]["lag"]["total"].get<int64_t>() > 0);

  rttest::ConfigSpec pod;
  pod.topic = topic;
  pod.group = group;
  pod.brokers = l.bootstrap;
  pod.security = l.podSecurity;
  Kubelet kubelet(user, ns, deployment, pod);
  REQUIRE(eventually([&] { return kafka.committedTotal(group, topic, 6) >= 6000; }, 60s));
  REQUIRE(eventually([&] { return replicasOf(user, ns, deployment) == 1; }, 60s));
  const auto seen = kubelet.history();
  INFO("replica counts seen: " << Json(seen).dump());
  std::cout << "autoscale " << name << ": replica counts the kubelet stand-in ran: " << Json(seen).dump() << "\n";
  CHECK(*std::max_element(seen.begin(), seen.end()) == 6);
  CHECK(std::is_sorted(seen.rbegin(), seen.rend()));
  CHECK(conditionOf(user, ns, name, "Degraded").value("status", "") == "False");
  CHECK(pool->clientCount() == 1);  // one client for the cluster + credentials
}

}  // namespace

TEST_CASE("over SASL_SSL with the operator's SCRAM user a burst scales out, drains, then scales in") {
  burstDrainScaleIn("scram", scram());
}

TEST_CASE("over mTLS with the operator's client certificate a burst scales out, drains, then scales in") {
  burstDrainScaleIn("mtls", mtls());
}

TEST_CASE("a wrong password in the operator's Secret is Degraded naming it, and the fixed Secret is used at once") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "as-badpw");
  OperatorNamespace operatorNs(user);
  const Listener l = scram();
  Json data = kafkaSecretData(l.operatorDir);
  const std::string wrong = "wrong-" + uniqueName("pw");
  Json bad = data;
  bad["password"] = base64(wrong);
  operatorNs.putSecret("lag-reader", bad, ns);
  rttest::Kafka kafka;
  const std::string topic = uniqueName("badpw");
  kafka.createTopic(topic, 3);
  auto pool = std::make_shared<autoscale::LagReaderPool>(2000ms);
  RunningController rc(ns, false, controller::lagReadFn(pool, operatorNs.secrets()));
  Json ew = scaledWorker(
      "badpw", l.bootstrap, topic, uniqueName("badpw-grp"),
      {{"minReplicas", 1}, {"maxReplicas", 3}, {"pollIntervalSeconds", 1}, {"fallback", {{"failureThreshold", 1}}}});
  ew["spec"]["source"]["kafka"]["security"] = l.security;
  REQUIRE(user.apply(resources::kEventWorker, ns, "badpw", ew));

  REQUIRE(eventually([&] { return conditionOf(user, ns, "badpw", "Degraded").value("status", "") == "True"; }, 45s));
  const Json degraded = conditionOf(user, ns, "badpw", "Degraded");
  const std::string message = degraded.value("message", "");
  INFO(degraded.dump());
  CHECK(degraded.value("reason", "") == "LagUnavailable");
  CHECK(message.find("Secret " + operatorNs.ns() +
                     "/lag-reader (spec.source.kafka.security.operatorSecretRef): kafka " + l.bootstrap +
                     ": the broker refused the client: wrong username or password") != std::string::npos);
  CHECK(message.find(wrong) == std::string::npos);
  CHECK(replicasOf(user, ns, "badpw-events") == 1);  // the fallback holds, never zero

  // The fixed Secret: used at the next poll, through a new client (the
  // rejected one is closed), without restarting anything.
  operatorNs.putSecret("lag-reader", data, ns);
  REQUIRE(eventually([&] { return conditionOf(user, ns, "badpw", "Degraded").value("status", "") == "False"; }, 30s));
  CHECK(conditionOf(user, ns, "badpw", "Scaling").value("status", "") == "True");
  CHECK(pool->clientCount() == 1);
}

TEST_CASE("a Secret that does not allow the worker's namespace is not used for it, and Degraded says so") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "as-notallowed");
  OperatorNamespace operatorNs(user);
  const Listener l = scram();
  operatorNs.putSecret("lag-reader", kafkaSecretData(l.operatorDir), "some-other-namespace");
  auto pool = std::make_shared<autoscale::LagReaderPool>(2000ms);
  RunningController rc(ns, false, controller::lagReadFn(pool, operatorNs.secrets()));
  Json ew = scaledWorker(
      "notallowed", l.bootstrap, "orders", "notallowed-grp",
      {{"minReplicas", 1}, {"maxReplicas", 3}, {"pollIntervalSeconds", 1}, {"fallback", {{"failureThreshold", 1}}}});
  ew["spec"]["source"]["kafka"]["security"] = l.security;
  REQUIRE(user.apply(resources::kEventWorker, ns, "notallowed", ew));
  REQUIRE(
      eventually([&] { return conditionOf(user, ns, "notallowed", "Degraded").value("status", "") == "True"; }, 45s));
  CHECK(conditionOf(user, ns, "notallowed", "Degraded")
            .value("message", "")
            .find("its annotation eventworker.dev/namespaces does not list namespace " + ns) != std::string::npos);
  CHECK(pool->clientCount() == 0);  // nothing connected with credentials it may not use
}

TEST_CASE("the migration's offset copy and its read of the API group go over SASL_SSL with the operator's Secret") {
  kube::KubeApi user(testKubeClient(), "test-user");
  OperatorNamespace operatorNs(user);
  const Listener l = scram();
  const std::string workerNs = "shop-" + uniqueName("mig");
  operatorNs.putSecret("lag-reader", kafkaSecretData(l.operatorDir), workerNs);
  rttest::Kafka kafka;
  const std::string topic = uniqueName("mig"), group = uniqueName("mig-grp");
  kafka.createTopic(topic, 3);
  for (int i = 0; i < 30; ++i) kafka.produce(topic, "k" + std::to_string(i), rttest::payload("k", i));
  kafka.flush();
  const controller::KafkaAccess access = accessTo(l, workerNs);
  auto migration =
      controller::migrationKafka(std::make_shared<autoscale::LagReaderPool>(3000ms), 5000ms, operatorNs.secrets());
  const std::map<autoscale::PartitionKey, std::int64_t> offsets{{{topic, 0}, 3}, {{topic, 1}, 5}, {{topic, 2}, 7}};
  auto copied = migration.commit(access, group, offsets);
  INFO((copied ? std::string("copied") : copied.error().message));
  REQUIRE(copied);
  CHECK(kafka.committedTotal(group, topic, 3) == 15);  // as the PLAINTEXT listener sees it
  auto read = migration.read(access, group, {topic});
  REQUIRE(read);
  REQUIRE(read->size() == 3);
  for (const auto& p : *read) CHECK(p.committed == offsets.at({topic, p.partition}));
}

// Each refusal, on every poll while it lasts: librdkafka reports a broker's
// error once and then suppresses it while it repeats (30 s), so the polls
// after the first must remember it, not read "no broker reachable".
TEST_CASE("every lag poll the broker refuses says which credential of the operator's Secret, never its content") {
  const std::string pki = serverEnv("EW_KAFKA_PKI");
  Listener l;
  Json data;
  std::string says, secretValue;
  SECTION("a wrong SCRAM password") {
    l = scram();
    data = kafkaSecretData(l.operatorDir);
    secretValue = "wrong-" + uniqueName("pw");
    data["password"] = base64(secretValue);
    says = "wrong username or password";
  }
  SECTION("a ca.crt that did not sign the broker's certificate") {
    l = scram();
    data = kafkaSecretData(l.operatorDir);
    data["ca.crt"] = base64(readFile(pki + "/other-ca.crt"));
    secretValue = readFile(l.operatorDir + "/password");
    says = "the broker's certificate did not verify against the CA (ca.crt)";
  }
  SECTION("a client certificate from a CA the mTLS listener does not trust") {
    l = mtls();
    data = kafkaSecretData(l.operatorDir);
    data["tls.crt"] = base64(readFile(pki + "/kafka-client-other-ca.crt"));
    data["tls.key"] = base64(readFile(pki + "/kafka-client-other-ca.key"));
    secretValue = "PRIVATE KEY";
    says = "the broker rejected the client certificate (tls.crt)";
  }
  const auto errors = failedPolls(l, data, 3);
  for (const auto& e : errors) {
    INFO(e.message);
    CHECK(e.code == autoscale::kKafkaRefused);
    CHECK(e.message.rfind("Secret ew-system/lag-reader (spec.source.kafka.security.operatorSecretRef): kafka " +
                              l.bootstrap + ": the broker refused the client: " + says,
                          0) == 0);
    CHECK(e.message.find(secretValue) == std::string::npos);
  }
}

TEST_CASE("a secured listener nobody answers on is reported as unreachable, not as a refusal") {
  Listener l = scram();
  l.bootstrap = "127.0.0.1:" + std::to_string(rttest::freePort());
  const auto errors = failedPolls(l, kafkaSecretData(l.operatorDir), 2);
  for (const auto& e : errors) {
    INFO(e.message);
    CHECK(e.code != autoscale::kKafkaRefused);
    CHECK(e.message.rfind("kafka " + l.bootstrap + ": no broker reachable within 2s", 0) == 0);
    CHECK(e.message.find("(read with the credentials of Secret ew-system/lag-reader)") != std::string::npos);
  }
}
