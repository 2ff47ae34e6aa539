// EventWorkers on the real node: the operator (installed from manifests/,
// running in its pods) renders Deployments whose pods the kubelet runs, with
// the runtime and the ledger handler (tests/support/ledger_handler) as their
// two containers. The ledger handler writes one Kafka record per event it
// acknowledges, so "lost" and "duplicated" are counted across pods that come
// and go. The burst scenario runs on the broker's three listeners for pods:
// PLAINTEXT, SASL_SSL (SCRAM-SHA-512) and SSL with client certificates
// (mTLS), the operator in its pods reading lag with its own Secret
// (operatorSecretRef) and the pods with theirs (secretRef), each rotated
// while the pods are scaled out.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <iostream>
#include <set>
#include <thread>

#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew;
using ew::testing::base64;
using ew::testing::eventually;
using ew::testing::kubectl;
using ew::testing::readFile;
using ew::testing::serverEnv;
using ew::testing::uniqueName;
using kube::Json;
using namespace std::chrono_literals;

TEST_CASE(
    "an EventWorker's events and cron pods run on the node: runtime and handler Ready under Pod Security "
    "restricted, and kubectl get ew shows Ready and the replicas") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-pods");
  e2e::WorkerSpec w = e2e::namedWorker(ns, "shop-worker");
  w.cron = R"([{"name": "tick", "schedule": "*/2 * * * * *", "route": "/jobs/tick"}])";
  kafka.createTopic(w.topic, 3);
  kafka.createTopic(w.ledgerTopic, 3);
  const double t0 = e2e::nowSeconds();
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, e2e::workerObject(w)));

  const std::string events = e2e::podSelector(w, "events");
  const std::string cron = e2e::podSelector(w, "cron");
  const std::string all = "eventworker.dev/name=" + w.name;
  REQUIRE(e2e::waitForPods(
      api, ns, all, [&] { return e2e::readyPods(api, ns, events) == 1; }, 180s));
  std::cout << "[figure] EventWorker applied -> first events pod Ready: " << e2e::nowSeconds() - t0 << " s\n";
  REQUIRE(e2e::waitForPods(
      api, ns, all, [&] { return e2e::readyPods(api, ns, cron) == 1; }, 120s));

  // What a user sees.
  Json got;
  REQUIRE(eventually(
      [&] {
        auto r = api.get(e2e::kEventWorker, ns, w.name);
        if (r) got = *r;
        return r && e2e::condition(got, "Ready") == "True" && got["status"].value("replicas", 0) == 1;
      },
      120s));
  std::string table;
  REQUIRE(kubectl("-n " + ns + " get ew " + w.name, &table) == 0);
  std::cout << table;
  CHECK(table.find("True") != std::string::npos);

  // Events flow through the pod; cron ticks arrive at the handler.
  for (int i = 0; i < 300; ++i) kafka.produce(w.topic, "k" + std::to_string(i % 7), rttest::payload("k", i));
  kafka.flush();
  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.distinct() == 300 && !ledger.route("/jobs/tick").empty();
      },
      120s));
  CHECK(ledger.distinct() == 300);
  CHECK(ledger.duplicates() == 0);
  kubectl("delete namespace " + ns + " --wait=false");
}

