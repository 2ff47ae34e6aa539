// ew-node-bench: the figures of the real node (hack/bench/node_e2e.sh runs
// it against servers it started; EW_TEST_ENV names their env file). Each
// figure beside its baseline from the same run:
//   pod start      EventWorker applied -> its events pod Ready, against the
//                  same ConfigMap + Deployment (`eventworker render`) applied
//                  by kubectl: what the operator adds to the kubelet's path;
//   lag reaction   burst produced -> Deployment scaled (the control plane:
//                  lag poll, policy, write) and -> first new pod handling
//                  events (pod start, group join, rebalance);
//   operator RSS   both operator pods, idle and with 100 EventWorkers.
// Medians of EW_BENCH_ROUNDS (default 5). Prints one line per figure. A
// Catch2 program (the Kafka harness it uses is Catch-based) with one hidden
// case, run by name: ew-node-bench "[.bench]".
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew;
using ew::testing::eventually;
using ew::testing::kubectl;
using ew::testing::serverEnv;
using kube::Json;
using namespace std::chrono_literals;

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string list(const std::vector<double>& v) {
  std::ostringstream o;
  for (size_t i = 0; i < v.size(); ++i) o << (i ? " " : "") << static_cast<int>(v[i] * 100) / 100.0;
  return o.str();
}

void need(bool ok, const std::string& what) {
  if (!ok) throw std::runtime_error(what);
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int rc = p ? pclose(p) : -1;
  if (rc != 0) throw std::runtime_error(cmd + ": " + out);
  return out;
}

// RSS (KiB) of each container named NAME in pods matching SELECTOR, read
// from /proc of the container's process (containerd knows its pid).
std::vector<long> rssKiB(kube::KubeApi& api, const std::string& ns, const std::string& selector,
                         const std::string& name) {
  std::vector<long> out;
  kube::ListOptions o;
  o.labelSelector = selector;
  auto pods = api.list({"", "v1", "pods", "Pod", true}, ns, o);
  if (!pods) return out;
  const std::string tasks = run("ctr --address " + serverEnv("EW_CONTAINERD_SOCK") + " -n k8s.io tasks ls");
  for (const auto& p : (*pods)["items"])
    for (const auto& c : p["status"].value("containerStatuses", Json::array())) {
      if (c.value("name", "") != name) continue;
      std::string id = c.value("containerID", "");
      id = id.substr(id.find("://") + 3);
      std::istringstream lines(tasks);
      std::string line;
      while (std::getline(lines, line)) {
        std::istringstream f(line);
        std::string task, pid;
        f >> task >> pid;
        if (task != id) continue;
        std::ifstream status("/proc/" + pid + "/status");
        std::string l;
        while (std::getline(status, l))
          if (l.rfind("VmRSS:", 0) == 0) out.push_back(std::stol(l.substr(6)));
      }
    }
  return out;
}

std::string rssText(const std::vector<long>& kib) {
  std::ostringstream o;
  for (size_t i = 0; i < kib.size(); ++i) o << (i ? " / " : "") << kib[i] / 1024.0 << " MiB";
  return o.str();
}

double podReady(kube::KubeApi& api, const std::string& ns, const std::string& selector, double t0) {
  need(eventually([&] { return e2e::readyPods(api, ns, selector) >= 1; }, 180s),
       "no Ready pod for " + selector + "\n" + e2e::describePods(api, ns, selector));
  return e2e::nowSeconds() - t0;
}

}  // namespace

