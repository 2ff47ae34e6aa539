// The autoscaler while the broker is down (hack/server-restart.sh): after the
// failure threshold the fallback replicas hold and Degraded says why; nothing
// scales to zero; when the broker is back, scaling resumes and Degraded
// clears. SERIAL: nothing else may use the broker meanwhile.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <thread>

#include "controller/kafka_lag.h"
#include "kafka/lag_reader.h"
#include "operator_fixture.h"
#include "runtime_harness.h"

using namespace ew;
using namespace ew::testing;
using namespace std::chrono_literals;
using kube::Json;
namespace resources = kube::resources;

TEST_CASE("broker down: the fallback holds and Degraded is set, never zero, then broker back: Degraded clears") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "as-outage");
  rttest::Kafka kafka;
  const std::string topic = uniqueName("outage"), group = uniqueName("outage-grp");
  kafka.createTopic(topic, 6);
  RunningController rc(ns, false, controller::lagReadFn(std::make_shared<autoscale::LagReaderPool>(1500ms)));
  Json ew = eventWorker("outage", "registry.local/customer:1.0", /*cron=*/false);
  ew["spec"]["source"] = {{"kafka", {{"brokers", {kafka.bootstrap()}}, {"consumerGroup", group}}}};
  ew["spec"]["subscriptions"] = {{{"name", "orders"}, {"topic", topic}, {"route", "/events/orders"}}};
  ew["spec"]["scaling"] = {{"minReplicas", 0},
                           {"maxReplicas", 6},
                           {"pollIntervalSeconds", 1},
                           {"cooldownSeconds", 600},
                           {"fallback", {{"failureThreshold", 2}, {"replicas", 3}}}};
  ew["spec"]["replicas"] = 1;
  REQUIRE(user.apply(resources::kEventWorker, ns, "outage", ew));
  // The first status: at once when the pods report a problem (the node:
  // the image cannot be pulled), else kFirstStatusWait after
  // kube-controller-manager observed the Deployment.
  const bool scaling = eventually(
      [&] { return conditionOf(user, ns, "outage", "Scaling").value("status", "") == "True"; }, kFirstStatusBound);
  INFO("status: " << get(user, resources::kEventWorker, ns, "outage")
                         .value_or(Json::object())
                         .value("status", Json::object())
                         .dump());
  REQUIRE(scaling);
  REQUIRE(replicasOf(user, ns, "outage-events") == 1);

  std::atomic<bool> restarted{false};
  int restartRc = -1;
  std::thread outage([&] {
    const std::string cmd =
        "bash " EW_SOURCE_DIR "/hack/server-restart.sh " + serverEnv("EW_STATE_DIR") + " kafka 20 kill >&2";
    restartRc = std::system(cmd.c_str());
    restarted = true;
  });
  struct Join {
    std::thread& t;
    ~Join() { t.join(); }
  } join{outage};

  bool sawFallback = false, sawZero = false;
  Json degraded;
  while (!restarted) {
    const auto r = replicasOf(user, ns, "outage-events");
    if (r == 0) sawZero = true;
    degraded = conditionOf(user, ns, "outage", "Degraded");
    if (r == 3 && degraded.value("status", "") == "True" && degraded.value("reason", "") == "LagUnavailable" &&
        conditionOf(user, ns, "outage", "Scaling").value("reason", "") == "Fallback")
      sawFallback = true;
    std::this_thread::sleep_for(200ms);
  }
  REQUIRE(restartRc == 0);
  INFO("last Degraded condition seen: " << degraded.dump());
  CHECK(sawFallback);
  CHECK_FALSE(sawZero);

  // Back: the next successful poll clears Degraded and sizes from lag again.
  REQUIRE(eventually([&] { return conditionOf(user, ns, "outage", "Degraded").value("status", "") == "False"; }, 60s));
  CHECK(conditionOf(user, ns, "outage", "Scaling").value("status", "") == "True");
}
