// The seed scenario, on real sidecars: an "API service" (app id
// customer-service, the ledger handler image) consumes five topics through
// its own injected daprd and declarative Subscriptions scoped to it, under a
// continuous produce stream. An EventWorker with migrateFrom moves all five to
// the worker (pause handoff; the leading operator pod is deleted while the
// migration is Paused, and the other replica completes it from
// status.migration), a rollback (removing migrateFrom) gives them
// back, then the overlap handoff moves them again and a second rollback gives
// them back. After each step the ledger (one record per acknowledged event,
// from either app) proves that every event produced so far was handled; the
// duplicates and the longest time without any handled event are reported.
//
// Skipped (counted) when the Dapr binaries are not built.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <thread>

#include "dapr_support.h"
#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"

using namespace ew;
using ew::testing::eventually;
using ew::testing::kubectl;
using kube::Json;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kTopics = {"orders", "payments", "shipments", "refunds", "reviews"};
const std::string kApiApp = "customer-service";

// The API service: one pod, the ledger handler as the app daprd calls.
Json apiDeployment(const std::string& ns, const std::string& ledgerTopic) {
  const Json labels = {{"app", kApiApp}};
  const Json restricted = {{"allowPrivilegeEscalation", false},
                           {"readOnlyRootFilesystem", true},
                           {"capabilities", {{"drop", {"ALL"}}}}};
  Json container = {
      {"name", "api"},
      {"image", "localhost/eventworker/ledger-handler:test"},
      {"imagePullPolicy", "Never"},
      {"args", {"--port", "8080", "--ledger-topic", ledgerTopic, "--kafka-bootstrap", e2e::podBootstrap()}},
      {"env", {{{"name", "POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}},
      {"resources", {{"requests", {{"cpu", "10m"}, {"memory", "16Mi"}}}, {"limits", {{"memory", "128Mi"}}}}},
      {"securityContext", restricted},
      {"volumeMounts", {{{"name", "tmp"}, {"mountPath", "/tmp"}}}}};
  Json annotations = {{"dapr.io/enabled", "true"},
                      {"dapr.io/app-id", kApiApp},
                      {"dapr.io/app-port", "8080"},
                      {"dapr.io/app-protocol", "http"},
                      {"dapr.io/disable-builtin-k8s-secret-store", "true"}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", kApiApp}, {"namespace", ns}}},
          {"spec",
           {{"replicas", 1},
            {"selector", {{"matchLabels", labels}}},
            {"template",
             {{"metadata", {{"labels", labels}, {"annotations", annotations}}},
              {"spec",
               {{"automountServiceAccountToken", false},
                {"securityContext", {{"runAsNonRoot", true}, {"seccompProfile", {{"type", "RuntimeDefault"}}}}},
                {"containers", {container}},
                {"volumes", {{{"name", "tmp"}, {"emptyDir", Json::object()}}}}}}}}}}};
}

std::string topicName(const std::string& ns, const std::string& t) { return ns + "." + t; }

std::vector<std::string> scopesOf(kube::KubeApi& api, const std::string& ns, const std::string& name) {
  std::vector<std::string> out;
  if (auto s = api.get(e2e::kDaprSubscription, ns, name))
    for (const auto& sc : (*s).value("scopes", Json::array())) out.push_back(sc);
  return out;
}

bool apiScopedIn(kube::KubeApi& api, const std::string& ns, const std::string& topic) {
  const auto s = scopesOf(api, ns, "api-" + topic);
  return std::find(s.begin(), s.end(), kApiApp) != s.end();
}

Json migrationOf(kube::KubeApi& api, const std::string& ns, const std::string& name) {
  auto ew = api.get(e2e::kEventWorker, ns, name);
  return ew ? (*ew).value("status", Json::object()).value("migration", Json::object()) : Json::object();
}

// What one step of the scenario did, from the ledger.
struct StepFigures {
  size_t produced = 0, handled = 0, duplicates = 0, byApi = 0, byWorker = 0;
  double longestGap = 0;  // seconds without any handled event, within the step
  bool complete = false;  // every event produced up to the step's end handled
};

}  // namespace

TEST_CASE("seed scenario on real sidecars: customer-service's five topics move to the worker (pause, the operator's "
          "leader deleted midway), come back (rollback), move again (overlap) and come back, with nothing lost at any "
          "step") {
  e2e::installDaprOrSkip();
  // Not the operator's field manager: the operator applies to the
  // EventWorker (its migration finalizer) and edits the API's Subscriptions.
  kube::KubeApi api(ew::testing::testKubeClient(), "e2e-user");
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createDaprNamespace(api, "e2e-seed");
  const std::string ledgerTopic = ns + ".ledger";
  kafka.createTopic(ledgerTopic, 1);
  for (const auto& t : kTopics) kafka.createTopic(topicName(ns, t), 2);

  // The API service and its declarative Subscriptions (not the operator's).
  REQUIRE(api.apply(e2e::kDeployment, ns, kApiApp, apiDeployment(ns, ledgerTopic)));
  for (const auto& t : kTopics)
    REQUIRE(api.apply(e2e::kDaprSubscription, ns, "api-" + t,
                      {{"apiVersion", "dapr.io/v2alpha1"},
                       {"kind", "Subscription"},
                       {"metadata", {{"name", "api-" + t}, {"namespace", ns}}},
                       {"spec", {{"pubsubname", "pubsub"}, {"topic", topicName(ns, t)},
                                 {"routes", {{"default", "/events/" + t}}}}},
                       {"scopes", {kApiApp}}}));
  const std::string apiPods = "app=" + kApiApp;
  REQUIRE(e2e::waitForPods(api, ns, apiPods, [&] { return e2e::readyPods(api, ns, apiPods) == 1; }, 240s));

  // Events all the time, round robin over the five topics.
  std::atomic<bool> producing{true};
  std::atomic<int64_t> produced{0};
  std::thread producer([&] {
    rttest::Kafka p;
    while (producing) {
      for (int i = 0; i < 10; ++i) {
        const int64_t seq = produced;
        const std::string key = "c" + std::to_string(seq % 17);
        p.produce(topicName(ns, kTopics[seq % kTopics.size()]), key, rttest::cloudEvent("e-" + std::to_string(seq), key, seq));
        ++produced;
      }
      p.flush();
      std::this_thread::sleep_for(100ms);
    }
  });
  rttest::StopAndJoin joinProducer{producer, producing};

  e2e::LedgerReader ledger(kafka.bootstrap(), ledgerTopic);
  REQUIRE(eventually([&] {
    ledger.poll(500ms);
    return ledger.distinct() > 100;
  }, 120s));

  // The worker: the five subscriptions, migrating from the API.
  e2e::WorkerSpec w = e2e::namedWorker(ns, "customer-worker");
  w.dapr = true;
  w.autoscale = false;
  w.ledgerTopic = ledgerTopic;
  Json worker = e2e::workerObject(w);
  worker["spec"]["subscriptions"] = Json::array();
  for (const auto& t : kTopics)
    worker["spec"]["subscriptions"].push_back(
        {{"name", t}, {"topic", topicName(ns, t)}, {"route", "/events/" + t}, {"concurrency", 2}});

  // One step: apply WORKER, wait for DONE, keep the stream on a while, then
  // wait until every event produced up to then is in the ledger.
  int64_t stepFrom = 0;
  auto step = [&](const char* what, const std::function<bool()>& done) {
    StepFigures f;
    const int64_t startMs = e2e::wallMillis();
    REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, worker));
    CHECK(eventually([&] {
      ledger.poll(200ms);
      return done();
    }, 240s));
    std::this_thread::sleep_for(8s);
    const int64_t upTo = produced;
    f.complete = eventually([&] {
      ledger.poll(500ms);
      for (int64_t s = stepFrom; s < upTo; ++s)
        if (!ledger.has(s)) return false;
      return true;
    }, 120s);
    std::map<int64_t, int> count;
    std::vector<int64_t> times;
    for (const auto& e : ledger.all()) {  // by seq: an event may be handled while the last step waited
      if (e.seq < stepFrom || e.seq >= upTo) continue;
      ++count[e.seq];
      times.push_back(e.at);
      (e.pod.rfind(kApiApp, 0) == 0 ? f.byApi : f.byWorker)++;
    }
    std::sort(times.begin(), times.end());
    for (size_t i = 1; i < times.size(); ++i)
      f.longestGap = std::max(f.longestGap, (times[i] - times[i - 1]) / 1000.0);
    f.produced = static_cast<size_t>(upTo - stepFrom);
    f.handled = count.size();
    for (const auto& [seq, n] : count) f.duplicates += n - 1;
    std::cout << "[figure] " << what << ": " << f.produced << " events produced during the step, " << f.handled
              << " handled (" << f.byApi << " by customer-service, " << f.byWorker << " by the worker), "
              << f.duplicates << " duplicates, longest gap " << f.longestGap << " s, step took "
              << (e2e::wallMillis() - startMs) / 1000.0 << " s\n";
    stepFrom = upTo;
    return f;
  };

  // 1. pause: the API is scoped out, its group settles, the offsets move, the
  // worker is scoped in. The leading operator's pod is deleted once the
  // migration is Paused: the other replica completes it from status.migration.
  worker["spec"]["migrateFrom"] = {{"appId", kApiApp}, {"handoff", "pause"}, {"settleSeconds", 5}};
  std::string killedLeader;
  auto pause = step("pause handoff, the operator's leader deleted while Paused", [&] {
    const Json m = migrationOf(api, ns, w.name);
    if (killedLeader.empty() && m.value("phase", "") == "Paused") {
      killedLeader = e2e::operatorLeaderPod(api);
      if (!killedLeader.empty()) kubectl("-n eventworker-system delete pod " + killedLeader + " --wait=false");
    }
    return !killedLeader.empty() && m.value("phase", "") == "Complete";
  });
  CHECK_FALSE(killedLeader.empty());
  const Json record = migrationOf(api, ns, w.name);
  for (const char* s : {"started", "workerReady", "apiPaused", "apiStopped", "offsetsCopied", "scopedIn", "complete"})
    CHECK(record["steps"].contains(s));
  CHECK(pause.complete);
  CHECK(pause.byWorker > 0);
  for (const auto& t : kTopics) CHECK_FALSE(apiScopedIn(api, ns, t));

  // 2. rollback: the API gets its five subscriptions back.
  worker["spec"].erase("migrateFrom");
  auto back = step("rollback", [&] {
    for (const auto& t : kTopics)
      if (!apiScopedIn(api, ns, t)) return false;
    return migrationOf(api, ns, w.name).empty();
  });
  CHECK(back.complete);
  CHECK(back.byApi > 0);

  // 3. overlap: the worker is in before the API goes out.
  worker["spec"]["migrateFrom"] = {{"appId", kApiApp}, {"handoff", "overlap"}};
  auto overlap = step("overlap handoff", [&] { return migrationOf(api, ns, w.name).value("phase", "") == "Complete"; });
  CHECK(overlap.complete);
  for (const auto& t : kTopics) CHECK_FALSE(apiScopedIn(api, ns, t));

  // 4. rollback again.
  worker["spec"].erase("migrateFrom");
  auto back2 = step("rollback after overlap", [&] {
    for (const auto& t : kTopics)
      if (!apiScopedIn(api, ns, t)) return false;
    return migrationOf(api, ns, w.name).empty();
  });
  CHECK(back2.complete);
  CHECK(back2.byApi > 0);
  kubectl("delete namespace " + ns + " --wait=false");
}
