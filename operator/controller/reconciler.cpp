#include "controller/reconciler.h"

#include "controller/desired_state.h"

namespace ew::controller {

using kube::Json;
namespace resources = kube::resources;

Reconciler::Reconciler(kube::KubeApi& api, kube::Store& eventWorkers, OwnedStores owned, RenderFn render,
                       EventRecorder& events, std::function<std::string()> now, Autoscaler* autoscaler)
    : api_(api), eventWorkers_(eventWorkers), owned_(owned), render_(std::move(render)), events_(events),
      now_(std::move(now)), autoscaler_(autoscaler) {}

kube::Store* Reconciler::storeFor(const std::string& kind) const {
  if (kind == "ConfigMap") return &owned_.configMaps;
  if (kind == "Deployment") return &owned_.deployments;
  if (kind == "Subscription") return owned_.subscriptions;
  return nullptr;
}

const kube::ResourceType* Reconciler::typeFor(const std::string& kind) const {
  if (kind == "ConfigMap") return &resources::kConfigMap;
  if (kind == "Deployment") return &resources::kDeployment;
  if (kind == "Subscription") return &resources::kDaprSubscription;
  return nullptr;
}

std::vector<Json> Reconciler::ownedBy(const std::string& ns, const std::string& name) const {
  std::vector<Json> out;
  for (kube::Store* s : {&owned_.configMaps, &owned_.deployments, owned_.subscriptions}) {
    if (!s) continue;
    for (auto& o : s->byIndex(ns, name)) out.push_back(std::move(o));
  }
  return out;
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
  if (!r) return Error{"status of " + meta.value("namespace", "") + "/" + meta.value("name", "") + ": " +
                       r.error().message, r.error().code};
  return Status::success();
}

Result<ReconcileOutcome> Reconciler::reconcile(const std::string& key) {
  ReconcileOutcome out;
  auto found = eventWorkers_.get(key);
  if (!found || (*found)["metadata"].contains("deletionTimestamp")) {
    // Deleted: the garbage collector removes the children.
    if (autoscaler_) autoscaler_->untrack(key);
    return out;
  }
  const Json& ew = *found;
  const auto& meta = ew["metadata"];
  const std::string ns = meta.value("namespace", ""), name = meta.value("name", "");

  StatusInputs in;
  in.generation = meta.value("generation", 0);
  in.now = now_();
  const Json current = ew.value("status", Json::object());

  auto rendered = render_(ew);
  if (autoscaler_) {
    if (rendered && rendered->scale) autoscaler_->track(key, *rendered->scale);
    else autoscaler_->untrack(key);
  }
  if (!rendered) {
    in.invalidReason = rendered.error().message;
    Json status = desiredStatus(in, current);
    const bool wasDegraded = !sameStatus(status, current);
    if (auto s = writeStatus(ew, status, out.writes); !s) return s.error();
    if (wasDegraded) events_.record(ew, "Warning", "InvalidSpec", rendered.error().message, in.now);
    return out;  // nothing to do until the spec changes
  }

  std::string created;  // one Event for everything a reconcile creates
  for (const auto& object : rendered->objects) {
    const std::string kind = object.value("kind", "");
    const kube::ResourceType* type = typeFor(kind);
    if (!type) return Error{"renderer produced an unsupported kind " + kind};
    Json desired = withOwner(object, ew);
    const std::string objName = desired["metadata"].value("name", "");
    kube::Store* store = storeFor(kind);
    std::optional<Json> live = store ? store->get(ns + "/" + objName) : std::nullopt;
    std::optional<int> scaledFrom;
    if (kind == "Deployment" && objName == rendered->eventsDeployment) {
      std::optional<int> liveReplicas;
      if (live && (*live)["spec"].contains("replicas")) liveReplicas = (*live)["spec"]["replicas"].get<int>();
      in.scaling = rendered->scale ? StatusInputs::Scaling::Auto : StatusInputs::Scaling::Manual;
      if (rendered->scale) {
        in.decision = autoscaler_ ? autoscaler_->decision(key) : std::nullopt;
        desired["spec"]["replicas"] = scaledReplicas(in.decision, liveReplicas, desired["spec"].value("replicas", 0),
                                                     rendered->scale->policy);
      }
      in.eventsReplicas = desired["spec"].value("replicas", 0);
      if (liveReplicas && *liveReplicas != in.eventsReplicas) scaledFrom = *liveReplicas;
    }
    if (live && matchesLive(desired, *live)) continue;
    ++out.writes;
    auto applied = api_.apply(*type, ns, objName, desired);
    if (!applied) {
      std::string reason = "ApplyFailed";
      std::string msg = "cannot apply " + kind + " " + objName + ": " + applied.error().message;
      if (kind == "Subscription" && applied.error().code == 404) {
        reason = "DaprNotInstalled";
        msg = "the dapr.io/v2alpha1 Subscription API is not installed: install Dapr or set spec.dapr.enabled: false";
      }
      // Say why in status (best effort), then let the queue retry with backoff.
      in.degraded = std::make_pair(reason, msg);
      int ignored = 0;
      writeStatus(ew, desiredStatus(in, current), ignored);
      return Error{msg, applied.error().code};
    }
    if (store) store->upsert(*applied);  // read-your-writes until the watch catches up
    if (!live) created += (created.empty() ? "" : ", ") + kind + " " + objName;
    if (scaledFrom) {
      in.scaledNow = true;
      std::string why = in.decision ? std::string(autoscale::reasonName(in.decision->reason)) + ": " +
                                          in.decision->message
                                    : "spec.replicas";
      events_.record(ew, "Normal", "Scaled",
                     "scaled " + objName + " from " + std::to_string(*scaledFrom) + " to " +
                         std::to_string(in.eventsReplicas) + " (" + why + ")",
                     in.now);
    }
  }
  if (!created.empty()) events_.record(ew, "Normal", "Created", "created " + created, in.now);

  const auto owned = ownedBy(ns, name);
  for (const auto& gone : toPrune(rendered->objects, owned, meta.value("uid", ""))) {
    const std::string kind = gone.value("kind", ""), objName = gone["metadata"].value("name", "");
    const kube::ResourceType* type = typeFor(kind);
    if (!type) continue;
    ++out.writes;
    if (auto s = api_.remove(*type, ns, objName); !s) return Error{"prune " + kind + " " + objName + ": " + s.error().message};
    if (kube::Store* store = storeFor(kind)) store->erase(ns + "/" + objName);
    events_.record(ew, "Normal", "Pruned", "deleted " + kind + " " + objName + ": no longer declared", in.now);
  }

  for (const auto& o : ownedBy(ns, name))
    if (o.value("kind", "") == "Deployment") in.deployments.push_back(o);
  in.selector = rendered->selector;
  in.consumerGroup = rendered->consumerGroup;
  if (auto s = writeStatus(ew, desiredStatus(in, current), out.writes); !s) return s.error();
  return out;
}

}  // namespace ew::controller
