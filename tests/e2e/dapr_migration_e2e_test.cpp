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
// The same API subscribing programmatically (its app answers GET
// /dapr/subscribe; no declarative Subscription): migrateFrom with
// programmaticSubscriptions: true rolls its pods with
// dapr.io/disable-init-endpoints: subscribe, and the test proves from the app's
// own request log and daprd's log that the new pod's daprd never asked for the
// subscriptions (and from the ledger that the pod got no event), then the
// pause handoff moves the five topics with nothing lost; the rollback rolls the
// pods back and daprd asks again.
//
// Skipped (counted) when the Dapr binaries are not built.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <memory>
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

// The API service: one pod, the ledger handler as the app daprd calls, with
// MORE_ARGS (--subscribe: programmatic subscriptions).
Json apiDeployment(const std::string& ns, const std::string& ledgerTopic,
                   const std::vector<std::string>& moreArgs = {}) {
  const Json labels = {{"app", kApiApp}};
  const Json restricted = {
      {"allowPrivilegeEscalation", false}, {"readOnlyRootFilesystem", true}, {"capabilities", {{"drop", {"ALL"}}}}};
  Json container = {
      {"name", "api"},
      {"image", "localhost/eventworker/ledger-handler:test"},
      {"imagePullPolicy", "Never"},
      {"args", {"--port", "8080", "--ledger-topic", ledgerTopic, "--kafka-bootstrap", e2e::podBootstrap()}},
      {"env", {{{"name", "POD_NAME"}, {"valueFrom", {{"fieldRef", {{"fieldPath", "metadata.name"}}}}}}}},
      {"resources", {{"requests", {{"cpu", "10m"}, {"memory", "16Mi"}}}, {"limits", {{"memory", "128Mi"}}}}},
      {"securityContext", restricted},
      {"volumeMounts", {{{"name", "tmp"}, {"mountPath", "/tmp"}}}}};
  for (const auto& a : moreArgs) container["args"].push_back(a);
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

// The log of CONTAINER in POD ("" when kubectl cannot read it).
std::string containerLog(const std::string& ns, const std::string& pod, const std::string& container) {
  std::string out;
  return kubectl("-n " + ns + " logs " + pod + " -c " + container, &out) == 0 ? out : "";
}

// The ledger handler's line for each GET /dapr/subscribe (main.cpp).
bool askedForSubscriptions(const std::string& appLog) {
  return appLog.find("GET /dapr/subscribe: answered") != std::string::npos;
}

// What daprd logs when dapr.io/disable-init-endpoints holds subscribe
// (pkg/runtime/processor/subscriber/subscriber.go, v1.18.1).
bool skippedProgrammatic(const std::string& daprdLog) {
  return daprdLog.find("Skipping programmatic subscription loading") != std::string::npos;
}

// dapr.io/disable-init-endpoints on the pod template of the API's Deployment
// ("" when absent).
std::string disabledInitEndpoints(kube::KubeApi& api, const std::string& ns) {
  auto d = api.get(e2e::kDeployment, ns, kApiApp);
  if (!d) return "";
  return (*d)["spec"]["template"]["metadata"]
      .value("annotations", Json::object())
      .value("dapr.io/disable-init-endpoints", "");
}

// The API's one Ready pod, "" while there is not exactly one pod.
std::string onlyApiPod(kube::KubeApi& api, const std::string& ns) {
  const auto ps = e2e::pods(api, ns, "app=" + kApiApp);
  return ps.size() == 1 && ps[0].ready && !ps[0].terminating ? ps[0].name : "";
}

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

// The API's five topics under a continuous produce stream (round robin, 10
// events every 100 ms) and a ledger across both apps; the worker
// customer-worker subscribing to the same five topics through Dapr.
class Scenario {
 public:
  Scenario(kube::KubeApi& api, const std::string& ns) : api_(api), ns_(ns), ledgerTopic_(ns + ".ledger") {
    kafka_.createTopic(ledgerTopic_, 1);
    for (const auto& t : kTopics) kafka_.createTopic(topicName(ns, t), 2);
    ledger_ = std::make_unique<e2e::LedgerReader>(kafka_.bootstrap(), ledgerTopic_);
    w_ = e2e::namedWorker(ns, "customer-worker");
    w_.dapr = true;
    w_.autoscale = false;
    w_.ledgerTopic = ledgerTopic_;
    worker = e2e::workerObject(w_);
    worker["spec"]["subscriptions"] = Json::array();
    for (const auto& t : kTopics)
      worker["spec"]["subscriptions"].push_back(
          {{"name", t}, {"topic", topicName(ns, t)}, {"route", "/events/" + t}, {"concurrency", 2}});
  }
  ~Scenario() {
    producing_ = false;
    if (producer_.joinable()) producer_.join();
  }
  const std::string& ledgerTopic() const { return ledgerTopic_; }
  e2e::LedgerReader& ledger() { return *ledger_; }

  // Starts the stream; returns once the API handled more than 100 events.
  bool startStream() {
    producer_ = std::thread([this] {
      rttest::Kafka p;
      while (producing_) {
        for (int i = 0; i < 10; ++i) {
          const int64_t seq = produced_;
          const std::string key = "c" + std::to_string(seq % 17);
          p.produce(topicName(ns_, kTopics[seq % kTopics.size()]), key,
                    rttest::cloudEvent("e-" + std::to_string(seq), key, seq));
          ++produced_;
        }
        p.flush();
        std::this_thread::sleep_for(100ms);
      }
    });
    return eventually(
        [&] {
          ledger_->poll(500ms);
          return ledger_->distinct() > 100;
        },
        120s);
  }

  // One step: applies `worker`, waits for DONE, keeps the stream on a while,
  // then waits until every event produced up to then is in the ledger.
  StepFigures step(const char* what, const std::function<bool()>& done) {
    StepFigures f;
    const int64_t startMs = e2e::wallMillis();
    REQUIRE(api_.apply(e2e::kEventWorker, ns_, w_.name, worker));
    CHECK(eventually(
        [&] {
          ledger_->poll(200ms);
          return done();
        },
        240s));
    std::this_thread::sleep_for(8s);
    const int64_t upTo = produced_;
    f.complete = eventually(
        [&] {
          ledger_->poll(500ms);
          for (int64_t s = stepFrom_; s < upTo; ++s)
            if (!ledger_->has(s)) return false;
          return true;
        },
        120s);
    std::map<int64_t, int> count;
    std::vector<int64_t> times;
    for (const auto& e : ledger_->all()) {  // by seq: an event may be handled while the last step waited
      if (e.seq < stepFrom_ || e.seq >= upTo) continue;
      ++count[e.seq];
      times.push_back(e.at);
      (e.pod.rfind(kApiApp, 0) == 0 ? f.byApi : f.byWorker)++;
    }
    std::sort(times.begin(), times.end());
    for (size_t i = 1; i < times.size(); ++i) f.longestGap = std::max(f.longestGap, (times[i] - times[i - 1]) / 1000.0);
    f.produced = static_cast<size_t>(upTo - stepFrom_);
    f.handled = count.size();
    for (const auto& [seq, n] : count) f.duplicates += n - 1;
    std::cout << "[figure] " << what << ": " << f.produced << " events produced during the step, " << f.handled
              << " handled (" << f.byApi << " by customer-service, " << f.byWorker << " by the worker), "
              << f.duplicates << " duplicates, longest gap " << f.longestGap << " s, step took "
              << (e2e::wallMillis() - startMs) / 1000.0 << " s\n";
    stepFrom_ = upTo;
    return f;
  }

  Json worker;  // the EventWorker that step() applies

 private:
  kube::KubeApi& api_;
  const std::string ns_;
  const std::string ledgerTopic_;
  rttest::Kafka kafka_;
  std::unique_ptr<e2e::LedgerReader> ledger_;
  e2e::WorkerSpec w_;
  std::thread producer_;
  std::atomic<bool> producing_{true};
  std::atomic<int64_t> produced_{0};
  int64_t stepFrom_ = 0;
};

}  // namespace

