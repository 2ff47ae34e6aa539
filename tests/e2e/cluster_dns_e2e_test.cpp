// The node's cluster DNS (CoreDNS, hack/node/coredns.yaml): pods resolve
// Service names. The proof is a worker that knows the broker only by the name
// of a selector-less Service (an EndpointSlice to the broker's pod listener):
// its runtime by the fully qualified name, its handler by the short name (the
// namespace's search path). Nothing else in a pod can resolve either name.
#include <catch2/catch.hpp>

#include <iostream>

#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"

using namespace ew;
using ew::testing::eventually;
using ew::testing::kubectl;
using kube::Json;
using namespace std::chrono_literals;

TEST_CASE(
    "pods resolve Service names through the cluster DNS: a worker reaches the broker by a Service's fully "
    "qualified name (runtime) and short name (handler) alone") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-dns");

  // "broker" -> the broker's pod listener (10.244.0.1:PORT), through kube-proxy.
  const std::string pod = e2e::podBootstrap();
  const std::string ip = pod.substr(0, pod.rfind(':'));
  const int port = std::stoi(pod.substr(pod.rfind(':') + 1));
  const Json service = {{"apiVersion", "v1"},
                        {"kind", "Service"},
                        {"metadata", {{"name", "broker"}, {"namespace", ns}}},
                        {"spec", {{"ports", {{{"name", "kafka"}, {"port", 9092}, {"targetPort", port}}}}}}};
  const Json slice = {
      {"apiVersion", "discovery.k8s.io/v1"},
      {"kind", "EndpointSlice"},
      {"metadata", {{"name", "broker-1"}, {"namespace", ns}, {"labels", {{"kubernetes.io/service-name", "broker"}}}}},
      {"addressType", "IPv4"},
      {"endpoints", {{{"addresses", {ip}}, {"conditions", {{"ready", true}}}}}},
      {"ports", {{{"name", "kafka"}, {"port", port}, {"protocol", "TCP"}}}}};
  REQUIRE(api.apply(kube::resources::kService, ns, "broker", service));
  REQUIRE(api.apply(e2e::kEndpointSlice, ns, "broker-1", slice));

  e2e::WorkerSpec w = e2e::namedWorker(ns, "dns-worker");
  w.autoscale = false;
  w.bootstrap = "broker." + ns + ".svc.cluster.local:9092";
  kafka.createTopic(w.topic, 2);
  kafka.createTopic(w.ledgerTopic, 1);
  Json object = e2e::workerObject(w);
  auto& args = object["spec"]["handler"]["args"];
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == "--kafka-bootstrap") args[i + 1] = "broker:9092";
  const double t0 = e2e::nowSeconds();
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, object));
  const std::string events = e2e::podSelector(w, "events");
  REQUIRE(e2e::waitForPods(
      api, ns, events, [&] { return e2e::readyPods(api, ns, events) == 1; }, 180s));
  std::cout << "[figure] EventWorker applied -> events pod Ready (broker by Service name): " << e2e::nowSeconds() - t0
            << " s\n";

  for (int i = 0; i < 200; ++i) kafka.produce(w.topic, "k" + std::to_string(i % 5), rttest::payload("k", i));
  kafka.flush();
  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.distinct() == 200;
      },
      120s));
  CHECK(ledger.distinct() == 200);
  kubectl("delete namespace " + ns + " --wait=false");
}
