#pragma once
// Shared by the policy's unit tests (policy_*_test.cpp): observations built
// from a few numbers, and drivers that keep the policy's state from poll to
// poll as the live loop does.

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "autoscale/policy.h"

namespace ew::autoscale::policy_test {

// P partitions of "orders", every one with the same offsets.
inline std::vector<PartitionOffsets> partitions(int count, std::int64_t end, std::optional<std::int64_t> committed,
                                                bool owned = true) {
  std::vector<PartitionOffsets> out;
  for (int i = 0; i < count; ++i) out.push_back({"orders", i, 0, end, committed, owned});
  return out;
}

inline Observation at(int seconds, int replicas, std::vector<PartitionOffsets> parts,
                      OffsetReset reset = OffsetReset::Latest) {
  return {Millis(seconds * 1000LL), replicas, reset, std::move(parts)};
}

inline PolicyConfig config() {
  PolicyConfig c;
  c.minReplicas = 1;
  c.maxReplicas = 20;
  c.lagThreshold = 100;
  c.scaleDownStabilizationSeconds = 60;
  c.podStartSeconds = 0;
  return c;
}

// Drives the policy poll by poll, keeping the state as the live loop would.
struct Driver {
  PolicyConfig config = policy_test::config();
  PolicyState state;
  Decision poll(const Observation& o) {
    auto step = policyPoll(state, config, o);
    state = step.state;
    return step.decision;
  }
  Decision fail(int replicas) {
    auto step = policyFailed(state, config, replicas);
    state = step.state;
    return step.decision;
  }
};

// 12 partitions of 100 msg/s replicas, drain-time mode, the group keeping up
// (committed == end) with a production rate chosen per poll; polls every 5 s.
struct RateDriver : Driver {
  std::int64_t end = 0;
  int replicas;
  explicit RateDriver(int start) : replicas(start) {
    config.targetDrainSeconds = 60;
    config.lagThreshold = 1000;
    config.maxReplicas = 12;
    config.scaleDownStabilizationSeconds = 120;
    config.podStartSeconds = 10;
    config.rebalanceSeconds = 5;
    poll(at(0, replicas, partitions(12, 0, 0)));
    state.perReplicaRate = 100.0;  // as measured earlier
  }
  // Production of `rate` msg/s over the 5 s before t; the decision applied.
  Decision step(int t, double rate) {
    end += static_cast<std::int64_t>(rate * 5 / 12);
    auto dec = poll(at(t, replicas, partitions(12, end, end)));
    replicas = dec.desiredReplicas;
    return dec;
  }
};

inline double burstRate(int t, int first, int period, int length, double base, double peak) {
  return t > first && (t - first) % period > 0 && (t - first) % period <= length ? peak : base;
}

}  // namespace ew::autoscale::policy_test