TEST_CASE(
    "seed scenario on real sidecars: customer-service's five topics move to the worker (pause, the operator's "
    "leader deleted midway), come back (rollback), move again (overlap) and come back, with nothing lost at any "
    "step") {
  e2e::installDaprOrSkip();
  // Not the operator's field manager: the operator applies to the
  // EventWorker (its migration finalizer) and edits the API's Subscriptions.
  kube::KubeApi api(ew::testing::testKubeClient(), "e2e-user");
  e2e::installOperator();
  const std::string ns = e2e::createDaprNamespace(api, "e2e-seed");
  Scenario seed(api, ns);

  // The API service and its declarative Subscriptions (not the operator's).
  REQUIRE(api.apply(e2e::kDeployment, ns, kApiApp, apiDeployment(ns, seed.ledgerTopic())));
  for (const auto& t : kTopics)
    REQUIRE(api.apply(
        e2e::kDaprSubscription, ns, "api-" + t,
        {{"apiVersion", "dapr.io/v2alpha1"},
         {"kind", "Subscription"},
         {"metadata", {{"name", "api-" + t}, {"namespace", ns}}},
         {"spec", {{"pubsubname", "pubsub"}, {"topic", topicName(ns, t)}, {"routes", {{"default", "/events/" + t}}}}},
         {"scopes", {kApiApp}}}));
  const std::string apiPods = "app=" + kApiApp;
  REQUIRE(e2e::waitForPods(
      api, ns, apiPods, [&] { return e2e::readyPods(api, ns, apiPods) == 1; }, 240s));
  REQUIRE(seed.startStream());
  Json& worker = seed.worker;
  const std::string name = "customer-worker";

  // 1. pause: the API is scoped out, its group settles, the offsets move, the
  // worker is scoped in. The leading operator's pod is deleted once the
  // migration is Paused: the other replica completes it from status.migration.
  worker["spec"]["migrateFrom"] = {{"appId", kApiApp}, {"handoff", "pause"}, {"settleSeconds", 5}};
  std::string killedLeader;
  auto pause = seed.step("pause handoff, the operator's leader deleted while Paused", [&] {
    const Json m = migrationOf(api, ns, name);
    if (killedLeader.empty() && m.value("phase", "") == "Paused") {
      killedLeader = e2e::operatorLeaderPod(api);
      if (!killedLeader.empty()) kubectl("-n eventworker-system delete pod " + killedLeader + " --wait=false");
    }
    return !killedLeader.empty() && m.value("phase", "") == "Complete";
  });
  CHECK_FALSE(killedLeader.empty());
  const Json record = migrationOf(api, ns, name);
  for (const char* s : {"started", "workerReady", "apiPaused", "apiStopped", "offsetsCopied", "scopedIn", "complete"})
    CHECK(record["steps"].contains(s));
  CHECK(pause.complete);
  CHECK(pause.byWorker > 0);
  for (const auto& t : kTopics) CHECK_FALSE(apiScopedIn(api, ns, t));

  // 2. rollback: the API gets its five subscriptions back.
  worker["spec"].erase("migrateFrom");
  auto back = seed.step("rollback", [&] {
    for (const auto& t : kTopics)
      if (!apiScopedIn(api, ns, t)) return false;
    return migrationOf(api, ns, name).empty();
  });
  CHECK(back.complete);
  CHECK(back.byApi > 0);

  // 3. overlap: the worker is in before the API goes out.
  worker["spec"]["migrateFrom"] = {{"appId", kApiApp}, {"handoff", "overlap"}};
  auto overlap =
      seed.step("overlap handoff", [&] { return migrationOf(api, ns, name).value("phase", "") == "Complete"; });
  CHECK(overlap.complete);
  for (const auto& t : kTopics) CHECK_FALSE(apiScopedIn(api, ns, t));

  // 4. rollback again.
  worker["spec"].erase("migrateFrom");
  auto back2 = seed.step("rollback after overlap", [&] {
    for (const auto& t : kTopics)
      if (!apiScopedIn(api, ns, t)) return false;
    return migrationOf(api, ns, name).empty();
  });
  CHECK(back2.complete);
  CHECK(back2.byApi > 0);
  kubectl("delete namespace " + ns + " --wait=false");
}

