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

const char* toString(Phase p) {
  switch (p) {
    case Phase::Pending:
      return "Pending";
    case Phase::Paused:
      return "Paused";
    case Phase::OffsetsCopied:
      return "OffsetsCopied";
    case Phase::Complete:
      return "Complete";
  }
  return "Pending";
}

namespace {

// A missing phase (or one this version does not know, which the CRD's enum
// keeps out) starts from Pending: every step is idempotent.
Phase phaseFrom(const std::string& text) {
  for (Phase p : {Phase::Pending, Phase::Paused, Phase::OffsetsCopied, Phase::Complete})
    if (text == toString(p)) return p;
  return Phase::Pending;
}

}  // namespace

Record recordFromJson(const Json& j) {
  Record r;
  r.appId = j.value("appId", "");
  r.handoff = j.value("handoff", "pause");
  r.phase = phaseFrom(j.value("phase", "Pending"));
  r.message = j.value("message", "");
  const Json steps = j.value("steps", Json::object()), changed = j.value("changed", Json::array());
  for (const auto& [name, at] : steps.items())
    if (at.is_string()) r.steps[name] = at.get<std::string>();
  for (const auto& c : changed) {
    Change change{c.value("kind", "Subscription"), c.value("name", ""), c.value("removedScope", ""),
                  c.value("annotation", ""), std::nullopt};
    if (c.contains("previous") && c["previous"].is_string()) change.previous = c["previous"].get<std::string>();
    r.changed.push_back(std::move(change));
  }
  if (j.contains("watch") && j["watch"].contains("committed")) {
    r.watchCommitted = j["watch"]["committed"];
    r.watchStillSince = j["watch"].value("stillSince", std::int64_t{0});
  }
  if (j.contains("offsets")) r.offsets = j["offsets"];
  return r;
}

Json toJson(const Record& r) {
  Json j = {{"appId", r.appId},
            {"handoff", r.handoff},
            {"phase", toString(r.phase)},
            {"steps", Json::object()},
            {"changed", Json::array()}};
  if (!r.message.empty()) j["message"] = r.message;
  for (const auto& [name, at] : r.steps) j["steps"][name] = at;
  for (const auto& c : r.changed) {
    if (c.kind == "Deployment")
      j["changed"].push_back({{"kind", c.kind},
                              {"name", c.name},
                              {"annotation", c.annotation},
                              {"previous", c.previous ? Json(*c.previous) : Json()}});
    else
      j["changed"].push_back({{"kind", c.kind}, {"name", c.name}, {"removedScope", c.removedScope}});
  }
  if (r.watchCommitted) j["watch"] = {{"committed", *r.watchCommitted}, {"stillSince", r.watchStillSince}};
  if (r.offsets) j["offsets"] = *r.offsets;
  return j;
}

bool wantsApiGroup(const Json& record) {
  return record.is_object() && record.value("phase", "") == "Paused" && record.value("handoff", "") == "pause";
}

namespace {

// One step of one phase: the request, what was observed, the record being
// advanced and the plan being built.
struct Step {
  const Request& r;
  const Observed& o;
  Record& rec;
  Plan& p;
  std::string topics;  // the moved topics, for messages

