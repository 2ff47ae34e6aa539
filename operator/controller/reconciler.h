#pragma once
// The EventWorker reconciler: level-based, told only the key. Re-reads the
// resource from the store, renders its objects, applies those whose live copy
// differs (server-side apply), prunes owned objects no longer rendered, and
// writes status only when it changed. A resync with nothing to do sends no
// write. Errors come back as values for the queue's backoff policy.
//
// Thread-safe for distinct keys (the work queue never runs one key twice at once).

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/autoscaler.h"
#include "controller/desired_state.h"
#include "controller/event_recorder.h"
#include "controller/outbox_monitor.h"
#include "controller/streams_scaler.h"
#include "ew/result.h"
#include "ew/time_source.h"
#include "kube/api.h"
#include "kube/store.h"
#include "migration/migration.h"

namespace ew::controller {

struct Rendered {
  std::vector<kube::Json> objects;  // in apply order
  std::string selector;             // label selector of the events pods (scale subresource)
  std::string consumerGroup;
  std::string eventsDeployment;      // name of the events Deployment ("" when none is rendered)
  std::optional<ScaleTarget> scale;  // set when the events Deployment follows lag
  struct Migration {
    migration::Request request;
    KafkaAccess cluster;      // Kafka brokers and credentials (no brokers when the resource names none)
    std::string workerGroup;  // the worker's consumer group (offsets are copied to it)
  };
  std::optional<Migration> migration;    // spec.migrateFrom
  std::optional<OutboxTarget> outbox;    // spec.outbox: the relays whose figures status shows
  std::string streamsDeployment;         // name of the streams Deployment ("" when none is rendered)
  std::optional<StreamsTarget> streams;  // spec.streams: scaled on connected clients
};

// Kafka access of the migration: the API group's offsets, and the copy.
struct MigrationKafka {
  std::function<Result<std::vector<autoscale::PartitionOffsets>>(const KafkaAccess& cluster, const std::string& group,
                                                                 const std::vector<std::string>& topics)>
      read;
  std::function<Status(const KafkaAccess& cluster, const std::string& group,
                       const std::map<autoscale::PartitionKey, std::int64_t>& offsets)>
      commit;
};

// Parses, validates and renders an EventWorker; an Error's message names the field.
using RenderFn = std::function<Result<Rendered>(const kube::Json& eventWorker)>;

// REQUIRES: each store is indexed by kNameLabel (kube::Store(kNameLabel)).
struct OwnedStores {
  kube::Store& configMaps;
  kube::Store& deployments;
  kube::Store& statefulSets;
  kube::Store* subscriptions = nullptr;  // null when the Dapr CRD is not installed
  // The workers' pods (slimPod()), read for their problems only; null: not watched.
  kube::Store* pods = nullptr;
  // Told after the reconciler put an object it applied into one of these
  // stores (its watch event will bring the same object back: no need to
  // reconcile for it). May be empty.
  std::function<void(const kube::Store& store, const std::string& key)> wrote;
  kube::Store* services = nullptr;  // Service <name>-streams; null: not watched
};

struct ReconcileOutcome {
  std::optional<std::chrono::milliseconds> requeueAfter;  // nullopt: wait for a change
  int writes = 0;                                         // API writes sent
};

class Reconciler {
 public:
  // autoscaler may be null: the events Deployment then keeps its rendered
  // (or live) replicas. outbox may be null: status.outbox is not written.
  // streams may be null: the streams Deployment keeps its rendered (or live)
  // replicas and status.streams is not written.
  Reconciler(kube::Api& api, kube::Store& eventWorkers, OwnedStores owned, RenderFn render, EventRecorder& events,
             const TimeSource& time, Autoscaler* autoscaler = nullptr, MigrationKafka migrationKafka = {},
             OutboxMonitor* outbox = nullptr, StreamsScaler* streams = nullptr);

  Result<ReconcileOutcome> reconcile(const std::string& key);

