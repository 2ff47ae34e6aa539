#include "node_support.h"

#include <librdkafka/rdkafkacpp.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "kube_helpers.h"
#include "test_env.h"

namespace ew::e2e {

using ew::testing::eventually;
using ew::testing::kubectl;
using ew::testing::serverEnv;
using kube::Json;

namespace {

const char* kNodeToleration = R"([{"key":"eventworker.dev/node","operator":"Exists","effect":"NoSchedule"}])";

Json namespaceObject(const std::string& name, bool restricted) {
  Json labels = {{"app.kubernetes.io/part-of", "eventworker"}};
  if (restricted) {
    labels["pod-security.kubernetes.io/enforce"] = "restricted";
    labels["pod-security.kubernetes.io/warn"] = "restricted";
  }
  return {{"apiVersion", "v1"},
          {"kind", "Namespace"},
          {"metadata",
           {{"name", name},
            {"labels", labels},
            {"annotations", {{"scheduler.alpha.kubernetes.io/defaultTolerations", kNodeToleration}}}}}};
}

}  // namespace

void prepareOperatorNamespace() {
  kube::KubeApi api(ew::testing::testKubeClient());
  const std::string ns = "eventworker-system";
  // A namespace another test deleted may still be terminating.
  if (!eventually(
          [&] {
            auto got = api.get(kube::resources::kNamespace, "", ns);
            return !got || !(*got)["metadata"].contains("deletionTimestamp");
          },
          std::chrono::seconds(120)))
    throw std::runtime_error("namespace " + ns + " is still terminating after 120 s");
  // Opted into the node before its pods exist (apply keeps what it did not set).
  auto applied = api.apply(kube::resources::kNamespace, "", ns, namespaceObject(ns, true));
  if (!applied) throw std::runtime_error("apply namespace " + ns + ": " + applied.error().message);
}

void installOperator() {
  kube::KubeApi api(ew::testing::testKubeClient());
  const std::string ns = "eventworker-system";
  prepareOperatorNamespace();
  std::string out;
  if (kubectl("apply -k " + std::string(EW_SOURCE_DIR) + "/manifests/", &out) != 0)
    throw std::runtime_error("kubectl apply -k manifests/: " + out);
  if (kubectl("-n " + ns + " rollout status deployment/eventworker-operator --timeout=180s", &out) != 0)
    throw std::runtime_error("the operator did not roll out: " + out + "\n" +
                             describePods(api, ns, "app.kubernetes.io/name=eventworker-operator"));
}

std::string createNodeNamespace(kube::KubeApi& api, const std::string& prefix) {
  const std::string ns = ew::testing::uniqueName(prefix);
  auto r = api.create(kube::resources::kNamespace, "", namespaceObject(ns, true));
  if (!r) throw std::runtime_error("create namespace " + ns + ": " + r.error().message);
  return ns;
}

std::string leaseHolder(kube::KubeApi& api) {
  static const kube::ResourceType kLease{"coordination.k8s.io", "v1", "leases", "Lease", true};
  auto lease = api.get(kLease, "eventworker-system", "eventworker-operator");
  if (!lease) return "";
  return (*lease)["spec"].value("holderIdentity", "");
}

std::string holderPod(const std::string& holder, const std::vector<PodState>& pods) {
  for (const auto& p : pods)
    if (holder.rfind(p.name + "_", 0) == 0) return p.name;
  return "";
}

std::string operatorLeaderPod(kube::KubeApi& api) {
  return holderPod(leaseHolder(api), pods(api, "eventworker-system", "app.kubernetes.io/name=eventworker-operator"));
}

std::string podBootstrap() { return serverEnv("EW_KAFKA_POD_BOOTSTRAP"); }

std::vector<PodState> pods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector) {
  kube::ListOptions o;
  o.labelSelector = labelSelector;
  auto list = api.list(kube::resources::kPod, ns, o);
  std::vector<PodState> out;
  if (!list) return out;
  for (const auto& p : (*list)["items"]) {
    PodState s;
    s.name = p["metadata"]["name"];
    s.uid = p["metadata"].value("uid", "");
    s.terminating = p["metadata"].contains("deletionTimestamp");
    const Json& st = p.value("status", Json::object());
    s.phase = st.value("phase", "");
    for (const auto& c : st.value("conditions", Json::array()))
      if (c.value("type", "") == "Ready") s.ready = c.value("status", "") == "True";
    for (const auto& c : st.value("containerStatuses", Json::array())) {
      s.restarts += c.value("restartCount", 0);
      if (!s.containersReady.empty()) s.containersReady += ",";
      s.containersReady += c.value("name", "") + "=" + (c.value("ready", false) ? "true" : "false");
      if (s.waitingReason.empty() && c.contains("state") && c["state"].contains("waiting"))
        s.waitingReason = c["state"]["waiting"].value("reason", "");
    }
    out.push_back(std::move(s));
  }
  return out;
}

