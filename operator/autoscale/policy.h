#pragma once
// The lag-driven scaling policy of DESIGN.md section 5: a pure function from
// one poll of a consumer group's offsets (plus what the policy remembers from
// earlier polls) to a replica count and its reason. No I/O, no clocks: the
// caller passes the poll's time; the state is a value the caller keeps per
// EventWorker and hands back on the next poll.
//
// Failure modes of KEDA's Kafka scaler under the HPA that this policy avoids by
// construction (kedacore/keda issue numbers):
//   #2908, #4791  the HPA's 10% tolerance stops one replica short of the
//                 partition count: here sizing has no tolerance band and the
//                 partition count is reached exactly.
//   #3904, #5906  a stuck partition (committed offset still, lag growing)
//                 drives replicas to the maximum: here it is reported as
//                 stalled and excluded from sizing, also when it has no
//                 committed offset at all.
//   #7936         retention-deleted messages counted as lag: here lag is
//                 measured from the log start offset.
//   #4098, #7239  metric failures scale to zero, or a fallback that cannot
//                 leave zero: here failures hold fallback.replicas (also from
//                 zero) or the current count, and never drive a scale to zero.
//   #5096         every replica change pauses the whole group (eager
//                 rebalance): here scale-down waits for the backlog, takes the
//                 stabilization window's maximum, and moves in capped steps
//                 at partition-count breakpoints, so fewer changes happen.
//
// Noise (issue 18): the production rate that sizes the group is smoothed
// (kRateSeconds), except that a jump of more than kSurge above it is taken at
// once (a burst must not wait for an average); only the lag above
// kLagAllowance x lagThreshold per replica is drained (the rest buffers the
// noise); the group shrinks only when the smaller group would run below
// kScaleDownUtilization, and only to the highest such recommendation of the
// stabilization window: noise within that band moves nothing, and a
// scale-down needs a surplus that lasts the window.
//
// Lag as a budget (issue 18): KEDA under the HPA pays less than a group that
// keeps up every second at a large lagThreshold only by falling behind
// without bound. Here the allowance (kLagAllowance x lagThreshold per
// replica, the lag the user accepts) is spent on purpose and kept bounded:
//   - a group short of the smoothed production does not grow while the
//     allowance absorbs the shortfall until new pods could consume (a pod
//     start, a rebalance and two polls): a scale-up at the next poll is in
//     time, and one that is never needed is never paid;
//   - a group smaller than the deadband allows is taken when its shortfall
//     against the deadband, over the stabilization window (at least
//     targetDrainSeconds), fits its own allowance: the lag buffers the noise
//     the deadband's margin is for, and a shortfall that lasts grows the
//     group again by the rule above only when the lag fills;
//   - a predicted burst is sized to the smallest group whose shortfall over
//     the burst's recorded duration fits its allowance.
// The allowance grows with lagThreshold, and so does what these rules
// change; all three need drain-time mode (a shortfall is measured against a
// per-replica rate).
//
// Recurring bursts (issue 18, recurrence.h): neither KEDA nor the HPA scales
// ahead of load it has seen before. Here, when burst onsets show a period
// (three that agree, or two alike bursts as a guess for the next one; and
// spec.scaling.predictive is on), the policy
//   - scales out to the bursts' size (above: within the lag allowance)
//     podStartSeconds + rebalanceSeconds + two polls before the next onset
//     is due (reason Predicted), so the burst meets
//     running pods instead of a cold start and a rebalance;
//   - holds that size through the gap when the gap (from the burst's end to
//     the next scale-out, which already pays the next cold start) is no
//     longer than the stabilization window: the window is the idle capacity
//     the user pays to save a scale event;
//   - otherwise scales in right after the burst, in one step and without
//     waiting for the window (the pattern says the load is back to its base
//     until the next scale-out; waiting would only delay a scale-in that
//     happens anyway);
//   - forgets the pattern after kMaxMisses predicted onsets without a burst
//     (a guess after one).
//
// Thread-compatible value types; the functions are pure.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "autoscale/recurrence.h"
#include "ew/result.h"