TEST_CASE(
    "programmatic subscriptions on real sidecars: the API's pods are rolled with subscribe disabled, their "
    "daprd stops calling GET /dapr/subscribe, and the pause handoff moves the five topics with nothing lost") {
  e2e::installDaprOrSkip();
  kube::KubeApi api(ew::testing::testKubeClient(), "e2e-user");
  e2e::installOperator();
  const std::string ns = e2e::createDaprNamespace(api, "e2e-prog");
  Scenario seed(api, ns);

  // The API subscribes programmatically: its app lists the five topics on
  // GET /dapr/subscribe; there is no declarative Subscription.
  std::vector<std::string> subscribe;
  for (const auto& t : kTopics) {
    subscribe.push_back("--subscribe");
    subscribe.push_back("pubsub/" + topicName(ns, t) + "=/events/" + t);
  }
  REQUIRE(api.apply(e2e::kDeployment, ns, kApiApp, apiDeployment(ns, seed.ledgerTopic(), subscribe)));
  std::string firstPod;
  REQUIRE(e2e::waitForPods(
      api, ns, "app=" + kApiApp, [&] { return !(firstPod = onlyApiPod(api, ns)).empty(); }, 240s));
  REQUIRE(seed.startStream());  // the API handles events: its daprd subscribed through GET /dapr/subscribe
  CHECK(askedForSubscriptions(containerLog(ns, firstPod, "api")));
  CHECK_FALSE(skippedProgrammatic(containerLog(ns, firstPod, "daprd")));

  Json& worker = seed.worker;
  const std::string name = "customer-worker";
  worker["spec"]["migrateFrom"] = {
      {"appId", kApiApp}, {"handoff", "pause"}, {"settleSeconds", 5}, {"programmaticSubscriptions", true}};
  std::string rolledPod;
  auto pause = seed.step("programmatic API, pause handoff", [&] {
    if (migrationOf(api, ns, name).value("phase", "") != "Complete") return false;
    const std::string p = onlyApiPod(api, ns);
    if (p.empty() || p == firstPod) return false;
    rolledPod = p;
    return true;
  });
  CHECK(disabledInitEndpoints(api, ns) == "subscribe");
  REQUIRE_FALSE(rolledPod.empty());
  // daprd's behaviour, not our annotation: the app of the rolled pod was never
  // asked for its subscriptions, daprd says why, and the pod got no event.
  const std::string appLog = containerLog(ns, rolledPod, "api"), daprdLog = containerLog(ns, rolledPod, "daprd");
  CHECK_FALSE(appLog.empty());
  CHECK_FALSE(askedForSubscriptions(appLog));
  CHECK(skippedProgrammatic(daprdLog));
  size_t byRolled = 0;
  for (const auto& e : seed.ledger().all()) byRolled += e.pod == rolledPod;
  CHECK(byRolled == 0);
  CHECK(pause.complete);
  CHECK(pause.byWorker > 0);

  // Rollback: the annotation goes, the pods roll back, daprd asks again and
  // the API consumes its topics again.
  worker["spec"].erase("migrateFrom");
  std::string backPod;
  auto back = seed.step("programmatic API, rollback", [&] {
    if (!migrationOf(api, ns, name).empty() || !disabledInitEndpoints(api, ns).empty()) return false;
    const std::string p = onlyApiPod(api, ns);
    if (p.empty() || p == rolledPod) return false;
    backPod = p;
    return true;
  });
  REQUIRE_FALSE(backPod.empty());
  CHECK(askedForSubscriptions(containerLog(ns, backPod, "api")));
  CHECK(back.complete);
  CHECK(back.byApi > 0);
  kubectl("delete namespace " + ns + " --wait=false");
}
