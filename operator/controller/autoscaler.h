#pragma once
// The live autoscaling loop (DESIGN.md sections 4 and 5): polls the consumer
// lag of every tracked EventWorker every pollIntervalSeconds, runs the pure
// policy (autoscale/policy.h) and keeps its latest Decision per EventWorker.
// It writes nothing to the API server itself: when a decision matters (the
// replica count, the reason, a fault, or a status refresh is due) it calls
// onChange(key), and the reconciler applies the replicas to the events
// Deployment and the figures to status through its one apply path.
//
// Polls are spread: each EventWorker's first poll lands at a random point of
// its interval and later ones follow every interval with up to 10% jitter.
// Polls that fall due in the same tick (250 ms) are read in one batch per
// Kafka cluster, and clusters are read in parallel, so 1,000 EventWorkers make
// a few batched requests per tick, not 1,000 connections.
//
// Thread-safe. run() blocks until stop().

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "autoscale/policy.h"
#include "controller/kafka_access.h"
#include "ew/metrics.h"
#include "ew/result.h"

namespace ew::controller {

// What to poll for one EventWorker (from its spec; see render_adapter).
struct ScaleTarget {
  KafkaAccess cluster;  // brokers and credentials: one batched read per distinct access
  std::string group;    // the consumer group of the events Deployment
  std::vector<std::string> topics;
  autoscale::OffsetReset offsetReset = autoscale::OffsetReset::Latest;
  autoscale::PolicyConfig policy;
  std::chrono::seconds pollInterval{5};
  bool operator==(const ScaleTarget&) const;
};

struct LagQuery {
  std::string group;
  std::vector<std::string> topics;
};

using LagResult = Result<std::vector<autoscale::PartitionOffsets>>;
// Reads the offsets of many groups on one cluster in one batch: one result per
// query, in the queries' order. Must be thread-safe (clusters are read in parallel).
using LagReadFn =
    std::function<std::vector<LagResult>(const KafkaAccess& cluster, const std::vector<LagQuery>& queries)>;

class Autoscaler {
 public:
  using Millis = std::chrono::milliseconds;
  // currentReplicas(key): the events Deployment's spec.replicas, nullopt while
  // it does not exist (no poll then). onChange(key): the decision changed in a
  // way the reconciler must write. now(): a monotonic clock.
  Autoscaler(LagReadFn read, std::function<std::optional<int>(const std::string& key)> currentReplicas,
             std::function<void(const std::string& key)> onChange, MetricsRegistry& metrics,
             std::function<double()> random01, std::function<Millis()> now);
  ~Autoscaler();

  // Starts or updates polling for key (namespace/name). A changed target
  // keeps the policy's memory unless the group or topics changed.
  void track(const std::string& key, const ScaleTarget& target);
  void untrack(const std::string& key);
  std::optional<autoscale::Decision> decision(const std::string& key) const;
  size_t tracked() const;

  // Polls every target due at now (batched per cluster); returns when the
  // next one falls due. run() calls it; tests may call it directly.
  Millis pollDue(Millis now);

  void run();
  void stop();

  static constexpr Millis kTick{250};
  // A status refresh of the lag figures is due this long after the last one.
  static constexpr Millis kStatusRefresh{30000};

 private:
  struct Entry {
    ScaleTarget target;
    autoscale::PolicyState state;
    std::optional<autoscale::Decision> decision;
    Millis nextDue{0};
    std::string publishedFingerprint;  // what the last onChange carried
    Millis publishedAt{0};
  };
  Millis jittered(Millis interval);
  void observe(const std::string& key, LagResult result, Millis now, std::vector<std::string>& changed);
  void publish(const std::string& key, Entry& e, Millis now, std::vector<std::string>& changed);
  void exportMetrics(const std::string& key, const Entry& e);  // REQUIRES: e.decision

  LagReadFn read_;
  std::function<std::optional<int>(const std::string&)> currentReplicas_;
  std::function<void(const std::string&)> onChange_;
  MetricsRegistry& metrics_;
  std::function<double()> random01_;
  std::function<Millis()> now_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;
  std::atomic<bool> stopped_{false};
};

// Replicas the events Deployment should run given the autoscaler's latest
// decision (if any), the live Deployment's spec.replicas (if it exists) and
// the bounds. Without a decision the live count is kept (an operator restart
// must not reset a scaled-out group), clamped into the bounds.
int scaledReplicas(const std::optional<autoscale::Decision>& decision, std::optional<int> live, int rendered,
                   const autoscale::PolicyConfig& bounds);

}  // namespace ew::controller
