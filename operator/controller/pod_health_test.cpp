#include "controller/pod_health.h"

#include <catch2/catch.hpp>

#include "controller/desired_state.h"

using namespace ew::controller;
using Json = nlohmann::json;

namespace {
// Pods as kubelet v1.34 reports them (shapes taken from the node's pods in
// tests/e2e/worker_failures_e2e_test.cpp runs), with the fields the
// operator drops in slimPod() too.
Json pod(const std::string& name, Json containerStatuses, Json conditions = Json::array()) {
  return {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name},
        {"namespace", "shop"},
        {"uid", "uid-" + name},
        {"labels", {{"eventworker.dev/name", "w"}, {"eventworker.dev/component", "events"}}},
        {"managedFields", Json::array({{{"manager", "kubelet"}}})},
        {"ownerReferences", Json::array({{{"kind", "ReplicaSet"}, {"name", "w-events-5d9f"}}})}}},
      {"spec", {{"containers", Json::array({{{"name", "runtime"}, {"image", "localhost/eventworker/runtime:dev"}}})}}},
      {"status",
       {{"phase", "Pending"},
        {"podIP", "10.244.0.7"},
        {"conditions", conditions},
        {"containerStatuses", containerStatuses}}}};
}

Json running(const std::string& name) {
  return {{"name", name},
          {"ready", true},
          {"restartCount", 0},
          {"image", "x"},
          {"state", {{"running", {{"startedAt", "2026-12-06T02:00:00Z"}}}}}};
}

Json waiting(const std::string& name, const std::string& reason, const std::string& message, int restarts = 0,
             Json lastTerminated = nullptr) {
  Json c = {{"name", name},
            {"ready", false},
            {"restartCount", restarts},
            {"image", "x"},
            {"state", {{"waiting", {{"reason", reason}, {"message", message}}}}}};
  c["lastState"] = lastTerminated.is_null() ? Json::object() : Json{{"terminated", lastTerminated}};
  return c;
}

const Json kExit1 = {
    {"exitCode", 1}, {"reason", "Error"}, {"startedAt", "a"}, {"finishedAt", "b"}, {"containerID", "containerd://abc"}};
}  // namespace

TEST_CASE("podProblem: a missing image is a failing container, named with the kubelet's reason and message") {
  Json p = pod("w-events-1",
               Json::array({running("runtime"), waiting("handler", "ImagePullBackOff",
                                                        "Back-off pulling image \"localhost/handler:missing\"")}));
  auto problem = podProblem(p);
  REQUIRE(problem);
  CHECK(problem->pod == "w-events-1");
  CHECK(problem->container == "handler");
  CHECK(problem->reason == "ImagePullBackOff");
  CHECK(problem->failing);
  CHECK(describe({*problem}) ==
        "pod w-events-1: container handler: ImagePullBackOff: Back-off pulling image \"localhost/handler:missing\"");
  // The same from what the operator keeps of the pod.
  auto slim = podProblem(slimPod(p));
  REQUIRE(slim);
  CHECK(describe({*slim}) == describe({*problem}));
}

TEST_CASE("podProblem: a crash loop says the last exit, not the kubelet's changing back-off text") {
  Json p =
      pod("w-events-2",
          Json::array({waiting("handler", "CrashLoopBackOff",
                               "back-off 10s restarting failed container=handler pod=w-events-2_shop(u)", 1, kExit1),
                       running("runtime")}));
  auto first = podProblem(p);
  REQUIRE(first);
  CHECK(first->reason == "CrashLoopBackOff");
  CHECK(first->message == "the container keeps exiting; last exit: Error, code 1");
  p["status"]["containerStatuses"][0] =
      waiting("handler", "CrashLoopBackOff", "back-off 40s restarting failed container=handler pod=w-events-2_shop(u)",
              3, kExit1);
  // What the controller compares to decide whether to reconcile: the same at every back-off step.
  CHECK(describe({*podProblem(slimPod(p))}) ==
        describe({*podProblem(
            pod("w-events-2", Json::array({waiting("handler", "CrashLoopBackOff", "other", 1, kExit1)})))}));
  p["status"]["containerStatuses"][0] =
      waiting("handler", "CrashLoopBackOff", "", 4, {{"exitCode", 137}, {"reason", "OOMKilled"}});
  CHECK(podProblem(p)->message == "the container keeps exiting; last exit: OOMKilled, code 137");
}

TEST_CASE("podProblem: starting, running and terminating pods have none") {
  CHECK_FALSE(podProblem(pod("a", Json::array({running("runtime"), running("handler")}))));
  CHECK_FALSE(podProblem(pod("b", Json::array({waiting("runtime", "ContainerCreating", "")}))));
  CHECK_FALSE(podProblem(pod("c", Json::array())));
  Json gone = pod("d", Json::array({waiting("handler", "CrashLoopBackOff", "", 2, kExit1)}));
  gone["metadata"]["deletionTimestamp"] = "2026-12-06T02:00:00Z";
  CHECK_FALSE(podProblem(gone));
  CHECK_FALSE(podProblem(slimPod(gone)));
}

