// Worker pods through what a node does to them: a rolling update while
// events flow, a runtime container killed. The ledger
// handler's Kafka ledger counts lost and duplicated events across pods.
#include <catch2/catch.hpp>

#include <atomic>
#include <iostream>
#include <set>
#include <thread>

#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew;
using ew::testing::eventually;
using ew::testing::kubectl;
using kube::Json;
using namespace std::chrono_literals;

namespace {

// Produces to each topic at about RATE events/s (seq numbers from 0, one
// sequence over all topics) until stopped; produced() says how many.
class SteadyProducer {
 public:
  SteadyProducer(std::vector<std::string> topics, int rate) : topics_(std::move(topics)), rate_(rate) {
    thread_ = std::thread([this] { run(); });
  }
  ~SteadyProducer() { stop(); }
  void stop() {
    if (stop_.exchange(true)) return;
    thread_.join();
  }
  // Topic of each seq produced so far.
  int64_t produced() const { return next_.load(); }
  // From now on, also to TOPIC.
  void addTopic(const std::string& topic) {
    std::lock_guard l(mu_);
    topics_.push_back(topic);
  }

 private:
  void run() {
    rttest::Kafka kafka;
    const auto tick = std::chrono::microseconds(1000000 / rate_);
    auto next = std::chrono::steady_clock::now();
    while (!stop_) {
      std::vector<std::string> topics;
      {
        std::lock_guard l(mu_);
        topics = topics_;
      }
      for (const auto& t : topics) {
        const int64_t seq = next_.load();
        kafka.produce(t, "k" + std::to_string(seq % 31), rttest::payload("k", seq));
        next_.store(seq + 1);
      }
      next += tick;
      std::this_thread::sleep_until(next);
    }
    kafka.flush();
  }
  std::mutex mu_;
  std::vector<std::string> topics_;
  int rate_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> next_{0};
  std::thread thread_;
};

std::string containerId(kube::KubeApi& api, const std::string& ns, const std::string& pod, const std::string& name) {
  auto p = api.get({"", "v1", "pods", "Pod", true}, ns, pod);
  if (!p) return "";
  for (const auto& c : (*p)["status"].value("containerStatuses", Json::array()))
    if (c.value("name", "") == name) {
      std::string id = c.value("containerID", "");
      const auto at = id.find("://");
      return at == std::string::npos ? id : id.substr(at + 3);
    }
  return "";
}

int shell(const std::string& cmd, std::string* out = nullptr) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  const int rc = pclose(p);
  if (out) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A worker of two pods (no autoscaling, 8 in flight each) on a 6-partition
// topic, in a new namespace on the node; the topics exist, nothing is applied.
e2e::WorkerSpec twoPodWorker(kube::KubeApi& api, rttest::Kafka& kafka, const std::string& name) {
  e2e::WorkerSpec w = e2e::namedWorker(e2e::createNodeNamespace(api, "e2e-" + name), name + "-worker");
  w.autoscale = false;
  w.minReplicas = 2;
  w.concurrency = 8;
  kafka.createTopic(w.topic, 6);
  kafka.createTopic(w.ledgerTopic, 6);
  return w;
}

std::string ctr() { return "ctr --address " + ew::testing::serverEnv("EW_CONTAINERD_SOCK") + " -n k8s.io "; }

}  // namespace

