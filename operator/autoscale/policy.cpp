#include "autoscale/policy.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <sstream>

namespace ew::autoscale {
namespace {

// Weight of a new per-replica rate sample against the smoothed value.
constexpr double kRateSmoothing = 0.5;

std::int64_t ceilDiv(std::int64_t a, std::int64_t b) { return a <= 0 ? 0 : (a + b - 1) / b; }

int toInt(std::int64_t v) { return static_cast<int>(std::min<std::int64_t>(v, INT_MAX)); }

double seconds(Millis d) { return std::chrono::duration<double>(d).count(); }

// Messages the group can still fetch: from its committed offset, or where the
// reset policy puts a consumer without one (also when the committed offset
// fell behind the log start, where the broker answers OFFSET_OUT_OF_RANGE).
// Retention-deleted messages below the log start are never lag (#7936).
std::int64_t partitionLag(const PartitionOffsets& p, OffsetReset reset) {
  std::int64_t position;
  if (p.committed && *p.committed >= p.logStart)
    position = *p.committed;
  else
    position = reset == OffsetReset::Earliest ? p.logStart : p.end;
  return std::max<std::int64_t>(0, p.end - position);
}

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

struct Sizing {
  int replicas = 0;
  Reason mode = Reason::Lag;
  std::string message;
};

struct Prediction {
  bool pattern = false;  // a recurring pattern is known
  int replicas = 0;      // the floor it sets now (0: none)
  std::string message;
};

// The floor a recurring burst pattern sets at `now`: the bursts' size from
// one lead time (a cold start and one more poll) before the next onset until
// the burst has had its recorded duration, and through the gap when the gap
// is no longer than the stabilization window and a cold start: the window is
// how long the user lets capacity idle to save a scale event, and a scale-in
// there would cost a cold start before the next burst too. `dt`: the poll
// interval.
Prediction predict(const BurstPattern& p, const PolicyConfig& config, std::optional<double> perReplica,
                   int partitions, Millis now, double dt) {
  Prediction out;
  out.pattern = true;
  const int size = perReplica && config.targetDrainSeconds
                       ? drainReplicas(p.peakRate, *perReplica, partitions)
                       : p.peakReplicas;
  const double coldStart = config.podStartSeconds + config.rebalanceSeconds + dt;
  const auto lead = Millis(static_cast<std::int64_t>((coldStart + dt) * 1000));
  const auto gap = p.period - p.duration - lead;
  const bool hold =
      gap <= Millis(static_cast<std::int64_t>((config.scaleDownStabilizationSeconds + coldStart) * 1000));
  const auto period = std::to_string(p.period.count() / 1000);
  const auto in = std::to_string(std::max<std::int64_t>(0, (p.nextStart - now).count() / 1000));
  if (p.inBurst) {
    out.message = "a burst that recurs every " + period + " s is on";
  } else if (now >= p.nextStart - lead) {
    out.message = "a burst that recurs every " + period + " s is due in " + in + " s";
  } else if (hold) {
    out.message = "the next burst (every " + period + " s) is due in " + in +
                  " s, within the stabilization window and a cold start";
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
    case Reason::Lag: return "Lag";
    case Reason::DrainTime: return "DrainTime";
    case Reason::Bounds: return "Bounds";
    case Reason::Activation: return "Activation";
    case Reason::Idle: return "Idle";
    case Reason::Draining: return "Draining";
    case Reason::Stabilizing: return "Stabilizing";
    case Reason::MetricsFailed: return "MetricsFailed";
    case Reason::Fallback: return "Fallback";
    case Reason::Predicted: return "Predicted";
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

PolicyStep policyPoll(const PolicyState& previous, const PolicyConfig& config, const Observation& obs) {
  PolicyState state = previous;
  Decision d;
  const int partitionCount = static_cast<int>(obs.partitions.size());
  const int current = obs.currentReplicas;
  // Seconds since the previous successful poll; 0 when there was none.
  const double dt =
      previous.lastPollAt && obs.now > *previous.lastPollAt ? seconds(obs.now - *previous.lastPollAt) : 0.0;

  // Lag, stalls and rates per partition. `busy`: every partition owned, not
  // stalled and behind (known from the previous poll), so every member works
  // at its capacity.
  std::map<PartitionKey, PolicyState::PartitionMemory> memory;
  double produced = 0, producedScaling = 0, consumed = 0;
  bool busy = partitionCount > 0 && dt > 0;
  for (const auto& p : obs.partitions) {
    PartitionKey key{p.topic, p.partition};
    std::int64_t lag = partitionLag(p, obs.offsetReset);
    auto before = previous.partitions.find(key);
    bool known = before != previous.partitions.end();
    PolicyState::PartitionMemory m{p.end, p.committed, 0, obs.now};
    if (known && lag > 0 && p.hasOwner && before->second.committed == p.committed) {
      m.stillPolls = before->second.stillPolls + 1;
      m.stillSince = before->second.stillPolls > 0 ? before->second.stillSince : *previous.lastPollAt;
    }
    bool stalled = m.stillPolls >= config.stalledAfterPolls &&
                   obs.now - m.stillSince >= Millis(std::int64_t{config.stalledAfterSeconds} * 1000);
    memory[key] = m;

    d.partitions.push_back({p.topic, p.partition, lag, stalled});
    d.totalLag += lag;
    d.lagByTopic[p.topic] += lag;
    if (stalled)
      d.stalled.push_back(key);
    else
      d.scalingLag += lag;
    double in = 0;
    if (known) {
      in = static_cast<double>(std::max<std::int64_t>(0, p.end - before->second.end));
      produced += in;
      if (!stalled) producedScaling += in;
      if (p.committed && before->second.committed)
        consumed += static_cast<double>(std::max<std::int64_t>(0, *p.committed - *before->second.committed));
    }
    busy = busy && known && p.hasOwner && !stalled && behind(double(lag), in);
  }
  std::optional<double> scalingProduceRate;
  if (dt > 0) {
    d.produceRate = produced / dt;
    d.consumeRate = consumed / dt;
    scalingProduceRate = producedScaling / dt;
  }

  // Per-replica throughput, sampled only while every member had work for the
  // whole interval and the group had settled (the last replica change at
  // least a rebalance, and after a scale-up a pod start too, before the
  // interval, so no join or its rebalance falls inside): then consumption /
  // members is what one replica does.
  const int settleSeconds = config.rebalanceSeconds + (previous.replicasGrew ? config.podStartSeconds : 0);
  bool settled = current == previous.observedReplicas && previous.lastPollAt &&
                 previous.replicasSince + Millis(settleSeconds * 1000LL) <= *previous.lastPollAt;
  std::optional<double> perReplica = previous.perReplicaRate;
  if (dt > 0 && busy && settled && current > 0) {
    double sample = *d.consumeRate / std::min(current, partitionCount);
    if (previous.busyAtLastPoll)
      perReplica = state.perReplicaRate =
          previous.perReplicaRate ? kRateSmoothing * sample + (1 - kRateSmoothing) * *previous.perReplicaRate : sample;
    else
      // Backlogged only since some time within the interval: the members did
      // at least this much. A low estimate sizes more replicas, never fewer;
      // the highest such bound is used until a full interval is measured.
      state.perReplicaBound = std::max(previous.perReplicaBound.value_or(0.0), sample);
  }
  if (!perReplica) perReplica = state.perReplicaBound;
  d.perReplicaRate = state.perReplicaRate;

  // The production rate that sizes the group: smoothed, but a surge is taken at once.
  if (scalingProduceRate) {
    const double r = *scalingProduceRate;
    const double alpha = dt / (kRateSeconds + dt);
    state.smoothedRate = !previous.smoothedRate || r > *previous.smoothedRate * (1 + kSurge)
                             ? r
                             : alpha * r + (1 - alpha) * *previous.smoothedRate;
  }
  // Bursts of production (recurrence.h); a burst's end is taken at once, as its start is.
  if (config.predictive && scalingProduceRate) {
    state.recurrence = observeArrivals(state.recurrence, obs.now, *scalingProduceRate, dt);
    if (previous.recurrence.open && !state.recurrence.open) state.smoothedRate = *scalingProduceRate;
  } else {
    state.recurrence = {};
  }

  if (current != previous.observedReplicas) {
    // The count changed after the last poll, at the earliest right after it
    // (where the reconciler applies the policy's decisions).
    state.observedReplicas = current;
    state.replicasSince = previous.lastPollAt.value_or(obs.now);
    state.replicasGrew = current > previous.observedReplicas;
  }
  state.partitions = std::move(memory);
  state.busyAtLastPoll = busy;
  state.lastPollAt = obs.now;
  state.consecutiveFailures = 0;
  bool idle = d.totalLag == 0 && d.produceRate && *d.produceRate == 0;
  state.idleSince = idle ? std::optional(previous.idleSince.value_or(obs.now)) : std::nullopt;

  // A scale-down right after the last poll paused the group for a
  // rebalance: the production of that pause is lag the group drains at once,
  // not a reason to grow again (each such change would cause the next).
  const bool shrank = previous.lastPollAt && current > 0 && current < previous.observedReplicas;
  const std::int64_t pauseLag =
      shrank ? static_cast<std::int64_t>(scalingProduceRate.value_or(0) * config.rebalanceSeconds) : 0;
  const std::int64_t sizingLag = std::max<std::int64_t>(0, d.scalingLag - pauseLag);

  // Size: drain-time mode when asked for and both rates are known, else lag mode.
  Sizing size;
  if (config.targetDrainSeconds && state.smoothedRate && perReplica && *perReplica > 0) {
    // The lag beyond kLagAllowance of what lag mode would target for the
    // group is a backlog to drain; less is the buffer that rides out noise.
    const double allowance =
        kLagAllowance * double(config.lagThreshold) * std::max(1, std::min(current, partitionCount));
    const double rate = *state.smoothedRate, lag = std::max(0.0, double(sizingLag) - allowance);
    // Enough for the group as it runs, with the whole target to drain in...
    size.replicas = drainReplicas(rate + lag / *config.targetDrainSeconds, *perReplica, partitionCount);
    if (size.replicas < current)
      // ... and no fewer than the group that would run below kScaleDownUtilization (the deadband).
      size.replicas = std::min(current, drainReplicas(rate / kScaleDownUtilization + lag / *config.targetDrainSeconds,
                                                      *perReplica, partitionCount));
    if (size.replicas > current) {
      // ... else new pods, which consume only after podStartSeconds: meanwhile
      // the lag grows by what the current group cannot absorb, and less time
      // is left to drain it.
      int members = std::min(std::max(current, 0), partitionCount);
      double capacity = members > 0 ? *perReplica * partitionCount / std::ceil(double(partitionCount) / members) : 0;
      double growth = std::max(0.0, rate - capacity) * config.podStartSeconds;
      double window = std::max(1.0, kScaleUpDrainShare * *config.targetDrainSeconds - config.podStartSeconds);
      size.replicas = drainReplicas(rate + (lag + growth) / window, *perReplica, partitionCount);
    }
    size.mode = Reason::DrainTime;
    size.message = "production " + fmt(rate) + " msg/s and lag " + std::to_string(d.scalingLag) +
                   " to drain in " + std::to_string(*config.targetDrainSeconds) + " s need " +
                   std::to_string(size.replicas) + " replicas at " + fmt(*perReplica) + " msg/s each" +
                   (state.perReplicaRate ? "" : " (at least; not yet measured)");
  } else {
    std::int64_t raw = ceilDiv(sizingLag, config.lagThreshold);
    size.replicas = toInt(raw);
    // No replica that leaves the busiest member's share unchanged (ceil(P/r)).
    if (size.replicas >= 1 && partitionCount >= 1 && size.replicas <= partitionCount)
      size.replicas = partitionBreakpoint(partitionCount, size.replicas);
    size.mode = Reason::Lag;
    size.message = "lag " + std::to_string(d.scalingLag) + " over lagThreshold " + std::to_string(config.lagThreshold) +
                   " needs " + std::to_string(size.replicas) + " replicas";
  }
  if (!d.stalled.empty())
    size.message += " (" + std::to_string(d.stalled.size()) + " stalled partitions excluded)";

  // Bounds: [max(minReplicas, 1), min(maxReplicas, partitions)]; zero only through Idle.
  int upper = config.allowIdleConsumers ? config.maxReplicas : std::min(config.maxReplicas, partitionCount);
  int lower = std::max(config.minReplicas, 1);
  int bounded = std::max(lower, std::min(upper, size.replicas));
  Reason sized = size.mode;
  if (bounded != size.replicas) {
    sized = Reason::Bounds;
    size.message += "; bounded to " + std::to_string(bounded) + " by [" + std::to_string(lower) + ", " +
                    std::to_string(std::max(upper, lower)) + "]";
  }

  Millis window(config.scaleDownStabilizationSeconds * 1000LL);
  std::erase_if(state.history, [&](const auto& r) { return r.at < obs.now - window; });
  // Only the window's maximum is ever read: an older recommendation that is
  // not above a newer one can never be it again (the newer one stays in the
  // window longer), so it is dropped. The history stays one entry long while
  // the recommendation holds or rises (1,000 workers: about 1 MB less).
  while (!state.history.empty() && state.history.back().replicas <= bounded) state.history.pop_back();
  state.history.push_back({obs.now, bounded});

  // Recurring bursts: a floor while one is due, in progress, or its gap held.
  Prediction predicted;
  if (config.predictive) {
    state.recurrence = noteBurstReplicas(state.recurrence, bounded);
    if (auto pattern = detectPattern(state.recurrence, obs.now)) {
      d.burstPeriodSeconds = static_cast<int>(pattern->period.count() / 1000);
      predicted = predict(*pattern, config, perReplica, partitionCount, obs.now, dt);
      predicted.replicas = std::min(predicted.replicas, std::max(upper, lower));
    }
  }
  int want = bounded;
  if (predicted.replicas > bounded) {
    want = predicted.replicas;
    sized = Reason::Predicted;
    size.message = predicted.message + "; " + size.message;
  }

  auto decide = [&](int replicas, Reason reason, std::string message) {
    d.desiredReplicas = replicas;
    d.reason = reason;
    d.message = std::move(message);
  };
  const bool mayIdle = config.minReplicas == 0;
  if (mayIdle && current == 0) {
    if (d.scalingLag > config.activationLagThreshold)
      decide(bounded, Reason::Activation,
             "lag " + std::to_string(d.scalingLag) + " above activationLagThreshold " +
                 std::to_string(config.activationLagThreshold) + "; " + size.message);
    else
      decide(0, Reason::Idle, "lag " + std::to_string(d.scalingLag) + " at or below activationLagThreshold " +
                                  std::to_string(config.activationLagThreshold));
  } else if (mayIdle && state.idleSince && obs.now - *state.idleSince >= Millis(config.cooldownSeconds * 1000LL)) {
    decide(0, Reason::Idle, "no lag and no production for " + std::to_string(config.cooldownSeconds) + " s");
  } else if (want >= current) {
    decide(want, sized, size.message);
  } else if (current > std::max(upper, lower)) {
    // Above maxReplicas (or the partitions): the bound is not a recommendation to smooth.
    int ceiling = std::max(upper, lower);
    decide(ceiling, Reason::Bounds,
           std::to_string(current) + " replicas above the bound " + std::to_string(ceiling) + "; " + size.message);
  } else if (d.scalingLag > config.lagThreshold &&
             behind(double(d.scalingLag), scalingProduceRate.value_or(0) * dt)) {
    decide(current, Reason::Draining,
           "holding " + std::to_string(current) + " while lag " + std::to_string(d.scalingLag) +
               " is above lagThreshold " + std::to_string(config.lagThreshold) + "; " + size.message);
  } else {
    int target = predicted.replicas;
    for (const auto& r : state.history) target = std::max(target, r.replicas);
    if (predicted.replicas >= current) {
      decide(current, Reason::Predicted, "holding " + std::to_string(current) + ": " + predicted.message);
    } else if (target >= current) {
      decide(current, Reason::Stabilizing,
             "holding " + std::to_string(current) + ": " + std::to_string(target) + " recommended within " +
                 std::to_string(config.scaleDownStabilizationSeconds) + " s");
    } else {
      // A known pattern says the load is back to its base: one step.
      int percent = predicted.pattern ? 100 : config.maxScaleDownPercent;
      int step = std::max(1, current * percent / 100);
      int next = std::max(target, current - step);
      if (!config.allowIdleConsumers && partitionCount >= 1) next = std::max(target, partitionBreakpoint(partitionCount, next));
      if (next == bounded)
        decide(next, sized, size.message);
      else
        decide(next, Reason::Stabilizing,
               "stepping down to " + std::to_string(next) + " towards " + std::to_string(target) + " (at most " +
                   std::to_string(config.maxScaleDownPercent) + "% per step)");
    }
  }
  return {std::move(d), std::move(state)};
}

PolicyStep policyFailed(const PolicyState& previous, const PolicyConfig& config, int currentReplicas) {
  PolicyState state = previous;
  state.consecutiveFailures = previous.consecutiveFailures + 1;
  state.idleSince.reset();           // idleness must be observed, not assumed
  state.busyAtLastPoll = false;      // no throughput sample across the gap
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
              " or more polls in a row; holding " +
              (config.fallback.replicas ? "fallback.replicas " : "current ") + std::to_string(replicas);
  return {std::move(d), std::move(state)};
}

}  // namespace ew::autoscale
