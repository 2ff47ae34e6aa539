// Installing and observing EventWorker as its users do, on the real node:
// the Helm chart installs the operator (helm install, then helm upgrade with a
// changed value, then helm uninstall, the operator reconciling after each), a
// real Prometheus (built from its Go module with Kubernetes service discovery)
// scrapes the operator and the worker pods on the node's bridge with
// deploy/prometheus/scrape-configs.yaml and evaluates the alert rules, while a
// burst scales a worker out; then every query of every panel of the Grafana
// dashboard (deploy/grafana/eventworker.json, parsed: a new panel is tested
// without editing this file) runs through Prometheus' HTTP API and must
// return series.
//
// helm and prometheus come from the tool cache (hack/build-servers.sh tools);
// when either is not built every case exits 77 (a counted skip) and says so.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <fcntl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "kube_helpers.h"
#include "node_support.h"
#include "runtime_harness.h"
#include "test_env.h"

extern char** environ;

using namespace ew;
using ew::testing::eventually;
using ew::testing::kubectl;
using ew::testing::readFile;
using ew::testing::runCommand;
using ew::testing::serverEnv;
using kube::Json;
using namespace std::chrono_literals;

namespace {

constexpr int kSkipped = 77;  // SKIP_RETURN_CODE of ew_e2e_test SKIPPABLE
const std::string kOperatorNs = "eventworker-system";
const std::string kRelease = "eventworker";
// The objects of manifests/ but its Namespace and CRD (what the chart makes besides the CRD).
const std::string kManifestsButCrd =
    "deployment/eventworker-operator service/eventworker-operator-metrics serviceaccount/eventworker-operator "
    "role/eventworker-operator-kafka-credentials role/eventworker-operator-leader-election "
    "rolebinding/eventworker-operator-kafka-credentials rolebinding/eventworker-operator-leader-election "
    "clusterrole/eventworker-operator clusterrolebinding/eventworker-operator";

// KEY's value in hack/versions.env.
std::string pinnedVersion(const std::string& key) {
  std::istringstream in(readFile(std::string(EW_SOURCE_DIR) + "/hack/versions.env"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  throw std::runtime_error(key + " is not in hack/versions.env");
}

// A tool of the cache as hack/lib.sh places it: EW_CACHE, else
// $XDG_CACHE_HOME/eventworker, else ~/.cache/eventworker. Exits 77 when it is not built.
std::string cachedTool(const std::string& dir, const std::string& name) {
  std::string cache;
  if (const char* c = std::getenv("EW_CACHE"))
    cache = c;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"))
    cache = std::string(x) + "/eventworker";
  else
    cache = std::string(std::getenv("HOME")) + "/.cache/eventworker";
  const std::string path = cache + "/" + dir + "/bin/" + name;
  if (::access(path.c_str(), X_OK) != 0) {
    std::cout << "SKIPPED: " << name << " is not built (" << path << "): bash hack/build-servers.sh tools\n";
    std::exit(kSkipped);
  }
  return path;
}

std::string helmBin() { return cachedTool("helm-v" + pinnedVersion("HELM_VERSION"), "helm"); }
std::string prometheusBin() { return cachedTool("prometheus-v" + pinnedVersion("PROMETHEUS_VERSION"), "prometheus"); }

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// helm ARGS in the operator's namespace: its output; a failure throws (the
// test fails with helm's output).
std::string helm(const std::string& args) {
  std::string out;
  if (runCommand(helmBin() + " --kubeconfig " + serverEnv("KUBECONFIG") + " -n " + kOperatorNs + " " + args, &out) != 0)
    throw std::runtime_error("helm " + args + ":\n" + out);
  return out;
}

// A Prometheus server on 127.0.0.1 with the shipped scrape jobs (each
// kubernetes_sd_configs entry given the tests' kubeconfig), the alert rules,
// a 5 s scrape interval and its data in a temporary directory. Stopped by the
// destructor.
class PrometheusServer {
 public:
  PrometheusServer() : dir_(std::filesystem::temp_directory_path() / ew::testing::uniqueName("prometheus")) {
    std::filesystem::create_directories(dir_ / "data");
    port_ = rttest::freePort();
    std::ofstream(dir_ / "prometheus.yml") << config();
    const std::string bin = prometheusBin();
    std::vector<std::string> args = {bin, "--config.file=" + (dir_ / "prometheus.yml").string(),
                                     "--storage.tsdb.path=" + (dir_ / "data").string(),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t files;
    posix_spawn_file_actions_init(&files);
    const std::string log = (dir_ / "prometheus.log").string();
    posix_spawn_file_actions_addopen(&files, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&files, 1, 2);
    const int rc = posix_spawn(&pid_, bin.c_str(), &files, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&files);
    if (rc != 0) throw std::runtime_error("cannot start " + bin + ": " + std::strerror(rc));
    if (!eventually([&] { return runCommand("curl -sf " + url("/-/ready")) == 0; }, 60s))
      throw std::runtime_error("prometheus is not ready after 60 s:\n" + this->log());
  }
  ~PrometheusServer() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string log() const { return readFile((dir_ / "prometheus.log").string()); }

  // GET PATH with the url-encoded PARAMS; the answer's "data" (throws on an error answer).
  Json get(const std::string& path, const std::vector<std::pair<std::string, std::string>>& params) const {
    std::string cmd = "curl -sS -G " + url(path);
    for (const auto& [k, v] : params) cmd += " --data-urlencode " + shellQuote(k + "=" + v);
    std::string out;
    if (runCommand(cmd, &out) != 0) throw std::runtime_error(cmd + ": " + out);
    const Json j = Json::parse(out, nullptr, false);
    if (j.is_discarded() || j.value("status", "") != "success")
      throw std::runtime_error(path + " " + (params.empty() ? "" : params[0].second) + ": " + out);
    return j["data"];
  }

  // A range query as Grafana sends a panel's: the series it returns.
  Json range(const std::string& query, double start, double end, int step) const {
    return get("/api/v1/query_range", {{"query", query},
                                       {"start", std::to_string(start)},
                                       {"end", std::to_string(end)},
                                       {"step", std::to_string(step)}})["result"];
  }
  Json instant(const std::string& query) const { return get("/api/v1/query", {{"query", query}})["result"]; }

 private:
  std::string url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  std::string config() const {
    std::string jobs = readFile(std::string(EW_SOURCE_DIR) + "/deploy/prometheus/scrape-configs.yaml");
    const std::string sd = "\n  - role: pod\n";  // an entry of kubernetes_sd_configs (selectors are deeper)
    for (auto at = jobs.find(sd); at != std::string::npos; at = jobs.find(sd, at + 1))
      jobs.insert(at + sd.size(), "    kubeconfig_file: " + serverEnv("KUBECONFIG") + "\n");
    return "global: {scrape_interval: 5s, evaluation_interval: 5s}\nrule_files: [" + std::string(EW_SOURCE_DIR) +
           "/deploy/prometheus/eventworker-rules.yaml]\n" + jobs;
  }

  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = 0;
};

// Every query of the dashboard: a panel's title and its target's expression.
struct PanelQuery {
  std::string panel;
  std::string expr;
};
std::vector<PanelQuery> dashboardQueries(const Json& dashboard) {
  std::vector<PanelQuery> out;
  std::function<void(const Json&)> walk = [&](const Json& panels) {
    for (const auto& p : panels) {
      if (p.contains("panels")) walk(p["panels"]);  // a collapsed row holds its panels
      for (const auto& t : p.value("targets", Json::array()))
        out.push_back({p.value("title", ""), t.value("expr", "")});
    }
  };
  walk(dashboard.at("panels"));
  return out;
}

// EXPR as Grafana sends it with the variable namespace set to NS: the
// dashboard's variables and Grafana's own interval ($__rate_interval is at
// least four scrape intervals: 20 s here, so 1m holds several samples).
std::string expand(std::string expr, const std::string& ns) {
  expr = std::regex_replace(expr, std::regex(R"(\$__rate_interval)"), "1m");
  expr = std::regex_replace(expr, std::regex(R"(\$namespace)"), ns);
  return expr;
}

// Waits until the operator's Deployment has rolled out with the chart's or
// the manifests' pod template; "" or kubectl's output and the pods.
std::string rolledOut(kube::KubeApi& api) {
  std::string out;
  if (kubectl("-n " + kOperatorNs + " rollout status deployment/eventworker-operator --timeout=240s", &out) == 0)
    return "";
  return out + "\n" + e2e::describePods(api, kOperatorNs, "app.kubernetes.io/name=eventworker-operator");
}

// The operator reconciles: a new EventWorker NAME in NS gets its events Deployment.
bool reconciles(kube::KubeApi& api, const std::string& ns, const std::string& name, rttest::Kafka& kafka) {
  e2e::WorkerSpec w = e2e::namedWorker(ns, name);
  w.topic = ns + "." + name;
  w.autoscale = false;
  kafka.createTopic(w.topic, 1);
  if (!api.apply(e2e::kEventWorker, ns, name, e2e::workerObject(w))) return false;
  return eventually([&] { return e2e::deploymentReplicas(api, ns, name + "-events") >= 0; }, 90s);
}

}  // namespace

TEST_CASE(
    "helm install runs the operator on the node, Prometheus scrapes it and the worker pods during a scale-out, "
    "every panel query of the Grafana dashboard returns series, and helm upgrade and helm uninstall leave a "
    "working operator and the EventWorkers") {
  helmBin();
  prometheusBin();
  kube::KubeApi api(ew::testing::testKubeClient());
  rttest::Kafka kafka;

  // helm install as on a cluster without the operator: the manifests' install
  // of an earlier case goes first, but for the CRD (deleting it would delete
  // every EventWorker), which --take-ownership adopts.
  e2e::prepareOperatorNamespace();
  helm("uninstall " + kRelease + " --wait --ignore-not-found");
  std::string out;
  const int deleted = kubectl("-n " + kOperatorNs + " delete --ignore-not-found --wait " + kManifestsButCrd, &out);
  INFO(out);
  REQUIRE(deleted == 0);
  double at = e2e::nowSeconds();
  std::cout << helm("install " + kRelease + " " + std::string(EW_SOURCE_DIR) + "/charts/eventworker --take-ownership");
  REQUIRE(rolledOut(api) == "");
  std::cout << "[figure] helm install -> operator rolled out: " << e2e::nowSeconds() - at << " s\n";
  const std::string ns = e2e::createNodeNamespace(api, "e2e-observe");
  REQUIRE(reconciles(api, ns, "installed", kafka));

  PrometheusServer prometheus;
  const double t0 = e2e::nowSeconds(), wall0 = e2e::wallMillis() / 1000.0;

  // A worker that scales out on a burst on 12 partitions (at most 4 replicas:
  // eventworker_max_replicas), with a cron job, a second subscription whose
  // handler answers RETRY to each event's first delivery, and CloudEvents
  // without an id (malformed: dead letters).
  e2e::WorkerSpec w = e2e::namedWorker(ns, "orders-worker");
  w.maxReplicas = 4;
  w.extraTopic = ns + ".more";
  w.handlerArgs = {"--retry-once", "/events/more"};
  w.cron = R"([{"name": "tick", "schedule": "*/2 * * * * *", "route": "/jobs/tick"}])";
  kafka.createTopic(w.topic, 12);
  kafka.createTopic(w.extraTopic, 2);
  kafka.createTopic(w.ledgerTopic, 6);
  REQUIRE(api.apply(e2e::kEventWorker, ns, w.name, e2e::workerObject(w)));
  const std::string events = e2e::podSelector(w, "events");
  REQUIRE(e2e::waitForPods(
      api, ns, events, [&] { return e2e::readyPods(api, ns, events) == 1; }, 180s));

  constexpr int kBurst = 8000, kMore = 200, kMalformed = 20;
  for (int i = 0; i < kBurst; ++i) kafka.produce(w.topic, "k" + std::to_string(i % 97), rttest::payload("k", i));
  for (int i = 0; i < kMore; ++i)
    kafka.produce(w.extraTopic, "m" + std::to_string(i % 7), rttest::payload("m", kBurst + i));
  for (int i = 0; i < kMalformed; ++i)
    kafka.produce(w.topic, "bad", R"({"specversion":"1.0","source":"e2e","type":"no.id"})");
  kafka.flush();
  e2e::LedgerReader ledger(kafka.bootstrap(), w.ledgerTopic);
  int peakReplicas = 1;
  REQUIRE(eventually(
      [&] {
        ledger.poll(500ms);
        peakReplicas = std::max(peakReplicas, e2e::deploymentReplicas(api, ns, w.name + "-events"));
        return ledger.distinct() == static_cast<size_t>(kBurst + kMore);
      },
      400s));
  std::cout << "[figure] burst of " << kBurst << " drained in " << e2e::nowSeconds() - t0 << " s, peak replicas "
            << peakReplicas << "\n";
  CHECK(peakReplicas > 1);
  // A few more scrapes of the drained state (rates over the burst's end).
  std::this_thread::sleep_for(20s);

  // The targets Prometheus found through the apiserver and scraped.
  const Json up = prometheus.instant("up");
  std::map<std::string, int> upByJob;
  for (const auto& s : up)
    if (s["value"][1] == "1") ++upByJob[s["metric"].value("job", "")];
  std::cout << "[figure] targets up: operator " << upByJob["eventworker-operator"] << ", runtime pods "
            << upByJob["eventworker-runtime"] << "\n";
  CHECK(upByJob["eventworker-operator"] == 2);
  CHECK(upByJob["eventworker-runtime"] >= 2);  // the events pod(s) and the cron pod

  // What the scale-out looked like to Prometheus.
  const Json peak = prometheus.instant("max_over_time(eventworker_desired_replicas{namespace=\"" + ns + "\",name=\"" +
                                       w.name + "\"}[10m])");
  REQUIRE(peak.size() == 1);
  CHECK(std::stod(peak[0]["value"][1].get<std::string>()) > 1);
  const Json limit = prometheus.instant("eventworker_max_replicas{namespace=\"" + ns + "\",name=\"" + w.name + "\"}");
  REQUIRE(limit.size() == 1);
  CHECK(limit[0]["value"][1] == "4");
  // Counted by pods that may have been scaled in since: over the scenario.
  auto mostOver = [&](const std::string& selector) {
    const Json r = prometheus.instant("sum(max_over_time(" + selector + "[15m]))");
    return r.size() == 1 ? std::stod(r[0]["value"][1].get<std::string>()) : -1.0;
  };
  const double retried = mostOver("worker_retries_total{namespace=\"" + ns + "\"}");
  const double malformed = mostOver("worker_dead_letters_total{namespace=\"" + ns + "\",reason=\"malformed\"}");
  std::cout << "[figure] retries counted " << retried << " (" << kMore << " events answered RETRY once), malformed "
            << malformed << " (" << kMalformed << " produced)\n";
  CHECK(retried >= kMore);
  CHECK(malformed >= kMalformed);  // more if a partition moved before its commit

  // The alert rules load and evaluate in the real server.
  const Json groups = prometheus.get("/api/v1/rules", {})["groups"];
  int rules = 0, healthy = 0;
  for (const auto& g : groups)
    for (const auto& r : g["rules"]) {
      ++rules;
      if (r.value("health", "") == "ok") ++healthy;
    }
  std::cout << "[figure] alert rules loaded " << rules << ", healthy " << healthy << "\n";
  CHECK(rules >= 10);
  CHECK(healthy == rules);

  // Every panel query of the dashboard, over the scenario as Grafana asks.
  const Json dashboard = Json::parse(readFile(std::string(EW_SOURCE_DIR) + "/deploy/grafana/eventworker.json"));
  const auto queries = dashboardQueries(dashboard);
  REQUIRE(queries.size() >= 10);
  const double end = e2e::wallMillis() / 1000.0;
  int empty = 0;
  for (const auto& q : queries) {
    const std::string expr = expand(q.expr, ns);
    const Json series = prometheus.range(expr, wall0, end, 5);
    std::cout << "[figure] panel \"" << q.panel << "\": " << series.size() << " series: " << expr << "\n";
    INFO("panel " << q.panel << ": " << expr);
    CHECK(series.size() > 0);
    if (series.empty()) ++empty;
  }
  if (empty) std::cout << "prometheus' log:\n" << prometheus.log();
  // The namespace variable's values (label_values(METRIC, LABEL)) include the worker's.
  for (const auto& v : dashboard["templating"]["list"]) {
    if (v.value("type", "") != "query") continue;
    std::smatch m;
    const std::string def = v.value("definition", "");
    REQUIRE(std::regex_match(def, m, std::regex(R"(label_values\((\w+), (\w+)\))")));
    const Json values = prometheus.get("/api/v1/label/" + m[2].str() + "/values", {{"match[]", m[1].str()}});
    std::cout << "[figure] variable " << v.value("name", "") << ": " << values.size() << " values\n";
    CHECK(std::find(values.begin(), values.end(), Json(ns)) != values.end());
  }

  // helm upgrade with a changed value: the operator's pods roll with it and reconcile.
  at = e2e::nowSeconds();
  helm("upgrade " + kRelease + " " + std::string(EW_SOURCE_DIR) +
       "/charts/eventworker --reuse-values --set logFormat=text --set workers=3");
  REQUIRE(rolledOut(api) == "");
  std::cout << "[figure] helm upgrade -> operator rolled out: " << e2e::nowSeconds() - at << " s\n";
  auto operatorDeployment = api.get(e2e::kDeployment, kOperatorNs, "eventworker-operator");
  REQUIRE(operatorDeployment);
  const std::string args = (*operatorDeployment)["spec"]["template"]["spec"]["containers"][0]["args"].dump();
  INFO(args);
  CHECK(args.find("--log-format=text") != std::string::npos);
  CHECK(args.find("--workers=3") != std::string::npos);
  REQUIRE(reconciles(api, ns, "upgraded", kafka));
  std::cout << "[figure] helm upgrade -> a new EventWorker's Deployment: " << e2e::nowSeconds() - at << " s\n";
  CHECK(helm("status " + kRelease).find("REVISION: 2") != std::string::npos);

  // helm uninstall: the operator goes; the CRD (kept by policy), the
  // EventWorkers and their Deployments stay.
  at = e2e::nowSeconds();
  helm("uninstall " + kRelease + " --wait");
  std::cout << "[figure] helm uninstall --wait: " << e2e::nowSeconds() - at << " s\n";
  CHECK(eventually([&] { return !api.get(e2e::kDeployment, kOperatorNs, "eventworker-operator"); }, 120s));
  CHECK(eventually([&] { return e2e::pods(api, kOperatorNs, "app.kubernetes.io/name=eventworker-operator").empty(); },
                   120s));
  CHECK(kubectl("get crd eventworkers.eventworker.dev") == 0);
  CHECK(api.get(e2e::kEventWorker, ns, w.name));
  CHECK(e2e::deploymentReplicas(api, ns, "upgraded-events") >= 0);
  // The manifests' install (what the other cases use) takes over and reconciles.
  at = e2e::nowSeconds();
  e2e::installOperator();
  CHECK(reconciles(api, ns, "reinstalled", kafka));
  std::cout << "[figure] kubectl apply -k manifests/ after it -> a new EventWorker's Deployment: "
            << e2e::nowSeconds() - at << " s\n";
  kubectl("delete namespace " + ns + " --wait=false");
}
