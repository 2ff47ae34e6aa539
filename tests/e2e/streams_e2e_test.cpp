// The SSE gateway on the real node: an EventWorker with spec.streams, the
// <name>-streams Deployment and Service the operator renders, their pods run
// by the kubelet reading the test broker over its pod listener. The client is
// on the host and reaches the pods on the node's bridge at the addresses the
// Service's EndpointSlice lists (as kube-proxy would pick one; the host does
// not route the Service's ClusterIP, and a packet for it must not leave
// through the machine's uplink). When the pod it reads is deleted, the client
// is told to reconnect and resumes on the other pod with its Last-Event-ID:
// every event once, none missing, also those produced while it was away.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <set>

#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"
#include "sse_client.h"
#include "test_env.h"

using namespace ew;
using ew::testing::kubectl;
using kube::Json;
using namespace std::chrono_literals;

namespace {

struct Endpoint {
  std::string ip;
  std::string pod;
};

// The ready, not terminating endpoints of SERVICE and the port named PORT_NAME
// (0 when no slice lists it yet).
std::vector<Endpoint> readyEndpoints(kube::KubeApi& api, const std::string& ns, const std::string& service,
                                     const std::string& portName, int* port) {
  kube::ListOptions o;
  o.labelSelector = "kubernetes.io/service-name=" + service;
  auto slices = api.list(e2e::kEndpointSlice, ns, o);
  std::vector<Endpoint> out;
  *port = 0;
  if (!slices) return out;
  for (const auto& s : (*slices)["items"]) {
    for (const auto& p : s.value("ports", Json::array()))
      if (p.value("name", "") == portName) *port = p.value("port", 0);
    for (const auto& e : s.value("endpoints", Json::array())) {
      const Json c = e.value("conditions", Json::object()), addresses = e.value("addresses", Json::array());
      if (!c.value("ready", false) || c.value("terminating", false) || addresses.empty()) continue;
      out.push_back({addresses[0].get<std::string>(), e.value("targetRef", Json::object()).value("name", "")});
    }
  }
  return out;
}

// The test payload's seq and the record's (partition, offset) of an event of
// a stream exposing data, partition and offset.
struct Seen {
  int64_t seq;
  std::pair<int, int64_t> at;
};
Seen seen(const rttest::SseEvent& e) {
  const auto d = nlohmann::json::parse(e.data);
  return {d.at("data").at("seq").get<int64_t>(), {d.at("partition").get<int>(), d.at("offset").get<int64_t>()}};
}

void produce(rttest::Kafka& kafka, const std::string& topic, int from, int to) {
  for (int i = from; i < to; ++i) {
    const std::string key = "k" + std::to_string(i % 7);
    kafka.produce(topic, key, rttest::cloudEvent("e-" + std::to_string(i), key, i));
  }
  kafka.flush();
}

}  // namespace