namespace {

// How the pods and the operator reach the broker in one run of the burst
// scenario, and, on a secured listener, the credentials rotated mid-run.
struct Listener {
  std::string name;
  std::string bootstrap;  // the pods' listener on the node's bridge
  Json security;          // spec.source.kafka.security; null on PLAINTEXT
  // The Secrets' data (base64): the worker's (secretRef, in its namespace)
  // and the operator's (operatorSecretRef, in eventworker-system), before
  // and after the rotation.
  Json workerData, operatorData, rotatedWorkerData, rotatedOperatorData;
  std::function<void()> rotateAtBroker;  // the broker's side of the rotation, before the Secrets change
  std::string followed;                  // what a runtime that followed the rotation logs
  // After the broker changed, how long until no connection can still hold
  // the old credentials (the SASL listeners end sessions after 20 s).
  std::chrono::seconds oldSessionsEnd{0};
};

Listener plaintext() {
  Listener l;
  l.name = "plaintext";
  l.bootstrap = e2e::podBootstrap();
  return l;
}

Listener scram(rttest::Kafka& kafka) {
  const std::string ca = readFile(serverEnv("EW_KAFKA_PKI") + "/ca.crt");
  const std::string worker = uniqueName("e2e-worker"), op = uniqueName("e2e-lag");
  const std::string pw1 = uniqueName("first"), opPw1 = uniqueName("first-op");
  const std::string pw2 = uniqueName("second"), opPw2 = uniqueName("second-op");
  kafka.setScramPassword(worker, pw1);
  kafka.setScramPassword(op, opPw1);
  auto data = [&](const std::string& user, const std::string& pw) {
    return Json{{"username", base64(user)}, {"password", base64(pw)}, {"ca.crt", base64(ca)}};
  };
  Listener l;
  l.name = "sasl";
  l.bootstrap = serverEnv("EW_KAFKA_POD_SASL_BOOTSTRAP");
  l.security = {{"protocol", "SASL_SSL"},
                {"saslMechanism", "SCRAM-SHA-512"},
                {"secretRef", {{"name", "orders-kafka"}}},
                {"operatorSecretRef", {{"name", ""}}}};
  l.workerData = data(worker, pw1);
  l.operatorData = data(op, opPw1);
  l.rotatedWorkerData = data(worker, pw2);
  l.rotatedOperatorData = data(op, opPw2);
  l.rotateAtBroker = [&kafka, worker, op, pw2, opPw2] {
    kafka.setScramPassword(worker, pw2);
    kafka.setScramPassword(op, opPw2);
  };
  l.followed = "kafka: new SASL credentials";
  l.oldSessionsEnd = 25s;
  std::this_thread::sleep_for(2s);  // the new users reach the broker's credential cache through the metadata log
  return l;
}

Listener mtls() {
  const std::string pki = serverEnv("EW_KAFKA_PKI");
  auto data = [&](const std::string& client) {
    return Json{{"ca.crt", base64(readFile(pki + "/ca.crt"))},
                {"tls.crt", base64(readFile(pki + "/" + client + ".crt"))},
                {"tls.key", base64(readFile(pki + "/" + client + ".key"))}};
  };
  Listener l;
  l.name = "mtls";
  l.bootstrap = serverEnv("EW_KAFKA_POD_MTLS_BOOTSTRAP");
  l.security = {{"protocol", "SSL"},
                {"clientCertificate", true},
                {"secretRef", {{"name", "orders-kafka"}}},
                {"operatorSecretRef", {{"name", ""}}}};
  l.workerData = l.operatorData = data("kafka-client");
  l.rotatedWorkerData = l.rotatedOperatorData = data("kafka-client-rotated");
  l.followed = "kafka: reconnected with the changed TLS files";
  return l;
}

// Secret NAME in NS with DATA; an operator's credentials Secret (labelled,
// allowing WORKER_NAMESPACE) when WORKER_NAMESPACE is not empty.
void applySecret(kube::KubeApi& api, const std::string& ns, const std::string& name, const Json& data,
                 const std::string& workerNamespace = "") {
  Json s = {{"apiVersion", "v1"}, {"kind", "Secret"}, {"metadata", {{"name", name}}}, {"data", data}};
  if (!workerNamespace.empty()) {
    s["metadata"]["labels"] = {{"eventworker.dev/kafka-credentials", "true"}};
    s["metadata"]["annotations"] = {{"eventworker.dev/namespaces", workerNamespace}};
  }
  auto r = api.apply(kube::resources::kSecret, ns, name, s);
  INFO("apply Secret " << ns << "/" << name << ": " << (r ? std::string("ok") : r.error().message));
  REQUIRE(r);
}

// A burst on 12 partitions scales real pods out; on a secured listener the
// credentials are rotated once the scaled-out pods run (at the broker, then
// in both Secrets); the burst drains, the pods scale back in by the
// kubelet's SIGTERM, and a second batch after the scale-down arrives too.
void burstScaleOutIn(const Listener& l) {
  kube::KubeApi api(ew::testing::testKubeClient());
  kube::KubeApi secrets(ew::testing::testKubeClient(), "e2e-test");  // the Secrets' own field manager
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-burst-" + l.name);
  e2e::WorkerSpec w = e2e::namedWorker(ns, "orders-worker");
  w.bootstrap = l.bootstrap;
  w.security = l.security;
  const bool secured = !l.security.is_null();
  const std::string operatorSecret = ns + "-lag";
  if (secured) {
    w.security["operatorSecretRef"]["name"] = operatorSecret;
    applySecret(secrets, ns, "orders-kafka", l.workerData);
    applySecret(secrets, "eventworker-system", operatorSecret, l.operatorData, ns);
  }
  kafka.createTopic(w.topic, 12);
  kafka.createTopic(w.ledgerTopic, 6);
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, e2e::workerObject(w)));
  const std::string events = e2e::podSelector(w, "events");
  REQUIRE(e2e::waitForPods(
      api, ns, events, [&] { return e2e::readyPods(api, ns, events) == 1; }, 180s));
  const std::string first = e2e::pods(api, ns, events).at(0).name;

  constexpr int kBurst = 12000;
  const int64_t burstAt = e2e::wallMillis();
  const double t0 = e2e::nowSeconds();
  for (int i = 0; i < kBurst; ++i) kafka.produce(w.topic, "k" + std::to_string(i % 97), rttest::payload("k", i));
  kafka.flush();

  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  int peakReplicas = 1, peakReady = 1, restarts = 0;
  double scaledAt = -1, rotatedAt = -1;
  int64_t rotatedAtMs = -1;
  // Rotates once all the pods the Deployment can have run (a pod that starts
  // between the broker's change and the Secret's reaching it would be
  // refused at start, which is a restart, not what this tests; and every
  // pod left after the scale-in is then one that ran before the rotation).
  std::set<std::string> rotatedPods;
  auto rotateWhenScaledOut = [&](int replicas, const std::vector<e2e::PodState>& pods) {
    if (!secured || rotatedAt >= 0 || replicas != w.maxReplicas || static_cast<int>(pods.size()) != replicas) return;
    for (const auto& p : pods)
      if (!p.ready || p.terminating) return;
    for (const auto& p : pods) rotatedPods.insert(p.name);
    if (l.rotateAtBroker) l.rotateAtBroker();
    applySecret(secrets, ns, "orders-kafka", l.rotatedWorkerData);
    applySecret(secrets, "eventworker-system", operatorSecret, l.rotatedOperatorData, ns);
    rotatedAtMs = e2e::wallMillis();
    rotatedAt = e2e::nowSeconds() - t0;
  };
  REQUIRE(eventually(
      [&] {
        ledger.poll(500ms);
        const int r = e2e::deploymentReplicas(api, ns, w.name + "-events");
        const auto pods = e2e::pods(api, ns, events);
        if (r > 1 && scaledAt < 0) scaledAt = e2e::nowSeconds() - t0;
        peakReplicas = std::max(peakReplicas, r);
        peakReady = std::max(peakReady, e2e::readyPods(api, ns, events));
        for (const auto& p : pods) restarts = std::max(restarts, p.restarts);
        rotateWhenScaledOut(r, pods);
        return ledger.distinct() == static_cast<size_t>(kBurst);
      },
      400s));
  const double drained = e2e::nowSeconds() - t0;
  int64_t firstNewPodMs = -1;
  for (const auto& [pod, span] : ledger.pods())
    if (pod != first && (firstNewPodMs < 0 || span.first < firstNewPodMs)) firstNewPodMs = span.first;
  std::cout << "[figure] " << l.name << ": burst of " << kBurst << ": Deployment scaled after " << scaledAt
            << " s, first new pod handled its first event after "
            << (firstNewPodMs < 0 ? -1 : (firstNewPodMs - burstAt) / 1000.0) << " s, drained in " << drained
            << " s; peak replicas " << peakReplicas << ", peak Ready pods " << peakReady
            << ", pods that handled events " << ledger.pods().size() << ", duplicates " << ledger.duplicates() << "\n";
  if (secured)
    std::cout << "[figure] " << l.name << ": credentials rotated " << rotatedAt
              << " s after the burst; longest a partition went without a ledger entry across it: "
              << ledger.longestGapAcross(rotatedAtMs) / 1000.0 << " s\n";
  CHECK(peakReplicas > 1);
  CHECK(ledger.pods().size() > 1);  // new pods consumed, not only the first
  if (secured) REQUIRE(rotatedAt >= 0);

  // Back to one replica: the kubelet ends the surplus pods (SIGTERM, drain).
  REQUIRE(eventually(
      [&] {
        return e2e::deploymentReplicas(api, ns, w.name + "-events") == 1 && e2e::pods(api, ns, events).size() == 1;
      },
      240s));
  if (secured) {
    // The pod left ran since before the rotation and follows it in place,
    // once the kubelet has updated its Secret volume.
    const auto left = e2e::pods(api, ns, events);
    REQUIRE(left.size() == 1);
    CHECK(rotatedPods.count(left[0].name) == 1);
    std::string log;
    CHECK(eventually(
        [&] {
          return kubectl("-n " + ns + " logs " + left[0].name + " -c runtime", &log) == 0 &&
                 log.find(l.followed) != std::string::npos;
        },
        120s));
    std::cout << "[figure] " << l.name << ": the pod left logged \"" << l.followed << "\" by "
              << (e2e::wallMillis() - rotatedAtMs) / 1000.0 << " s after the rotation\n";
    // No session can still hold the old credentials after this.
    const auto oldEnd = std::chrono::milliseconds(rotatedAtMs) + l.oldSessionsEnd;
    const auto now = std::chrono::milliseconds(e2e::wallMillis());
    if (now < oldEnd) std::this_thread::sleep_for(oldEnd - now);
  }
  // A second batch after the scale-down (and the rotation): all of it arrives too.
  for (int i = kBurst; i < kBurst + 500; ++i)
    kafka.produce(w.topic, "k" + std::to_string(i % 97), rttest::payload("k", i));
  kafka.flush();
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.distinct() == static_cast<size_t>(kBurst + 500);
      },
      120s));
  CHECK(ledger.distinct() == static_cast<size_t>(kBurst + 500));  // zero lost
  std::cout << "[figure] " << l.name << ": after scale-down: " << ledger.distinct() << " distinct of " << kBurst + 500
            << " produced, " << ledger.duplicates() << " duplicates, " << e2e::nowSeconds() - t0
            << " s after the burst\n";
  const auto last = e2e::pods(api, ns, events);
  for (const auto& p : last) restarts = std::max(restarts, p.restarts);
  CHECK(restarts == 0);  // no pod needed a restart, rotation or not
  if (secured) {
    // The operator read lag with the rotated credentials: it scaled in after
    // the rotation and is not Degraded.
    auto got = api.get(e2e::kEventWorker, ns, w.name);
    REQUIRE(got);
    CHECK(e2e::condition(*got, "Degraded") != "True");
    CHECK(secrets.remove(kube::resources::kSecret, "eventworker-system", operatorSecret));
  }
  kubectl("delete namespace " + ns + " --wait=false");
}

}  // namespace

TEST_CASE(
    "a lag burst on a 12-partition topic scales real pods out and back in, scale-down ends pods by the "
    "kubelet's SIGTERM, and no acknowledged event is lost") {
  burstScaleOutIn(plaintext());
}

TEST_CASE(
    "over SASL_SSL (SCRAM-SHA-512) a lag burst scales real pods out and back in, with both users' passwords "
    "rotated at the broker and in the Secrets while scaled out, no restart and no acknowledged event lost") {
  rttest::Kafka kafka;
  burstScaleOutIn(scram(kafka));
}

TEST_CASE(
    "over mTLS a lag burst scales real pods out and back in, with the runtime's and the operator's client "
    "certificates rotated in the Secrets while scaled out, no restart and no acknowledged event lost") {
  burstScaleOutIn(mtls());
}
