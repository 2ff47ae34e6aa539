#include "controller/reconciler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "controller/desired_state.h"

namespace ew::controller {

using kube::Json;
namespace resources = kube::resources;

Reconciler::Reconciler(kube::Api& api, kube::Store& eventWorkers, OwnedStores owned, RenderFn render,
                       EventRecorder& events, const TimeSource& time, Autoscaler* autoscaler,
                       MigrationKafka migrationKafka, OutboxMonitor* outbox, StreamsScaler* streams)
    : api_(api),
      eventWorkers_(eventWorkers),
      owned_(owned),
      render_(std::move(render)),
      events_(events),
      time_(time),
      autoscaler_(autoscaler),
      migrationKafka_(std::move(migrationKafka)),
      outbox_(outbox),
      streams_(streams) {}

namespace {

bool hasFinalizer(const Json& ew) {
  for (const auto& f : ew["metadata"].value("finalizers", Json::array()))
    if (f == migration::kFinalizer) return true;
  return false;
}

}  // namespace

Status Reconciler::setFinalizer(const Json& ew, bool present, int& writes) {
  if (hasFinalizer(ew) == present) return Status::success();
  const auto& meta = ew["metadata"];
  // Server-side apply owns just this entry of the finalizers set: applying
  // without it removes it and leaves everybody else's.
  Json patch = {{"apiVersion", ew.value("apiVersion", "eventworker.dev/v1alpha1")},
                {"kind", "EventWorker"},
                {"metadata", {{"name", meta["name"]}, {"namespace", meta["namespace"]}}}};
  if (present) patch["metadata"]["finalizers"] = {migration::kFinalizer};
  ++writes;
  auto r = api_.apply(resources::kEventWorker, meta["namespace"], meta["name"], patch);
  if (!r) return Error{"finalizer of " + meta.value("name", "") + ": " + r.error().message, r.error().code};
  eventWorkers_.upsertUnlessNewer(*r);  // read-your-writes, as for the status below
  return Status::success();
}

kube::Store* Reconciler::storeFor(const std::string& kind) const {
  if (kind == "ConfigMap") return &owned_.configMaps;
  if (kind == "Deployment") return &owned_.deployments;
  if (kind == "StatefulSet") return &owned_.statefulSets;
  if (kind == "Subscription") return owned_.subscriptions;
  if (kind == "Service") return owned_.services;
  return nullptr;
}

const kube::ResourceType* Reconciler::typeFor(const std::string& kind) const {
  if (kind == "ConfigMap") return &resources::kConfigMap;
  if (kind == "Deployment") return &resources::kDeployment;
  if (kind == "StatefulSet") return &resources::kStatefulSet;
  if (kind == "Subscription") return &resources::kDaprSubscription;
  if (kind == "Service") return &resources::kService;
  return nullptr;
}

std::vector<Json> Reconciler::ownedBy(const std::string& ns, const std::string& name) const {
  std::vector<Json> out;
  for (kube::Store* s :
       {&owned_.configMaps, &owned_.deployments, &owned_.statefulSets, owned_.subscriptions, owned_.services}) {
    if (!s) continue;
    for (auto& o : s->byIndex(ns, name)) out.push_back(std::move(o));
  }
  return out;
}

namespace {
bool isWorkload(const std::string& kind) { return kind == "Deployment" || kind == "StatefulSet"; }
}  // namespace

Result<std::set<std::string>> Reconciler::deletePredecessors(const Json& ew, const std::vector<Json>& replaced,
                                                             const std::vector<Json>& rendered, StatusInputs& in,
                                                             int& writes) {
  const std::string ns = ew["metadata"].value("namespace", "");
  std::set<std::string> heldBack;
  for (const auto& old : replaced) {
    const std::string kind = old.value("kind", ""), objName = old["metadata"].value("name", "");
    heldBack.insert(objName);
    for (const auto& o : rendered)
      if (isWorkload(o.value("kind", "")) && o["metadata"].value("name", "") == objName)
        in.replacing.push_back({kind, o.value("kind", ""), objName});
    if (deletingInForeground(old)) continue;
    ++writes;
    if (auto st = api_.remove(*typeFor(kind), ns, objName, "Foreground"); !st)
      return Error{"delete " + kind + " " + objName + " before its successor: " + st.error().message, st.error().code};
    events_.record(ew, "Normal", "Replacing",
                   "deleting " + kind + " " + objName + " and its pods; its successor is created once they are gone",
                   in.now);
  }
  return heldBack;
}

Status Reconciler::writeStatus(const Json& ew, const Json& status, int& writes) {
  const auto& meta = ew["metadata"];
  if (sameStatus(status, ew.value("status", Json::object()))) return Status::success();
  Json patch = {{"apiVersion", ew.value("apiVersion", "eventworker.dev/v1alpha1")},
                {"kind", "EventWorker"},
                {"metadata", {{"name", meta["name"]}, {"namespace", meta["namespace"]}}},
                {"status", status}};
  ++writes;
  auto r = api_.apply(resources::kEventWorker, meta["namespace"], meta["name"], patch, /*status=*/true);
  if (!r)
    return Error{"status of " + meta.value("namespace", "") + "/" + meta.value("name", "") + ": " + r.error().message,
                 r.error().code};
  // The next reconcile reads what was just written even when its watch event
  // has not arrived yet: status.migration is the migration's memory, and a
  // step taken from the record before this one forgot what this one changed
  // (migration_live_test: an overlap migration's next step, from the stale
  // record, found the API's annotation already set, recorded nothing, dropped
  // the finalizer, and the deletion then left the annotation behind).
  eventWorkers_.upsertUnlessNewer(*r);
  return Status::success();
}

Result<ReconcileOutcome> Reconciler::reconcile(const std::string& key) {
  auto found = eventWorkers_.get(key);
  if (!found || (*found)["metadata"].contains("deletionTimestamp")) return reconcileDeleted(key, found);
  const Json& ew = *found;
  Pass p(key, ew);
  p.in.generation = ew["metadata"].value("generation", 0);
  p.in.now = rfc3339(time_.wallNow());
  // Nothing that decides the writes changed since a reconcile that applied
  // nothing: neither render nor compare again, only the status may be due.
  std::vector<Json> owned = ownedBy(p.ns, p.name);
  const size_t inputs = appliedInputs(p, owned);
  if (!hasFinalizer(ew) && !p.current.contains("migration"))
    if (auto verified = verifiedFor(key, inputs)) return reconcileVerified(p, *verified, owned);

  auto rendered = renderTracked(key, ew);
  if (!rendered) return reportInvalid(p, rendered.error().message);
  // Migration: observe, step, act; it decides whether the worker's own
  // Subscriptions exist yet (scoped in).
  const bool migrating = rendered->migration || p.current.contains("migration") || hasFinalizer(ew);
  if (migrating)
    if (auto s = stepMigration(p, *rendered); !s) return s.error();
  // (A migration's steps may have changed what is owned: read again.)
  const auto replaced = predecessors(rendered->objects, migrating ? ownedBy(p.ns, p.name) : owned, p.uid);
  auto heldBack = deletePredecessors(ew, replaced, rendered->objects, p.in, p.out.writes);
  if (!heldBack) return heldBack.error();
  if (auto s = applyRendered(p, *rendered, *heldBack); !s) return s.error();
  if (auto s = pruneUndeclared(p, rendered->objects, replaced); !s) return s.error();
  if (!migrating && p.out.writes == 0 && replaced.empty()) rememberVerified(p, *rendered, inputs);
  if (auto s = writeSettledStatus(
          p, {rendered->selector, rendered->consumerGroup, rendered->outbox.has_value(), rendered->streams.has_value()},
          migrating, ownedBy(p.ns, p.name));
      !s)
    return s.error();
  return p.out;
}

size_t Reconciler::appliedInputs(const Pass& p, const std::vector<Json>& owned) const {
  std::optional<int> decided, streamsDecided;
  if (autoscaler_)
    if (auto d = autoscaler_->decision(p.key)) decided = d->desiredReplicas;
  if (streams_)
    if (auto v = streams_->view(p.key)) streamsDecided = v->decision.desiredReplicas;
  return appliedInputsHash(p.ew, owned, decided, streamsDecided);
}

std::optional<Reconciler::Verified> Reconciler::verifiedFor(const std::string& key, size_t inputs) {
  std::lock_guard l(verifiedMu_);
  auto it = verified_.find(key);
  if (it == verified_.end() || it->second.inputs != inputs) return std::nullopt;
  return it->second;
}

void Reconciler::rememberVerified(const Pass& p, const Rendered& rendered, size_t inputs) {
  // The objects compared may be newer than those hashed before rendering
  // (a watch event meanwhile): then the next reconcile renders again.
  const bool unchanged = appliedInputs(p, ownedBy(p.ns, p.name)) == inputs;
  std::lock_guard l(verifiedMu_);
  if (!unchanged) {
    verified_.erase(p.key);
    return;
  }
  verified_[p.key] = {inputs,
                      rendered.selector,
                      rendered.consumerGroup,
                      rendered.outbox.has_value(),
                      rendered.streams.has_value(),
                      p.in.scaling,
                      p.in.eventsReplicas};
}

void Reconciler::forgetVerified(const std::string& key) {
  std::lock_guard l(verifiedMu_);
  verified_.erase(key);
}

Result<ReconcileOutcome> Reconciler::reconcileVerified(Pass& p, const Verified& v, const std::vector<Json>& owned) {
  // What applyRendered() would have found, as the reconcile that verified it did.
  p.in.scaling = v.scaling;
  p.in.eventsReplicas = v.eventsReplicas;
  if (v.scaling == StatusInputs::Scaling::Auto && autoscaler_) p.in.decision = autoscaler_->decision(p.key);
  if (auto s = writeSettledStatus(p, {v.selector, v.consumerGroup, v.outboxDeclared, v.streamsDeclared},
                                  /*migrating=*/false, owned);
      !s)
    return s.error();
  return p.out;
}

Reconciler::Pass::Pass(const std::string& k, const Json& e)
    : key(k),
      ew(e),
      ns(e["metadata"].value("namespace", "")),
      name(e["metadata"].value("name", "")),
      uid(e["metadata"].value("uid", "")),
      current(e.value("status", Json::object())) {}

Result<ReconcileOutcome> Reconciler::reconcileDeleted(const std::string& key, const std::optional<Json>& found) {
  // Deleted: the garbage collector removes the children.
  ReconcileOutcome out;
  if (autoscaler_) autoscaler_->untrack(key);
  if (outbox_) outbox_->untrack(key);
  if (streams_) streams_->untrack(key);
  forgetFirstStatus(key);
  forgetVerified(key);
  if (found && hasFinalizer(*found)) {
    // Give back what the migration changed, then let the deletion go on.
    auto plan = migrate(*found, std::nullopt, /*deleting=*/true, out.writes);
    if (!plan) return plan.error();
    if (auto s = setFinalizer(*found, false, out.writes); !s) return s.error();
    events_.record(*found, "Normal", "MigrationRestored", "restored what the migration changed",
                   rfc3339(time_.wallNow()));
  }
  return out;
}

Result<Rendered> Reconciler::renderTracked(const std::string& key, const Json& ew) {
  auto rendered = render_(ew);
  if (autoscaler_) {
    if (rendered && rendered->scale)
      autoscaler_->track(key, *rendered->scale);
    else
      autoscaler_->untrack(key);
  }
  if (outbox_) {
    if (rendered && rendered->outbox)
      outbox_->track(key, *rendered->outbox);
    else
      outbox_->untrack(key);
  }
  if (streams_) {
    if (rendered && rendered->streams)
      streams_->track(key, *rendered->streams);
    else
      streams_->untrack(key);
  }
  return rendered;
}

Result<ReconcileOutcome> Reconciler::reportInvalid(Pass& p, const std::string& why) {
  forgetVerified(p.key);
  p.in.invalidReason = why;
  Json status = desiredStatus(p.in, p.current);
  const bool wasDegraded = !sameStatus(status, p.current);
  if (auto s = writeStatus(p.ew, status, p.out.writes); !s) return s.error();
  if (wasDegraded) events_.record(p.ew, "Warning", "InvalidSpec", why, p.in.now);
  return p.out;  // nothing to do until the spec changes
}

Status Reconciler::applyRendered(Pass& p, Rendered& rendered, const std::set<std::string>& heldBack) {
  std::string created;  // one Event for everything a reconcile creates
  for (const auto& object : rendered.objects) {
    const std::string kind = object.value("kind", "");
    if (isWorkload(kind) && heldBack.count(object["metadata"].value("name", ""))) continue;
    const kube::ResourceType* type = typeFor(kind);
    if (!type) return Error{"renderer produced an unsupported kind " + kind};
    Json desired = withOwner(object, p.ew);
    const std::string objName = desired["metadata"].value("name", "");
    kube::Store* store = storeFor(kind);
    std::optional<Json> live = store ? store->get(p.ns + "/" + objName) : std::nullopt;
    std::optional<int> scaledFrom;
    std::string scaledWhy;  // what sized it
    if (kind == "Deployment" && objName == rendered.eventsDeployment) {
      scaledFrom = sizeEventsDeployment(p, rendered, desired, live);
      scaledWhy = p.in.decision
                      ? std::string(autoscale::reasonName(p.in.decision->reason)) + ": " + p.in.decision->message
                      : "spec.replicas";
    } else if (kind == "Deployment" && objName == rendered.streamsDeployment) {
      scaledFrom = sizeStreamsDeployment(p, rendered, desired, live);
      scaledWhy = p.in.streams ? std::string(autoscale::streamsReasonName(p.in.streams->decision.reason)) + ": " +
                                     p.in.streams->decision.message
                               : "spec.streamsScaling";
    }
    if (live && matchesLive(desired, *live)) continue;
    ++p.out.writes;
    auto applied = api_.apply(*type, p.ns, objName, desired);
    if (!applied) return applyFailed(p, kind, objName, applied.error());
    // Read-your-writes until the watch catches up, unless the watch already
    // brought something newer (someone else's edit, a status update): that
    // one stays, and its event is judged after this reconcile.
    if (store && store->upsertUnlessNewer(*applied) && owned_.wrote) owned_.wrote(*store, p.ns + "/" + objName);
    if (!live) created += (created.empty() ? "" : ", ") + kind + " " + objName;
    if (scaledFrom) {
      if (objName == rendered.eventsDeployment) p.in.scaledNow = true;
      events_.record(p.ew, "Normal", "Scaled",
                     "scaled " + objName + " from " + std::to_string(*scaledFrom) + " to " +
                         std::to_string(desired["spec"].value("replicas", 0)) + " (" + scaledWhy + ")",
                     p.in.now);
    }
  }
  if (!created.empty()) events_.record(p.ew, "Normal", "Created", "created " + created, p.in.now);
  return Status::success();
}

std::optional<int> Reconciler::sizeEventsDeployment(Pass& p, const Rendered& rendered, Json& desired,
                                                    const std::optional<Json>& live) {
  std::optional<int> liveReplicas;
  if (live && (*live)["spec"].contains("replicas")) liveReplicas = (*live)["spec"]["replicas"].get<int>();
  p.in.scaling = rendered.scale ? StatusInputs::Scaling::Auto : StatusInputs::Scaling::Manual;
  if (rendered.scale) {
    p.in.decision = autoscaler_ ? autoscaler_->decision(p.key) : std::nullopt;
    desired["spec"]["replicas"] =
        scaledReplicas(p.in.decision, liveReplicas, desired["spec"].value("replicas", 0), rendered.scale->policy);
  }
  p.in.eventsReplicas = desired["spec"].value("replicas", 0);
  if (liveReplicas && *liveReplicas != p.in.eventsReplicas) return *liveReplicas;
  return std::nullopt;
}

std::optional<int> Reconciler::sizeStreamsDeployment(Pass& p, const Rendered& rendered, Json& desired,
                                                     const std::optional<Json>& live) {
  std::optional<int> liveReplicas;
  if (live && (*live)["spec"].contains("replicas")) liveReplicas = (*live)["spec"]["replicas"].get<int>();
  p.in.streams = streams_ ? streams_->view(p.key) : std::nullopt;
  if (!rendered.streams) return std::nullopt;
  const int replicas = autoscale::streamsReplicas(p.in.streams ? std::optional(p.in.streams->decision) : std::nullopt,
                                                  liveReplicas, rendered.streams->policy);
  desired["spec"]["replicas"] = replicas;
  if (liveReplicas && *liveReplicas != replicas) return *liveReplicas;
  return std::nullopt;
}

Error Reconciler::applyFailed(Pass& p, const std::string& kind, const std::string& objName, const Error& error) {
  std::string reason = "ApplyFailed";
  std::string msg = "cannot apply " + kind + " " + objName + ": " + error.message;
  if (kind == "Subscription" && error.code == 404) {
    reason = "DaprNotInstalled";
    msg = "the dapr.io/v2alpha1 Subscription API is not installed: install Dapr or set spec.dapr.enabled: false";
  }
  // Say why in status, then let the queue retry with backoff.
  reportDegraded(p, reason, msg);
  return Error{msg, error.code};
}

void Reconciler::reportDegraded(Pass& p, const std::string& reason, const std::string& message) {
  p.in.degraded = std::make_pair(reason, message);
  int writes = 0;  // not counted: the reconcile fails either way
  if (auto st = writeStatus(p.ew, desiredStatus(p.in, p.current), writes); !st)
    spdlog::warn("cannot report Degraded {}: {}", reason, st.error().message);
}

Status Reconciler::pruneUndeclared(Pass& p, const std::vector<Json>& rendered, const std::vector<Json>& replaced) {
  for (const auto& gone : toPrune(rendered, ownedBy(p.ns, p.name), p.uid)) {
    const std::string kind = gone.value("kind", ""), objName = gone["metadata"].value("name", "");
    const kube::ResourceType* type = typeFor(kind);
    if (!type) continue;
    const bool predecessor = std::any_of(replaced.begin(), replaced.end(), [&](const Json& r) {
      return r.value("kind", "") == kind && r["metadata"].value("name", "") == objName;
    });
    if (predecessor) continue;  // deleted in the foreground by deletePredecessors
    ++p.out.writes;
    if (auto s = api_.remove(*type, p.ns, objName); !s)
      return Error{"prune " + kind + " " + objName + ": " + s.error().message};
    if (kube::Store* store = storeFor(kind)) store->erase(p.ns + "/" + objName);
    events_.record(p.ew, "Normal", "Pruned", "deleted " + kind + " " + objName + ": no longer declared", p.in.now);
  }
  return Status::success();
}

Status Reconciler::writeSettledStatus(Pass& p, const Settled& settled, bool migrating, const std::vector<Json>& owned) {
  for (const auto& o : owned)
    if (isWorkload(o.value("kind", ""))) p.in.workloads.push_back(o);
  p.in.selector = settled.selector;
  p.in.consumerGroup = settled.consumerGroup;
  if (owned_.pods) p.in.pods = podProblems(owned_.pods->byIndex(p.ns, p.name));
  p.in.outboxDeclared = settled.outboxDeclared;
  if (outbox_ && settled.outboxDeclared) p.in.outbox = outbox_->view(p.key);
  p.in.streamsDeclared = settled.streamsDeclared;
  if (streams_ && settled.streamsDeclared && !p.in.streams) p.in.streams = streams_->view(p.key);
  Json status = desiredStatus(p.in, p.current);
  if (!p.current.contains("observedGeneration") && !migrating) {
    if (auto wait = firstStatusWait(p.key, p.in, status)) {
      p.out.requeueAfter = *wait;
      return Status::success();
    }
  }
  if (auto s = writeStatus(p.ew, status, p.out.writes); !s) return s.error();
  recordPodFailure(p.ew, p.current, status, p.in.pods, p.in.now);
  return Status::success();
}

// The first status of a new worker waits until its Deployments are available
// and the first lag poll is in (see kFirstStatusWait): one write with the
// settled state instead of one per step of its start (in a burst of new
// workers the API server's capacity goes to their objects). A pod's problem
// (ImagePullBackOff, Unschedulable, ...) is news at once: the pods will not
// come up by waiting, and the user is waiting for the reason. The
// Deployments' and pods' status changes bring the reconciles; the requeue is
// the deadline.
std::optional<std::chrono::milliseconds> Reconciler::firstStatusWait(const std::string& key, const StatusInputs& in,
                                                                     const Json& status) {
  bool settled = in.scaling != StatusInputs::Scaling::Auto || !autoscaler_ || in.decision.has_value();
  for (const auto& c : status.value("conditions", Json::array()))
    if (c.value("type", "") == "Ready" && !in.workloads.empty())
      settled = settled && (c.value("status", "") == "True" || !in.pods.empty());
  const auto due = firstStatusDue(key, in.workloads), now = time_.now();
  if (!settled && now < due)
    return std::chrono::duration_cast<std::chrono::milliseconds>(due - now) + std::chrono::milliseconds(1);
  forgetFirstStatus(key);
  return std::nullopt;
}

void Reconciler::recordPodFailure(const Json& ew, const Json& before, const Json& after,
                                  const std::vector<PodProblem>& pods, const std::string& now) {
  const auto degraded = [](const Json& status) {
    for (const auto& c : status.value("conditions", Json::array()))
      if (c.value("type", "") == "Degraded" && c.value("status", "") == "True") return c;
    return Json::object();
  };
  const Json was = degraded(before), is = degraded(after);
  const std::string reason = is.value("reason", "");
  if (is.empty() || reason == was.value("reason", "")) return;
  // Only the pods' reasons: the others have their Events where they are decided.
  if (std::any_of(pods.begin(), pods.end(), [&](const PodProblem& p) { return p.failing && p.reason == reason; }))
    events_.record(ew, "Warning", reason, is.value("message", ""), now);
}

MonoTime Reconciler::firstStatusDue(const std::string& key, const std::vector<Json>& workloads) {
  const MonoTime now = time_.now();
  const bool observed = std::all_of(workloads.begin(), workloads.end(), workloadObserved);
  std::lock_guard l(firstStatusMu_);
  FirstStatus& f = firstStatus_.try_emplace(key, FirstStatus{now + kFirstStatusLimit, std::nullopt}).first->second;
  if (!f.observed && observed) f.observed = now;
  return f.observed ? std::min(f.limit, *f.observed + kFirstStatusWait) : f.limit;
}

void Reconciler::forgetFirstStatus(const std::string& key) {
  std::lock_guard l(firstStatusMu_);
  firstStatus_.erase(key);
}

}  // namespace ew::controller
