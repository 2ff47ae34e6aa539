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

#include <algorithm>
#include <atomic>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <thread>

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

// EventWorker NAME with one stream of TOPIC at PATH exposing id, data,
// partition and offset, a heartbeat every second, the retry hint RETRY_MS.
Json streamsWorker(const std::string& ns, const std::string& name, const std::string& topic, const std::string& path,
                   int retryMs) {
  Json ew = e2e::runtimeOnlyWorker(ns, name);
  ew["spec"]["streams"] = Json::array({{{"name", "orders"},
                                        {"topics", {topic}},
                                        {"path", path},
                                        {"fields", {"id", "data", "partition", "offset"}},
                                        {"heartbeatInterval", "1s"},
                                        {"reconnectDelay", std::to_string(retryMs) + "ms"}}});
  return ew;
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
  Json ew = streamsWorker(ns, name, topic, path, 500);
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

namespace {

// A client of the streams Service as a browser's EventSource is: on
// ew-reconnect or the end of its stream it reconnects after the stream's
// retry hint, with the Last-Event-ID of the last event it had, to one of the
// Service's ready endpoints (what kube-proxy would pick from). A reply other
// than 200 is kept apart: EventSource gives up on it for good (HTML, "fail
// the connection"); a refused connection is a network error, retried.
struct EventSourceClient {
  int index = 0;
  std::unique_ptr<rttest::SseClient> conn;
  std::string pod;                 // the pod read now, "" while away
  std::vector<Seen> got;           // the data events, in arrival order
  std::string lastId;              // the id of the last data event
  int reconnects = 0;              // reconnections answered 200
  int attempts = 0;                // reconnection attempts
  int withoutId = 0;               // reconnections with no Last-Event-ID to send
  int toldToReconnect = 0;         // ew-reconnect events
  std::vector<std::string> named;  // other named events (ew-resume: the position was lost)
  std::vector<int> refusedStatus;  // replies other than 200 (0: no reply)
  double awaySince = 0, retryAt = 0, longestAway = 0;
};

// Connects C to one of the ready endpoints; false when none took it.
bool connect(EventSourceClient& c, kube::KubeApi& api, const std::string& ns, const std::string& service,
             const std::string& path, int attempt) {
  int port = 0;
  const std::vector<Endpoint> ready = readyEndpoints(api, ns, service, "sse", &port);
  if (ready.empty() || port == 0) return false;
  const Endpoint& to = ready[static_cast<size_t>(c.index + attempt) % ready.size()];
  std::map<std::string, std::string> headers;
  if (!c.lastId.empty()) headers["Last-Event-ID"] = c.lastId;
  auto conn = std::make_unique<rttest::SseClient>(to.ip, port, path, headers);
  if (conn->ended()) return false;  // refused: a network error, retried
  const int status = conn->status(5s);
  if (status != 200) {
    c.refusedStatus.push_back(status);
    return false;
  }
  c.conn = std::move(conn);
  c.pod = to.pod;
  return true;
}

// Reads what C has now; on ew-reconnect or the end of the stream, leaves and
// reconnects (after the retry hint) when its time comes.
void pump(EventSourceClient& c, kube::KubeApi& api, const std::string& ns, const std::string& service,
          const std::string& path, int retryMs) {
  const double now = e2e::nowSeconds();
  if (!c.conn) {
    if (now < c.retryAt) return;
    if (c.lastId.empty()) ++c.withoutId;
    if (!connect(c, api, ns, service, path, c.attempts++)) {
      c.retryAt = now + retryMs / 1000.0;
      return;
    }
    ++c.reconnects;
    c.longestAway = std::max(c.longestAway, e2e::nowSeconds() - c.awaySince);
  }
  while (auto e = c.conn->next(5ms)) {
    if (e->event.empty()) {
      c.got.push_back(seen(*e));
      c.lastId = e->id;
    } else if (e->event == "ew-reconnect") {
      ++c.toldToReconnect;
    } else {
      c.named.push_back(e->event);
    }
  }
  if (c.conn->ended()) {
    c.conn.reset();
    c.pod.clear();
    c.awaySince = now;
    c.retryAt = now + retryMs / 1000.0;
  }
}

// The Deployment's rollout is over: every replica runs the current template
// and is available, and no pod of OLD_PODS is left (terminating ones too).
bool rolledOut(kube::KubeApi& api, const std::string& ns, const std::string& deployment, const std::string& pods,
               const std::set<std::string>& oldPods) {
  auto d = api.get(e2e::kDeployment, ns, deployment);
  if (!d) return false;
  const Json s = (*d).value("status", Json::object());
  const int want = (*d)["spec"].value("replicas", -1);
  if (s.value("observedGeneration", 0) < (*d)["metadata"].value("generation", 0) ||
      s.value("updatedReplicas", 0) != want || s.value("replicas", 0) != want ||
      s.value("availableReplicas", 0) != want)
    return false;
  for (const auto& p : e2e::pods(api, ns, pods))
    if (oldPods.count(p.name)) return false;
  return true;
}

}  // namespace

TEST_CASE(
    "a rollout of the streams Deployment (a stream's heartbeat edited) while clients read and events keep coming: "
    "each client is told to reconnect, resumes with its Last-Event-ID and ends with every event once") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createNodeNamespace(api, "e2e-streams-roll");
  const std::string name = "shop", service = name + "-streams", path = "/streams/orders";
  const std::string topic = ns + ".orders";
  constexpr int kRetryMs = 500;
  kafka.createTopic(topic, 3);
  Json ew = streamsWorker(ns, name, topic, path, kRetryMs);
  REQUIRE(api.apply(e2e::kEventWorker, ns, name, ew));
  const std::string pods = "eventworker.dev/name=" + name + ",eventworker.dev/component=streams";
  int port = 0;
  std::vector<Endpoint> endpoints;
  REQUIRE(e2e::waitForPods(
      api, ns, pods,
      [&] {
        endpoints = readyEndpoints(api, ns, service, "sse", &port);
        return e2e::readyPods(api, ns, pods) == 2 && endpoints.size() == 2 && port > 0;
      },
      240s));
  std::set<std::string> oldPods;
  for (const auto& p : e2e::pods(api, ns, pods)) oldPods.insert(p.name);
  const auto before = api.get(e2e::kDeployment, ns, service);
  REQUIRE(before);
  const int64_t generation = (*before)["metadata"].value("generation", 0);

  // Four clients, two on each pod.
  std::vector<EventSourceClient> clients(4);
  for (size_t i = 0; i < clients.size(); ++i) {
    EventSourceClient& c = clients[i];
    c.index = static_cast<int>(i);
    c.conn = std::make_unique<rttest::SseClient>(endpoints[i % 2].ip, port, path);
    REQUIRE(c.conn->status() == 200);
    c.pod = endpoints[i % 2].pod;
  }
  // Events all along, 40 a second, until the rollout is over.
  std::atomic<bool> producing{true};
  std::atomic<int> produced{0};
  std::thread producer([&] {
    for (int i = 0; producing.load(); ++i) {
      produce(kafka, topic, i, i + 1);
      produced.store(i + 1);
      std::this_thread::sleep_for(25ms);
    }
  });
  const auto pumpAll = [&] {
    for (auto& c : clients) pump(c, api, ns, service, path, kRetryMs);
  };
  const auto every = [&](const std::function<bool(const EventSourceClient&)>& p) {
    return std::all_of(clients.begin(), clients.end(), p);
  };
  const double start = e2e::nowSeconds();
  while (!every([](const auto& c) { return c.got.size() >= 20; }) && e2e::nowSeconds() - start < 30) pumpAll();
  REQUIRE(every([](const auto& c) { return c.got.size() >= 20; }));

  // The user edits the stream: the config changes, so does the pod template.
  ew["spec"]["streams"][0]["heartbeatInterval"] = "2s";
  const double editedAt = e2e::nowSeconds();
  REQUIRE(api.apply(e2e::kEventWorker, ns, name, ew));
  bool done = false;
  double rolledAt = 0, lastCheck = 0;
  while (e2e::nowSeconds() - editedAt < 240) {
    pumpAll();
    if (e2e::nowSeconds() - lastCheck < 0.5) continue;
    lastCheck = e2e::nowSeconds();
    if (!rolledAt && rolledOut(api, ns, service, pods, oldPods)) rolledAt = lastCheck;
    done = rolledAt && every([&](const auto& c) { return c.conn && !oldPods.count(c.pod); });
    if (done) break;
  }
  producing.store(false);
  producer.join();
  const int total = produced.load();
  const auto d = api.get(e2e::kDeployment, ns, service);
  REQUIRE(d);
  INFO(e2e::describePods(api, ns, pods));
  CHECK((*d)["metadata"].value("generation", 0) > generation);  // the template changed: it rolled
  REQUIRE(done);
  std::cout << "[figure] EventWorker edited -> streams Deployment rolled out (both pods replaced): "
            << rolledAt - editedAt << " s, " << total << " events produced meanwhile and before\n";

  // Every client catches up with every event.
  const double settle = e2e::nowSeconds();
  while (!every([&](const auto& c) { return c.got.size() >= static_cast<size_t>(total); }) &&
         e2e::nowSeconds() - settle < 30)
    pumpAll();
  for (const auto& c : clients) {
    INFO("client " << c.index << " now on " << c.pod);
    std::set<int64_t> seqs;
    std::set<std::pair<int, int64_t>> records;
    size_t duplicates = 0;
    for (const auto& s : c.got)
      if (!records.insert(s.at).second || !seqs.insert(s.seq).second) ++duplicates;
    CHECK(duplicates == 0);
    CHECK(seqs.size() == static_cast<size_t>(total));
    CHECK((seqs.empty() || (*seqs.begin() == 0 && *seqs.rbegin() == total - 1)));
    CHECK(c.toldToReconnect >= 1);  // its pod went away while it read
    CHECK(c.reconnects >= 1);
    CHECK(c.withoutId == 0);         // each reconnect carried the Last-Event-ID
    CHECK(c.named.empty());          // no ew-resume: none lost its position
    CHECK(c.refusedStatus.empty());  // no reply a browser would give up on
    std::cout << "[figure] client " << c.index << ": " << c.got.size() << " events, told to reconnect "
              << c.toldToReconnect << "x, reconnected " << c.reconnects << "x, longest away " << c.longestAway
              << " s\n";
  }
  kubectl("delete namespace " + ns + " --wait=false");
}
