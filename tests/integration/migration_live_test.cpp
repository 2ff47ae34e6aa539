// Migration off an API service (spec.migrateFrom, pause handoff) against the
// real kube-apiserver (with the dapr.io Subscription CRD from crds/) and the
// real broker. There is no daprd here: a stand-in plays Dapr's part the way
// Dapr does it, driven by the Subscriptions: the "API service" consumes the
// topic (the real runtime binary in the API's consumer group) while a
// Subscription scopes it in, and the worker (the runtime in the worker's
// group) consumes once the worker's own Subscription exists. Events flow all
// the time; a ledger proves every one was handled at least once across the
// two groups and reports duplicates and the longest gap. The operator is
// restarted in the middle of the migration. The pause case runs on the
// PLAINTEXT listener and on SASL_SSL (SCRAM-SHA-512), where the runtimes use
// the worker's user and the operator reads and copies the offsets with its
// own Secret (spec.source.kafka.security.operatorSecretRef).
#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <thread>

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

std::vector<std::string> scopesOf(kube::KubeApi& api, const std::string& ns, const std::string& name) {
  std::vector<std::string> out;
  if (auto s = get(api, resources::kDaprSubscription, ns, name))
    for (const auto& sc : (*s).value("scopes", Json::array())) out.push_back(sc);
  return out;
}

Json migrationOf(kube::KubeApi& api, const std::string& ns, const std::string& name) {
  auto ew = get(api, resources::kEventWorker, ns, name);
  return ew ? (*ew).value("status", Json::object()).value("migration", Json::object()) : Json::object();
}

// How the runtimes (the API service and the worker) and the operator (the
// offset copy) reach the broker.
struct Transport {
  std::string bootstrap;        // "" for the PLAINTEXT listener
  std::string runtimeSecurity;  // the runtimes' source.kafka.security, flow style ("" for none)
  Json security;                // spec.source.kafka.security (null for none)
  std::string operatorDir;      // the operator's credentials, a directory shaped as its Secret ("" for none)
};

Transport plaintext() { return {}; }

// SASL_SSL with SCRAM-SHA-512: the runtimes as ew-worker, the operator as
// ew-operator (its Secret "lag-reader" in its own namespace).
Transport scram() {
  const std::string w = serverEnv("EW_KAFKA_SCRAM_WORKER_DIR");
  return {serverEnv("EW_KAFKA_SASL_BOOTSTRAP"),
          "{protocol: SASL_SSL, saslMechanism: SCRAM-SHA-512, usernameFile: " + w + "/username, passwordFile: " + w +
              "/password, caFile: " + w + "/ca.crt}",
          {{"protocol", "SASL_SSL"},
           {"saslMechanism", "SCRAM-SHA-512"},
           {"secretRef", {{"name", "worker-kafka"}}},
           {"operatorSecretRef", {{"name", "lag-reader"}}}},
          serverEnv("EW_KAFKA_SCRAM_OPERATOR_DIR")};
}