 private:
  // What one reconcile of a live EventWorker carries from step to step.
  struct Pass {
    Pass(const std::string& key, const kube::Json& ew);  // the rest from EW
    const std::string& key;
    const kube::Json& ew;
    std::string ns, name, uid;
    kube::Json current;  // the status before this reconcile
    StatusInputs in;     // what the status to write is made of, filled step by step
    ReconcileOutcome out;
  };

  // The steps of reconcile(), in order. Each returns an Error to give back
  // to the queue as it is.
  Result<ReconcileOutcome> reconcileDeleted(const std::string& key, const std::optional<kube::Json>& found);
  // Renders EW and tells the autoscaler whether it follows lag.
  Result<Rendered> renderTracked(const std::string& key, const kube::Json& ew);
  // Writes the InvalidSpec status (and its Event when it is new).
  Result<ReconcileOutcome> reportInvalid(Pass& p, const std::string& why);
  // Observes, steps and acts on the migration; drops the worker's own
  // Subscriptions from RENDERED until the migration scopes it in.
  Status stepMigration(Pass& p, Rendered& rendered);
  // Applies each rendered object whose live copy differs, but for the held-back workloads.
  Status applyRendered(Pass& p, Rendered& rendered, const std::set<std::string>& heldBack);
  // Sets the events Deployment's replicas in DESIRED (the autoscaler's
  // decision, else spec.replicas); returns the live count it changes, if any.
  std::optional<int> sizeEventsDeployment(Pass& p, const Rendered& rendered, kube::Json& desired,
                                          const std::optional<kube::Json>& live);
  // Sets the streams Deployment's replicas in DESIRED (the streams scaler's
  // decision, else the live count); returns the live count it changes, if any.
  std::optional<int> sizeStreamsDeployment(Pass& p, const Rendered& rendered, kube::Json& desired,
                                           const std::optional<kube::Json>& live);
  // Says why an apply failed in status (best effort) and returns the error.
  Error applyFailed(Pass& p, const std::string& kind, const std::string& objName, const Error& error);
  // Deletes the owned objects no longer rendered, but for the predecessors
  // deletePredecessors() already deletes.
  Status pruneUndeclared(Pass& p, const std::vector<kube::Json>& rendered, const std::vector<kube::Json>& replaced);
  // Writes the status of a worker whose objects (OWNED, as watched) are
  // applied, unless its first status waits (then sets the requeue).
  // What the status needs of the rendered objects (kept for a verified pass).
  struct Settled {
    std::string selector, consumerGroup;
    bool outboxDeclared = false;
    bool streamsDeclared = false;
  };
  Status writeSettledStatus(Pass& p, const Settled& settled, bool migrating, const std::vector<kube::Json>& owned);

  // What a reconcile that applied nothing (no migration, no predecessor)
  // found, kept by key until the inputs of the writes change
  // (appliedInputsHash()): the next reconcile with equal inputs only
  // computes the status, with what applyRendered() found then.
  struct Verified {
    size_t inputs = 0;
    std::string selector, consumerGroup;
    bool outboxDeclared = false;
    bool streamsDeclared = false;
    StatusInputs::Scaling scaling = StatusInputs::Scaling::None;
    int eventsReplicas = 0;
  };
  size_t appliedInputs(const Pass& p, const std::vector<kube::Json>& owned) const;
  std::optional<Verified> verifiedFor(const std::string& key, size_t inputs);
  void rememberVerified(const Pass& p, const Rendered& rendered, size_t inputs);
  void forgetVerified(const std::string& key);
  Result<ReconcileOutcome> reconcileVerified(Pass& p, const Verified& v, const std::vector<kube::Json>& owned);
  // How long the first status of a new worker still waits; nullopt: write it now.
  std::optional<std::chrono::milliseconds> firstStatusWait(const std::string& key, const StatusInputs& in,
                                                           const kube::Json& status);

