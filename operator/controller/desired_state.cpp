#include "controller/desired_state.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace ew::controller {

Json withOwner(Json object, const Json& owner) {
  const auto& meta = owner.at("metadata");
  Json ref = {{"apiVersion", owner.value("apiVersion", "eventworker.dev/v1alpha1")},
              {"kind", owner.value("kind", "EventWorker")},
              {"name", meta.at("name")},
              {"uid", meta.at("uid")},
              {"controller", true},
              {"blockOwnerDeletion", true}};
  object["metadata"]["ownerReferences"] = Json::array({ref});
  object["metadata"]["labels"][kNameLabel] = meta.at("name");
  return object;
}

bool matchesLive(const Json& desired, const Json& live) {
  if (desired.is_object()) {
    if (!live.is_object()) return false;
    for (auto it = desired.begin(); it != desired.end(); ++it) {
      auto l = live.find(it.key());
      if (l == live.end()) {
        // An empty desired container is as good as an absent one.
        if ((it->is_object() || it->is_array()) && it->empty()) continue;
        return false;
      }
      if (!matchesLive(*it, *l)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!live.is_array() || live.size() != desired.size()) return false;
    for (size_t i = 0; i < desired.size(); ++i)
      if (!matchesLive(desired[i], live[i])) return false;
    return true;
  }
  if (desired.is_number() && live.is_number()) return desired.get<double>() == live.get<double>();
  return desired == live;
}

namespace {
using Identity = std::tuple<std::string, std::string, std::string>;
Identity identity(const Json& o) {
  std::string apiVersion = o.value("apiVersion", "");
  std::string group = apiVersion.find('/') == std::string::npos ? "" : apiVersion.substr(0, apiVersion.find('/'));
  return {group, o.value("kind", ""), o["metadata"].value("name", "")};
}
}  // namespace

std::vector<Json> toPrune(const std::vector<Json>& desired, const std::vector<Json>& owned,
                          const std::string& ownerUid) {
  std::set<Identity> want;
  for (const auto& d : desired) want.insert(identity(d));
  std::vector<Json> out;
  for (const auto& o : owned) {
    bool controlled = false;
    for (const auto& ref : o["metadata"].value("ownerReferences", Json::array()))
      if (ref.value("uid", "") == ownerUid && ref.value("controller", false)) controlled = true;
    if (controlled && !want.count(identity(o))) out.push_back(o);
  }
  return out;
}

std::vector<Json> predecessors(const std::vector<Json>& desired, const std::vector<Json>& owned,
                               const std::string& ownerUid) {
  auto workload = [](const Json& o) {
    const std::string kind = o.value("kind", "");
    return o.value("apiVersion", "") == "apps/v1" && (kind == "Deployment" || kind == "StatefulSet");
  };
  std::vector<Json> out;
  for (const auto& o : toPrune(desired, owned, ownerUid)) {
    if (!workload(o)) continue;
    for (const auto& d : desired)
      if (workload(d) && d["metadata"].value("name", "") == o["metadata"].value("name", "")) {
        out.push_back(o);
        break;
      }
  }
  return out;
}

bool deletingInForeground(const Json& object) {
  const Json& meta = object["metadata"];
  if (!meta.contains("deletionTimestamp")) return false;
  for (const auto& f : meta.value("finalizers", Json::array()))
    if (f == "foregroundDeletion") return true;
  return false;
}

namespace {

// STATUS: True, False or Unknown.
Json condition(const std::string& type, const std::string& s, const std::string& reason, const std::string& message,
               int64_t generation, const std::string& now, const Json& current) {
  std::string since = now;
  for (const auto& c : current.value("conditions", Json::array()))
    if (c.value("type", "") == type && c.value("status", "") == s) since = c.value("lastTransitionTime", now);
  return {{"type", type},
          {"status", s},
          {"reason", reason},
          {"message", message},
          {"observedGeneration", generation},
          {"lastTransitionTime", since}};
}

bool available(const Json& d) {
  for (const auto& c : d.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == "Available") return c.value("status", "") == "True";
  return false;
}

}  // namespace

bool workloadObserved(const Json& w) {
  const auto s = w.find("status");
  if (s == w.end() || !s->is_object() || !s->contains("observedGeneration")) return false;
  return s->value("observedGeneration", 0) >= w["metadata"].value("generation", 0);
}

bool workloadAvailable(const Json& w) {
  const Json s = w.value("status", Json::object());
  if (s.value("observedGeneration", 0) < w["metadata"].value("generation", 0)) return false;
  if (w.value("kind", "") == "StatefulSet")
    return s.value("availableReplicas", 0) >= w.value("spec", Json::object()).value("replicas", 1);
  return available(w);
}

namespace {

// Makes the conditions of one desired status (see condition()).
struct ConditionMaker {
  const StatusInputs& in;
  const Json& current;
  Json operator()(const std::string& type, bool status, const std::string& reason, const std::string& message) const {
    return condition(type, status ? "True" : "False", reason, message, in.generation, in.now, current);
  }
  Json operator()(const std::string& type, const std::string& status, const std::string& reason,
                  const std::string& message) const {
    return condition(type, status, reason, message, in.generation, in.now, current);
  }
};

// Sets status.replicas and readyReplicas from the events Deployment; returns
// the workloads not available, each as "<kind> <name>".
std::vector<std::string> setReplicaCounts(const StatusInputs& in, Json& status) {
  int64_t replicas = 0, ready = 0;
  std::vector<std::string> notAvailable;
  for (const auto& w : in.workloads) {
    const Json s = w.value("status", Json::object());
    const std::string kind = w.value("kind", ""), name = w["metadata"].value("name", "");
    if (kind == "Deployment" && name.size() > 7 && name.compare(name.size() - 7, 7, "-events") == 0) {
      replicas = s.value("replicas", 0);
      ready = s.value("readyReplicas", 0);
    }
    if (!workloadAvailable(w)) notAvailable.push_back(kind + " " + name);
  }
  status["replicas"] = replicas;
  status["readyReplicas"] = ready;
  return notAvailable;
}

// Ready of a valid spec whose objects are applied.
Json readyCondition(const StatusInputs& in, const ConditionMaker& make, const std::vector<std::string>& notAvailable) {
  if (!in.replacing.empty()) {
    std::string what;
    for (const auto& r : in.replacing)
      what += (what.empty() ? "" : "; ") + r.oldKind + " " + r.name + " and its pods before " + r.newKind + " " +
              r.name + " is created";
    return make("Ready", false, "ReplacingWorkload",
                "deleting " + what + " (the old and the new pods must never run side by side)");
  }
  if (in.workloads.empty())
    return make("Ready", false, "NoWorkloads",
                "no workload rendered: the resource declares no subscriptions or cron jobs");
  if (!notAvailable.empty()) {
    std::string names;
    for (const auto& n : notAvailable) names += (names.empty() ? "" : ", ") + n;
    // What the pods say is why, when they say something.
    if (!in.pods.empty()) names += " (" + describe(in.pods) + ")";
    // The reasons keep their first names (Deployments...) for whoever
    // matches on them; the message names each workload with its kind.
    return make("Ready", false, "DeploymentsNotAvailable", "waiting for workloads to become available: " + names);
  }
  return make("Ready", true, "DeploymentsAvailable", "all worker workloads are available");
}

// A container that cannot start or keeps crashing: Degraded with the
// kubelet's reason, whether or not the workload is still available (a
// rollout stuck on a missing image leaves the old pods serving).
Json podsDegradedCondition(const StatusInputs& in, const ConditionMaker& make) {
  std::vector<PodProblem> failing;
  for (const auto& p : in.pods)
    if (p.failing) failing.push_back(p);
  if (!failing.empty()) return make("Degraded", true, failing.front().reason, describe(failing));
  return make("Degraded", false, "AsExpected", "");
}

void replaceDegraded(Json& conditions, const Json& degraded) {
  for (auto& c : conditions)
    if (c["type"] == "Degraded") c = degraded;
}

// The scaling fields of STATUS and the Scaling condition; Degraded
// LagUnavailable when Kafka cannot be read and nothing worse is said
// (SOMETHING_WORSE).
void setScaling(const StatusInputs& in, const ConditionMaker& make, bool somethingWorse, Json& status,
                Json& conditions) {
  using Scaling = StatusInputs::Scaling;
  if (in.scaledNow) status["lastScaleTime"] = in.now;
  if (in.scaling == Scaling::None) {
    status.erase("desiredReplicas");
    status.erase("lag");
    status.erase("burstPeriodSeconds");
  } else {
    status["desiredReplicas"] = in.eventsReplicas;
  }
  if (in.scaling == Scaling::Manual) {
    status.erase("lag");
    status.erase("burstPeriodSeconds");
    conditions.push_back(make("Scaling", false, "Disabled",
                              "spec.scaling.enabled is false: the events Deployment runs spec.replicas (" +
                                  std::to_string(in.eventsReplicas) + ")"));
  } else if (in.scaling == Scaling::Auto && !in.decision) {
    conditions.push_back(make("Scaling", false, "Pending", "waiting for the first lag poll"));
  } else if (in.scaling == Scaling::Auto) {
    const autoscale::Decision& d = *in.decision;
    const bool failing = d.reason == autoscale::Reason::MetricsFailed || d.reason == autoscale::Reason::Fallback;
    if (!failing) {
      Json byTopic = Json::object();
      for (const auto& [topic, lag] : d.lagByTopic) byTopic[topic] = lag;
      status["lag"] = {
          {"total", d.totalLag}, {"byTopic", byTopic}, {"stalledPartitions", static_cast<int64_t>(d.stalled.size())}};
      if (d.burstPeriodSeconds)
        status["burstPeriodSeconds"] = *d.burstPeriodSeconds;
      else
        status.erase("burstPeriodSeconds");
    }
    conditions.push_back(make("Scaling", !failing, autoscale::reasonName(d.reason), d.message));
    if (d.degraded && !somethingWorse) replaceDegraded(conditions, make("Degraded", true, "LagUnavailable", d.message));
  }
}

// status.migration and the Migrated condition, when the migration is managed;
// Degraded MigrationBlocked unless something worse is said.
void setMigration(const StatusInputs& in, const ConditionMaker& make, bool somethingWorse, Json& status,
                  Json& conditions) {
  if (!in.migrationManaged) return;
  if (in.migration.is_null())
    status.erase("migration");
  else
    status["migration"] = in.migration;
  if (in.migrated)
    conditions.push_back(make("Migrated", in.migrated->status, in.migrated->reason, in.migrated->message));
  if (in.migrationProblem && !somethingWorse)
    replaceDegraded(conditions, make("Degraded", true, "MigrationBlocked", *in.migrationProblem));
}

// status.outbox and the OutboxBacklog condition (outbox_status.h) while
// spec.outbox declares relays; until the first poll, what status said stays.
void setOutbox(const StatusInputs& in, const ConditionMaker& make, Json& status, Json& conditions) {
  if (!in.outbox) return;
  status["outbox"] = outboxStatusJson(*in.outbox);
  const OutboxCondition c = outboxBacklogCondition(*in.outbox);
  conditions.push_back(make("OutboxBacklog", c.status, c.reason, c.message));
}

}  // namespace

Json desiredStatus(const StatusInputs& in, const Json& current) {
  Json status = current.is_object() ? current : Json::object();
  status["observedGeneration"] = in.generation;
  if (!in.selector.empty()) status["selector"] = in.selector;
  if (!in.consumerGroup.empty()) status["consumerGroup"] = in.consumerGroup;
  const std::vector<std::string> notAvailable = setReplicaCounts(in, status);
  const ConditionMaker make{in, current};
  Json conditions = Json::array();
  if (in.invalidReason || in.degraded) {
    const std::string reason = in.invalidReason ? "InvalidSpec" : in.degraded->first;
    const std::string message = in.invalidReason ? *in.invalidReason : in.degraded->second;
    conditions.push_back(make("Ready", false, reason, message));
    conditions.push_back(make("Degraded", true, reason, message));
  } else {
    conditions.push_back(readyCondition(in, make, notAvailable));
    conditions.push_back(podsDegradedCondition(in, make));
  }
  // Kafka or the migration cannot go on: said in Degraded unless something worse already is.
  const bool somethingWorse =
      in.invalidReason || in.degraded ||
      std::any_of(in.pods.begin(), in.pods.end(), [](const PodProblem& p) { return p.failing; });
  setScaling(in, make, somethingWorse, status, conditions);
  setMigration(in, make, somethingWorse, status, conditions);
  setOutbox(in, make, status, conditions);
  if (!in.outboxDeclared) status.erase("outbox");
  // status.streams while spec.streams declares streams; until the first poll, what status said stays.
  if (in.streams) status["streams"] = streamsStatusJson(*in.streams);
  if (!in.streamsDeclared) status.erase("streams");
  // Conditions owned by other loops are kept as they are.
  for (const auto& c : current.value("conditions", Json::array())) {
    const std::string t = c.value("type", "");
    if (t != "Ready" && t != "Degraded" && t != "Scaling" && (t != "Migrated" || !in.migrationManaged) &&
        (t != "OutboxBacklog" || (in.outboxDeclared && !in.outbox)))
      conditions.push_back(c);
  }
  status["conditions"] = conditions;
  return status;
}

namespace {
Json withoutTransitionTimes(Json s) {
  if (s.contains("conditions"))
    for (auto& c : s["conditions"]) c.erase("lastTransitionTime");
  return s;
}
}  // namespace

bool sameStatus(const Json& a, const Json& b) { return withoutTransitionTimes(a) == withoutTransitionTimes(b); }

std::string changeFingerprint(const Json& object) {
  const Json meta = object.value("metadata", Json::object());
  Json f = Json::object();
  for (const char* k : {"uid", "generation", "deletionTimestamp", "labels", "annotations", "ownerReferences"})
    if (meta.contains(k)) f[k] = meta[k];
  if (object.contains("data")) f["data"] = object["data"];
  if (object.value("kind", "") != "EventWorker" && object.contains("status") && object["status"].is_object()) {
    const Json& st = object["status"];
    for (const char* k : {"observedGeneration", "replicas", "readyReplicas", "availableReplicas", "updatedReplicas"})
      if (st.contains(k)) f["status"][k] = st[k];
    for (const auto& c : st.value("conditions", Json::array()))
      f["status"]["conditions"][c.value("type", "")] = c.value("status", "");
  }
  return f.dump();
}

size_t changeHash(const Json& object) { return std::hash<std::string>{}(changeFingerprint(object)); }

size_t appliedInputsHash(const Json& eventWorker, const std::vector<Json>& owned, std::optional<int> decidedReplicas,
                         std::optional<int> streamsReplicas) {
  std::string text = changeFingerprint(eventWorker);
  for (const auto& o : owned) {
    for (auto it = o.begin(); it != o.end(); ++it) {
      if (it.key() == "status") continue;
      text += '|';
      text += it.key();
      if (it.key() != "metadata" || !it->is_object()) {
        text += it->dump();
        continue;
      }
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (m.key() == "resourceVersion") continue;
        text += m.key();
        text += m->dump();
      }
    }
    text += '\n';
  }
  text += std::to_string(decidedReplicas.value_or(-1));
  text += '|';
  text += std::to_string(streamsReplicas.value_or(-1));
  return std::hash<std::string>{}(text);
}

}  // namespace ew::controller