  void setPhase(Phase phase, std::string message) {
    rec.phase = phase;
    rec.message = std::move(message);
  }
  void reached(const char* name) { rec.steps.try_emplace(name, o.now); }
  bool changedSubscription(const std::string& name) const {
    return std::any_of(rec.changed.begin(), rec.changed.end(), [&](const Change& c) {
      return c.kind == "Subscription" && c.name == name && c.removedScope == r.appId;
    });
  }
  bool changedDeployment(const std::string& name) const {
    return std::any_of(rec.changed.begin(), rec.changed.end(),
                       [&](const Change& c) { return c.kind == "Deployment" && c.name == name; });
  }
};

// Takes the API's app id off the Subscriptions on the moved topics (and, with
// programmatic, off its Deployments' init endpoints), recording each change.
// Returns the unscoped Subscriptions found (which deliver to every app).
std::vector<std::string> pauseApi(Step& s) {
  std::vector<std::string> everyApp;
  for (const ApiSubscription* sub : onMovedTopics(s.r, s.o)) {
    if (sub->scopes.empty()) everyApp.push_back(sub->name);
    if (!contains(sub->scopes, s.r.appId)) continue;
    s.p.scopeEdits.push_back({sub->name, withoutScope(sub->scopes, s.r.appId)});
    if (!s.changedSubscription(sub->name)) s.rec.changed.push_back({"Subscription", sub->name, s.r.appId, "", {}});
  }
  if (!s.r.programmatic) return everyApp;
  for (const auto& d : s.o.deployments) {
    if (listsSubscribe(d.disableInitEndpoints)) continue;
    s.p.annotationEdits.push_back(
        {d.name, d.disableInitEndpoints ? *d.disableInitEndpoints + ",subscribe" : std::string("subscribe")});
    if (!s.changedDeployment(d.name))
      s.rec.changed.push_back({"Deployment", d.name, "", kDisableInitEndpoints, d.disableInitEndpoints});
  }
  return everyApp;
}

void stepPending(Step& s, const std::vector<Change>& changedBefore) {
  const bool overlap = s.rec.handoff == "overlap";
  s.p.workerScopedIn = overlap;  // overlap: the worker starts first
  if (!s.o.workerReady) {
    s.setPhase(Phase::Pending, "waiting for the worker's events Deployment to become available");
    return;
  }
  s.reached("workerReady");
  const std::vector<std::string> everyApp = pauseApi(s);
  if (!everyApp.empty()) {
    s.p.annotationEdits.clear();
    s.p.scopeEdits.clear();
    s.p.problem = "Subscription(s) " + joined(everyApp) + " on " + s.topics +
                  " have no scopes, so they deliver to every app: scope them to " + s.r.appId +
                  " explicitly, then the migration can take " + s.r.appId + " off them";
    s.setPhase(Phase::Pending, *s.p.problem);
    s.rec.changed = changedBefore;
    return;
  }
  s.reached("apiPaused");
  if (overlap) {
    s.reached("complete");
    s.setPhase(Phase::Complete, "the worker consumes " + s.topics + "; " + s.r.appId + " was taken off them");
    return;
  }
  std::string msg = "waiting for " + s.r.appId + "'s consumer group to stop committing on " + s.topics;
  if (s.p.scopeEdits.empty() && s.rec.changed.empty())
    msg += " (no declarative Subscription scoped to " + s.r.appId +
           " was found: if it subscribes programmatically, set spec.migrateFrom.programmaticSubscriptions: true)";
  s.setPhase(Phase::Paused, msg);
  s.p.again = true;  // Paused polls the API's group: nothing else would wake it
}

void stepPaused(Step& s) {
  s.p.workerScopedIn = false;
  s.p.again = true;  // every outcome but the copy polls the API's group again; so does the copy (scope in next)
  if (!s.o.apiGroup) return;
  if (!s.o.apiGroup->ok()) {
    s.rec.message = "cannot read " + s.r.appId + "'s consumer group: " + s.o.apiGroup->error().message;
    return;
  }
  Json committed = Json::object();
  bool owned = false;
  for (const auto& part : **s.o.apiGroup) {
    if (part.committed) committed[partitionId(part.topic, part.partition)] = *part.committed;
    owned = owned || part.hasOwner;
  }
  const bool still = s.rec.watchCommitted && *s.rec.watchCommitted == committed;
  const std::int64_t since = s.rec.watchCommitted ? s.rec.watchStillSince : s.o.nowSeconds;
  if (!still) {
    s.rec.watchCommitted = committed;
    s.rec.watchStillSince = s.o.nowSeconds;
    s.rec.message = "waiting for " + s.r.appId + "'s consumer group to stop committing on " + s.topics;
    return;
  }
  if (owned && s.o.nowSeconds - since < s.r.settleSeconds) {
    s.rec.message = s.r.appId + "'s committed offsets on " + s.topics + " are still; settling for " +
                    std::to_string(s.r.settleSeconds) + " s";
    return;
  }
  std::map<autoscale::PartitionKey, std::int64_t> offsets;
  for (const auto& part : **s.o.apiGroup)
    if (part.committed) offsets[{part.topic, part.partition}] = *part.committed;
  s.p.copyOffsets = offsets;
  s.rec.offsets = committed;
  s.rec.watchCommitted.reset();
  s.reached("apiStopped");
  s.reached("offsetsCopied");
  s.setPhase(Phase::OffsetsCopied, "copied " + std::to_string(offsets.size()) + " committed offset(s) of " + s.r.appId +
                                       " to the worker's consumer group");
}

void stepOffsetsCopied(Step& s) {
  s.p.workerScopedIn = true;
  s.reached("scopedIn");
  s.reached("complete");
  s.setPhase(Phase::Complete, "the worker consumes " + s.topics + " from where " + s.r.appId + " stopped");
}

}  // namespace

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
  Record rec;
  if (hasRecord) {
    rec = recordFromJson(current);
  } else {
    rec.appId = r.appId;
    rec.handoff = r.handoff;
    rec.steps["started"] = o.now;
  }
  const std::vector<Change> changedBefore = rec.changed;
  Step s{r, o, rec, p, joined(r.topics)};
  switch (rec.phase) {
    case Phase::Pending:
      stepPending(s, changedBefore);
      break;
    case Phase::Paused:
      stepPaused(s);
      break;
    case Phase::OffsetsCopied:
      stepOffsetsCopied(s);
      break;
    case Phase::Complete:
      p.workerScopedIn = true;
      break;
  }

  p.record = toJson(rec);
  p.keepFinalizer = !rec.changed.empty();
  if (rec.phase == Phase::Complete)
    p.migrated = Plan::Condition{true, "Complete", rec.message};
  else
    p.migrated =
        Plan::Condition{false, rec.phase == Phase::Pending ? "WaitingForWorker" : toString(rec.phase), rec.message};
  if (p.problem) p.migrated->reason = "Blocked";
  return p;
}

}  // namespace ew::migration