  kube::Store* storeFor(const std::string& kind) const;
  const kube::ResourceType* typeFor(const std::string& kind) const;
  std::vector<kube::Json> ownedBy(const std::string& ns, const std::string& name) const;
  Status writeStatus(const kube::Json& ew, const kube::Json& status, int& writes);
  // Writes status Degraded REASON: MESSAGE, best effort: the caller returns
  // its own error to the queue, whose retry writes the status again, so a
  // failed write is only logged.
  void reportDegraded(Pass& p, const std::string& reason, const std::string& message);
  // Deletes in the foreground each of REPLACED (see predecessors()) not yet
  // being deleted so, and records the replacements in IN. Returns the names
  // of the rendered workloads to hold back until their predecessor is gone:
  // its deletion event brings the next reconcile.
  Result<std::set<std::string>> deletePredecessors(const kube::Json& ew, const std::vector<kube::Json>& replaced,
                                                   const std::vector<kube::Json>& rendered, StatusInputs& in,
                                                   int& writes);
  // Observes, steps the migration state machine and carries out its actions.
  Result<migration::Plan> migrate(const kube::Json& ew, const std::optional<Rendered::Migration>& target, bool deleting,
                                  int& writes);
  // What migration::step() looks at: the worker's readiness, the namespace's
  // Subscriptions and (when the migration touches them) the API's
  // Deployments, read by live LISTs while a migration runs, and the API
  // group's offsets when RECORD asks for them.
  Result<migration::Observed> observeMigration(const kube::Json& ew, const kube::Json& record,
                                               const std::optional<migration::Request>& request,
                                               const std::optional<Rendered::Migration>& target);
  // Carry out a plan's edits, each with its Event.
  Status editScopes(const kube::Json& ew, const std::vector<migration::ScopeEdit>& edits, const std::string& now,
                    int& writes);
  Status editAnnotations(const kube::Json& ew, const std::vector<migration::AnnotationEdit>& edits,
                         const std::string& now, int& writes);
  // A Warning Event when the status just written turned Degraded for a pod's
  // failure (ImagePullBackOff, CrashLoopBackOff, ...): `kubectl describe` shows it.
  void recordPodFailure(const kube::Json& ew, const kube::Json& before, const kube::Json& after,
                        const std::vector<PodProblem>& pods, const std::string& now);
  Status setFinalizer(const kube::Json& ew, bool present, int& writes);
  // When the first status of KEY may be written (see firstStatusWait):
  // kFirstStatusWait after its workloads were first seen observed (WORKLOADS),
  // at the latest kFirstStatusLimit after its first reconcile.
  MonoTime firstStatusDue(const std::string& key, const std::vector<kube::Json>& workloads);
  void forgetFirstStatus(const std::string& key);

  kube::Api& api_;
  kube::Store& eventWorkers_;
  OwnedStores owned_;
  RenderFn render_;
  EventRecorder& events_;
  const TimeSource& time_;
  Autoscaler* autoscaler_;
  MigrationKafka migrationKafka_;
  OutboxMonitor* outbox_;
  StreamsScaler* streams_;
  std::mutex firstStatusMu_;
  struct FirstStatus {
    MonoTime limit;                    // first reconcile + kFirstStatusLimit
    std::optional<MonoTime> observed;  // when its workloads were first seen observed
  };
  std::map<std::string, FirstStatus> firstStatus_;  // guarded by firstStatusMu_
  std::mutex verifiedMu_;
  std::map<std::string, Verified> verified_;  // guarded by verifiedMu_
};

// How long the first status of a new EventWorker may wait for its
// Deployments to become available and its first lag poll, once their
// controllers have observed them (status.observedGeneration): until then
// "not available" is not news, only a kube-controller-manager behind (a
// burst of new workers), and a status written then is written again when
// they are. kFirstStatusLimit bounds the whole wait (a controller that never
// observes them).
inline constexpr std::chrono::seconds kFirstStatusWait{10};
inline constexpr std::chrono::seconds kFirstStatusLimit{60};

}  // namespace ew::controller
