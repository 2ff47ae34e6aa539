#pragma once
// Pure helpers of the reconciler: ownership stamping, "does the live object
// already say what we want" (so a no-op resync writes nothing), pruning
// choice, and the EventWorker status with API-convention conditions.

#include <nlohmann/json.hpp>

#include "autoscale/policy.h"
#include "controller/outbox_status.h"
#include "controller/pod_health.h"
#include "controller/streams_status.h"

#include <optional>
#include <string>
#include <vector>

namespace ew::controller {

using Json = nlohmann::json;

inline constexpr const char* kNameLabel = "eventworker.dev/name";

// Adds the controller owner reference to `owner` and the eventworker.dev/name label.
Json withOwner(Json object, const Json& owner);

// True when every field of `desired` is present with the same value in `live`
// (objects: recursively; arrays: same length, element-wise). Fields the server
// added (defaults, status, metadata) are ignored.
bool matchesLive(const Json& desired, const Json& live);

// Objects in `owned` (controlled by ownerUid) that are not among `desired`
// (compared by apiVersion group, kind and name): the ones to delete.
std::vector<Json> toPrune(const std::vector<Json>& desired, const std::vector<Json>& owned,
                          const std::string& ownerUid);

// Workloads in `owned` (apps/v1, controlled by ownerUid) whose name a desired
// workload of another kind holds: the Deployment <name>-cron of an operator
// from before the cron StatefulSet. Each must be gone, its pods included
// (deleted in the foreground), before its successor is created, or the old
// pod and the new one run side by side. toPrune() lists them too; they are
// not to be pruned in the background.
std::vector<Json> predecessors(const std::vector<Json>& desired, const std::vector<Json>& owned,
                               const std::string& ownerUid);

// The object is being deleted in the foreground: it stays until the garbage
// collector has deleted its dependents (a Deployment's ReplicaSets, and their
// pods once the kubelet has stopped them).
bool deletingInForeground(const Json& object);

struct StatusInputs {
  int64_t generation = 0;
  std::optional<std::string> invalidReason;  // spec cannot be rendered: why, naming the field
  // The spec is valid but applying it failed: {reason, message}.
  std::optional<std::pair<std::string, std::string>> degraded;
  std::vector<Json> workloads;  // owned Deployments and StatefulSets (live)
  // Rendered workloads held back while the predecessor that holds their name
  // is deleted (see predecessors()).
  struct Replacement {
    std::string oldKind, newKind, name;
  };
  std::vector<Replacement> replacing;
  std::string selector;  // label selector of the events pods
  // Problems of the worker's pods (podProblems()): failing ones make it
  // Degraded; all are named in Ready's message while a workload is unavailable.
  std::vector<PodProblem> pods;
  std::string consumerGroup;
  std::string now;  // RFC 3339, for lastTransitionTime

  // The events Deployment's replicas: None when there is no events
  // Deployment, Manual when spec.scaling.enabled is false, Auto otherwise.
  enum class Scaling { None, Manual, Auto } scaling = Scaling::None;
  int eventsReplicas = 0;                       // what the events Deployment was given
  std::optional<autoscale::Decision> decision;  // the autoscaler's latest (Auto)
  bool scaledNow = false;                       // this reconcile changed the replicas

  // Migration (spec.migrateFrom): managed when a migration is or was under way.
  bool migrationManaged = false;
  Json migration;  // status.migration (null: none)
  struct Migrated {
    bool status = false;
    std::string reason, message;
  };
  std::optional<Migrated> migrated;             // the Migrated condition (nullopt: none)
  std::optional<std::string> migrationProblem;  // Degraded MigrationBlocked

  // Outbox relays (spec.outbox): declared, and the monitor's view once it
  // polled (outbox_status.h); nullopt keeps status.outbox as it was.
  bool outboxDeclared = false;
  std::optional<OutboxView> outbox;

  // Streams (spec.streams): declared, and the streams scaler's view once it
  // polled (streams_status.h); nullopt keeps status.streams as it was.
  bool streamsDeclared = false;
  std::optional<StreamsView> streams;
};

// The workload has observed its current generation and is available: a
// Deployment by its Available condition, a StatefulSet (which has no
// conditions) when availableReplicas reaches spec.replicas.
bool workloadAvailable(const Json& workload);
// Its controller has observed the workload's current generation
// (status.observedGeneration), whatever it made of it.
bool workloadObserved(const Json& workload);

// The status the EventWorker should have; conditions keep their
// lastTransitionTime from `current` when their status did not change.
Json desiredStatus(const StatusInputs& in, const Json& current);

// Equal ignoring conditions' lastTransitionTime.
bool sameStatus(const Json& a, const Json& b);

// What of a watched object can change the outcome of a reconcile, as text: a
// watch event whose fingerprint equals the previous one needs no reconcile
// (the reconciler's own status writes, kube-controller-manager's
// lastUpdateTime bumps, ...). Covers identity, generation, deletion, labels,
// annotations, owner references, a ConfigMap's data and the status fields the
// reconciler reads; an EventWorker's status is left out (the reconciler
// writes it). The periodic resync still reconciles everything.
std::string changeFingerprint(const Json& object);
// A hash of changeFingerprint(), what the controller's stores keep of each object.
size_t changeHash(const Json& object);

// A hash of what decides the writes of reconciling EVENTWORKER (render,
// apply, prune) given OWNED, its objects as watched, DECIDEDREPLICAS, the
// autoscaler's decision, and STREAMSREPLICAS, the streams scaler's (nullopt:
// none): the worker's changeFingerprint() and
// each object but its status and resourceVersion. Rendering is a function of
// the worker, and whether an object matches its rendering of everything but
// its status: with an equal hash, a reconcile that applied nothing applies
// nothing again.
size_t appliedInputsHash(const Json& eventWorker, const std::vector<Json>& owned, std::optional<int> decidedReplicas,
                         std::optional<int> streamsReplicas = std::nullopt);

}  // namespace ew::controller
