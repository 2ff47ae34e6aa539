// The streams Deployment scaled on connected clients, against the real
// servers: the operator's controller (in this process) reads the streams
// pods' /status over HTTP and writes the Deployment's replicas and
// status.streams to the real kube-apiserver. Where a pod would run, the test
// starts the real runtime binary in --mode streams on loopback and real SSE
// clients connect to it; the Pod object (there is no kubelet) carries its
// address (status.podIP 127.0.0.1, spec.runtime.metricsPort its ops port).
#include <catch2/catch.hpp>

#include <csignal>
#include <memory>
#include <thread>

#include "controller/pod_status.h"
#include "operator_fixture.h"
#include "runtime_harness.h"
#include "sse_client.h"

using namespace ew;
using namespace ew::testing;
using namespace std::chrono_literals;
using kube::Json;
namespace resources = kube::resources;

namespace {

Json streamsWorker(const std::string& name, const std::string& brokers, const std::string& topic, int metricsPort) {
  return {{"apiVersion", "eventworker.dev/v1alpha1"},
          {"kind", "EventWorker"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"service", "shop"},
            {"handler", {{"image", "registry.local/shop:1.0"}, {"port", 8080}}},
            {"runtime", {{"metricsPort", metricsPort}}},
            {"source", {{"kafka", {{"brokers", {brokers}}}}}},
            {"streams", {{{"name", "orders"}, {"topics", {topic}}, {"path", "/orders"}}}},
            {"streamsScaling",
             {{"minReplicas", 1},
              {"maxReplicas", 5},
              {"targetClientsPerReplica", 4},
              {"scaleDownStabilizationSeconds", 0}}}}}};
}

// A Pod object of the streams component whose status says it runs at 127.0.0.1.
void createStreamsPod(kube::KubeApi& api, const std::string& ns, const std::string& worker, const std::string& name) {
  const Json pod = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name}, {"labels", {{"eventworker.dev/name", worker}, {"eventworker.dev/component", "streams"}}}}},
      {"spec", {{"containers", {{{"name", "runtime"}, {"image", "registry.local/eventworker-runtime:dev"}}}}}}};
  REQUIRE(api.apply(resources::kPod, ns, name, pod));
  const Json status = {{"apiVersion", "v1"},
                       {"kind", "Pod"},
                       {"metadata", {{"name", name}}},
                       {"status", {{"phase", "Running"}, {"podIP", "127.0.0.1"}, {"podIPs", {{{"ip", "127.0.0.1"}}}}}}};
  REQUIRE(api.apply(resources::kPod, ns, name, status, /*status=*/true));
}

// The value of SERIES (name{labels}) on the operator's metrics, nullopt when absent.
std::optional<double> metric(const MetricsRegistry& metrics, const std::string& series) {
  const std::string text = metrics.render();
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + series.size() + 2));
}

Json streamsStatus(kube::KubeApi& api, const std::string& ns, const std::string& name) {
  auto ew = get(api, resources::kEventWorker, ns, name);
  if (!ew) return Json::object();
  return (*ew).value("status", Json::object()).value("streams", Json::object());
}

}  // namespace