TEST_CASE("the node's figures", "[.bench]") {
  const char* roundsEnv = std::getenv("EW_BENCH_ROUNDS");
  const int rounds = roundsEnv ? std::stoi(roundsEnv) : 5;
  {
    kube::KubeApi api(ew::testing::testKubeClient());
    ew::testing::installCrds();
    e2e::installOperator();
    const std::string opSel = "app.kubernetes.io/name=eventworker-operator";
    std::this_thread::sleep_for(10s);
    const auto idle = rssKiB(api, "eventworker-system", opSel, "operator");
    rttest::Kafka kafka;
    const std::string ns = e2e::createNodeNamespace(api, "bench-node");
    const std::string tmp = serverEnv("EW_STATE_DIR");

    // --- pod start: EventWorker vs the same objects applied directly ---
    // (the runtime is Ready once it has partitions: the topic must exist)
    kafka.createTopic(ns + ".start", 1);
    std::vector<double> viaOperator, direct;
    for (int i = 0; i < rounds; ++i) {
      e2e::WorkerSpec w;
      w.ns = ns;
      w.topic = ns + ".start";
      w.ledgerTopic = ns + ".start-ledger";
      w.autoscale = false;
      w.name = "start-" + std::to_string(i);
      double t0 = e2e::nowSeconds();
      need(api.apply(e2e::kEventWorker, ns, w.name, e2e::workerObject(w)).ok(), "apply " + w.name);
      viaOperator.push_back(podReady(api, ns, "eventworker.dev/name=" + w.name, t0));
      w.name = "direct-" + std::to_string(i);
      const std::string file = tmp + "/" + w.name + ".json";
      std::ofstream(file) << e2e::workerObject(w).dump();
      const std::string rendered = tmp + "/" + w.name + ".rendered.yaml";
      run(std::string(EW_CLI_BIN) + " render -f " + file + " > " + rendered);
      t0 = e2e::nowSeconds();
      std::string out;
      need(kubectl("apply -f " + rendered, &out) == 0, "kubectl apply: " + out);
      direct.push_back(podReady(api, ns, "eventworker.dev/name=" + w.name, t0));
      kubectl("-n " + ns + " delete ew start-" + std::to_string(i) + " --wait=false");
      kubectl("delete -f " + rendered + " --wait=false");
    }
    std::cout << "pod start, apply -> first events pod Ready (s, median of " << rounds << "): EventWorker "
              << median(viaOperator) << " [" << list(viaOperator) << "], rendered objects by kubectl " << median(direct)
              << " [" << list(direct) << "], ratio " << median(viaOperator) / median(direct) << "\n";

    // --- lag reaction ---
    e2e::WorkerSpec w;
    w.ns = ns;
    w.name = "burst";
    w.topic = ns + ".burst";
    w.ledgerTopic = ns + ".burst-ledger";
    w.maxReplicas = 4;
    kafka.createTopic(w.topic, 12);
    kafka.createTopic(w.ledgerTopic, 6);
    Json obj = e2e::workerObject(w);
    obj["spec"]["scaling"]["scaleDownStabilizationSeconds"] = 10;
    need(api.apply(e2e::kEventWorker, ns, w.name, obj).ok(), "apply burst worker");
    const std::string sel = "eventworker.dev/name=burst,eventworker.dev/component=events";
    podReady(api, ns, sel, e2e::nowSeconds());
    e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
    std::vector<double> written, consuming, drained;
    int64_t seq = 0;
    for (int r = 0; r < rounds; ++r) {
      // Quiet: one replica, one pod, no lag.
      need(eventually(
               [&] {
                 return e2e::deploymentReplicas(api, ns, "burst-events") == 1 && e2e::pods(api, ns, sel).size() == 1;
               },
               300s),
           "burst worker did not come back to one pod");
      std::set<std::string> before;
      for (const auto& p : e2e::pods(api, ns, sel)) before.insert(p.name);
      const int64_t at = e2e::wallMillis();
      const double t0 = e2e::nowSeconds();
      const int64_t from = seq;
      for (int i = 0; i < 6000; ++i, ++seq)
        kafka.produce(w.topic, "k" + std::to_string(seq % 97), rttest::payload("k", seq));
      kafka.flush();
      double tw = -1;
      need(eventually(
               [&] {
                 if (tw < 0 && e2e::deploymentReplicas(api, ns, "burst-events") > 1) tw = e2e::nowSeconds() - t0;
                 ledger.poll(200ms);
                 return ledger.distinct() == static_cast<size_t>(seq);
               },
               300s),
           "burst not drained");
      drained.push_back(e2e::nowSeconds() - t0);
      int64_t firstNew = -1;
      for (const auto& e : ledger.all())
        if (e.seq >= from && !before.count(e.pod) && (firstNew < 0 || e.at < firstNew)) firstNew = e.at;
      written.push_back(tw);
      consuming.push_back(firstNew < 0 ? -1 : (firstNew - at) / 1000.0);
    }
    std::cout << "lag reaction, 6000-event burst on 12 partitions (s, median of " << rounds
              << "): burst -> Deployment scaled " << median(written) << " [" << list(written)
              << "], burst -> first new pod handling events " << median(consuming) << " [" << list(consuming)
              << "], ratio " << median(consuming) / median(written) << "; drained in " << median(drained) << " ["
              << list(drained) << "]; lost " << seq - static_cast<int64_t>(ledger.distinct()) << ", duplicates "
              << ledger.duplicates() << " of " << seq << "\n";

    // --- operator RSS with 100 EventWorkers (their pods stay Pending: namespace not opted in) ---
    const std::string many = ew::testing::createNamespace(api, "bench-many");
    for (int i = 0; i < 100; ++i) {
      e2e::WorkerSpec m;
      m.ns = many;
      m.name = "w" + std::to_string(i);
      m.topic = many + ".t" + std::to_string(i % 10);
      m.ledgerTopic = many + ".ledger";
      need(api.apply(e2e::kEventWorker, many, m.name, e2e::workerObject(m)).ok(), "apply " + m.name);
    }
    need(eventually(
             [&] {
               kube::ListOptions o;
               auto l = api.list(e2e::kEventWorker, many, o);
               if (!l) return false;
               int withStatus = 0;
               for (const auto& e : (*l)["items"])
                 withStatus += e.contains("status") && e["status"].contains("conditions");
               return withStatus == 100;
             },
             300s),
         "100 EventWorkers did not all get a status");
    std::this_thread::sleep_for(15s);
    const auto loaded = rssKiB(api, "eventworker-system", opSel, "operator");
    std::cout << "operator pods' RSS (leader and standby, either order): idle " << rssText(idle)
              << "; with 101+ EventWorkers " << rssText(loaded) << "\n";
    kubectl("delete namespace " + ns + " " + many + " --wait=false");
  }
}
