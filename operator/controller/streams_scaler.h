#pragma once
// Sizes the streams Deployment (<name>-streams) of every EventWorker with
// spec.streams on its connected SSE clients: every kPollInterval it reads
// GET /status of each running streams pod (the runtime counts its clients,
// worker_stream_clients; core/stream_clients.h), runs the pure policy
// (autoscale/streams_policy.h) and keeps the decision per EventWorker. Like
// the autoscaler (autoscaler.h) and the outbox monitor (outbox_monitor.h) it
// writes nothing itself: when the decision changes (replicas, reason, pods
// read) or kStatusRefresh after the last time, it calls onChange(key); the
// reconciler applies the replicas and writes status.streams through its one
// apply path.
//
// Metrics, per EventWorker ({namespace, name}, dropped when it is untracked):
// eventworker_streams_clients, eventworker_streams_pods_read and
// eventworker_streams_desired_replicas from each poll, and
// eventworker_streams_scale_events_total{reason} counting the decisions that
// changed the desired replicas (from the previous poll's, or from the
// Deployment's at the first).
//
// A pod that does not answer within the reader's timeout, or answers without
// a "streams" count, is unread this poll; the policy holds (none read) or
// only grows (some read) on that. A worker whose Deployment does not exist
// yet is not polled.
//
// Thread-safe. run() blocks until stop().

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "autoscale/streams_policy.h"
#include "controller/keyed_poller.h"
#include "controller/pod_status.h"
#include "controller/streams_status.h"
#include "ew/metrics.h"

namespace ew::controller {

// What to poll for one EventWorker.
struct StreamsTarget {
  int port = 9090;  // spec.runtime.metricsPort: the runtime's /status
  autoscale::StreamsPolicyConfig policy;
  bool operator==(const StreamsTarget&) const = default;
};

// The clients one streams pod's /status reply reports (the sum over its
// streams); nullopt when it could not be read or carries no count.
std::optional<std::int64_t> streamClientsOf(const Result<nlohmann::json>& status);

// What the scaler keeps of one EventWorker between polls.
struct StreamsPollState {
  autoscale::StreamsPolicyState policy;
  std::optional<StreamsView> published;  // what view() returns
  MonoTime publishedAt{};
};

// track() (a changed target keeps the policy's memory), untrack(), run() and
// stop() are KeyedPoller's.
class StreamsScaler : public KeyedPoller<StreamsTarget, StreamsPollState> {
 public:
  // PODS(key): the running streams pods (runningPods(..., "streams")).
  // CURRENTREPLICAS(key): the streams Deployment's spec.replicas, nullopt
  // while it does not exist (no poll then).
  StreamsScaler(PodStatusReadFn read, RunningPodsFn pods,
                std::function<std::optional<int>(const std::string& key)> currentReplicas,
                std::function<void(const std::string& key)> onChange, MetricsRegistry& metrics, const TimeSource& time,
                Millis pollInterval = kPollInterval);
  ~StreamsScaler() override;

  // The view last published for KEY; nullopt before the first poll.
  std::optional<StreamsView> view(const std::string& key) const;

  Millis pollDue() override;

  static constexpr Millis kPollInterval{5000};
  static constexpr Millis kStatusRefresh{30000};
  static constexpr size_t kParallelReads = 16;

 private:
  // Runs the policy on one poll's reads of KEY; true when onChange is due. REQUIRES: mu_ held.
  bool observe(const std::string& key, Entry& e, int currentReplicas, const std::vector<Result<nlohmann::json>>& reads,
               MonoTime now, const std::string& wallNow);
  // REQUIRES: mu_ held (as untrack's forget() is: no series outlives its worker).
  void exportMetrics(const std::string& key, const autoscale::StreamsDecision& d, int before);
  void forget(const std::string& key, Entry& e) override;

  PodStatusReadFn read_;
  RunningPodsFn pods_;
  std::function<std::optional<int>(const std::string&)> currentReplicas_;
  std::function<void(const std::string&)> onChange_;
  MetricsRegistry& metrics_;
};

}  // namespace ew::controller