int readyPods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector) {
  int n = 0;
  for (const auto& p : pods(api, ns, labelSelector))
    if (p.phase == "Running" && p.ready && !p.terminating) ++n;
  return n;
}

std::string describePods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector) {
  std::ostringstream o;
  for (const auto& p : pods(api, ns, labelSelector))
    o << "  pod " << p.name << ": " << p.phase << (p.ready ? " ready" : " not-ready")
      << (p.terminating ? " terminating" : "") << " [" << p.containersReady << "] restarts=" << p.restarts
      << (p.waitingReason.empty() ? "" : " waiting=" + p.waitingReason) << "\n";
  std::string events;
  kubectl("-n " + ns +
              " get events --sort-by=.lastTimestamp -o custom-columns=R:.reason,O:.involvedObject.name,M:.message "
              "--no-headers",
          &events);
  if (events.size() > 3000) events = events.substr(events.size() - 3000);
  return o.str() + "  events:\n" + events;
}

int64_t wallMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct LedgerReader::Impl {
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;
};

LedgerReader::LedgerReader(const std::string& bootstrap, const std::string& topic) : impl_(std::make_unique<Impl>()) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : std::map<std::string, std::string>{{"bootstrap.servers", bootstrap},
                                                               {"group.id", ew::testing::uniqueName("ledger")},
                                                               {"auto.offset.reset", "earliest"},
                                                               {"enable.auto.commit", "false"}})
    if (c->set(k, v, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error("ledger reader: " + k + ": " + err);
  impl_->consumer.reset(RdKafka::KafkaConsumer::create(c.get(), err));
  if (!impl_->consumer) throw std::runtime_error("ledger reader: " + err);
  if (impl_->consumer->subscribe({topic}) != RdKafka::ERR_NO_ERROR)
    throw std::runtime_error("ledger reader: cannot subscribe to " + topic);
}

LedgerReader::~LedgerReader() { impl_->consumer->close(); }

void LedgerReader::poll(std::chrono::milliseconds within) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(impl_->consumer->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR || !m->payload()) continue;
    auto v = nlohmann::json::parse(static_cast<const char*>(m->payload()),
                                   static_cast<const char*>(m->payload()) + m->len(), nullptr, false);
    if (v.is_discarded() || !v.is_object()) continue;
    Entry e;
    e.route = v.value("route", "");
    e.id = v.value("id", "");
    if (v.contains("seq") && v["seq"].is_number_integer()) e.seq = v["seq"].get<int64_t>();
    if (v.contains("partition") && v["partition"].is_number_integer()) e.partition = v["partition"].get<int>();
    if (e.partition < 0) {  // a Kafka record that is no CloudEvent gets the id "<topic>-<partition>-<offset>"
      const auto last = e.id.rfind('-');
      const auto prev = last == std::string::npos || last == 0 ? std::string::npos : e.id.rfind('-', last - 1);
      if (prev != std::string::npos) {
        const std::string p = e.id.substr(prev + 1, last - prev - 1);
        if (!p.empty() && p.find_first_not_of("0123456789") == std::string::npos) e.partition = std::stoi(p);
      }
    }
    e.pod = v.value("pod", "");
    e.at = m->timestamp().timestamp;
    if (e.seq >= 0) {
      ++seqEntries_;
      seqs_.insert(e.seq);
    }
    auto [it, fresh] = pods_.try_emplace(e.pod, e.at, e.at);
    if (!fresh) {
      it->second.first = std::min(it->second.first, e.at);
      it->second.second = std::max(it->second.second, e.at);
    }
    entries_.push_back(std::move(e));
  }
}

std::vector<LedgerReader::Entry> LedgerReader::route(const std::string& r) const {
  std::vector<Entry> out;
  for (const auto& e : entries_)
    if (e.route == r) out.push_back(e);
  return out;
}

