#pragma once
// How many pods the streams Deployment (<name>-streams, the SSE gateway of
// spec.streams) runs: a pure function from one poll of the streams pods'
// connected clients (each pod's /status, worker_stream_clients) plus what the
// policy remembers from earlier polls to a replica count and its reason. No
// I/O, no clocks: the caller passes the poll's time and keeps the state.
//
// An SSE client is a long-lived connection, not a queue of work: a scale-up
// serves the connections that arrive next (the Service spreads them), and a
// scale-down costs every client of a removed pod a reconnect (it is told
// ew-reconnect and resumes with Last-Event-ID on another pod). Hence, with
// the lag policy's ideas (autoscale/policy.h) where they carry over:
//   - fast up: ceil(clients / targetClientsPerReplica), taken at once;
//   - calm down: the group shrinks only when the smaller group would carry
//     at most kStreamsScaleDownPercent of its target per replica (no
//     flapping at a boundary), and only to the highest such recommendation
//     of the last scaleDownStabilizationSeconds (a dip of a few polls, as a
//     browser fleet reconnecting after a deploy, moves nothing; a partial
//     read's recommendation counts too: its clients are a floor; the size
//     found at the first count counts as one, so an operator restart does
//     not shrink the group at once);
//   - safe when the reading fails: no pod answered (or none runs yet) holds
//     the current count (KEDA's #4098: a metric failure must not scale to
//     zero); some pods answered is a lower bound of the clients: it may
//     scale up, never down;
//   - never to zero: minReplicas is at least 1 (a gateway without pods has
//     no clients to count, it could never come back up), so a worker with
//     clients connected always keeps a pod.
//
// Thread-compatible value types; the functions are pure.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ew/result.h"

namespace ew::autoscale {

using Millis = std::chrono::milliseconds;

// Percentage of its target at or below which the smaller group must run before it shrinks.
inline constexpr int kStreamsScaleDownPercent = 90;

// Mirrors api::StreamsScalingSpec (the CRD's spec.streamsScaling); the
// defaults are the CRD's.
struct StreamsPolicyConfig {
  int minReplicas = 2;
  int maxReplicas = 10;
  std::int64_t targetClientsPerReplica = 2500;
  int scaleDownStabilizationSeconds = 300;
  bool operator==(const StreamsPolicyConfig&) const = default;
};

// REQUIRES nothing; returns the first invalid field, named as in the CRD.
Status validate(const StreamsPolicyConfig& config);

// One poll: each running streams pod's connected clients, nullopt for a pod
// that did not answer.
struct StreamsObservation {
  Millis now{0};            // any monotonic epoch; only differences matter
  int currentReplicas = 0;  // the Deployment's spec.replicas when read
  std::vector<std::optional<std::int64_t>> podClients;
};

enum class StreamsReason {
  Clients,      // sized by ceil(clients / targetClientsPerReplica), at least minReplicas
  Bounds,       // that size was above maxReplicas
  Stabilizing,  // a scale-down held by the deadband or the stabilization window
  PartialRead,  // some pods did not answer: up on the clients counted, never down
  Unreadable,   // no pod answered (or none runs): the current count is held
};
const char* streamsReasonName(StreamsReason reason);

struct StreamsDecision {
  int desiredReplicas = 0;
  StreamsReason reason = StreamsReason::Clients;
  std::string message;         // one line for status and the Scaled Event
  std::int64_t clients = 0;    // counted on the pods that answered
  int podsRead = 0, pods = 0;  // pods that answered, pods asked
  bool operator==(const StreamsDecision&) const = default;
};

struct StreamsPolicyState {
  struct Recommendation {
    Millis at{0};
    int replicas = 0;
  };
  std::vector<Recommendation> history;  // within the stabilization window, oldest first
  bool seeded = false;                  // the size found at the first count is in history
};

struct StreamsPolicyStep {
  StreamsDecision decision;
  StreamsPolicyState state;
};

// REQUIRES: validate(config).ok(); observation.now not before the previous poll's.
StreamsPolicyStep streamsPoll(const StreamsPolicyState& state, const StreamsPolicyConfig& config,
                              const StreamsObservation& observation);

// Replicas the streams Deployment runs given the latest decision (if any) and
// the live Deployment's spec.replicas (if it exists): without a decision the
// live count is kept (an operator restart must not drop pods that carry
// clients), else minReplicas; clamped into the bounds either way.
int streamsReplicas(const std::optional<StreamsDecision>& decision, std::optional<int> live,
                    const StreamsPolicyConfig& config);

}  // namespace ew::autoscale