TEST_CASE(
    "the operator scales the streams Deployment on the clients its pods count: up at once, down past the deadband, "
    "held when the pod cannot be read") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "streams-scale");
  rttest::Kafka kafka;
  const std::string topic = uniqueName("streams-scale");
  kafka.createTopic(topic, 2);
  rttest::ConfigSpec spec;
  spec.mode = "streams";
  spec.group = "unused";
  spec.streams = "[{name: orders, topics: [" + topic +
                 "], path: /orders, heartbeatInterval: 1s}]";  // a gone client is seen at the next heartbeat
  rttest::RuntimeProcess rt("streams-scale", spec);
  REQUIRE(eventually([&] { return rttest::httpGet(rt.opsPort(), "/readyz").find("200") != std::string::npos; }, 30s));

  RunningController rc(ns, false, {}, {}, controller::httpPodStatusReader(2s));
  REQUIRE(
      user.apply(resources::kEventWorker, ns, "shop", streamsWorker("shop", kafka.bootstrap(), topic, rt.opsPort())));
  REQUIRE(eventually([&] { return replicasOf(user, ns, "shop-streams") == 1; }));
  createStreamsPod(user, ns, "shop", "shop-streams-0");

  // Ten clients at four per replica: three replicas, at once.
  std::vector<std::unique_ptr<rttest::SseClient>> clients;
  for (int i = 0; i < 10; ++i) {
    clients.push_back(std::make_unique<rttest::SseClient>(rt.streamsPort(), "/orders"));
    REQUIRE(clients.back()->status() == 200);
  }
  REQUIRE(eventually([&] { return replicasOf(user, ns, "shop-streams") == 3; }, 30s));
  REQUIRE(eventually([&] { return streamsStatus(user, ns, "shop").value("clients", -1) == 10; }, 30s));
  Json s = streamsStatus(user, ns, "shop");
  CHECK(s["reason"] == "Clients");
  CHECK(s["desiredReplicas"] == 3);
  CHECK(s["podsRead"] == 1);
  CHECK(s["message"] == "10 clients on 1 pod, target 4 per replica: 3 replicas");
  // The operator's metrics say the same.
  const std::string shop = "{name=\"shop\",namespace=\"" + ns + "\"}";
  const auto scaleEvents = [&](const std::string& reason) {
    return metric(rc.metrics, "eventworker_streams_scale_events_total{name=\"shop\",namespace=\"" + ns +
                                  "\",reason=\"" + reason + "\"}");
  };
  CHECK(metric(rc.metrics, "eventworker_streams_clients" + shop) == 10);
  CHECK(metric(rc.metrics, "eventworker_streams_pods_read" + shop) == 1);
  CHECK(metric(rc.metrics, "eventworker_streams_desired_replicas" + shop) == 3);
  // 1 -> 3, in one step or two (a poll may count the clients while they connect).
  const auto allScaleEvents = [&] {
    double n = 0;
    for (const char* reason : {"Clients", "Bounds", "Stabilizing", "PartialRead", "Unreadable"})
      n += scaleEvents(reason).value_or(0);
    return n;
  };
  CHECK(scaleEvents("Clients") >= 1);
  const double up = allScaleEvents();
  CHECK(up <= 2);

  // Six leave: four fit one replica at 100%, but two stay (the smaller group
  // must run at most 90% of its target).
  clients.resize(4);
  REQUIRE(eventually([&] { return replicasOf(user, ns, "shop-streams") == 2; }, 30s));
  REQUIRE(eventually([&] { return streamsStatus(user, ns, "shop").value("clients", -1) == 4; }, 30s));
  CHECK(streamsStatus(user, ns, "shop")["reason"] == "Stabilizing");
  CHECK(metric(rc.metrics, "eventworker_streams_desired_replicas" + shop) == 2);
  CHECK(allScaleEvents() == up + 1);  // 3 -> 2 (by Stabilizing, or by Clients while the six were leaving)

  // The pod stops answering: the count is held (never scaled on a failed read).
  rt.signal(SIGKILL);
  rt.wait(10s);
  REQUIRE(eventually([&] { return streamsStatus(user, ns, "shop").value("reason", "") == "Unreadable"; }, 30s));
  CHECK(streamsStatus(user, ns, "shop")["message"] == "no streams pod answered (1 asked): holding 2 replicas");
  std::this_thread::sleep_for(12s);  // two more polls
  CHECK(replicasOf(user, ns, "shop-streams") == 2);
  CHECK(metric(rc.metrics, "eventworker_streams_pods_read" + shop) == 0);
  CHECK(allScaleEvents() == up + 1);  // held: no scale event
  CHECK_FALSE(scaleEvents("Unreadable"));

  // Deleted: the worker's series go with it.
  REQUIRE(user.remove(resources::kEventWorker, ns, "shop").ok());
  CHECK(eventually([&] { return rc.metrics.render().find("name=\"shop\",namespace=\"" + ns) == std::string::npos; },
                   30s));
}
