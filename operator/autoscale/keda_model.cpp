#include "autoscale/keda_model.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace ew::autoscale {

KedaKafkaMetric kedaKafkaMetric(const std::vector<PartitionOffsets>& partitions, const KedaConfig& config) {
  KedaKafkaMetric m;
  for (const auto& p : partitions) {
    if (!p.committed)
      m.lag += config.offsetResetPolicy == OffsetReset::Latest ? (config.scaleToZeroOnInvalidOffset ? 0 : 1) : p.end;
    else
      m.lag += p.end - *p.committed;
  }
  m.metric = m.lag;
  auto count = static_cast<std::int64_t>(partitions.size());
  if (!config.allowIdleConsumers && m.lag / config.lagThreshold > count) m.metric = count * config.lagThreshold;
  m.active = m.lag > config.activationLagThreshold;
  return m;
}

int hpaExternalPerPodReplicas(std::int64_t metric, std::int64_t target, int statusReplicas, double tolerance) {
  assert(target >= 1 && statusReplicas >= 1);
  double usageRatio = double(metric) / (double(target) * statusReplicas);
  if (std::abs(1.0 - usageRatio) <= tolerance) return statusReplicas;
  return static_cast<int>(std::ceil(double(metric) / double(target)));
}

HpaModel::HpaModel(const KedaConfig& config, int minReplicas, int maxReplicas)
    : config_(config), minReplicas_(minReplicas), maxReplicas_(maxReplicas) {}

int HpaModel::changeWithin(const std::vector<ScaleEvent>& events, int now, int period) {
  int sum = 0;
  for (const auto& e : events)
    if (e.at > now - period) sum += e.change;
  return sum;
}

// stabilizeRecommendationWithBehaviors: the current count moved into
// [min of recent ups, max of recent downs]; the raw recommendation recorded.
int HpaModel::stabilize(int now, int current, int desired) {
  int up = desired, down = desired;
  for (const auto& r : recommendations_) {
    if (r.at > now - config_.scaleUpStabilizationSeconds) up = std::min(up, r.replicas);
    if (r.at > now - config_.scaleDownStabilizationSeconds) down = std::max(down, r.replicas);
  }
  int keep = std::max(config_.scaleUpStabilizationSeconds, config_.scaleDownStabilizationSeconds);
  std::erase_if(recommendations_, [&](const Recommendation& r) { return r.at <= now - keep; });
  recommendations_.push_back({now, desired});
  int recommendation = current;
  if (recommendation < up) recommendation = up;
  if (recommendation > down) recommendation = down;
  return recommendation;
}

// convertDesiredReplicasWithBehaviorRate with the default policies; the
// replica count at the start of each policy period is the current count
// minus what was added and plus what was removed within the period.
int HpaModel::limitRate(int now, int current, int desired) const {
  if (desired > current) {
    int start = current - changeWithin(scaleUps_, now, config_.scaleUpPeriodSeconds) +
                changeWithin(scaleDowns_, now, config_.scaleUpPeriodSeconds);
    int byPods = start + config_.scaleUpPods;
    int byPercent = static_cast<int>(std::ceil(start * (1 + config_.scaleUpPercent / 100.0)));
    int limit = std::max(std::max(byPods, byPercent), current);  // selectPolicy Max
    return std::min(desired, std::min(maxReplicas_, limit));
  }
  if (desired < current) {
    int start = current - changeWithin(scaleUps_, now, config_.scaleDownPeriodSeconds) +
                changeWithin(scaleDowns_, now, config_.scaleDownPeriodSeconds);
    int limit = std::min(static_cast<int>(start * (1 - config_.scaleDownPercent / 100.0)), current);
    return std::max(desired, std::max(minReplicas_, limit));
  }
  return desired;
}

int HpaModel::sync(int now, int current, std::int64_t metric) {
  if (current == 0) return 0;  // "scaling is disabled since the replica count of the target is zero"
  int desired;
  if (current > maxReplicas_)
    desired = maxReplicas_;
  else if (current < minReplicas_)
    desired = minReplicas_;
  else
    desired = limitRate(
        now, current,
        stabilize(now, current, hpaExternalPerPodReplicas(metric, config_.lagThreshold, current, config_.tolerance)));
  if (desired > current) scaleUps_.push_back({now, desired - current});
  if (desired < current) scaleDowns_.push_back({now, current - desired});
  int keep = std::max(config_.scaleUpPeriodSeconds, config_.scaleDownPeriodSeconds);
  std::erase_if(scaleUps_, [&](const ScaleEvent& e) { return e.at <= now - keep; });
  std::erase_if(scaleDowns_, [&](const ScaleEvent& e) { return e.at <= now - keep; });
  return desired;
}

// KEDA gives the HPA minReplicas = minReplicaCount, or 1 when that is 0
// (the HPA cannot hold zero), and maxReplicas = maxReplicaCount.
KedaAutoscaler::KedaAutoscaler(KedaConfig config)
    : config_(config), hpa_(config, std::max(1, config.minReplicaCount), config.maxReplicaCount) {}

int KedaAutoscaler::tick(const ClusterView& view) {
  const bool kedaPoll = view.t % config_.pollingIntervalSeconds == 0;
  const bool hpaSync = view.t % config_.hpaSyncPeriodSeconds == 0;
  if (!kedaPoll && !hpaSync) return view.specReplicas;
  const KedaKafkaMetric m = kedaKafkaMetric(view.partitions, config_);
  int replicas = view.specReplicas;
  if (kedaPoll) {  // scale_scaledobjects.go RequestScale
    if (replicas == 0 && m.active) {
      replicas = std::max(1, config_.minReplicaCount);
      lastActiveAt_ = view.t;
      note_ = "activation";
    } else if (!m.active && replicas > 0 && config_.minReplicaCount == 0) {
      if (!lastActiveAt_ || *lastActiveAt_ + config_.cooldownPeriodSeconds < view.t) {
        replicas = 0;
        note_ = "cooldown";
      }
    } else if (m.active) {
      lastActiveAt_ = view.t;
    }
  }
  if (hpaSync) {
    int next = hpa_.sync(view.t, replicas, m.metric);
    if (next != replicas) note_ = "hpa";
    replicas = next;
  }
  return replicas;
}

}  // namespace ew::autoscale
