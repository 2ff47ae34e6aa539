// ew-node-bench "[.dapr-bench]": daprd on the node against the runtime's own
// Kafka source (hack/bench/dapr_node.sh runs it against servers it started;
// EW_TEST_ENV names their env file). The same worker (one events pod, the
// ledger handler with no delay, concurrency 16 per subscription), the same
// topic (N CloudEvents pre-produced over 1000 keys on 12 partitions), in the
// same run, taking turns EW_BENCH_ROUNDS times (default 2):
//   direct   spec.source.kafka: the runtime consumes the topic itself;
//   daprd    spec.dapr.enabled: Dapr's injector adds the real daprd, which
//            consumes the topic (pubsub.kafka, its group is the app id) and
//            delivers each event to the runtime (source dapr).
// Each path reads the whole topic with a group of its own. Its rate is the
// steady one, from 10% to 90% of the events in its ledger (the handler writes
// one record per acknowledged event, timestamped when written), so pod start,
// group join and daprd's start are left out. Memory: the pod's cgroup (v1,
// kubepods/<qos>/pod<uid>, pause container included) and each container's,
// peak (memory.max_usage_in_bytes) and the working set at the end
// (usage - total_inactive_file, as the kubelet counts it), read once every
// event was handled. Exits 77 (after saying why) when Dapr is not built.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

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

void need(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

// One cgroup's memory (MiB): its peak and its working set now.
struct Memory {
  double peakMiB = -1, workingSetMiB = -1;
};

long readNumber(const std::filesystem::path& file) {
  std::ifstream in(file);
  long v = -1;
  in >> v;
  return v;
}

Memory memoryOf(const std::filesystem::path& cgroup) {
  long inactive = 0;
  std::ifstream stats(cgroup / "memory.stat");
  for (std::string k; stats >> k;) {
    long v = 0;
    stats >> v;
    if (k == "total_inactive_file") inactive = v;
  }
  const long usage = readNumber(cgroup / "memory.usage_in_bytes");
  const long peak = readNumber(cgroup / "memory.max_usage_in_bytes");
  need(usage >= 0 && peak >= 0, "cannot read the memory of cgroup " + cgroup.string());
  return {peak / 1048576.0, (usage - inactive) / 1048576.0};
}

// The memory cgroup of pod UID (kubepods/<qos>/pod<uid>, the kubelet's
// cgroupfs layout on cgroup v1).
std::filesystem::path podCgroup(const std::string& uid) {
  for (const char* qos : {"burstable/", "besteffort/", ""}) {
    const std::filesystem::path p = std::string("/sys/fs/cgroup/memory/kubepods/") + qos + "pod" + uid;
    if (std::filesystem::exists(p)) return p;
  }
  throw std::runtime_error("no memory cgroup for pod " + uid + " under /sys/fs/cgroup/memory/kubepods");
}

// The pod's memory and each of its containers' (by name, "pod" for the pod).
std::map<std::string, Memory> podMemory(kube::KubeApi& api, const std::string& ns, const std::string& selector) {
  kube::ListOptions o;
  o.labelSelector = selector;
  auto list = api.list(kube::resources::kPod, ns, o);
  need(list && (*list)["items"].size() == 1, "not one pod for " + selector);
  const Json& pod = (*list)["items"][0];
  const auto cgroup = podCgroup(pod["metadata"].value("uid", ""));
  std::map<std::string, Memory> out{{"pod", memoryOf(cgroup)}};
  for (const auto& c : pod["status"].value("containerStatuses", Json::array())) {
    std::string id = c.value("containerID", "");
    id = id.substr(id.find("://") + 3);
    out[c.value("name", "")] = memoryOf(cgroup / id);
  }
  return out;
}

std::string fixed(double v, int decimals) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}
std::string mib(double v) { return fixed(v, 1); }

// What one path did in one round.
struct Run {
  double rate = 0;        // events/s, 10% to 90% handled
  double allSeconds = 0;  // first to last event handled
  size_t lost = 0, duplicates = 0;
  std::map<std::string, Memory> memory;
};