int64_t LedgerReader::longestGapAcross(int64_t at) const {
  std::map<int, std::pair<int64_t, int64_t>> around;  // partition -> (last before, first at/after)
  for (const auto& e : entries_) {
    if (e.partition < 0) continue;
    auto& [before, after] = around.try_emplace(e.partition, -1, -1).first->second;
    if (e.at < at)
      before = std::max(before, e.at);
    else if (after < 0 || e.at < after)
      after = e.at;
  }
  int64_t longest = -1;
  for (const auto& [p, ba] : around)
    if (ba.first >= 0 && ba.second >= 0) longest = std::max(longest, ba.second - ba.first);
  return longest;
}

const kube::ResourceType kEventWorker{"eventworker.dev", "v1alpha1", "eventworkers", "EventWorker", true};
const kube::ResourceType kDeployment{"apps", "v1", "deployments", "Deployment", true};
const kube::ResourceType kEndpointSlice{"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true};

Json workerObject(const WorkerSpec& w) {
  Json spec = Json::parse(R"({
    "service": "e2e",
    "handler": {
      "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "128Mi"}},
      "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    },
    "runtime": {"resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}}},
    "scaling": {"pollIntervalSeconds": 2, "scaleDownStabilizationSeconds": 20}
  })");
  const std::string bootstrap = w.bootstrap.empty() ? podBootstrap() : w.bootstrap;
  spec["handler"]["image"] = w.handlerImage;
  const std::string ledgerBootstrap = w.security.is_null() ? bootstrap : podBootstrap();
  spec["handler"]["args"] = {"--delay-ms",  std::to_string(w.delayMs), "--ledger-topic",
                             w.ledgerTopic, "--kafka-bootstrap",       ledgerBootstrap};
  for (const auto& a : w.handlerArgs) spec["handler"]["args"].push_back(a);
  spec["source"]["kafka"] = {{"brokers", {bootstrap}}};
  if (!w.security.is_null()) spec["source"]["kafka"]["security"] = w.security;
  if (w.dapr) {
    spec["dapr"] = {{"enabled", true}, {"pubsubName", "pubsub"}};
    if (!w.appId.empty()) spec["dapr"]["appId"] = w.appId;
  } else {
    spec["source"]["kafka"]["consumerGroup"] = w.name;
  }
  spec["subscriptions"] = Json::array(
      {{{"name", "orders"}, {"topic", w.topic}, {"route", "/events/orders"}, {"concurrency", w.concurrency}}});
  if (!w.extraTopic.empty())
    spec["subscriptions"].push_back(
        {{"name", "more"}, {"topic", w.extraTopic}, {"route", "/events/more"}, {"concurrency", w.concurrency}});
  spec["scaling"]["enabled"] = w.autoscale;
  spec["scaling"]["minReplicas"] = w.minReplicas;
  spec["scaling"]["maxReplicas"] = w.maxReplicas;
  spec["scaling"]["lagThreshold"] = w.lagThreshold;
  if (!w.autoscale) spec["replicas"] = w.minReplicas;
  if (!w.cron.empty()) spec["cron"] = Json::parse(w.cron);
  return {{"apiVersion", "eventworker.dev/v1alpha1"},
          {"kind", "EventWorker"},
          {"metadata", {{"name", w.name}, {"namespace", w.ns}}},
          {"spec", spec}};
}

WorkerSpec namedWorker(const std::string& ns, const std::string& name) {
  WorkerSpec w;
  w.ns = ns;
  w.name = name;
  w.topic = ns + ".orders";
  w.ledgerTopic = ns + ".ledger";
  return w;
}

Json runtimeOnlyWorker(const std::string& ns, const std::string& name) {
  Json o = workerObject(namedWorker(ns, name));
  o["spec"].erase("subscriptions");
  o["spec"].erase("scaling");
  o["spec"]["handler"].erase("args");
  o["spec"]["source"]["kafka"].erase("consumerGroup");
  return o;
}

std::string podSelector(const WorkerSpec& w, const std::string& component) {
  return "eventworker.dev/name=" + w.name + ",eventworker.dev/component=" + component;
}

PodWait waitForPods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector,
                    const std::function<bool()>& pred, std::chrono::milliseconds within) {
  if (eventually(pred, within)) return {true, ""};
  return {false, describePods(api, ns, labelSelector)};
}

std::string condition(const Json& ew, const std::string& type, std::string* reason) {
  for (const auto& c : ew.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == type) {
      if (reason) *reason = c.value("reason", "");
      return c.value("status", "");
    }
  return "";
}

int deploymentReplicas(kube::KubeApi& api, const std::string& ns, const std::string& name) {
  auto d = api.get(kDeployment, ns, name);
  return d ? (*d)["spec"].value("replicas", -1) : -1;
}

double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace ew::e2e
