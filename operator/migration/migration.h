#pragma once
// Moving subscriptions off an API service's Dapr app (DESIGN.md section 6) as
// a recorded state machine. Pure: the reconciler observes (worker readiness,
// the namespace's declarative Subscriptions, the API group's committed
// offsets), calls step(), carries out the returned actions, and stores the
// returned record in status.migration. Every action is idempotent and the
// record says what the operator changed, so a restart at any point resumes,
// and removing spec.migrateFrom (or deleting the EventWorker) restores it.
//
// pause handoff:   Pending (worker Deployment not ready)
//               -> Paused (the API's app id removed from the scopes of the
//                  matching Subscriptions; waiting until the API's consumer
//                  group stops committing on the moved topics: no owner, or
//                  offsets unchanged for settleSeconds)
//               -> OffsetsCopied (the API group's committed offsets copied
//                  to the worker's group) -> Complete (worker scoped in).
// overlap handoff: Pending (worker scoped in first, waiting for it to be
//                  ready) -> Complete (API scopes removed). No gap, duplicates
//                  possible.
// Rollback (spec.migrateFrom removed or naming another app, or the
//                  EventWorker deleted): no phase of its own; one step gives
//                  back every recorded change and removes the record.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autoscale/policy.h"
#include "ew/result.h"

namespace ew::migration {

using Json = nlohmann::json;

inline constexpr const char* kFinalizer = "eventworker.dev/migration";

struct Request {  // spec.migrateFrom, with what it moves
  std::string appId;
  std::string handoff = "pause";  // pause | overlap
  int settleSeconds = 10;
  std::string pubsubName;           // the worker's pubsub component
  std::vector<std::string> topics;  // the moved topics (the worker's subscriptions)
  // Also stop the API's programmatic subscriptions: add "subscribe" to
  // dapr.io/disable-init-endpoints on its Deployments' pod templates.
  bool programmatic = false;
};

inline constexpr const char* kDisableInitEndpoints = "dapr.io/disable-init-endpoints";

// A Deployment of the namespace whose pod template runs the API's app id.
struct ApiDeployment {
  std::string name;
  std::optional<std::string> disableInitEndpoints;  // the annotation's value, if set
};

// A declarative dapr.io Subscription in the EventWorker's namespace.
struct ApiSubscription {
  std::string name;
  std::string pubsubName;
  std::string topic;
  std::vector<std::string> scopes;
};

struct Observed {
  std::string now;                             // RFC 3339, recorded in steps
  std::int64_t nowSeconds = 0;                 // wall clock (epoch seconds): the record outlives the process
  bool workerReady = false;                    // the events Deployment is available
  std::vector<ApiSubscription> subscriptions;  // every Subscription of the namespace not owned by the worker
  std::vector<ApiDeployment> deployments;      // the Deployments running the API's app id
  // The API group's offsets on the moved topics, when step() asked for them
  // (wantsApiGroup); an Error when they could not be read.
  std::optional<Result<std::vector<autoscale::PartitionOffsets>>> apiGroup;
};

// The phases of status.migration.phase (the CRD's enum lists the same).
enum class Phase { Pending, Paused, OffsetsCopied, Complete };
const char* toString(Phase p);

// One change the operator made and gives back on rollback (status.migration.changed[]).
struct Change {
  std::string kind;  // "Subscription" or "Deployment"
  std::string name;
  std::string removedScope;             // Subscription: the API's app id taken off its scopes
  std::string annotation;               // Deployment: the annotation set (kDisableInitEndpoints)
  std::optional<std::string> previous;  // Deployment: its value before (nullopt: absent)
};

// status.migration, typed (step() reads and writes it as JSON).
struct Record {
  std::string appId;
  std::string handoff = "pause";
  Phase phase = Phase::Pending;
  std::string message;
  std::map<std::string, std::string> steps;  // step name -> RFC 3339 time it was reached
  std::vector<Change> changed;
  // Paused: the API group's committed offsets ("topic/partition" -> offset)
  // and since when (epoch seconds) they have not moved.
  std::optional<Json> watchCommitted;
  std::int64_t watchStillSince = 0;
  std::optional<Json> offsets;  // the offsets copied to the worker's group
};
Record recordFromJson(const Json& j);
Json toJson(const Record& r);

struct ScopeEdit {
  std::string subscription;
  std::vector<std::string> scopes;  // the Subscription's scopes to write
};

// Sets (value) or removes (nullopt) kDisableInitEndpoints on a Deployment's pod template.
struct AnnotationEdit {
  std::string deployment;
  std::optional<std::string> value;
};

struct Plan {
  Json record;                        // the new status.migration (null: remove it)
  std::vector<ScopeEdit> scopeEdits;  // carry out first; each is idempotent
  std::vector<AnnotationEdit> annotationEdits;
  // Commit these offsets to the worker's consumer group (pause handoff).
  std::optional<std::map<autoscale::PartitionKey, std::int64_t>> copyOffsets;
  bool workerScopedIn = false;  // render the worker's own Subscriptions
  bool keepFinalizer = false;   // the record holds changes not yet restored
  // The Migrated condition: nullopt when there is no migration.
  struct Condition {
    bool status = false;
    std::string reason, message;
  };
  std::optional<Condition> migrated;
  std::optional<std::string> problem;  // something a person must fix (Degraded)
  bool again = false;                  // poll again soon (waiting on something outside the API server)
};

// True when the next step needs the API group's committed offsets.
bool wantsApiGroup(const Json& record);

// One step. record: the current status.migration (null when none);
// request: spec.migrateFrom (nullopt when removed); deleting: the
// EventWorker is being deleted (restore everything).
Plan step(const Json& record, const std::optional<Request>& request, const Observed& observed, bool deleting);

// Dapr reads an empty scope list as "every app" (daprd subscribes every app
// to it; found on the node with the real sidecars): a Subscription whose
// last app is taken off keeps this scope instead, which names no app (an app
// id has no '/'), and loses it when an app is put back.
inline constexpr const char* kNoAppScope = "eventworker.dev/no-app";

// Scopes with appId removed / added (order kept; no duplicates added); never
// empty after a removal (kNoAppScope), and without kNoAppScope after an add.
std::vector<std::string> withoutScope(std::vector<std::string> scopes, const std::string& appId);
std::vector<std::string> withScope(std::vector<std::string> scopes, const std::string& appId);

}  // namespace ew::migration