// Applies worker W, waits for its pod and for all N events in its ledger,
// reads its memory, deletes it and waits for its pod to go.
Run runPath(kube::KubeApi& api, rttest::Kafka& kafka, const e2e::WorkerSpec& w, int64_t n) {
  kafka.createTopic(w.ledgerTopic, 1);
  need(api.apply(e2e::kEventWorker, w.ns, w.name, e2e::workerObject(w)).ok(), "apply " + w.name);
  const std::string sel = e2e::podSelector(w, "events");
  auto ready = e2e::waitForPods(
      api, w.ns, sel, [&] { return e2e::readyPods(api, w.ns, sel) == 1; }, 240s);
  need(ready.ok, "no Ready pod for " + w.name + ":\n" + ready.report);
  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  need(eventually(
           [&] {
             ledger.poll(500ms);
             return ledger.distinct() == static_cast<size_t>(n);
           },
           600s),
       w.name + ": only " + std::to_string(ledger.distinct()) + " of " + std::to_string(n) + " events handled");
  Run r;
  r.memory = podMemory(api, w.ns, sel);
  std::map<int64_t, int64_t> first;  // seq -> when first handled
  for (const auto& e : ledger.all())
    if (e.seq >= 0 && e.seq < n) {
      auto [it, fresh] = first.try_emplace(e.seq, e.at);
      if (!fresh) it->second = std::min(it->second, e.at);
    }
  std::vector<int64_t> at;
  for (const auto& [seq, t] : first) at.push_back(t);
  std::sort(at.begin(), at.end());
  const int64_t t10 = at[at.size() / 10], t90 = at[at.size() * 9 / 10];
  need(t90 > t10, w.name + ": too few events to measure a rate: raise N");
  r.rate = 0.8 * static_cast<double>(n) / ((t90 - t10) / 1000.0);
  r.allSeconds = (at.back() - at.front()) / 1000.0;
  r.lost = static_cast<size_t>(n) - first.size();
  r.duplicates = ledger.duplicates();
  need(api.remove(e2e::kEventWorker, w.ns, w.name).ok(), "delete " + w.name);
  need(eventually([&] { return e2e::pods(api, w.ns, sel).empty(); }, 120s), w.name + "'s pod did not go");
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string memoryText(const std::map<std::string, Memory>& m) {
  std::ostringstream o;
  o << "pod peak " << mib(m.at("pod").peakMiB) << " MiB, working set " << mib(m.at("pod").workingSetMiB) << " MiB (";
  bool firstOne = true;
  for (const auto& [name, mem] : m) {
    if (name == "pod") continue;
    o << (firstOne ? "" : ", ") << name << " " << mib(mem.peakMiB) << "/" << mib(mem.workingSetMiB);
    firstOne = false;
  }
  o << " MiB peak/working set)";
  return o.str();
}

}  // namespace

TEST_CASE("daprd on the node against the runtime's Kafka source", "[.dapr-bench]") {
  e2e::installDaprOrSkip();
  const char* roundsEnv = std::getenv("EW_BENCH_ROUNDS");
  const int rounds = roundsEnv ? std::stoi(roundsEnv) : 2;
  const char* eventsEnv = std::getenv("EW_BENCH_EVENTS");
  const int64_t n = eventsEnv ? std::stoll(eventsEnv) : 20000;
  kube::KubeApi api(ew::testing::testKubeClient());
  e2e::installOperator();
  rttest::Kafka kafka;
  const std::string ns = e2e::createDaprNamespace(api, "bench-dapr");
  const std::string topic = ns + ".orders";
  kafka.createTopic(topic, 12);
  for (int64_t i = 0; i < n; ++i) {
    const std::string key = "k" + std::to_string(i % 1000);
    kafka.produce(topic, key, rttest::cloudEvent("e-" + std::to_string(i), key, i));
  }
  kafka.flush();

  std::map<std::string, std::vector<Run>> runs;
  for (int round = 0; round < rounds; ++round)
    for (const std::string path : {"direct", "daprd"}) {
      e2e::WorkerSpec w = e2e::namedWorker(ns, path + "-" + std::to_string(round));
      w.topic = topic;
      w.ledgerTopic = ns + "." + w.name + ".ledger";
      w.dapr = path == "daprd";
      w.autoscale = false;
      w.delayMs = 0;
      w.concurrency = 16;
      runs[path].push_back(runPath(api, kafka, w, n));
      const Run& r = runs[path].back();
      std::cout << "  round " << round + 1 << " " << path << ": " << static_cast<long>(r.rate) << " events/s, all in "
                << r.allSeconds << " s, lost " << r.lost << ", duplicates " << r.duplicates << "; "
                << memoryText(r.memory) << "\n";
    }

  auto rates = [&](const std::string& path) {
    std::vector<double> v;
    for (const auto& r : runs[path]) v.push_back(r.rate);
    return v;
  };
  const double direct = median(rates("direct")), daprd = median(rates("daprd"));
  std::cout << "dapr_node: " << n << " CloudEvents, 12 partitions, 1000 keys; one events pod, the ledger handler "
            << "(no delay), concurrency 16; median of " << rounds << " rounds taking turns\n"
            << "  runtime, Kafka source (direct):      " << static_cast<long>(direct) << " events/s\n"
            << "  injected daprd -> runtime (dapr):    " << static_cast<long>(daprd) << " events/s\n"
            << "  ratio daprd/direct: " << fixed(daprd / direct, 2) << "\n"
            << "  memory without the sidecar (last direct pod): " << memoryText(runs["direct"].back().memory) << "\n"
            << "  memory with the sidecar (last daprd pod):     " << memoryText(runs["daprd"].back().memory) << "\n";
  size_t lost = 0;
  for (const auto& [path, rs] : runs)
    for (const auto& r : rs) lost += r.lost;
  CHECK(lost == 0);
  kubectl("delete namespace " + ns + " --wait=false");
}
