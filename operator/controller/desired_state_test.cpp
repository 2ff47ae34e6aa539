#include "controller/desired_state.h"

#include <catch2/catch.hpp>

using namespace ew::controller;

namespace {
const Json kOwner = {{"apiVersion", "eventworker.dev/v1alpha1"},
                     {"kind", "EventWorker"},
                     {"metadata", {{"name", "w"}, {"namespace", "shop"}, {"uid", "u-1"}, {"generation", 3}}}};

Json deployment(const std::string& name, bool available, int replicas, int ready, int gen = 1, int observed = 1) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", {{"name", name}, {"generation", gen}}},
          {"status",
           {{"replicas", replicas},
            {"readyReplicas", ready},
            {"observedGeneration", observed},
            {"conditions", {{{"type", "Available"}, {"status", available ? "True" : "False"}}}}}}};
}

// A StatefulSet as the API server reports it: no conditions, counts only.
Json statefulSet(const std::string& name, int available, int gen = 1, int observed = 1) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", {{"name", name}, {"generation", gen}}},
          {"spec", {{"replicas", 1}}},
          {"status",
           {{"replicas", 1},
            {"readyReplicas", available},
            {"availableReplicas", available},
            {"observedGeneration", observed}}}};
}
}  // namespace

TEST_CASE("withOwner stamps a controller reference and the name label") {
  Json cm = withOwner({{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "w-runtime"}}}}, kOwner);
  REQUIRE(cm["metadata"]["ownerReferences"].size() == 1);
  const Json& ref = cm["metadata"]["ownerReferences"][0];
  CHECK(ref["uid"] == "u-1");
  CHECK(ref["controller"] == true);
  CHECK(ref["blockOwnerDeletion"] == true);
  CHECK(ref["kind"] == "EventWorker");
  CHECK(cm["metadata"]["labels"][kNameLabel] == "w");
}

