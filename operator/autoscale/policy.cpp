#include "autoscale/policy.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <set>
#include <sstream>

namespace ew::autoscale {
namespace {

// Weight of a new per-replica rate sample against the smoothed value.
constexpr double kRateSmoothing = 0.5;

std::int64_t ceilDiv(std::int64_t a, std::int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

int toInt(std::int64_t v) { return static_cast<int>(std::min<std::int64_t>(v, INT_MAX)); }

double seconds(Millis d) { return std::chrono::duration<double>(d).count(); }

// Whether a lag is a backlog rather than commit latency: consumers commit
// periodically, so a partition that keeps up still shows the messages that
// arrived since its last commit. A lag above half a poll interval's arrivals
// (`arrived`, the production since the previous poll) is more than a commit
// interval of up to half the poll interval explains.
bool behind(double lag, double arrived) { return lag > 0 && 2 * lag > arrived; }

std::string fmt(double v) {
  std::ostringstream s;
  s.setf(std::ios::fixed);
  s.precision(1);
  s << v;
  return s.str();
}

// Replicas that absorb `demand` msg/s when one replica handles `perReplica`
// msg/s and the busiest of r replicas owns ceil(P/r) of the P partitions (the
// load assumed even across partitions): the fewest r with
// ceil(P/r) * demand / P <= perReplica. Never more than P: a partition has at
// most one consumer, so more replicas cannot drain faster.
int drainReplicas(double demand, double perReplica, int partitions) {
  if (demand <= 0 || partitions < 1) return 0;
  double perBusiest = std::floor(perReplica * partitions / demand);  // partitions one replica can carry
  if (perBusiest < 1) return partitions;
  if (perBusiest >= partitions) return 1;
  int k = static_cast<int>(perBusiest);
  return (partitions + k - 1) / k;
}

// What `replicas` of `perReplica` msg/s absorb on P partitions: the busiest owns ceil(P/r).
double groupCapacity(double perReplica, int partitions, int replicas) {
  int members = std::min(std::max(replicas, 0), partitions);
  return members > 0 ? perReplica * partitions / std::ceil(double(partitions) / members) : 0;
}

// What the lag allowance of `replicas` (kLagAllowance x lagThreshold each)
// can still take on top of `lag`; negative when the lag is beyond it.
double allowanceRoom(const PolicyConfig& config, int replicas, int partitions, double lag) {
  return kLagAllowance * double(config.lagThreshold) * std::max(1, std::min(replicas, partitions)) - lag;
}

// How long a smaller group's shortfall must fit its lag allowance: the
// stabilization window (the next scale-down is that far away), and no less
// than targetDrainSeconds. REQUIRES: targetDrainSeconds set.
int bufferHorizon(const PolicyConfig& config) {
  return std::max({1, config.scaleDownStabilizationSeconds, *config.targetDrainSeconds});
}

// From a scale-up to the new pods consuming, seen from a poll: a pod start,
// the rebalance, the poll that decides and the one after.
double scaleUpLead(const PolicyConfig& config, double dt) {
  return config.podStartSeconds + config.rebalanceSeconds + 2 * dt;
}

// The smallest group at a partition breakpoint below `deadband` whose
// shortfall against the deadband (production / kScaleDownUtilization less
// its capacity) fills no more than its lag allowance over bufferHorizon; else
// `deadband`. With a lagThreshold that large, the lag absorbs the noise the
// deadband's margin is for, and a shortfall that lasts grows the group again
// only when the lag fills (the hold in sizeDrainTime).
int bufferedGroup(const PolicyConfig& config, double rate, double perReplica, int partitions, double lag,
                  int deadband) {
  const double horizon = bufferHorizon(config);
  for (int r = 1; r < deadband; ++r) {
    if (partitionBreakpoint(partitions, r) != r) continue;
    const double shortfall = rate / kScaleDownUtilization - groupCapacity(perReplica, partitions, r);
    if (shortfall * horizon <= allowanceRoom(config, r, partitions, lag)) return r;
  }
  return deadband;
}

struct Sizing {
  int replicas = 0;
  Reason mode = Reason::Lag;
  std::string message;
};

// The group a predicted burst is sized to: the smallest at a partition
// breakpoint whose shortfall over the burst's recorded duration fits its lag
// allowance (what sizeDrainTime leaves undrained and its hold lets a running
// group absorb), else the group that absorbs its peak.
int bufferedBurst(const PolicyConfig& config, const BurstPattern& p, double perReplica, int partitions) {
  const int absorbing = drainReplicas(p.peakRate, perReplica, partitions);
  for (int r = 1; r < absorbing; ++r) {
    if (partitionBreakpoint(partitions, r) != r) continue;
    const double shortfall = p.peakRate - groupCapacity(perReplica, partitions, r);
    if (shortfall * seconds(p.duration) <= allowanceRoom(config, r, partitions, 0)) return r;
  }
  return absorbing;
}

struct Prediction {
  bool pattern = false;  // a recurring pattern is known
  int replicas = 0;      // the floor it sets now (0: none)
  std::string message;
};

// The floor a recurring burst pattern sets at `now`: the bursts' size from
// one lead time (a cold start and one more poll) before the next onset until
// the burst has had its recorded duration, and through the gap when the gap
// (from the burst's end to the next lead, which already pays the next cold
// start) is no longer than the stabilization window: the window is how long
// the user lets capacity idle to save a scale event. `dt`: the poll interval.
Prediction predict(const BurstPattern& p, const PolicyConfig& config, std::optional<double> perReplica, int partitions,
                   Millis now, double dt) {
  Prediction out;
  out.pattern = true;
  const int size =
      perReplica && config.targetDrainSeconds ? bufferedBurst(config, p, *perReplica, partitions) : p.peakReplicas;
  const double coldStart = config.podStartSeconds + config.rebalanceSeconds + dt;
  const auto lead = Millis(static_cast<std::int64_t>((coldStart + dt) * 1000));
  const auto gap = p.period - p.duration - lead;
  const bool hold = gap <= Millis(config.scaleDownStabilizationSeconds * 1000LL);
  const auto period = std::to_string(p.period.count() / 1000);
  const auto in = std::to_string(std::max<std::int64_t>(0, (p.nextStart - now).count() / 1000));
  if (p.inBurst) {
    out.message = "a burst that recurs every " + period + " s is on";
  } else if (now >= p.nextStart - lead) {
    out.message = "a burst that recurs every " + period + " s is due in " + in + " s";
  } else if (hold) {
    out.message = "the next burst (every " + period + " s) is due in " + in + " s, within the stabilization window";
  } else {
    return out;
  }
  out.replicas = size;
  out.message += ": " + std::to_string(size) + " replicas for " + fmt(p.peakRate) + " msg/s";
  return out;
}

}  // namespace

const char* reasonName(Reason reason) {
  switch (reason) {
    case Reason::Lag:
      return "Lag";
    case Reason::DrainTime:
      return "DrainTime";
    case Reason::Bounds:
      return "Bounds";
    case Reason::Activation:
      return "Activation";
    case Reason::Idle:
      return "Idle";
    case Reason::Draining:
      return "Draining";
    case Reason::Stabilizing:
      return "Stabilizing";
    case Reason::MetricsFailed:
      return "MetricsFailed";
    case Reason::Fallback:
      return "Fallback";
    case Reason::Predicted:
      return "Predicted";
  }
  return "Unknown";
}

Status validate(const PolicyConfig& c) {
  auto bad = [](const std::string& field, const std::string& what) {
    return Status(Error{"scaling." + field + ": " + what});
  };
  if (c.minReplicas < 0) return bad("minReplicas", "must be at least 0");
  if (c.maxReplicas < 1) return bad("maxReplicas", "must be at least 1");
  if (c.minReplicas > c.maxReplicas) return bad("minReplicas", "must not exceed maxReplicas");
  if (c.lagThreshold < 1) return bad("lagThreshold", "must be at least 1");
  if (c.activationLagThreshold < 0) return bad("activationLagThreshold", "must be at least 0");
  if (c.targetDrainSeconds && *c.targetDrainSeconds < 1) return bad("targetDrainSeconds", "must be at least 1");
  if (c.scaleDownStabilizationSeconds < 0) return bad("scaleDownStabilizationSeconds", "must be at least 0");
  if (c.fallback.failureThreshold < 1) return bad("fallback.failureThreshold", "must be at least 1");
  if (c.fallback.replicas && *c.fallback.replicas < 0) return bad("fallback.replicas", "must be at least 0");
  if (c.cooldownSeconds < 0) return bad("cooldownSeconds", "must be at least 0");
  if (c.maxScaleDownPercent < 1 || c.maxScaleDownPercent > 100)
    return bad("maxScaleDownPercent", "must be between 1 and 100");
  if (c.stalledAfterPolls < 1) return bad("stalledAfterPolls", "must be at least 1");
  if (c.stalledAfterSeconds < 0) return bad("stalledAfterSeconds", "must not be negative");
  if (c.podStartSeconds < 0) return bad("podStartSeconds", "must be at least 0");
  if (c.rebalanceSeconds < 0) return bad("rebalanceSeconds", "must be at least 0");
  return Status::success();
}

int partitionBreakpoint(int partitions, int replicas) {
  int perBusiest = (partitions + replicas - 1) / replicas;
  return (partitions + perBusiest - 1) / perBusiest;
}

namespace {

// What one poll measured, beside the Decision it fills.
struct Measured {
  double dt = 0;  // seconds since the previous successful poll; 0 when there was none
  int partitionCount = 0;
  int current = 0;                           // the Deployment's replicas when read
  bool busy = false;                         // every partition owned, not stalled and behind (see measurePartitions)
  std::optional<double> scalingProduceRate;  // production of the non-stalled partitions, msg/s
  std::optional<double> perReplica;          // measured, else the lower bound
};

// Lag, stalls and rates per partition into `d`; the partitions' memory into
// `state`. `busy`: every partition owned, not stalled and behind (known from
// the previous poll), so every member works at its capacity.
void measurePartitions(const PolicyState& previous, PolicyState& state, const PolicyConfig& config,
                       const Observation& obs, Measured& m, Decision& d) {
  std::set<std::string> names;
  for (const auto& p : obs.partitions) names.insert(p.topic);
  std::vector<std::string> topics(names.begin(), names.end());
  std::vector<PolicyState::Partition> memory;
  memory.reserve(obs.partitions.size());
  double produced = 0, producedScaling = 0, consumed = 0;
  bool busy = m.partitionCount > 0 && m.dt > 0;
  for (const auto& p : obs.partitions) {
    PartitionKey key{p.topic, p.partition};
    std::int64_t lag = partitionLag(p, obs.offsetReset);
    const PolicyState::PartitionMemory* before = previous.memoryOf(key);
    bool known = before != nullptr;
    PolicyState::PartitionMemory mem{p.end, p.committed, 0, obs.now};
    if (known && lag > 0 && p.hasOwner && before->committed == p.committed) {
      mem.stillPolls = before->stillPolls + 1;
      mem.stillSince = before->stillPolls > 0 ? before->stillSince : *previous.lastPollAt;
    }
    bool stalled = mem.stillPolls >= config.stalledAfterPolls &&
                   obs.now - mem.stillSince >= Millis(std::int64_t{config.stalledAfterSeconds} * 1000);
    const auto topic = std::lower_bound(topics.begin(), topics.end(), p.topic) - topics.begin();
    memory.push_back({{static_cast<std::uint32_t>(topic), p.partition}, mem});

    ++d.partitions;
    d.totalLag += lag;
    d.lagByTopic[p.topic] += lag;
    if (stalled)
      d.stalled.push_back(key);
    else
      d.scalingLag += lag;
    double in = 0;
    if (known) {
      in = static_cast<double>(std::max<std::int64_t>(0, p.end - before->end));
      produced += in;
      if (!stalled) producedScaling += in;
      if (p.committed && before->committed)
        consumed += static_cast<double>(std::max<std::int64_t>(0, *p.committed - *before->committed));
    }
    busy = busy && known && p.hasOwner && !stalled && behind(double(lag), in);
  }
  if (m.dt > 0) {
    d.produceRate = produced / m.dt;
    d.consumeRate = consumed / m.dt;
    m.scalingProduceRate = producedScaling / m.dt;
  }
  m.busy = busy;
  std::sort(memory.begin(), memory.end(), [](const auto& a, const auto& b) { return a.slot < b.slot; });
  state.topics = std::move(topics);
  state.partitions = std::move(memory);
}

// Per-replica throughput, sampled only while every member had work for the
// whole interval and the group had settled (the last replica change at
// least a rebalance, and after a scale-up a pod start too, before the
// interval, so no join or its rebalance falls inside): then consumption /
// members is what one replica does.
void measurePerReplica(const PolicyState& previous, PolicyState& state, const PolicyConfig& config, Measured& m,
                       Decision& d) {
  const int settleSeconds = config.rebalanceSeconds + (previous.replicasGrew ? config.podStartSeconds : 0);
  bool settled = m.current == previous.observedReplicas && previous.lastPollAt &&
                 previous.replicasSince + Millis(settleSeconds * 1000LL) <= *previous.lastPollAt;
  m.perReplica = previous.perReplicaRate;
  if (m.dt > 0 && m.busy && settled && m.current > 0) {
    double sample = *d.consumeRate / std::min(m.current, m.partitionCount);
    if (previous.busyAtLastPoll)
      m.perReplica = state.perReplicaRate =
          previous.perReplicaRate ? kRateSmoothing * sample + (1 - kRateSmoothing) * *previous.perReplicaRate : sample;
    else
      // Backlogged only since some time within the interval: the members did
      // at least this much. A low estimate sizes more replicas, never fewer;
      // the highest such bound is used until a full interval is measured.
      state.perReplicaBound = std::max(previous.perReplicaBound.value_or(0.0), sample);
  }
  if (!m.perReplica) m.perReplica = state.perReplicaBound;
  d.perReplicaRate = state.perReplicaRate;
}

// The production rate that sizes the group: smoothed, but a surge is taken
// at once; and the bursts of production (recurrence.h), whose end is taken at
// once as their start is. A poll without a rate (the first) clears them.
void followProduction(const PolicyState& previous, PolicyState& state, const PolicyConfig& config,
                      const Observation& obs, const Measured& m) {
  if (!m.scalingProduceRate || !config.predictive) state.recurrence = {};
  if (!m.scalingProduceRate) return;
  const double r = *m.scalingProduceRate;
  const double alpha = m.dt / (kRateSeconds + m.dt);
  state.smoothedRate = !previous.smoothedRate || r > *previous.smoothedRate * (1 + kSurge)
                           ? r
                           : alpha * r + (1 - alpha) * *previous.smoothedRate;
  if (!config.predictive) return;
  state.recurrence = observeArrivals(state.recurrence, obs.now, r, m.dt);
  if (previous.recurrence.open && !state.recurrence.open) state.smoothedRate = r;
}

// The rest of what the next poll needs to know about this one.
void rememberPoll(const PolicyState& previous, PolicyState& state, const Observation& obs, const Measured& m,
                  const Decision& d) {
  if (m.current != previous.observedReplicas) {
    // The count changed after the last poll, at the earliest right after it
    // (where the reconciler applies the policy's decisions).
    state.observedReplicas = m.current;
    state.replicasSince = previous.lastPollAt.value_or(obs.now);
    state.replicasGrew = m.current > previous.observedReplicas;
  }
  state.busyAtLastPoll = m.busy;
  state.lastPollAt = obs.now;
  state.consecutiveFailures = 0;
  bool idle = d.totalLag == 0 && d.produceRate && *d.produceRate == 0;
  state.idleSince = idle ? std::optional(previous.idleSince.value_or(obs.now)) : std::nullopt;
}

// Drain-time mode: enough replicas for the smoothed production and the
// backlog beyond the lag allowance, within the deadband.
Sizing sizeDrainTime(const PolicyConfig& config, const PolicyState& state, const Measured& m, std::int64_t sizingLag,
                     std::int64_t scalingLag) {
  const double perReplica = *m.perReplica, target = *config.targetDrainSeconds;
  const int partitions = m.partitionCount, current = m.current;
  // The lag beyond kLagAllowance of what lag mode would target for the
  // group is a backlog to drain; less is the buffer that rides out noise.
  const double room = allowanceRoom(config, current, partitions, double(sizingLag));
  const double rate = *state.smoothedRate, lag = std::max(0.0, -room);
  Sizing size;
  std::string buffered;
  // Enough for the group as it runs, with the whole target to drain in...
  size.replicas = drainReplicas(rate + lag / target, perReplica, partitions);
  if (size.replicas <= current) {
    // ... and no fewer than the group that would run below kScaleDownUtilization (the deadband),
    const int deadband =
        std::min(current, drainReplicas(rate / kScaleDownUtilization + lag / target, perReplica, partitions));
    // ... or one whose shortfall against the deadband its lag allowance buffers (bufferedGroup).
    size.replicas =
        lag > 0 ? deadband : bufferedGroup(config, rate, perReplica, partitions, double(sizingLag), deadband);
    if (size.replicas < deadband)
      buffered = "; the lag allowance buffers " +
                 fmt(rate / kScaleDownUtilization - groupCapacity(perReplica, partitions, size.replicas)) +
                 " msg/s short for " + std::to_string(bufferHorizon(config)) + " s";
  } else if (const double shortfall = rate - groupCapacity(perReplica, partitions, current);
             lag == 0 && current >= 1 && shortfall * scaleUpLead(config, m.dt) <= room) {
    // ... else, while the lag allowance absorbs the shortfall until new pods
    // would consume, nothing: a scale-up at the next poll comes in time.
    buffered =
        "; holding " + std::to_string(current) + " while the lag allowance absorbs " + fmt(shortfall) + " msg/s short";
    size.replicas = current;
  } else {
    // ... else new pods, which consume only after podStartSeconds: meanwhile
    // the lag grows by what the current group cannot absorb, and less time
    // is left to drain it.
    double growth = std::max(0.0, rate - groupCapacity(perReplica, partitions, current)) * config.podStartSeconds;
    double window = std::max(1.0, kScaleUpDrainShare * target - config.podStartSeconds);
    size.replicas = drainReplicas(rate + (lag + growth) / window, perReplica, partitions);
  }
  size.mode = Reason::DrainTime;
  size.message = "production " + fmt(rate) + " msg/s and lag " + std::to_string(scalingLag) + " to drain in " +
                 std::to_string(*config.targetDrainSeconds) + " s need " + std::to_string(size.replicas) +
                 " replicas at " + fmt(perReplica) + " msg/s each" +
                 (state.perReplicaRate ? "" : " (at least; not yet measured)") + buffered;
  return size;
}

// Lag mode (KEDA-compatible): ceil(lag / lagThreshold), at a partition breakpoint.
Sizing sizeLag(const PolicyConfig& config, const Measured& m, std::int64_t sizingLag, std::int64_t scalingLag) {
  Sizing size;
  size.replicas = toInt(ceilDiv(sizingLag, config.lagThreshold));
  // No replica that leaves the busiest member's share unchanged (ceil(P/r)).
  if (size.replicas >= 1 && m.partitionCount >= 1 && size.replicas <= m.partitionCount)
    size.replicas = partitionBreakpoint(m.partitionCount, size.replicas);
  size.mode = Reason::Lag;
  size.message = "lag " + std::to_string(scalingLag) + " over lagThreshold " + std::to_string(config.lagThreshold) +
                 " needs " + std::to_string(size.replicas) + " replicas";
  return size;
}

// The size this poll calls for: drain-time mode when asked for and both rates
// are known, else lag mode.
Sizing size(const PolicyConfig& config, const PolicyState& previous, const PolicyState& state, const Measured& m,
            const Decision& d) {
  // A scale-down right after the last poll paused the group for a
  // rebalance: the production of that pause is lag the group drains at once,
  // not a reason to grow again (each such change would cause the next).
  const bool shrank = previous.lastPollAt && m.current > 0 && m.current < previous.observedReplicas;
  const std::int64_t pauseLag =
      shrank ? static_cast<std::int64_t>(m.scalingProduceRate.value_or(0) * config.rebalanceSeconds) : 0;
  const std::int64_t sizingLag = std::max<std::int64_t>(0, d.scalingLag - pauseLag);
  Sizing out = config.targetDrainSeconds && state.smoothedRate && m.perReplica && *m.perReplica > 0
                   ? sizeDrainTime(config, state, m, sizingLag, d.scalingLag)
                   : sizeLag(config, m, sizingLag, d.scalingLag);
  if (!d.stalled.empty()) out.message += " (" + std::to_string(d.stalled.size()) + " stalled partitions excluded)";
  return out;
}

// [max(minReplicas, 1), min(maxReplicas, partitions)]; zero only through Idle.
struct Bounds {
  int lower = 1;
  int upper = 1;
  int ceiling() const { return std::max(upper, lower); }
};

Bounds bounds(const PolicyConfig& config, int partitionCount) {
  return {std::max(config.minReplicas, 1),
          config.allowIdleConsumers ? config.maxReplicas : std::min(config.maxReplicas, partitionCount)};
}

// Clamps `size` to the bounds (reason Bounds when that changed it).
int bound(Sizing& size, const Bounds& b) {
  int bounded = std::max(b.lower, std::min(b.upper, size.replicas));
  if (bounded != size.replicas) {
    size.mode = Reason::Bounds;
    size.message += "; bounded to " + std::to_string(bounded) + " by [" + std::to_string(b.lower) + ", " +
                    std::to_string(b.ceiling()) + "]";
  }
  return bounded;
}

// Adds this poll's recommendation to the stabilization window's history.
// Only the window's maximum is ever read: an older recommendation that is not
// above a newer one can never be it again (the newer one stays in the window
// longer), so it is dropped. The history stays one entry long while the
// recommendation holds or rises (1,000 workers: about 1 MB less).
void recordRecommendation(PolicyState& state, const PolicyConfig& config, Millis now, int bounded) {
  Millis window(config.scaleDownStabilizationSeconds * 1000LL);
  std::erase_if(state.history, [&](const auto& r) { return r.at < now - window; });
  while (!state.history.empty() && state.history.back().replicas <= bounded) state.history.pop_back();
  state.history.push_back({now, bounded});
}

// Recurring bursts: a floor while one is due, in progress, or its gap held.
Prediction predictBursts(PolicyState& state, const PolicyConfig& config, const Measured& m, const Bounds& b, Millis now,
                         int bounded, Decision& d) {
  Prediction predicted;
  if (!config.predictive) return predicted;
  state.recurrence = noteBurstReplicas(state.recurrence, bounded);
  if (auto pattern = detectPattern(state.recurrence, now)) {
    d.burstPeriodSeconds = static_cast<int>(pattern->period.count() / 1000);
    predicted = predict(*pattern, config, m.perReplica, m.partitionCount, now, m.dt);
    predicted.replicas = std::min(predicted.replicas, b.ceiling());
  }
  return predicted;
}

void decide(Decision& d, int replicas, Reason reason, std::string message) {
  d.desiredReplicas = replicas;
  d.reason = reason;
  d.message = std::move(message);
}

// Below the current count and nothing draining: the window's maximum (and a
// predicted floor) held, or a capped step down towards it. Between the bursts
// of a known pattern whose gap is not held, the window is not waited for: the
// pattern says the load is back to its base until the next lead, and the
// scale-in that the window would only delay is taken anyway.
void decideScaleDown(Decision& d, const PolicyState& state, const PolicyConfig& config, const Measured& m,
                     const Prediction& predicted, int bounded, const Sizing& size) {
  const int current = m.current;
  int target = std::max(predicted.replicas, bounded);
  if (!predicted.pattern || predicted.replicas > 0)
    for (const auto& r : state.history) target = std::max(target, r.replicas);
  if (predicted.replicas >= current) {
    decide(d, current, Reason::Predicted, "holding " + std::to_string(current) + ": " + predicted.message);
  } else if (target >= current) {
    decide(d, current, Reason::Stabilizing,
           "holding " + std::to_string(current) + ": " + std::to_string(target) + " recommended within " +
               std::to_string(config.scaleDownStabilizationSeconds) + " s");
  } else {
    // A known pattern says the load is back to its base: one step.
    int percent = predicted.pattern ? 100 : config.maxScaleDownPercent;
    int step = std::max(1, current * percent / 100);
    int next = std::max(target, current - step);
    if (!config.allowIdleConsumers && m.partitionCount >= 1)
      next = std::max(target, partitionBreakpoint(m.partitionCount, next));
    if (next == bounded)
      decide(d, next, size.mode, size.message);
    else
      decide(d, next, Reason::Stabilizing,
             "stepping down to " + std::to_string(next) + " towards " + std::to_string(target) + " (at most " +
                 std::to_string(config.maxScaleDownPercent) + "% per step)");
  }
}

// The decision from the size (`want`: with the predicted floor), in order:
// activation from zero, idle, scale-up, above the bounds, draining, scale-down.
void decideReplicas(Decision& d, const PolicyState& state, const PolicyConfig& config, const Observation& obs,
                    const Measured& m, const Bounds& b, const Prediction& predicted, int bounded, int want,
                    const Sizing& size) {
  const int current = m.current;
  const bool mayIdle = config.minReplicas == 0;
  const std::string lag = "lag " + std::to_string(d.scalingLag);
  if (mayIdle && current == 0) {
    if (d.scalingLag > config.activationLagThreshold)
      decide(
          d, bounded, Reason::Activation,
          lag + " above activationLagThreshold " + std::to_string(config.activationLagThreshold) + "; " + size.message);
    else
      decide(d, 0, Reason::Idle,
             lag + " at or below activationLagThreshold " + std::to_string(config.activationLagThreshold));
  } else if (mayIdle && state.idleSince && obs.now - *state.idleSince >= Millis(config.cooldownSeconds * 1000LL)) {
    decide(d, 0, Reason::Idle, "no lag and no production for " + std::to_string(config.cooldownSeconds) + " s");
  } else if (want >= current) {
    decide(d, want, size.mode, size.message);
  } else if (current > b.ceiling()) {
    // Above maxReplicas (or the partitions): the bound is not a recommendation to smooth.
    decide(d, b.ceiling(), Reason::Bounds,
           std::to_string(current) + " replicas above the bound " + std::to_string(b.ceiling()) + "; " + size.message);
  } else if (d.scalingLag > config.lagThreshold &&
             behind(double(d.scalingLag), m.scalingProduceRate.value_or(0) * m.dt)) {
    decide(d, current, Reason::Draining,
           "holding " + std::to_string(current) + " while " + lag + " is above lagThreshold " +
               std::to_string(config.lagThreshold) + "; " + size.message);
  } else {
    decideScaleDown(d, state, config, m, predicted, bounded, size);
  }
}

}  // namespace

PolicyStep policyPoll(const PolicyState& previous, const PolicyConfig& config, const Observation& obs) {
  PolicyState state = previous;
  Decision d;
  Measured m;
  m.partitionCount = static_cast<int>(obs.partitions.size());
  m.current = obs.currentReplicas;
  m.dt = previous.lastPollAt && obs.now > *previous.lastPollAt ? seconds(obs.now - *previous.lastPollAt) : 0.0;

  measurePartitions(previous, state, config, obs, m, d);
  measurePerReplica(previous, state, config, m, d);
  followProduction(previous, state, config, obs, m);
  rememberPoll(previous, state, obs, m, d);

  Sizing sized = size(config, previous, state, m, d);
  const Bounds b = bounds(config, m.partitionCount);
  const int bounded = bound(sized, b);
  recordRecommendation(state, config, obs.now, bounded);

  const Prediction predicted = predictBursts(state, config, m, b, obs.now, bounded, d);
  int want = bounded;
  if (predicted.replicas > bounded) {
    want = predicted.replicas;
    sized.mode = Reason::Predicted;
    sized.message = predicted.message + "; " + sized.message;
  }
  decideReplicas(d, state, config, obs, m, b, predicted, bounded, want, sized);
  return {std::move(d), std::move(state)};
}

PolicyStep policyFailed(const PolicyState& previous, const PolicyConfig& config, int currentReplicas) {
  PolicyState state = previous;
  state.consecutiveFailures = previous.consecutiveFailures + 1;
  state.idleSince.reset();       // idleness must be observed, not assumed
  state.busyAtLastPoll = false;  // no throughput sample across the gap
  Decision d;
  d.perReplicaRate = state.perReplicaRate;
  if (state.consecutiveFailures < config.fallback.failureThreshold) {
    d.desiredReplicas = currentReplicas;
    d.reason = Reason::MetricsFailed;
    d.message = "offsets unavailable (" + std::to_string(state.consecutiveFailures) + " of " +
                std::to_string(config.fallback.failureThreshold) + " failures); holding " +
                std::to_string(currentReplicas);
    return {std::move(d), std::move(state)};
  }
  int replicas = config.fallback.replicas.value_or(currentReplicas);
  if (replicas == 0 && currentReplicas > 0) replicas = currentReplicas;  // never to zero on failure
  d.desiredReplicas = replicas;
  d.reason = Reason::Fallback;
  d.degraded = true;
  // No running count in the message: it lands in status conditions, and a
  // message that changed every poll would rewrite every worker's status on
  // every poll for as long as Kafka is unreachable.
  d.message = "offsets unavailable for " + std::to_string(config.fallback.failureThreshold) +
              " or more polls in a row; holding " + (config.fallback.replicas ? "fallback.replicas " : "current ") +
              std::to_string(replicas);
  return {std::move(d), std::move(state)};
}

}  // namespace ew::autoscale
