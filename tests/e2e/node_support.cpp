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

const kube::ResourceType kPod{"", "v1", "pods", "Pod", true};
const char* kNodeToleration =
    R"([{"key":"eventworker.dev/node","operator":"Exists","effect":"NoSchedule"}])";

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

void installOperator() {
  kube::KubeApi api(ew::testing::testKubeClient());
  const std::string ns = "eventworker-system";
  // A namespace another test deleted may still be terminating.
  if (!eventually([&] {
        auto got = api.get(kube::resources::kNamespace, "", ns);
        return !got || !(*got)["metadata"].contains("deletionTimestamp");
      }, std::chrono::seconds(120)))
    throw std::runtime_error("namespace " + ns + " is still terminating after 120 s");
  // Opted into the node before its pods exist (apply keeps what it did not set).
  auto applied = api.apply(kube::resources::kNamespace, "", ns, namespaceObject(ns, true));
  if (!applied) throw std::runtime_error("apply namespace " + ns + ": " + applied.error().message);
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

std::string podBootstrap() { return serverEnv("EW_KAFKA_POD_BOOTSTRAP"); }

std::vector<PodState> pods(kube::KubeApi& api, const std::string& ns, const std::string& labelSelector) {
  kube::ListOptions o;
  o.labelSelector = labelSelector;
  auto list = api.list(kPod, ns, o);
  std::vector<PodState> out;
  if (!list) return out;
  for (const auto& p : (*list)["items"]) {
    PodState s;
    s.name = p["metadata"]["name"];
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
  kubectl("-n " + ns + " get events --sort-by=.lastTimestamp -o custom-columns=R:.reason,O:.involvedObject.name,M:.message --no-headers", &events);
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
    ++entries_;
    ++routes_[v.value("route", "")];
    if (v.contains("seq") && v["seq"].is_number_integer()) {
      ++seqEntries_;
      seqs_.insert(v["seq"].get<int64_t>());
    }
    const int64_t ts = m->timestamp().timestamp;
    auto [it, fresh] = pods_.try_emplace(v.value("pod", ""), ts, ts);
    if (!fresh) {
      it->second.first = std::min(it->second.first, ts);
      it->second.second = std::max(it->second.second, ts);
    }
  }
}

double nowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace ew::e2e