TEST_CASE("matchesLive ignores what the server added and catches every drift") {
  Json desired = {
      {"spec", {{"replicas", 2}, {"template", {{"spec", {{"containers", {{{"name", "a"}, {"image", "x"}}}}}}}}}},
      {"metadata", {{"labels", {{"l", "1"}}}, {"annotations", Json::object()}}}};
  Json live = desired;
  live["status"] = {{"replicas", 2}};
  live["metadata"]["resourceVersion"] = "9";
  live["metadata"].erase("annotations");
  live["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "IfNotPresent";
  live["spec"]["replicas"] = 2.0;
  CHECK(matchesLive(desired, live));

  Json drift = live;
  drift["spec"]["replicas"] = 3;
  CHECK_FALSE(matchesLive(desired, drift));
  drift = live;
  drift["spec"]["template"]["spec"]["containers"][0]["image"] = "y";
  CHECK_FALSE(matchesLive(desired, drift));
  drift = live;
  drift["spec"]["template"]["spec"]["containers"].push_back({{"name", "b"}});
  CHECK_FALSE(matchesLive(desired, drift));
  drift = live;
  drift["metadata"]["labels"].erase("l");
  CHECK_FALSE(matchesLive(desired, drift));
}

TEST_CASE("toPrune picks controlled objects that are no longer rendered") {
  Json sub1 =
      withOwner({{"apiVersion", "dapr.io/v2alpha1"}, {"kind", "Subscription"}, {"metadata", {{"name", "a"}}}}, kOwner);
  Json sub2 = sub1;
  sub2["metadata"]["name"] = "b";
  Json foreign = sub2;
  foreign["metadata"]["name"] = "c";
  foreign["metadata"]["ownerReferences"][0]["uid"] = "other";
  auto prune = toPrune({sub1}, {sub1, sub2, foreign}, "u-1");
  REQUIRE(prune.size() == 1);
  CHECK(prune[0]["metadata"]["name"] == "b");
}

TEST_CASE("status: Ready follows workload availability, transitions keep their time") {
  StatusInputs in;
  in.generation = 3;
  in.selector = "eventworker.dev/name=w";
  in.now = "2026-01-01T00:00:00Z";
  in.workloads = {deployment("w-events", false, 2, 1)};
  Json s1 = desiredStatus(in, Json::object());
  CHECK(s1["observedGeneration"] == 3);
  CHECK(s1["replicas"] == 2);
  CHECK(s1["readyReplicas"] == 1);
  CHECK(s1["conditions"][0]["type"] == "Ready");
  CHECK(s1["conditions"][0]["status"] == "False");
  CHECK(s1["conditions"][0]["reason"] == "DeploymentsNotAvailable");
  CHECK_THAT(s1["conditions"][0]["message"].get<std::string>(), Catch::Contains("w-events"));

  in.now = "2026-01-01T00:01:00Z";
  Json same = desiredStatus(in, s1);
  CHECK(sameStatus(same, s1));
  CHECK(same["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:00:00Z");

  in.workloads = {deployment("w-events", true, 2, 2), statefulSet("w-cron", 1)};
  Json s2 = desiredStatus(in, s1);
  CHECK(s2["conditions"][0]["status"] == "True");
  CHECK(s2["conditions"][0]["lastTransitionTime"] == "2026-01-01T00:01:00Z");
  CHECK_FALSE(sameStatus(s2, s1));

  in.workloads = {deployment("w-events", true, 2, 2, 5, 4)};  // new generation not yet observed
  CHECK(desiredStatus(in, s2)["conditions"][0]["status"] == "False");
}

TEST_CASE("status: the cron StatefulSet counts for Ready by its available replicas, not for status.replicas") {
  StatusInputs in;
  in.generation = 1;
  in.now = "t";
  in.workloads = {deployment("w-events", true, 2, 2), statefulSet("w-cron", 0)};
  Json s = desiredStatus(in, Json::object());
  CHECK(s["replicas"] == 2);
  CHECK(s["readyReplicas"] == 2);
  CHECK(s["conditions"][0]["status"] == "False");
  CHECK(s["conditions"][0]["message"] == "waiting for workloads to become available: StatefulSet w-cron");

  in.workloads = {deployment("w-events", true, 2, 2), statefulSet("w-cron", 1, 2, 1)};  // generation 2 not observed
  CHECK(desiredStatus(in, s)["conditions"][0]["status"] == "False");
  in.workloads = {deployment("w-events", true, 2, 2), statefulSet("w-cron", 1, 2, 2)};
  CHECK(desiredStatus(in, s)["conditions"][0]["status"] == "True");
  CHECK(desiredStatus(in, s)["replicas"] == 2);

  CHECK(workloadAvailable(statefulSet("w-cron", 1)));
  CHECK_FALSE(workloadAvailable(statefulSet("w-cron", 0)));
  Json noStatus = statefulSet("w-cron", 1);
  noStatus.erase("status");
  CHECK_FALSE(workloadAvailable(noStatus));
}

TEST_CASE("status: while the old cron Deployment is deleted, Ready says so and names both workloads") {
  StatusInputs in;
  in.generation = 1;
  in.now = "t";
  in.workloads = {deployment("w-events", true, 2, 2), deployment("w-cron", true, 1, 1)};
  in.replacing = {{"Deployment", "StatefulSet", "w-cron"}};
  Json s = desiredStatus(in, Json::object());
  CHECK(s["conditions"][0]["status"] == "False");
  CHECK(s["conditions"][0]["reason"] == "ReplacingWorkload");
  CHECK_THAT(s["conditions"][0]["message"].get<std::string>(),
             Catch::Contains("Deployment w-cron and its pods before StatefulSet w-cron is created"));
  CHECK(s["conditions"][1]["type"] == "Degraded");
  CHECK(s["conditions"][1]["status"] == "False");
}

TEST_CASE("predecessors: an owned workload of another kind that holds a rendered workload's name") {
  Json cronDeployment = withOwner(deployment("w-cron", true, 1, 1), kOwner);
  Json eventsDeployment = withOwner(deployment("w-events", true, 1, 1), kOwner);
  Json cronSet = withOwner(statefulSet("w-cron", 1), kOwner);
  Json foreign = cronDeployment;
  foreign["metadata"]["ownerReferences"][0]["uid"] = "other";
  // A Dapr Subscription may carry a workload's name (a subscription called "cron"): no predecessor.
  Json subscription = withOwner(
      {{"apiVersion", "dapr.io/v2alpha1"}, {"kind", "Subscription"}, {"metadata", {{"name", "w-cron"}}}}, kOwner);

  auto p = predecessors({eventsDeployment, cronSet}, {eventsDeployment, cronDeployment}, "u-1");
  REQUIRE(p.size() == 1);
  CHECK(p[0]["kind"] == "Deployment");
  CHECK(p[0]["metadata"]["name"] == "w-cron");
  // toPrune lists it too: the reconciler leaves it to the foreground deletion.
  CHECK(toPrune({eventsDeployment, cronSet}, {eventsDeployment, cronDeployment}, "u-1").size() == 1);

  CHECK(predecessors({eventsDeployment, cronSet}, {eventsDeployment, cronSet}, "u-1").empty());  // converged
  CHECK(predecessors({eventsDeployment}, {eventsDeployment, cronDeployment}, "u-1").empty());    // cron dropped: pruned
  CHECK(predecessors({eventsDeployment, cronSet}, {foreign}, "u-1").empty());                    // not ours
  CHECK(predecessors({eventsDeployment, subscription}, {cronDeployment}, "u-1").empty());
  CHECK(predecessors({eventsDeployment, cronSet}, {subscription}, "u-1").empty());
}

TEST_CASE("deletingInForeground: deleted, and kept until its dependents are gone") {
  Json d = deployment("w-cron", true, 1, 1);
  CHECK_FALSE(deletingInForeground(d));
  d["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  d["metadata"]["finalizers"] = {"example.com/other"};
  CHECK_FALSE(deletingInForeground(d));  // a background deletion held by another finalizer
  d["metadata"]["finalizers"].push_back("foregroundDeletion");
  CHECK(deletingInForeground(d));
}

TEST_CASE("status: an invalid spec is Degraded with the reason, other loops' conditions survive") {
  StatusInputs in;
  in.generation = 4;
  in.invalidReason = "spec.scaling.minReplicas: must be <= maxReplicas (5), got 7";
  in.now = "t";
  Json current = {{"conditions", {{{"type", "Migrated"}, {"status", "True"}, {"reason", "Complete"}}}}};
  Json s = desiredStatus(in, current);
  REQUIRE(s["conditions"].size() == 3);
  CHECK(s["conditions"][1]["type"] == "Degraded");
  CHECK(s["conditions"][1]["status"] == "True");
  CHECK(s["conditions"][1]["reason"] == "InvalidSpec");
  CHECK(s["conditions"][1]["message"] == *in.invalidReason);
  CHECK(s["conditions"][2]["type"] == "Migrated");
}

TEST_CASE("status: an apply failure is Degraded with its own reason") {
  StatusInputs in;
  in.generation = 2;
  in.degraded = std::make_pair(std::string("DaprNotInstalled"), std::string("install Dapr"));
  Json s = desiredStatus(in, Json::object());
  CHECK(s["conditions"][0]["status"] == "False");
  CHECK(s["conditions"][1]["reason"] == "DaprNotInstalled");
  CHECK(s["conditions"][1]["message"] == "install Dapr");
}

namespace {
Json conditionOf(const Json& status, const std::string& type) {
  for (const auto& c : status["conditions"])
    if (c["type"] == type) return c;
  return Json::object();
}
}  // namespace

TEST_CASE("status: autoscaled, the decision's figures and reason land in status and the Scaling condition") {
  StatusInputs in;
  in.generation = 1;
  in.now = "t1";
  in.scaling = StatusInputs::Scaling::Auto;
  in.eventsReplicas = 6;
  in.scaledNow = true;
  ew::autoscale::Decision d;
  d.desiredReplicas = 6;
  d.reason = ew::autoscale::Reason::Lag;
  d.message = "lag 5,120 over threshold 1,000";
  d.totalLag = 5120;
  d.lagByTopic = {{"orders", 5000}, {"refunds", 120}};
  d.stalled = {{"orders", 3}};
  in.decision = d;
  Json s = desiredStatus(in, Json::object());
  CHECK(s["desiredReplicas"] == 6);
  CHECK(s["lag"] ==
        Json({{"total", 5120}, {"byTopic", {{"orders", 5000}, {"refunds", 120}}}, {"stalledPartitions", 1}}));
  CHECK(s["lastScaleTime"] == "t1");
  CHECK(conditionOf(s, "Scaling")["status"] == "True");
  CHECK(conditionOf(s, "Scaling")["reason"] == "Lag");
  CHECK(conditionOf(s, "Degraded")["status"] == "False");

  // A failing poll keeps the last lag figures; at the threshold Degraded says why.
  in.scaledNow = false;
  in.now = "t2";
  d = {};
  d.desiredReplicas = 2;
  d.reason = ew::autoscale::Reason::Fallback;
  d.degraded = true;
  d.message = "kafka k:9092: timed out";
  in.decision = d;
  Json s2 = desiredStatus(in, s);
  CHECK(s2["lag"]["total"] == 5120);
  CHECK(s2["lastScaleTime"] == "t1");
  CHECK(conditionOf(s2, "Scaling")["status"] == "False");
  CHECK(conditionOf(s2, "Scaling")["reason"] == "Fallback");
  CHECK(conditionOf(s2, "Degraded")["status"] == "True");
  CHECK(conditionOf(s2, "Degraded")["reason"] == "LagUnavailable");
  CHECK(conditionOf(s2, "Degraded")["message"] == "kafka k:9092: timed out");
}

TEST_CASE("status: a detected burst period lands in status.burstPeriodSeconds, and leaves with it") {
  StatusInputs in;
  in.generation = 1;
  in.now = "t1";
  in.scaling = StatusInputs::Scaling::Auto;
  in.eventsReplicas = 12;
  ew::autoscale::Decision d;
  d.desiredReplicas = 12;
  d.reason = ew::autoscale::Reason::Predicted;
  d.message = "a burst that recurs every 300 s is due in 20 s: 12 replicas for 800.0 msg/s";
  d.burstPeriodSeconds = 300;
  in.decision = d;
  Json s = desiredStatus(in, Json::object());
  CHECK(s["burstPeriodSeconds"] == 300);
  CHECK(conditionOf(s, "Scaling")["reason"] == "Predicted");
  d.burstPeriodSeconds.reset();
  d.reason = ew::autoscale::Reason::DrainTime;
  in.decision = d;
  CHECK_FALSE(desiredStatus(in, s).contains("burstPeriodSeconds"));
  in.scaling = StatusInputs::Scaling::Manual;
  in.decision.reset();
  CHECK_FALSE(desiredStatus(in, s).contains("burstPeriodSeconds"));
}

TEST_CASE("status: scaling off says so, before the first poll Scaling is pending, no events Deployment drops it") {
  StatusInputs in;
  in.scaling = StatusInputs::Scaling::Manual;
  in.eventsReplicas = 4;
  Json s = desiredStatus(in, {{"lag", {{"total", 9}}}, {"desiredReplicas", 3}});
  CHECK_FALSE(s.contains("lag"));
  CHECK(s["desiredReplicas"] == 4);
  CHECK(conditionOf(s, "Scaling")["reason"] == "Disabled");
  in.scaling = StatusInputs::Scaling::Auto;
  s = desiredStatus(in, s);
  CHECK(conditionOf(s, "Scaling")["reason"] == "Pending");
  in.scaling = StatusInputs::Scaling::None;
  s = desiredStatus(in, s);
  CHECK(conditionOf(s, "Scaling").empty());
  CHECK_FALSE(s.contains("desiredReplicas"));
}

TEST_CASE(
    "status: a managed migration's record and Migrated condition land in status, its problem is Degraded "
    "MigrationBlocked unless a pod's failure is worse, and an ended one leaves nothing behind") {
  StatusInputs in;
  in.generation = 2;
  in.now = "t1";
  in.workloads = {deployment("w-events", true, 1, 1)};
  in.migrationManaged = true;
  in.migration = {{"appId", "api"}, {"phase", "Paused"}};
  in.migrated = StatusInputs::Migrated{false, "Paused", "waiting for the API group to stop committing"};
  in.migrationProblem = "Subscription api-orders is scoped to no app";
  Json s = desiredStatus(in, {{"conditions", {{{"type", "Migrated"}, {"status", "True"}, {"reason", "Old"}}}}});
  CHECK(s["migration"] == in.migration);
  CHECK(conditionOf(s, "Migrated")["reason"] == "Paused");
  CHECK(std::count_if(s["conditions"].begin(), s["conditions"].end(),
                      [](const Json& c) { return c["type"] == "Migrated"; }) == 1);
  CHECK(conditionOf(s, "Degraded")["reason"] == "MigrationBlocked");
  CHECK(conditionOf(s, "Ready")["status"] == "True");

  in.pods = {PodProblem{"w-events-1", "handler", "CrashLoopBackOff", "back-off restarting", true}};
  CHECK(conditionOf(desiredStatus(in, s), "Degraded")["reason"] == "CrashLoopBackOff");

  in.pods.clear();
  in.migration = Json();
  in.migrated.reset();
  in.migrationProblem.reset();
  s = desiredStatus(in, s);
  CHECK_FALSE(s.contains("migration"));
  CHECK(conditionOf(s, "Migrated").empty());
  CHECK(conditionOf(s, "Degraded")["status"] == "False");
}

TEST_CASE("change fingerprints ignore what a reconcile does not read") {
  Json d = {
      {"kind", "Deployment"},
      {"metadata", {{"name", "w-events"}, {"generation", 1}, {"resourceVersion", "10"}, {"labels", {{"a", "b"}}}}},
      {"status",
       {{"replicas", 1}, {"conditions", {{{"type", "Available"}, {"status", "False"}, {"lastUpdateTime", "t1"}}}}}}};
  const std::string base = changeFingerprint(d);
  Json bumped = d;
  bumped["metadata"]["resourceVersion"] = "11";
  bumped["status"]["conditions"][0]["lastUpdateTime"] = "t2";
  CHECK(changeFingerprint(bumped) == base);
  Json available = d;
  available["status"]["conditions"][0]["status"] = "True";
  CHECK(changeFingerprint(available) != base);
  Json edited = d;
  edited["metadata"]["generation"] = 2;
  CHECK(changeFingerprint(edited) != base);
  Json relabelled = d;
  relabelled["metadata"]["labels"]["a"] = "c";
  CHECK(changeFingerprint(relabelled) != base);

  Json cm = {{"kind", "ConfigMap"}, {"metadata", {{"name", "w-runtime"}}}, {"data", {{"k", "1"}}}};
  Json cm2 = cm;
  cm2["data"]["k"] = "2";
  CHECK(changeFingerprint(cm2) != changeFingerprint(cm));

  Json ew = {{"kind", "EventWorker"}, {"metadata", {{"name", "w"}, {"generation", 3}}}, {"status", {{"replicas", 1}}}};
  Json ewStatus = ew;
  ewStatus["status"]["replicas"] = 2;
  CHECK(changeFingerprint(ewStatus) == changeFingerprint(ew));
  Json ewDeleted = ew;
  ewDeleted["metadata"]["deletionTimestamp"] = "2026-11-23T00:00:00Z";
  CHECK(changeFingerprint(ewDeleted) != changeFingerprint(ew));
}
