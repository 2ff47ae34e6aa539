#include "autoscale/sim_options.h"

namespace ew::autoscale {

PolicyConfig eventWorkerConfig(const SimulationOptions& o) {
  PolicyConfig c;
  c.minReplicas = o.minReplicas;
  c.maxReplicas = o.maxReplicas;
  c.lagThreshold = o.lagThreshold;
  c.activationLagThreshold = o.activationLagThreshold;
  if (o.targetDrainSeconds > 0) c.targetDrainSeconds = o.targetDrainSeconds;
  c.scaleDownStabilizationSeconds = o.stabilizationSeconds;
  c.cooldownSeconds = o.cooldownSeconds;
  c.maxScaleDownPercent = o.maxScaleDownPercent;
  c.podStartSeconds = o.model.podStartSeconds;
  c.rebalanceSeconds = o.model.rebalancePauseSeconds;
  c.predictive = o.predictive;
  return c;
}

KedaConfig kedaConfig(const SimulationOptions& o) {
  KedaConfig k;
  k.minReplicaCount = o.minReplicas;
  k.maxReplicaCount = o.maxReplicas;
  k.lagThreshold = o.lagThreshold;
  k.activationLagThreshold = o.activationLagThreshold;
  k.cooldownPeriodSeconds = o.cooldownSeconds;
  return k;
}

Status validateModel(const ModelConfig& m) {
  if (m.partitions < 1) return Error{"--partitions: must be at least 1"};
  if (!(m.perReplicaRate > 0)) return Error{"--per-replica-rate: must be above 0"};
  if (m.podStartSeconds < 0) return Error{"--pod-start: must be at least 0"};
  if (m.rebalancePauseSeconds < 0) return Error{"--rebalance-pause: must be at least 0"};
  if (m.commitIntervalSeconds < 1) return Error{"--commit-interval: must be at least 1"};
  if (m.initialReplicas < 0) return Error{"--min-replicas: must be at least 0"};
  if (m.stuck && (m.stuck->partition < 0 || m.stuck->partition >= m.partitions))
    return Error{"--stuck-partition: must be a partition number below --partitions"};
  return Status::success();
}

Result<AutoscalerPtr> makeAutoscaler(const SimulationOptions& o) {
  if (o.lagThreshold < 1) return Error{"--lag-threshold: must be at least 1"};
  if (o.activationLagThreshold < 0) return Error{"--activation-lag-threshold: must be at least 0"};
  if (o.maxReplicas < 1 || o.minReplicas < 0 || o.minReplicas > o.maxReplicas)
    return Error{"--min-replicas, --max-replicas: need 0 <= min <= max and max >= 1"};
  if (o.cooldownSeconds < 0) return Error{"--cooldown: must be at least 0"};
  if (o.policy == "keda") return AutoscalerPtr(std::make_unique<KedaAutoscaler>(kedaConfig(o)));
  if (o.policy != "eventworker") return Error{"--policy: must be eventworker or keda"};
  if (o.pollIntervalSeconds < 1) return Error{"--poll-interval: must be at least 1"};
  auto config = eventWorkerConfig(o);
  if (auto s = validate(config); !s.ok()) return s.error();
  return AutoscalerPtr(std::make_unique<EventWorkerAutoscaler>(config, o.pollIntervalSeconds));
}

}  // namespace ew::autoscale