TEST_CASE("podProblem: an init container's failure counts, and an unschedulable pod is waiting, not failing") {
  Json p = pod("w-events-3", Json::array({waiting("runtime", "PodInitializing", "")}));
  p["status"]["initContainerStatuses"] =
      Json::array({waiting("setup", "CreateContainerConfigError", "secret \"kafka-creds\" not found")});
  auto problem = podProblem(slimPod(p));
  REQUIRE(problem);
  CHECK(problem->container == "setup");
  CHECK(problem->reason == "CreateContainerConfigError");
  CHECK(problem->message == "secret \"kafka-creds\" not found");

  Json unscheduled = pod("w-events-4", Json::array(),
                         Json::array({{{"type", "PodScheduled"},
                                       {"status", "False"},
                                       {"reason", "Unschedulable"},
                                       {"message", "0/1 nodes are available: 1 Insufficient cpu."}}}));
  auto u = podProblem(slimPod(unscheduled));
  REQUIRE(u);
  CHECK_FALSE(u->failing);
  CHECK(describe({*u}) == "pod w-events-4: Unschedulable: 0/1 nodes are available: 1 Insufficient cpu.");
}

TEST_CASE("slimPod keeps what the operator reads and drops the rest") {
  Json p = pod("w-events-5", Json::array({waiting("handler", "ErrImagePull", std::string(1000, 'x'))}));
  Json s = slimPod(p);
  CHECK_FALSE(s["metadata"].contains("managedFields"));
  CHECK_FALSE(s["metadata"].contains("ownerReferences"));
  CHECK_FALSE(s.contains("spec"));
  CHECK(s["status"]["podIP"] == "10.244.0.7");
  CHECK(s["metadata"]["labels"]["eventworker.dev/name"] == "w");
  CHECK(s["kind"] == "Pod");
  // Long messages are cut, whatever the kubelet wrote.
  CHECK(podProblem(s)->message.size() <= 240);
  CHECK(s.dump().size() < p.dump().size());
}

TEST_CASE("podProblems: failing pods first, then by name, and describe says how many more") {
  std::vector<Json> pods = {
      pod("w-events-c", Json::array({waiting("handler", "CrashLoopBackOff", "", 1, kExit1)})),
      pod("w-events-a", Json::array(),
          Json::array(
              {{{"type", "PodScheduled"}, {"status", "False"}, {"reason", "Unschedulable"}, {"message", "m"}}})),
      pod("w-events-b", Json::array({waiting("handler", "CrashLoopBackOff", "", 1, kExit1)})),
      pod("w-events-d", Json::array({running("handler")})),
      pod("w-events-e", Json::array({waiting("handler", "ImagePullBackOff", "")})),
  };
  auto problems = podProblems(pods);
  REQUIRE(problems.size() == 4);
  CHECK(problems[0].pod == "w-events-b");
  CHECK(problems[1].pod == "w-events-c");
  CHECK(problems[2].pod == "w-events-e");
  CHECK(problems[3].pod == "w-events-a");
  const std::string text = describe(problems, 2);
  CHECK_THAT(text, Catch::StartsWith("pod w-events-b: container handler: CrashLoopBackOff"));
  CHECK_THAT(text, Catch::EndsWith("; and 2 more pods"));
}

TEST_CASE("status: a failing pod makes the worker Degraded with its reason, Ready's message names it") {
  StatusInputs in;
  in.generation = 1;
  in.now = "t";
  in.workloads = {{{"apiVersion", "apps/v1"},
                   {"kind", "Deployment"},
                   {"metadata", {{"name", "w-events"}, {"generation", 1}}},
                   {"status",
                    {{"observedGeneration", 1},
                     {"replicas", 1},
                     {"readyReplicas", 0},
                     {"conditions", {{{"type", "Available"}, {"status", "False"}}}}}}}};
  in.pods = podProblems({pod("w-events-1", Json::array({waiting("handler", "ImagePullBackOff", "Back-off")}))});
  Json s = desiredStatus(in, Json::object());
  const auto cond = [&](const std::string& type) {
    for (const auto& c : s["conditions"])
      if (c["type"] == type) return c;
    return Json();
  };
  CHECK(cond("Ready")["status"] == "False");
  CHECK(cond("Ready")["reason"] == "DeploymentsNotAvailable");
  CHECK(cond("Ready")["message"] ==
        "waiting for workloads to become available: Deployment w-events (pod w-events-1: container handler: "
        "ImagePullBackOff: Back-off)");
  CHECK(cond("Degraded")["status"] == "True");
  CHECK(cond("Degraded")["reason"] == "ImagePullBackOff");
  CHECK(cond("Degraded")["message"] == "pod w-events-1: container handler: ImagePullBackOff: Back-off");

  // It outranks a lag poll failure, and an invalid spec outranks it.
  in.scaling = StatusInputs::Scaling::Auto;
  ew::autoscale::Decision d;
  d.reason = ew::autoscale::Reason::Fallback;
  d.degraded = true;
  d.message = "brokers unreachable";
  in.decision = d;
  s = desiredStatus(in, Json::object());
  CHECK(cond("Degraded")["reason"] == "ImagePullBackOff");
  in.invalidReason = "spec.x: bad";
  s = desiredStatus(in, Json::object());
  CHECK(cond("Degraded")["reason"] == "InvalidSpec");
  in.invalidReason.reset();

  // An unschedulable pod is only waiting: named in Ready, not Degraded.
  in.decision.reset();
  in.scaling = StatusInputs::Scaling::None;
  in.pods = podProblems({pod(
      "w-events-1", Json::array(),
      Json::array(
          {{{"type", "PodScheduled"}, {"status", "False"}, {"reason", "Unschedulable"}, {"message", "no nodes"}}}))});
  s = desiredStatus(in, Json::object());
  CHECK(cond("Degraded")["status"] == "False");
  CHECK_THAT(cond("Ready")["message"].get<std::string>(), Catch::EndsWith("(pod w-events-1: Unschedulable: no nodes)"));

  // Fixed: the pods say nothing and the condition goes back.
  in.pods.clear();
  s = desiredStatus(in, s);
  CHECK(cond("Degraded")["reason"] == "AsExpected");
}