// A pause migration of one topic from an API service to the worker while
// events flow, over T: the API's group's offsets copied to the worker's
// group by the operator, the operator restarted midway, then rolled back.
void pauseMigration(const Transport& t) {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "migrate");
  rttest::Kafka kafka;  // the test's own clients: the PLAINTEXT listener of the same broker
  std::unique_ptr<OperatorNamespace> operatorNs;
  if (!t.operatorDir.empty()) {
    operatorNs = std::make_unique<OperatorNamespace>(user);
    operatorNs->putSecret("lag-reader", kafkaSecretData(t.operatorDir), ns);
  }
  auto migrationKafka = [&] {
    return controller::migrationKafka(std::make_shared<autoscale::LagReaderPool>(3000ms), 5000ms,
                                      operatorNs ? operatorNs->secrets() : controller::OperatorSecrets{});
  };
  const std::string topic = uniqueName("orders");
  const std::string apiApp = uniqueName("customer-api"), workerApp = uniqueName("customer-worker");
  kafka.createTopic(topic, 3);

  // The API service's declarative Subscription (not the operator's).
  REQUIRE(user.create(resources::kDaprSubscription, ns,
                      {{"apiVersion", "dapr.io/v2alpha1"},
                       {"kind", "Subscription"},
                       {"metadata", {{"name", "api-orders"}}},
                       {"spec", {{"pubsubname", "pubsub"}, {"topic", topic}, {"routes", {{"default", "/orders"}}}}},
                       {"scopes", {apiApp, "audit"}}}));

  rttest::Ledger ledger;
  ledger.setDelay(1ms);
  auto runtimeSpec = [&](const std::string& group) {
    rttest::ConfigSpec s;
    s.topic = topic;
    s.group = group;
    s.ledgerPort = ledger.port();
    s.commitInterval = "200ms";
    s.brokers = t.bootstrap;
    s.security = t.runtimeSecurity;
    return s;
  };
  // Events all the time.
  std::atomic<bool> producing{true};
  std::atomic<int> produced{0};
  std::thread producer([&] {
    rttest::Kafka p;
    while (producing) {
      for (int i = 0; i < 20; ++i, ++produced)
        p.produce(topic, "k" + std::to_string(produced % 13), rttest::payload("k", produced));
      p.flush();
      std::this_thread::sleep_for(50ms);
    }
  });
  rttest::StopAndJoin joinProducer{producer, producing};

  // The Dapr stand-in.
  auto api = std::make_unique<rttest::RuntimeProcess>("api", runtimeSpec(apiApp));
  std::unique_ptr<rttest::RuntimeProcess> worker;
  bool overlapped = false;
  std::atomic<bool> standIn{true};
  std::mutex mu;
  std::thread dapr([&] {
    kube::KubeApi view(testKubeClient(), "test-dapr");
    while (standIn) {
      const auto apiScopes = scopesOf(view, ns, "api-orders");
      const auto workerScopes = scopesOf(view, ns, "migrate-orders");
      std::lock_guard l(mu);
      if (api && std::find(apiScopes.begin(), apiScopes.end(), apiApp) == apiScopes.end()) {
        api->signal(SIGTERM);  // Dapr stops delivering: the consumer drains, commits and leaves
        api->wait(20s);
        api.reset();
      }
      if (!worker && std::find(workerScopes.begin(), workerScopes.end(), workerApp) != workerScopes.end()) {
        overlapped = api != nullptr;
        worker = std::make_unique<rttest::RuntimeProcess>("worker", runtimeSpec(workerApp));
      }
      std::this_thread::sleep_for(100ms);
    }
  });
  rttest::StopAndJoin joinDapr{dapr, standIn};
  REQUIRE(ledger.waitFor([](const rttest::Ledger& l) { return l.count() > 200; }, 30s));

  auto controller = std::make_unique<RunningController>(ns, true, controller::LagReadFn{}, migrationKafka());
  Json ew = eventWorker("migrate", "registry.local/customer:1.0", /*cron=*/false, 0, /*dapr=*/true);
  ew["spec"]["dapr"]["appId"] = workerApp;
  ew["spec"]["source"] = {{"kafka", {{"brokers", {t.bootstrap.empty() ? kafka.bootstrap() : t.bootstrap}}}}};
  if (!t.security.is_null()) ew["spec"]["source"]["kafka"]["security"] = t.security;
  ew["spec"]["subscriptions"] = {{{"name", "orders"}, {"topic", topic}, {"route", "/orders"}}};
  ew["spec"]["scaling"] = {{"enabled", false}};
  ew["spec"]["migrateFrom"] = {{"appId", apiApp}, {"handoff", "pause"}, {"settleSeconds", 3}};
  REQUIRE(user.apply(resources::kEventWorker, ns, "migrate", ew));

  // No kubelet: mark the worker's pods ready so that its Deployment becomes available.
  REQUIRE(eventually(
      [&] {
        markPodsReady(user, ns, "eventworker.dev/name=migrate");
        return migrationOf(user, ns, "migrate").value("phase", "") == "Paused";
      },
      60s));
  CHECK(scopesOf(user, ns, "api-orders") == std::vector<std::string>{"audit"});
  CHECK_FALSE(get(user, resources::kDaprSubscription, ns, "migrate-orders"));  // not scoped in yet
  auto withFinalizer = get(user, resources::kEventWorker, ns, "migrate");
  REQUIRE(withFinalizer);
  CHECK((*withFinalizer)["metadata"]["finalizers"] == Json::array({"eventworker.dev/migration"}));

  // The operator goes away mid-migration and a new one resumes from status.
  controller.reset();
  std::this_thread::sleep_for(1s);
  controller = std::make_unique<RunningController>(ns, true, controller::LagReadFn{}, migrationKafka());

  REQUIRE(eventually([&] { return migrationOf(user, ns, "migrate").value("phase", "") == "Complete"; }, 90s));
  const Json record = migrationOf(user, ns, "migrate");
  INFO(record.dump());
  for (const char* s : {"started", "workerReady", "apiPaused", "apiStopped", "offsetsCopied", "scopedIn", "complete"})
    CHECK(record["steps"].contains(s));
  CHECK(record["offsets"].size() == 3);
  REQUIRE(eventually(
      [&] {
        std::lock_guard l(mu);
        return worker != nullptr;
      },
      20s));
  {
    std::lock_guard l(mu);
    CHECK_FALSE(overlapped);  // pause: the API had stopped before the worker started
  }

  // Let the worker run a while, then stop producing and drain.
  std::this_thread::sleep_for(3s);
  producing = false;
  producer.join();
  const int total = produced.load();
  auto allHandled = [&](const rttest::Ledger& l) {
    std::set<int64_t> seqs;
    for (const auto& e : l.entries()) seqs.insert(e.seq);
    return static_cast<int>(seqs.size()) == total;
  };
  const bool complete = ledger.waitFor(allHandled, 60s);
  auto entries = ledger.entries();
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.at < b.at; });
  double longestGap = 0;
  for (size_t i = 1; i < entries.size(); ++i)
    longestGap = std::max(longestGap, std::chrono::duration<double>(entries[i].at - entries[i - 1].at).count());
  std::cout << "migration (pause handoff" << (t.security.is_null() ? "" : ", " + t.security.value("protocol", ""))
            << "): " << total << " events produced, " << entries.size() << " handled, "
            << entries.size() - ledger.distinct() << " duplicates, longest gap between handled events " << longestGap
            << " s\n";
  CHECK(complete);  // every event handled at least once across the two groups

  // Rolling back: removing migrateFrom gives the API its scope back.
  ew["spec"].erase("migrateFrom");
  REQUIRE(user.apply(resources::kEventWorker, ns, "migrate", ew));
  CHECK(eventually(
      [&] {
        const auto s = scopesOf(user, ns, "api-orders");
        return std::find(s.begin(), s.end(), apiApp) != s.end();
      },
      20s));
  CHECK(eventually(
      [&] {
        auto o = get(user, resources::kEventWorker, ns, "migrate");
        return o && !(*o)["metadata"].contains("finalizers") && !(*o)["status"].contains("migration");
      },
      20s));
}

}  // namespace