namespace ew::autoscale {

// Time constant of the production rate's smoothing.
inline constexpr double kRateSeconds = 30;
// Share of its capacity below which a smaller group must run before the
// group shrinks (it grows when the smoothed production exceeds capacity).
inline constexpr double kScaleDownUtilization = 0.9;
// Drain-time mode drains only the lag above this share of what lag mode
// targets for the group (lagThreshold per replica): the rest is the buffer
// that absorbs noise at full utilization, as large as the user allows.
inline constexpr double kLagAllowance = 0.5;
// A scale-up sizes the drain of the backlog for this share of
// targetDrainSeconds: it pays a pod start and a rebalance however many pods
// start, and a backlog B drained by r replicas of capacity c against
// production R costs r * B / (r * c - R) replica-seconds, which shrinks as r
// grows; the extra pods cost mostly the stabilization window after.
inline constexpr double kScaleUpDrainShare = 0.5;

enum class OffsetReset { Earliest, Latest };

// One partition of the consumer group's subscription, as read in one poll.
struct PartitionOffsets {
  std::string topic;
  int partition = 0;
  std::int64_t logStart = 0;              // earliest offset still in the log
  std::int64_t end = 0;                   // log end offset (high watermark)
  std::optional<std::int64_t> committed;  // the group's committed offset, if any
  bool hasOwner = false;                  // a group member holds it now
};

// Messages the group can still fetch from P: from its committed offset, or
// where RESET puts a consumer without one (also when the committed offset
// fell behind the log start, where the broker answers OFFSET_OUT_OF_RANGE).
// Retention-deleted messages below the log start are never lag (#7936).
inline std::int64_t partitionLag(const PartitionOffsets& p, OffsetReset reset) {
  std::int64_t position;
  if (p.committed && *p.committed >= p.logStart)
    position = *p.committed;
  else
    position = reset == OffsetReset::Earliest ? p.logStart : p.end;
  return std::max<std::int64_t>(0, p.end - position);
}

// One successful poll.
struct Observation {
  Millis now{0};            // any monotonic epoch; only differences matter
  int currentReplicas = 0;  // the Deployment's spec.replicas when read
  OffsetReset offsetReset = OffsetReset::Latest;
  std::vector<PartitionOffsets> partitions;
};

// Mirrors api::ScalingSpec (the CRD's spec.scaling) plus the operator-level
// knobs below. Defaults are the CRD's defaults.
struct PolicyConfig {
  int minReplicas = 1;
  int maxReplicas = 10;
  std::int64_t lagThreshold = 1000;
  std::int64_t activationLagThreshold = 0;
  std::optional<int> targetDrainSeconds;
  int scaleDownStabilizationSeconds = 120;
  struct Fallback {
    int failureThreshold = 3;     // failed polls in a row before the fallback holds
    std::optional<int> replicas;  // unset: hold the current count
  } fallback;