TEST_CASE(
    "an EventWorker's streams pods on the node fan a topic out over SSE, and a client whose pod is deleted resumes "
    "on the other pod with its Last-Event-ID: no gap, no duplicate") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-streams");
  const std::string name = "shop", service = name + "-streams", path = "/streams/orders";
  const std::string topic = ns + ".orders";
  kafka.createTopic(topic, 3);
  Json ew = e2e::runtimeOnlyWorker(ns, name);
  ew["spec"]["streams"] = Json::array({{{"name", "orders"},
                                        {"topics", {topic}},
                                        {"path", path},
                                        {"fields", {"id", "data", "partition", "offset"}},
                                        {"heartbeatInterval", "1s"},
                                        {"reconnectDelay", "500ms"}}});
  const double t0 = e2e::nowSeconds();
  REQUIRE(api.apply(e2e::kEventWorker, ns, name, ew));

  const std::string pods = "eventworker.dev/name=" + name + ",eventworker.dev/component=streams";
  REQUIRE(e2e::waitForPods(
      api, ns, pods, [&] { return e2e::readyPods(api, ns, pods) == 2; }, 180s));
  std::cout << "[figure] EventWorker applied -> both streams pods Ready: " << e2e::nowSeconds() - t0 << " s\n";
  int port = 0;
  std::vector<Endpoint> endpoints;
  REQUIRE(e2e::waitForPods(
      api, ns, pods,
      [&] {
        endpoints = readyEndpoints(api, ns, service, "sse", &port);
        return endpoints.size() == 2 && port > 0;
      },
      60s));
  const Endpoint first = endpoints[0];
  INFO("first pod " << first.pod << " at " << first.ip << ":" << port);

  // A client on the first pod gets what is produced after it connected.
  rttest::SseClient client(first.ip, port, path);
  REQUIRE(client.status() == 200);
  produce(kafka, topic, 0, 300);
  std::vector<rttest::SseEvent> before = client.take(150, 30s);
  REQUIRE(before.size() == 150);
  for (const auto& e : before) CHECK(e.event.empty());
  CHECK(client.retryHint() == 500);

  // Its pod goes away (the kubelet's SIGTERM): the client is told to
  // reconnect.
  const double deletedAt = e2e::nowSeconds();
  REQUIRE(api.remove(kube::resources::kPod, ns, first.pod));
  bool toldToReconnect = false;
  while (auto e = client.next(20s)) {
    if (e->event == "ew-reconnect")
      toldToReconnect = true;
    else if (e->event.empty())
      before.push_back(*e);
  }
  CHECK(toldToReconnect);
  CHECK(client.ended());
  REQUIRE(before.size() <= 300);  // the rest of what it had not been sent yet comes from the other pod
  // More events while it is away.
  produce(kafka, topic, 300, 500);

  // It reconnects with its Last-Event-ID to another endpoint of the Service.
  Endpoint other;
  REQUIRE(e2e::waitForPods(
      api, ns, pods,
      [&] {
        for (const auto& e : readyEndpoints(api, ns, service, "sse", &port))
          if (e.pod != first.pod) other = e;
        return !other.pod.empty();
      },
      60s));
  rttest::SseClient resumed(other.ip, port, path, {{"Last-Event-ID", before.back().id}});
  REQUIRE(resumed.status() == 200);
  std::vector<rttest::SseEvent> after = resumed.take(500 - before.size(), 30s);
  std::cout << "[figure] pod deleted -> resumed client has every event: " << e2e::nowSeconds() - deletedAt << " s ("
            << before.size() << " before the cut, " << after.size() << " after, from " << other.pod << ")\n";
  for (const auto& e : after) CHECK(e.event.empty());

  std::set<int64_t> seqs;
  std::set<std::pair<int, int64_t>> records;
  size_t duplicates = 0;
  for (const auto* part : {&before, &after})
    for (const auto& e : *part) {
      const Seen s = seen(e);
      if (!records.insert(s.at).second || !seqs.insert(s.seq).second) ++duplicates;
    }
  CHECK(duplicates == 0);
  CHECK(seqs.size() == 500);
  CHECK(*seqs.begin() == 0);
  CHECK(*seqs.rbegin() == 499);
  CHECK_FALSE(resumed.next(1500ms));  // nothing more (heartbeats are comments)

  // Live again: the next events reach the resumed client; the Deployment
  // has replaced the deleted pod.
  produce(kafka, topic, 500, 510);
  std::set<int64_t> liveSeqs;
  for (const auto& e : resumed.take(10, 20s)) liveSeqs.insert(seen(e).seq);
  CHECK(liveSeqs.size() == 10);
  CHECK((liveSeqs.empty() || (*liveSeqs.begin() == 500 && *liveSeqs.rbegin() == 509)));
  CHECK(e2e::waitForPods(
      api, ns, pods, [&] { return e2e::readyPods(api, ns, pods) == 2; }, 120s));
  kubectl("delete namespace " + ns + " --wait=false");
}
