// The reconciler's migration steps (see reconciler.h and migration/): what the
// migration observes of the API service's Subscriptions and Deployments (from
// the watch caches), the edits it makes, and the step a reconcile takes.
#include <algorithm>

#include "controller/desired_state.h"
#include "controller/reconciler.h"

namespace ew::controller {

using kube::Json;
namespace resources = kube::resources;

namespace {

// The declarative Subscriptions of a LIST that the worker (UID) does not own.
std::vector<migration::ApiSubscription> foreignSubscriptions(const Json& list, const std::string& uid) {
  std::vector<migration::ApiSubscription> out;
  for (const auto& s : list["items"]) {
    bool ours = false;
    for (const auto& ref : s["metadata"].value("ownerReferences", Json::array()))
      ours = ours || ref.value("uid", "") == uid;
    if (ours) continue;
    migration::ApiSubscription a;
    a.name = s["metadata"].value("name", "");
    a.pubsubName = s.value("spec", Json::object()).value("pubsubname", "");
    a.topic = s.value("spec", Json::object()).value("topic", "");
    for (const auto& sc : s.value("scopes", Json::array()))
      if (sc.is_string()) a.scopes.push_back(sc);
    out.push_back(std::move(a));
  }
  return out;
}

// The Deployments of a LIST whose pods run the Dapr app id APP.
std::vector<migration::ApiDeployment> deploymentsOfApp(const Json& list, const std::string& app) {
  std::vector<migration::ApiDeployment> out;
  for (const auto& d : list["items"]) {
    const Json annotations =
        d["spec"]["template"].value("metadata", Json::object()).value("annotations", Json::object());
    if (annotations.value("dapr.io/app-id", "") != app) continue;
    migration::ApiDeployment a;
    a.name = d["metadata"].value("name", "");
    if (annotations.contains(migration::kDisableInitEndpoints))
      a.disableInitEndpoints = annotations[migration::kDisableInitEndpoints].get<std::string>();
    out.push_back(std::move(a));
  }
  return out;
}

std::string joined(const std::vector<std::string>& items) {
  std::string j;
  for (const auto& i : items) j += (j.empty() ? "" : ", ") + i;
  return j;
}

}  // namespace

Result<migration::Observed> Reconciler::observeMigration(const Json& ew, const Json& record,
                                                         const std::optional<migration::Request>& request,
                                                         const std::optional<Rendered::Migration>& target) {
  const auto& meta = ew["metadata"];
  const std::string ns = meta.value("namespace", ""), name = meta.value("name", "");
  migration::Observed obs;
  const WallTime now = time_.wallNow();
  obs.now = rfc3339(now);
  obs.nowSeconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (auto d = owned_.deployments.get(ns + "/" + name + "-events")) obs.workerReady = workloadAvailable(*d);
  // Live LISTs, not watch caches: read only while a migration runs.
  auto listed = api_.listAll(resources::kDaprSubscription, ns);
  if (!listed && listed.error().code != 404) return Error{"list Dapr Subscriptions: " + listed.error().message};
  if (listed) obs.subscriptions = foreignSubscriptions(*listed, meta.value("uid", ""));
  // The Deployments running the API's app id, when the migration touches them.
  bool touchesDeployments = request && request->programmatic;
  for (const auto& c : record.is_object() ? record.value("changed", Json::array()) : Json::array())
    touchesDeployments = touchesDeployments || c.value("kind", "") == "Deployment";
  if (touchesDeployments) {
    auto deployments = api_.listAll(resources::kDeployment, ns);
    if (!deployments) return Error{"list Deployments: " + deployments.error().message, deployments.error().code};
    obs.deployments = deploymentsOfApp(*deployments, request ? request->appId : record.value("appId", ""));
  }
  if (request && migration::wantsApiGroup(record)) {
    if (target->cluster.bootstrapServers.empty())
      obs.apiGroup = Result<std::vector<autoscale::PartitionOffsets>>(
          Error{"spec.source.kafka.brokers is needed to read and copy the consumer group's offsets"});
    else if (!migrationKafka_.read)
      obs.apiGroup = Result<std::vector<autoscale::PartitionOffsets>>(Error{"the operator runs without Kafka access"});
    else
      obs.apiGroup = migrationKafka_.read(target->cluster, request->appId, request->topics);
  }
  return obs;
}

Result<migration::Plan> Reconciler::migrate(const Json& ew, const std::optional<Rendered::Migration>& target,
                                            bool deleting, int& writes) {
  const Json record = ew.value("status", Json::object()).value("migration", Json());
  std::optional<migration::Request> request;
  if (target && !deleting) request = target->request;
  auto obs = observeMigration(ew, record, request, target);
  if (!obs) return obs.error();
  migration::Plan plan = migration::step(record, request, *obs, deleting);
  if (auto s = editScopes(ew, plan.scopeEdits, obs->now, writes); !s) return s.error();
  if (auto s = editAnnotations(ew, plan.annotationEdits, obs->now, writes); !s) return s.error();
  if (plan.copyOffsets) {
    if (!migrationKafka_.commit) return Error{"the operator runs without Kafka access: cannot copy offsets"};
    if (auto s = migrationKafka_.commit(target->cluster, target->workerGroup, *plan.copyOffsets); !s)
      return Error{"copy offsets to " + target->workerGroup + ": " + s.error().message};
    events_.record(ew, "Normal", "MigrationOffsetsCopied",
                   "copied " + std::to_string(plan.copyOffsets->size()) + " committed offset(s) from " +
                       request->appId + " to " + target->workerGroup,
                   obs->now);
  }
  return plan;
}

Status Reconciler::editScopes(const Json& ew, const std::vector<migration::ScopeEdit>& edits, const std::string& now,
                              int& writes) {
  const std::string ns = ew["metadata"].value("namespace", "");
  for (const auto& edit : edits) {
    auto live = api_.get(resources::kDaprSubscription, ns, edit.subscription);
    if (!live) return Error{"read Subscription " + edit.subscription + ": " + live.error().message, live.error().code};
    Json updated = *live;
    updated["scopes"] = edit.scopes;
    ++writes;
    if (auto r = api_.replace(resources::kDaprSubscription, ns, edit.subscription, updated); !r)
      return Error{"set the scopes of Subscription " + edit.subscription + ": " + r.error().message, r.error().code};
    events_.record(ew, "Normal", "MigrationScopes",
                   "Subscription " + edit.subscription + " now scoped to [" + joined(edit.scopes) + "]", now);
  }
  return Status::success();
}

Status Reconciler::editAnnotations(const Json& ew, const std::vector<migration::AnnotationEdit>& edits,
                                   const std::string& now, int& writes) {
  const std::string ns = ew["metadata"].value("namespace", "");
  for (const auto& edit : edits) {
    auto live = api_.get(resources::kDeployment, ns, edit.deployment);
    if (!live) return Error{"read Deployment " + edit.deployment + ": " + live.error().message, live.error().code};
    Json updated = *live;
    Json& annotations = updated["spec"]["template"]["metadata"]["annotations"];
    if (edit.value)
      annotations[migration::kDisableInitEndpoints] = *edit.value;
    else if (annotations.is_object())
      annotations.erase(migration::kDisableInitEndpoints);
    ++writes;
    if (auto r = api_.replace(resources::kDeployment, ns, edit.deployment, updated); !r)
      return Error{"set " + std::string(migration::kDisableInitEndpoints) + " on Deployment " + edit.deployment + ": " +
                       r.error().message,
                   r.error().code};
    events_.record(ew, "Normal", "MigrationAnnotation",
                   "Deployment " + edit.deployment + ": " + migration::kDisableInitEndpoints + " " +
                       (edit.value ? "= " + *edit.value : std::string("removed")),
                   now);
  }
  return Status::success();
}

Status Reconciler::stepMigration(Pass& p, Rendered& rendered) {
  auto planned = migrate(p.ew, rendered.migration, /*deleting=*/false, p.out.writes);
  if (!planned) {
    reportDegraded(p, "MigrationFailed", planned.error().message);
    return planned.error();
  }
  const migration::Plan& plan = *planned;
  if (auto st = setFinalizer(p.ew, plan.keepFinalizer, p.out.writes); !st) return st.error();
  p.in.migrationManaged = true;
  p.in.migration = plan.record;
  if (plan.migrated)
    p.in.migrated = StatusInputs::Migrated{plan.migrated->status, plan.migrated->reason, plan.migrated->message};
  p.in.migrationProblem = plan.problem;
  if (plan.again) p.out.requeueAfter = std::chrono::seconds(2);
  if (!plan.workerScopedIn)
    rendered.objects.erase(std::remove_if(rendered.objects.begin(), rendered.objects.end(),
                                          [](const Json& o) { return o.value("kind", "") == "Subscription"; }),
                           rendered.objects.end());
  return Status::success();
}

}  // namespace ew::controller