  // Idle time (no lag, no production) before minReplicas 0 scales to zero.
  int cooldownSeconds = 300;
  // A scale-down removes at most this percentage of the current replicas (at
  // least one) per poll, then rounds down to a partition-count breakpoint:
  // 12 -> 3 -> 1 on 12 partitions. Every change pauses the whole group for a
  // rebalance, so few large steps beat many small ones (50% would take
  // 12 -> 6 -> 3 -> 2 -> 1, four pauses in four polls); the target is already
  // the stabilization window's maximum, and a quarter of the group stays, so
  // a low target cannot take away most of the capacity in one poll.
  int maxScaleDownPercent = 75;
  // Allow more replicas than partitions (the extra ones sit idle).
  bool allowIdleConsumers = false;
  // Polls in a row with lag, an owner and an unmoved committed offset after
  // which a partition counts as stalled.
  int stalledAfterPolls = 3;
  // ... and for at least this long (a slow handler is not a stuck one).
  int stalledAfterSeconds = 60;
  // Time from a replica change to the new pods consuming.
  int podStartSeconds = 10;
  // The pause of the whole group's consumption after a membership change.
  int rebalanceSeconds = 5;
  // Scale ahead of recurring bursts and hold capacity through their gaps
  // (spec.scaling.predictive).
  bool predictive = true;
};

// REQUIRES nothing; returns the first invalid field, named as in the CRD.
Status validate(const PolicyConfig& config);

enum class Reason {
  Lag,            // sized by ceil(lag / lagThreshold) (KEDA-compatible lag mode)
  DrainTime,      // sized to absorb production and drain the lag in targetDrainSeconds
  Bounds,         // the size was clamped to [minReplicas, min(maxReplicas, partitions)]
  Activation,     // from zero: lag above activationLagThreshold
  Idle,           // at or to zero: no lag and no production for cooldownSeconds
  Draining,       // would scale down, but a backlog is still draining: lag above
                  // lagThreshold and above half a poll interval's production
                  // (less is what periodic commits leave even when keeping up)
  Stabilizing,    // scale-down held or capped by the stabilization window / step
  MetricsFailed,  // the poll failed; fewer than failureThreshold in a row
  Fallback,       // failureThreshold failed polls in a row: holding the fallback
  Predicted,      // sized for a recurring burst that is due (or held through its gap)
};
const char* reasonName(Reason reason);

struct PartitionKey {
  std::string topic;
  int partition = 0;
  auto operator<=>(const PartitionKey&) const = default;
};

// The policy's answer. After a failed poll only desiredReplicas, reason,
// message, degraded and perReplicaRate are set.
struct Decision {
  int desiredReplicas = 0;
  Reason reason = Reason::Lag;
  std::string message;          // one line for a condition / Event
  bool degraded = false;        // failureThreshold reached
  std::int64_t totalLag = 0;    // every partition
  std::int64_t scalingLag = 0;  // without stalled partitions
  std::map<std::string, std::int64_t> lagByTopic;
  int partitions = 0;  // in the observation (no more per partition: see PolicyState::partitions)
  std::vector<PartitionKey> stalled;
  std::optional<double> produceRate;      // msg/s over the last interval
  std::optional<double> consumeRate;      // msg/s over the last interval (all replicas)
  std::optional<double> perReplicaRate;   // smoothed msg/s of one busy replica
  std::optional<int> burstPeriodSeconds;  // the period of recurring bursts, when detected
};

// What the policy carries from one poll to the next, per EventWorker. Start
// with a default-constructed value; it is bounded in size (one entry per
// partition, at most one per poll within the stabilization window).
struct PolicyState {
  struct PartitionMemory {
    std::int64_t end = 0;
    std::optional<std::int64_t> committed;
    int stillPolls = 0;    // polls in a row with lag, an owner and no progress
    Millis stillSince{0};  // the poll that last saw it move (valid when stillPolls > 0)
  };
  // One partition's memory; a flat vector of these sorted by (topic,
  // partition), not a map: a thousand EventWorkers keep one per partition
  // (12,000 on 12 partitions), and a map node costs about half as much again.
  // The topic is an index into `topics`: a worker's partitions name a few
  // topics, and a name in each was 32 bytes of every partition's 80.
  struct Slot {
    std::uint32_t topic = 0;  // index into topics
    int partition = 0;
    auto operator<=>(const Slot&) const = default;
  };
  struct Partition {
    Slot slot;
    PartitionMemory memory;
  };
  struct Recommendation {
    Millis at{0};
    int replicas = 0;
  };
  std::optional<Millis> lastPollAt;
  std::vector<std::string> topics;        // of the partitions: sorted, distinct
  std::vector<Partition> partitions;      // sorted by slot
  bool busyAtLastPoll = false;            // every partition owned, behind, none stalled
  std::optional<double> perReplicaRate;   // smoothed, measured while backlogged
  std::optional<double> perReplicaBound;  // the highest lower bound from intervals that became backlogged
  std::optional<double> smoothedRate;     // production rate (non-stalled partitions), smoothed
  RecurrenceState recurrence;             // bursts seen (bounded; empty unless predictive)
  std::vector<Recommendation> history;    // sized recommendations in the window, each above all later ones
  int consecutiveFailures = 0;
  std::optional<Millis> idleSince;
  int observedReplicas = -1;  // replicas seen at the last poll
  Millis replicasSince{0};    // when that count was first seen
  bool replicasGrew = true;   // that count was a scale-up (pods had to start)

  // The memory of KEY, or null.
  const PartitionMemory* memoryOf(const PartitionKey& key) const {
    const auto topic = std::lower_bound(topics.begin(), topics.end(), key.topic);
    if (topic == topics.end() || *topic != key.topic) return nullptr;
    const Slot slot{static_cast<std::uint32_t>(topic - topics.begin()), key.partition};
    auto it = std::lower_bound(partitions.begin(), partitions.end(), slot,
                               [](const Partition& e, const Slot& s) { return e.slot < s; });
    return it != partitions.end() && it->slot == slot ? &it->memory : nullptr;
  }
};

struct PolicyStep {
  Decision decision;
  PolicyState state;
};

// One successful poll. REQUIRES: validate(config).ok(); observation.now not
// before the previous poll's.
//
// Sizing: drain-time mode when targetDrainSeconds is set and both the
// production rate (end offsets between polls) and a per-replica rate are
// known; else lag mode. The per-replica rate is measured over intervals in
// which every partition was owned and behind (lag above half the interval's
// arrivals: less is what periodic commits leave behind a group that keeps up)
// and the replica count had settled for a pod start; it is smoothed across
// such intervals. Until the first such interval, a group that became
// backlogged during the last interval yields a lower bound (the highest such
// is used). Every size is rounded to a partition breakpoint.
PolicyStep policyPoll(const PolicyState& state, const PolicyConfig& config, const Observation& observation);

// One failed poll (Kafka unreachable, timeout, ...). Holds the current count
// until fallback.failureThreshold failures in a row, then fallback.replicas (or
// the current count) with degraded set. Never returns 0 when currentReplicas > 0.
PolicyStep policyFailed(const PolicyState& state, const PolicyConfig& config, int currentReplicas);

// Smallest replica count r with ceil(partitions / r) == ceil(partitions / replicas):
// the cheapest group whose busiest member owns as many partitions as with
// `replicas`. REQUIRES: partitions >= 1, replicas >= 1.
int partitionBreakpoint(int partitions, int replicas);

}  // namespace ew::autoscale