TEST_CASE(
    "editing the EventWorker (a new handler image tag and an added subscription) rolls the Deployment "
    "while events flow, and no acknowledged event is lost") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  e2e::WorkerSpec w = twoPodWorker(api, kafka, "roll");
  const std::string ns = w.ns;
  kafka.createTopic(ns + ".more", 3);
  // A second tag of the same handler image: a new version to roll out.
  const std::string tagB = "localhost/eventworker/ledger-handler:test-b";
  std::string out;
  shell(ctr() + "images rm " + tagB);
  REQUIRE(shell(ctr() + "images tag localhost/eventworker/ledger-handler:test " + tagB, &out) == 0);
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, e2e::workerObject(w)));
  const std::string events = e2e::podSelector(w, "events");
  REQUIRE(e2e::waitForPods(
      api, ns, events, [&] { return e2e::readyPods(api, ns, events) == 2; }, 180s));
  std::set<std::string> before;
  for (const auto& p : e2e::pods(api, ns, events)) before.insert(p.name);

  SteadyProducer producer({w.topic}, 100);
  std::this_thread::sleep_for(5s);
  w.handlerImage = tagB;
  w.extraTopic = ns + ".more";
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, e2e::workerObject(w)));
  producer.addTopic(w.extraTopic);
  // Rolled: two Ready pods, none of the old ones left, all on the new image.
  REQUIRE(eventually(
      [&] {
        auto now = e2e::pods(api, ns, events);
        if (now.size() != 2 || e2e::readyPods(api, ns, events) != 2) return false;
        for (const auto& p : now)
          if (before.count(p.name)) return false;
        return true;
      },
      240s));
  std::this_thread::sleep_for(5s);
  producer.stop();
  const int64_t produced = producer.produced();
  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.distinct() == static_cast<size_t>(produced);
      },
      120s));
  CHECK(ledger.distinct() == static_cast<size_t>(produced));  // zero lost
  CHECK(!ledger.route("/events/more").empty());               // the added subscription is consumed
  std::set<std::string> handledBy;
  for (const auto& e : ledger.all()) handledBy.insert(e.pod);
  std::cout << "[figure] rolling update under 100 events/s: " << produced << " produced, " << ledger.distinct()
            << " distinct handled, " << ledger.duplicates() << " duplicates, by " << handledBy.size() << " pods\n";
  auto d = api.get(e2e::kDeployment, ns, w.name + "-events");
  REQUIRE(d);
  bool newImage = false;
  for (const auto& c : (*d)["spec"]["template"]["spec"]["containers"])
    if (c.value("name", "") == "handler") newImage = c.value("image", "") == tagB;
  CHECK(newImage);
  kubectl("delete namespace " + ns + " --wait=false");
}

TEST_CASE(
    "a runtime container killed with SIGKILL loses no acknowledged event, and its partitions are consumed "
    "again within seconds") {
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  e2e::WorkerSpec w = twoPodWorker(api, kafka, "kill");
  const std::string ns = w.ns;
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, e2e::workerObject(w)));
  const std::string events = e2e::podSelector(w, "events");
  REQUIRE(e2e::waitForPods(
      api, ns, events, [&] { return e2e::readyPods(api, ns, events) == 2; }, 180s));

  SteadyProducer producer({w.topic}, 60);  // 10/s on each partition
  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  REQUIRE(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.pods().size() == 2;  // both pods consume
      },
      60s));
  std::this_thread::sleep_for(3s);
  const std::string victim = e2e::pods(api, ns, events).at(0).name;
  const std::string id = containerId(api, ns, victim, "runtime");
  REQUIRE(!id.empty());
  const int64_t killedAt = e2e::wallMillis();
  std::string out;
  REQUIRE(shell(ctr() + "tasks kill --signal SIGKILL " + id, &out) == 0);
  // The kubelet restarts the container; traffic continues meanwhile.
  REQUIRE(eventually(
      [&] {
        for (const auto& p : e2e::pods(api, ns, events))
          if (p.name == victim) return p.restarts >= 1 && p.ready;
        return false;
      },
      120s));
  std::this_thread::sleep_for(15s);
  producer.stop();
  const int64_t produced = producer.produced();
  CHECK(eventually(
      [&] {
        ledger.poll(500ms);
        return ledger.distinct() == static_cast<size_t>(produced);
      },
      120s));
  CHECK(ledger.distinct() == static_cast<size_t>(produced));  // zero lost
  const int64_t gap = ledger.longestGapAcross(killedAt);
  std::cout << "[figure] runtime container SIGKILLed: longest time a partition went unconsumed across the kill "
            << gap / 1000.0 << " s; " << produced << " produced, " << ledger.duplicates() << " duplicates ("
            << (produced ? 100.0 * ledger.duplicates() / produced : 0) << " %)\n";
  CHECK(gap > 0);
  kubectl("delete namespace " + ns + " --wait=false");
}
