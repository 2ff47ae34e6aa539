#include "migration/migration.h"

#include <algorithm>
#include <set>

namespace ew::migration {

namespace {

std::string partitionId(const std::string& topic, int partition) { return topic + "/" + std::to_string(partition); }

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The Subscriptions on the moved topics of the worker's pubsub.
std::vector<const ApiSubscription*> onMovedTopics(const Request& r, const Observed& o) {
  std::vector<const ApiSubscription*> out;
  for (const auto& s : o.subscriptions)
    if (s.pubsubName == r.pubsubName && contains(r.topics, s.topic)) out.push_back(&s);
  return out;
}

// Edits giving back every recorded scope that is missing now.
std::vector<ScopeEdit> restoreEdits(const Json& record, const Observed& o) {
  std::map<std::string, std::vector<std::string>> scopes;  // per Subscription, with earlier edits applied
  for (const auto& s : o.subscriptions) scopes[s.name] = s.scopes;
  std::vector<std::string> order;
  for (const auto& c : record.value("changed", Json::array())) {
    const std::string name = c.value("name", ""), scope = c.value("removedScope", "");
    auto it = scopes.find(name);
    if (it == scopes.end() || contains(it->second, scope)) continue;  // gone, or already back
    it->second = withScope(it->second, scope);
    if (!contains(order, name)) order.push_back(name);
  }
  std::vector<ScopeEdit> edits;
  for (const auto& n : order) edits.push_back({n, scopes[n]});
  return edits;
}

// Edits putting back each recorded annotation as it was.
std::vector<AnnotationEdit> restoreAnnotations(const Json& record, const Observed& o) {
  std::vector<AnnotationEdit> edits;
  for (const auto& c : record.value("changed", Json::array())) {
    if (c.value("kind", "") != "Deployment") continue;
    const std::string name = c.value("name", "");
    std::optional<std::string> previous;
    if (c.contains("previous") && c["previous"].is_string()) previous = c["previous"].get<std::string>();
    for (const auto& d : o.deployments)
      if (d.name == name && d.disableInitEndpoints != previous) edits.push_back({name, previous});
  }
  return edits;
}

bool listsSubscribe(const std::optional<std::string>& value) {
  if (!value) return false;
  size_t start = 0;
  while (start <= value->size()) {
    size_t end = value->find(',', start);
    if (end == std::string::npos) end = value->size();
    if (value->substr(start, end - start) == "subscribe") return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

std::vector<std::string> withoutScope(std::vector<std::string> scopes, const std::string& appId) {
  scopes.erase(std::remove(scopes.begin(), scopes.end(), appId), scopes.end());
  if (scopes.empty()) scopes.push_back(kNoAppScope);
  return scopes;
}

std::vector<std::string> withScope(std::vector<std::string> scopes, const std::string& appId) {
  scopes.erase(std::remove(scopes.begin(), scopes.end(), std::string(kNoAppScope)), scopes.end());
  if (!contains(scopes, appId)) scopes.push_back(appId);
  return scopes;
}

bool wantsApiGroup(const Json& record) {
  return record.is_object() && record.value("phase", "") == "Paused" && record.value("handoff", "") == "pause";
}

Plan step(const Json& current, const std::optional<Request>& request, const Observed& o, bool deleting) {
  Plan p;
  const bool hasRecord = current.is_object() && !current.empty();

  // Give back what was changed: the resource is going, migrateFrom was
  // removed, or it now names another app (that one starts afresh next time).
  if (deleting || !request || (hasRecord && current.value("appId", "") != request->appId)) {
    p.record = nullptr;
    if (hasRecord) {
      p.scopeEdits = restoreEdits(current, o);
      p.annotationEdits = restoreAnnotations(current, o);
    }
    p.workerScopedIn = true;  // a plain Dapr worker again
    return p;
  }

  const Request& r = *request;
  Json rec = hasRecord ? current
                       : Json{{"appId", r.appId}, {"handoff", r.handoff}, {"phase", "Pending"},
                              {"steps", {{"started", o.now}}}, {"changed", Json::array()}};
  const bool overlap = rec.value("handoff", "pause") == "overlap";
  auto setPhase = [&](const std::string& phase, const std::string& message) {
    rec["phase"] = phase;
    rec["message"] = message;
  };
  auto record = [&](const char* stepName) {
    if (!rec["steps"].contains(stepName)) rec["steps"][stepName] = o.now;
  };
  const std::string topics = joined(r.topics);
  std::string phase = rec.value("phase", "Pending");

  if (phase == "Pending") {
    p.workerScopedIn = overlap;  // overlap: the worker starts first
    if (!o.workerReady) {
      setPhase("Pending", "waiting for the worker's events Deployment to become available");
    } else {
      record("workerReady");
      std::vector<std::string> everyApp;
      for (const ApiSubscription* s : onMovedTopics(r, o)) {
        if (s->scopes.empty()) everyApp.push_back(s->name);
        if (!contains(s->scopes, r.appId)) continue;
        p.scopeEdits.push_back({s->name, withoutScope(s->scopes, r.appId)});
        bool known = false;
        for (const auto& c : rec["changed"])
          known = known || (c.value("name", "") == s->name && c.value("removedScope", "") == r.appId);
        if (!known) rec["changed"].push_back({{"kind", "Subscription"}, {"name", s->name}, {"removedScope", r.appId}});
      }
      if (r.programmatic)
        for (const auto& d : o.deployments) {
          if (listsSubscribe(d.disableInitEndpoints)) continue;
          p.annotationEdits.push_back(
              {d.name, d.disableInitEndpoints ? *d.disableInitEndpoints + ",subscribe" : std::string("subscribe")});
          bool known = false;
          for (const auto& c : rec["changed"]) known = known || (c.value("kind", "") == "Deployment" && c.value("name", "") == d.name);
          if (!known)
            rec["changed"].push_back({{"kind", "Deployment"}, {"name", d.name}, {"annotation", kDisableInitEndpoints},
                                      {"previous", d.disableInitEndpoints ? Json(*d.disableInitEndpoints) : Json()}});
        }
      if (!everyApp.empty()) {
        p.annotationEdits.clear();
        p.scopeEdits.clear();
        p.problem = "Subscription(s) " + joined(everyApp) + " on " + topics +
                    " have no scopes, so they deliver to every app: scope them to " + r.appId +
                    " explicitly, then the migration can take " + r.appId + " off them";
        setPhase("Pending", *p.problem);
        rec["changed"] = current.is_object() ? current.value("changed", Json::array()) : Json::array();
      } else {
        record("apiPaused");
        if (overlap) {
          record("complete");
          setPhase("Complete", "the worker consumes " + topics + "; " + r.appId + " was taken off them");
        } else {
          std::string msg = "waiting for " + r.appId + "'s consumer group to stop committing on " + topics;
          if (p.scopeEdits.empty() && rec["changed"].empty())
            msg += " (no declarative Subscription scoped to " + r.appId +
                   " was found: if it subscribes programmatically, set spec.migrateFrom.programmaticSubscriptions: true)";
          setPhase("Paused", msg);
          p.again = true;  // Paused polls the API's group: nothing else would wake it
        }
      }
    }
  } else if (phase == "Paused") {
    p.workerScopedIn = false;
    if (!o.apiGroup) {
      p.again = true;
    } else if (!o.apiGroup->ok()) {
      p.again = true;
      rec["message"] = "cannot read " + r.appId + "'s consumer group: " + o.apiGroup->error().message;
    } else {
      Json committed = Json::object();
      bool owned = false;
      for (const auto& part : **o.apiGroup) {
        if (part.committed) committed[partitionId(part.topic, part.partition)] = *part.committed;
        owned = owned || part.hasOwner;
      }
      const Json watch = rec.value("watch", Json::object());
      const bool still = watch.contains("committed") && watch["committed"] == committed;
      const std::int64_t since = watch.value("stillSince", o.nowSeconds);
      if (!still) {
        rec["watch"] = {{"committed", committed}, {"stillSince", o.nowSeconds}};
        p.again = true;
        rec["message"] = "waiting for " + r.appId + "'s consumer group to stop committing on " + topics;
      } else if (owned && o.nowSeconds - since < r.settleSeconds) {
        p.again = true;
        rec["message"] = r.appId + "'s committed offsets on " + topics + " are still; settling for " +
                         std::to_string(r.settleSeconds) + " s";
      } else {
        std::map<autoscale::PartitionKey, std::int64_t> offsets;
        for (const auto& part : **o.apiGroup)
          if (part.committed) offsets[{part.topic, part.partition}] = *part.committed;
        p.copyOffsets = offsets;
        rec["offsets"] = committed;
        rec.erase("watch");
        record("apiStopped");
        record("offsetsCopied");
        setPhase("OffsetsCopied", "copied " + std::to_string(offsets.size()) + " committed offset(s) of " +
                                      r.appId + " to the worker's consumer group");
        p.again = true;  // scope the worker in next
      }
    }
  } else if (phase == "OffsetsCopied") {
    p.workerScopedIn = true;
    record("scopedIn");
    record("complete");
    setPhase("Complete", "the worker consumes " + topics + " from where " + r.appId + " stopped");
  } else {  // Complete
    p.workerScopedIn = true;
  }

  phase = rec.value("phase", "Pending");
  p.record = rec;
  p.keepFinalizer = !rec["changed"].empty();
  if (phase == "Complete")
    p.migrated = Plan::Condition{true, "Complete", rec.value("message", "")};
  else
    p.migrated = Plan::Condition{false, phase == "Pending" ? "WaitingForWorker" : phase, rec.value("message", "")};
  if (p.problem) p.migrated->reason = "Blocked";
  return p;
}

}  // namespace ew::migration
