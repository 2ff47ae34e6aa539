#include "controller/desired_state.h"

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

namespace {

Json condition(const std::string& type, bool status, const std::string& reason, const std::string& message,
               int64_t generation, const std::string& now, const Json& current) {
  const std::string s = status ? "True" : "False";
  std::string since = now;
  for (const auto& c : current.value("conditions", Json::array()))
    if (c.value("type", "") == type && c.value("status", "") == s) since = c.value("lastTransitionTime", now);
  return {{"type", type}, {"status", s}, {"reason", reason}, {"message", message},
          {"observedGeneration", generation}, {"lastTransitionTime", since}};
}

bool available(const Json& d) {
  for (const auto& c : d.value("status", Json::object()).value("conditions", Json::array()))
    if (c.value("type", "") == "Available") return c.value("status", "") == "True";
  return false;
}

}  // namespace

bool deploymentAvailable(const Json& d) {
  const Json s = d.value("status", Json::object());
  return s.value("observedGeneration", 0) >= d["metadata"].value("generation", 0) && available(d);
}

Json desiredStatus(const StatusInputs& in, const Json& current) {
  Json status = current.is_object() ? current : Json::object();
  status["observedGeneration"] = in.generation;
  if (!in.selector.empty()) status["selector"] = in.selector;
  if (!in.consumerGroup.empty()) status["consumerGroup"] = in.consumerGroup;
  int64_t replicas = 0, ready = 0;
  std::vector<std::string> notAvailable;
  for (const auto& d : in.deployments) {
    const Json s = d.value("status", Json::object());
    const std::string name = d["metadata"].value("name", "");
    if (name.size() > 7 && name.compare(name.size() - 7, 7, "-events") == 0) {
      replicas = s.value("replicas", 0);
      ready = s.value("readyReplicas", 0);
    }
    const bool upToDate = s.value("observedGeneration", 0) >= d["metadata"].value("generation", 0);
    if (!upToDate || !available(d)) notAvailable.push_back(name);
  }
  status["replicas"] = replicas;
  status["readyReplicas"] = ready;

  Json conditions = Json::array();
  if (in.invalidReason || in.degraded) {
    const std::string reason = in.invalidReason ? "InvalidSpec" : in.degraded->first;
    const std::string message = in.invalidReason ? *in.invalidReason : in.degraded->second;
    conditions.push_back(condition("Ready", false, reason, message, in.generation, in.now, current));
    conditions.push_back(condition("Degraded", true, reason, message, in.generation, in.now, current));
  } else {
    if (in.deployments.empty()) {
      conditions.push_back(condition("Ready", false, "NoWorkloads",
                                     "no Deployment rendered yet: the resource declares no subscriptions or cron jobs",
                                     in.generation, in.now, current));
    } else if (!notAvailable.empty()) {
      std::string names;
      for (const auto& n : notAvailable) names += (names.empty() ? "" : ", ") + n;
      conditions.push_back(condition("Ready", false, "DeploymentsNotAvailable",
                                     "waiting for Deployment(s) to become available: " + names, in.generation,
                                     in.now, current));
    } else {
      conditions.push_back(condition("Ready", true, "DeploymentsAvailable", "all worker Deployments are available",
                                     in.generation, in.now, current));
    }
    conditions.push_back(condition("Degraded", false, "AsExpected", "", in.generation, in.now, current));
  }
  using Scaling = StatusInputs::Scaling;
  if (in.scaledNow) status["lastScaleTime"] = in.now;
  if (in.scaling == Scaling::None) {
    status.erase("desiredReplicas");
    status.erase("lag");
  } else {
    status["desiredReplicas"] = in.eventsReplicas;
  }
  if (in.scaling == Scaling::Manual) {
    status.erase("lag");
    conditions.push_back(condition("Scaling", false, "Disabled",
                                   "spec.scaling.enabled is false: the events Deployment runs spec.replicas (" +
                                       std::to_string(in.eventsReplicas) + ")",
                                   in.generation, in.now, current));
  } else if (in.scaling == Scaling::Auto && !in.decision) {
    conditions.push_back(condition("Scaling", false, "Pending", "waiting for the first lag poll", in.generation,
                                   in.now, current));
  } else if (in.scaling == Scaling::Auto) {
    const autoscale::Decision& d = *in.decision;
    const bool failing = d.reason == autoscale::Reason::MetricsFailed || d.reason == autoscale::Reason::Fallback;
    if (!failing) {
      Json byTopic = Json::object();
      for (const auto& [topic, lag] : d.lagByTopic) byTopic[topic] = lag;
      status["lag"] = {{"total", d.totalLag}, {"byTopic", byTopic},
                       {"stalledPartitions", static_cast<int64_t>(d.stalled.size())}};
    }
    conditions.push_back(condition("Scaling", !failing, autoscale::reasonName(d.reason), d.message, in.generation,
                                   in.now, current));
    // Kafka cannot be read: say so, unless something worse already does.
    if (d.degraded && !in.invalidReason && !in.degraded) {
      for (auto& c : conditions)
        if (c["type"] == "Degraded")
          c = condition("Degraded", true, "LagUnavailable", d.message, in.generation, in.now, current);
    }
  }
  if (in.migrationManaged) {
    if (in.migration.is_null()) status.erase("migration");
    else status["migration"] = in.migration;
    if (in.migrated)
      conditions.push_back(condition("Migrated", in.migrated->status, in.migrated->reason, in.migrated->message,
                                     in.generation, in.now, current));
    if (in.migrationProblem && !in.invalidReason && !in.degraded)
      for (auto& c : conditions)
        if (c["type"] == "Degraded")
          c = condition("Degraded", true, "MigrationBlocked", *in.migrationProblem, in.generation, in.now, current);
  }
  // Conditions owned by other loops are kept as they are.
  for (const auto& c : current.value("conditions", Json::array())) {
    const std::string t = c.value("type", "");
    if (t != "Ready" && t != "Degraded" && t != "Scaling" && (t != "Migrated" || !in.migrationManaged))
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

}  // namespace ew::controller
