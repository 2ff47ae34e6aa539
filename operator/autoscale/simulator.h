#pragma once
// A deterministic model of a Kafka consumer group under an autoscaler, in
// one-second steps, for scoring scaling policies on arrival-rate traces
// (DESIGN.md section 5, issue 6 item 3).
//
// The model, each second t:
//   1. The autoscaler sees the group as a lag reader would (per-partition end
//      and committed offsets, whether a member owns the partition) and the
//      Deployment's spec.replicas, and returns the new spec.replicas.
//   2. The Deployment follows at once: new pods join the group podStartSeconds
//      later; removed pods go at once, not-yet-started ones first (as the
//      ReplicaSet controller picks them).
//   3. Every change of the group's membership (a pod joining or leaving)
//      pauses all consumption for rebalancePauseSeconds (an eager rebalance;
//      changes during a pause extend it).
//   4. The trace's rate arrives, spread evenly over the partitions.
//   5. Unless paused, member i of m owns partitions p with p % m == i (the
//      busiest owns ceil(P/m)), and processes up to perReplicaRate msg/s,
//      shared among its partitions that have messages (water-filling).
//      A stuck partition (a poison message) takes nothing.
//   6. Every commitIntervalSeconds the group commits what it has processed;
//      the autoscaler sees committed offsets, lag-seconds count the true
//      backlog (end - processed).
// Nothing is random; the same inputs give the same result.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autoscale/policy.h"
#include "autoscale/trace.h"

namespace ew::autoscale {

struct StuckPartition {
  int partition = 0;
  int fromSeconds = 0;
  int untilSeconds = 0;  // exclusive
};

struct ModelConfig {
  int partitions = 12;
  double perReplicaRate = 100;  // messages per second one replica processes
  int podStartSeconds = 10;     // spec change to consuming
  int rebalancePauseSeconds = 5;
  // The runtime commits every commitInterval (default 1 s) and when caught
  // up; 5 s is the Java / librdkafka auto-commit default.
  int commitIntervalSeconds = 1;
  int initialReplicas = 1;  // running and owning partitions at t = 0
  std::optional<StuckPartition> stuck;
};

// What an autoscaler reads each second.
struct ClusterView {
  int t = 0;
  int specReplicas = 0;
  std::vector<PartitionOffsets> partitions;  // topic "events"; offsets rounded down
};

// A scaling policy under test. Implementations keep their own clocks (poll
// intervals) and are driven once per simulated second.
class Autoscaler {
 public:
  virtual ~Autoscaler() = default;
  // Returns the Deployment's spec.replicas from now on (view.specReplicas to keep it).
  virtual int tick(const ClusterView& view) = 0;
  // A short label of the last decision, for the CSV ("DrainTime", "hpa", ...).
  virtual std::string note() const = 0;
};
using AutoscalerPtr = std::unique_ptr<Autoscaler>;

struct StepRecord {
  int t = 0;
  double produceRate = 0;  // msg/s arriving in [t, t+1)
  double consumed = 0;     // messages processed in [t, t+1)
  double lag = 0;          // at t+1
  int replicas = 0;        // pods (paid for), starting or running
  int members = 0;         // pods in the group
  bool rebalancing = false;
  std::string note;
};

struct Summary {
  double lagSeconds = 0;  // sum over seconds of the lag (message-seconds)
  double peakLag = 0;
  double p99Lag = 0;          // nearest-rank 99th percentile of the per-second lag
  double replicaSeconds = 0;  // sum over seconds of the pods
  int scaleEvents = 0;        // changes of spec.replicas
  int peakReplicas = 0;
  int seconds = 0;
};

struct SimResult {
  std::vector<StepRecord> steps;
  Summary summary;
};

// REQUIRES: !trace.empty(); model.partitions >= 1.
SimResult simulate(const Trace& trace, const ModelConfig& model, Autoscaler& autoscaler);

Summary summarize(const std::vector<StepRecord>& steps, int scaleEvents);

// One CSV row per step, with a header.
std::string toCsv(const SimResult& result);

// A gnuplot script drawing lag (left axis) and replicas (right axis) from a
// CSV written by toCsv into a PNG.
std::string gnuplotScript(const std::string& csvPath, const std::string& pngPath, const std::string& title);

// "key value" lines: lag_seconds, peak_lag, p99_lag, replica_seconds,
// scale_events, peak_replicas, seconds.
std::string summaryText(const Summary& summary);

// The eventworker policy (policy.h) polled every pollIntervalSeconds.
class EventWorkerAutoscaler : public Autoscaler {
 public:
  // REQUIRES: validate(config).ok(); pollIntervalSeconds >= 1.
  EventWorkerAutoscaler(PolicyConfig config, int pollIntervalSeconds);
  int tick(const ClusterView& view) override;
  std::string note() const override;

 private:
  PolicyConfig config_;
  int pollIntervalSeconds_;
  PolicyState state_;
  std::optional<Reason> last_;
};

}  // namespace ew::autoscale