TEST_CASE("pause migration under a continuous stream: nothing lost, the operator restarted midway, then rolled back") {
  pauseMigration(plaintext());
}

TEST_CASE(
    "pause migration over SASL_SSL: the runtimes consume as the worker's SCRAM user, the operator copies the offsets "
    "with its own Secret, nothing lost") {
  pauseMigration(scram());
}

TEST_CASE("overlap migration of a programmatic API: its pod template gets subscribe disabled, deletion restores it") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "migrate-prog");
  const std::string apiApp = uniqueName("prog-api");
  const Json labels = {{"app", "prog-api"}};
  REQUIRE(user.create(
      resources::kDeployment, ns,
      {{"apiVersion", "apps/v1"},
       {"kind", "Deployment"},
       {"metadata", {{"name", "prog-api"}}},
       {"spec",
        {{"replicas", 0},
         {"selector", {{"matchLabels", labels}}},
         {"template",
          {{"metadata",
            {{"labels", labels}, {"annotations", {{"dapr.io/enabled", "true"}, {"dapr.io/app-id", apiApp}}}}},
           {"spec", {{"containers", {{{"name", "api"}, {"image", "api:1"}}}}}}}}}}}));
  auto annotation = [&]() -> std::optional<std::string> {
    auto d = get(user, resources::kDeployment, ns, "prog-api");
    if (!d) return std::nullopt;
    const Json a = (*d)["spec"]["template"]["metadata"].value("annotations", Json::object());
    if (!a.contains("dapr.io/disable-init-endpoints")) return std::nullopt;
    return a["dapr.io/disable-init-endpoints"].get<std::string>();
  };
  RunningController rc(ns, true);
  Json ew = eventWorker("prog", "registry.local/customer:1.0", /*cron=*/false, 1, /*dapr=*/true);
  ew["spec"]["scaling"] = {{"enabled", false}};
  ew["spec"]["migrateFrom"] = {{"appId", apiApp}, {"handoff", "overlap"}, {"programmaticSubscriptions", true}};
  REQUIRE(user.apply(resources::kEventWorker, ns, "prog", ew));
  // overlap: the worker is scoped in at once, before it is even ready.
  REQUIRE(eventually([&] { return get(user, resources::kDaprSubscription, ns, "prog-sub-0").has_value(); }));
  CHECK_FALSE(annotation());
  REQUIRE(eventually(
      [&] {
        markPodsReady(user, ns, "eventworker.dev/name=prog");
        return migrationOf(user, ns, "prog").value("phase", "") == "Complete";
      },
      60s));
  CHECK(annotation() == std::optional<std::string>("subscribe"));

  // Deleting the EventWorker: the finalizer gives the API its subscriptions back first.
  REQUIRE(user.remove(resources::kEventWorker, ns, "prog"));
  CHECK(eventually([&] { return !get(user, resources::kEventWorker, ns, "prog").has_value(); }, 30s));
  CHECK_FALSE(annotation());
}
