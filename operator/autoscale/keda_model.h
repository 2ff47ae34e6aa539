#pragma once
// A model of KEDA's Kafka scaler driving a Deployment through the Kubernetes
// HorizontalPodAutoscaler, with their documented defaults, for the simulator
// (issue 6 item 3). Two loops, as in a cluster:
//   - the KEDA operator every pollingInterval: activation 0 <-> 1 only;
//   - the HPA controller every sync period: 1 <-> N on the external metric
//     KEDA serves (fresh from Kafka on every HPA query: useCachedMetrics is
//     off by default).
// Where each default comes from is noted beside it. The scaler follows
// kedacore/keda pkg/scalers/kafka_scaler.go (getLagForPartition,
// getTotalLag, GetMetricsAndActivity); the HPA follows kubernetes
// pkg/controller/podautoscaler (replica_calculator.go
// GetExternalPerPodMetricReplicas, horizontal.go
// stabilizeRecommendationWithBehaviors, convertDesiredReplicasWithBehaviorRate).
// The HPA's statusReplicas is taken as spec.replicas: the Deployment creates
// the pods at once, and status.replicas counts them before they are ready.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "autoscale/policy.h"
#include "autoscale/simulator.h"

namespace ew::autoscale {

struct KedaConfig {
  // ScaledObject, https://keda.sh/docs/latest/reference/scaledobject-spec/
  int pollingIntervalSeconds = 30;  // spec.pollingInterval "Default: 30 seconds"
  int cooldownPeriodSeconds = 300;  // spec.cooldownPeriod "Default: 300 seconds"
  int minReplicaCount = 0;          // spec.minReplicaCount "Default: 0"
  int maxReplicaCount = 100;        // spec.maxReplicaCount "Default: 100"

  // Kafka trigger, https://keda.sh/docs/latest/scalers/apache-kafka/
  std::int64_t lagThreshold = 10;           // "Average target value ... (Default: 10)"
  std::int64_t activationLagThreshold = 0;  // "(Default: 0)"
  bool allowIdleConsumers = false;          // "(Default: false)": metric capped at partitions x lagThreshold
  OffsetReset offsetResetPolicy = OffsetReset::Latest;  // "(Default: latest)"
  bool scaleToZeroOnInvalidOffset = false;              // "(Default: false)": lag 1 for a partition without an offset
  // excludePersistentLag "(Default: false)" is not modelled: stuck lag counts (#3904).

  // HPA, https://kubernetes.io/docs/tasks/run-application/horizontal-pod-autoscale/
  int hpaSyncPeriodSeconds = 15;  // kube-controller-manager --horizontal-pod-autoscaler-sync-period "15s"
  double tolerance = 0.1;         // --horizontal-pod-autoscaler-tolerance "0.1"
  // autoscaling/v2 behavior defaults ("Default Behavior" in the same page):
  int scaleDownStabilizationSeconds = 300;  // scaleDown.stabilizationWindowSeconds 300
  int scaleDownPercent = 100;               // scaleDown policy Percent 100 ...
  int scaleDownPeriodSeconds = 15;          // ... periodSeconds 15
  int scaleUpStabilizationSeconds = 0;      // scaleUp.stabilizationWindowSeconds 0
  int scaleUpPercent = 100;                 // scaleUp policies Percent 100 ...
  int scaleUpPods = 4;                      // ... and Pods 4 ...
  int scaleUpPeriodSeconds = 15;            // ... periodSeconds 15, selectPolicy Max
};

// What the scaler reports for one read of the group.
struct KedaKafkaMetric {
  std::int64_t metric = 0;  // the external metric the HPA sees (capped)
  std::int64_t lag = 0;     // the uncapped total, used for activity
  bool active = false;      // lag > activationLagThreshold
};

// kafka_scaler.go: per partition end - committed (KEDA does not subtract the
// log start; a partition without a committed offset counts 1 under latest,
// or 0 with scaleToZeroOnInvalidOffset, and its end offset under earliest,
// the behaviour reported in #7936); the total capped at
// partitions x lagThreshold when (total / lagThreshold) > partitions in
// integer division, unless allowIdleConsumers.
KedaKafkaMetric kedaKafkaMetric(const std::vector<PartitionOffsets>& partitions, const KedaConfig& config);

// replica_calculator.go GetExternalPerPodMetricReplicas for an AverageValue
// target: statusReplicas unless |metric / (target x statusReplicas) - 1| >
// tolerance, then ceil(metric / target). REQUIRES: target >= 1, statusReplicas >= 1.
int hpaExternalPerPodReplicas(std::int64_t metric, std::int64_t target, int statusReplicas, double tolerance);

// The HPA controller's state and one sync (horizontal.go reconcileAutoscaler
// with the default behavior). Times are whole seconds.
class HpaModel {
 public:
  HpaModel(const KedaConfig& config, int minReplicas, int maxReplicas);
  // Returns the new spec.replicas (currentReplicas when no change). With
  // currentReplicas 0 the HPA is disabled and returns 0.
  int sync(int now, int currentReplicas, std::int64_t metric);

 private:
  struct Recommendation {
    int at;
    int replicas;
  };
  struct ScaleEvent {
    int at;
    int change;
  };
  int stabilize(int now, int current, int desired);
  int limitRate(int now, int current, int desired) const;
  static int changeWithin(const std::vector<ScaleEvent>& events, int now, int period);

  KedaConfig config_;
  int minReplicas_;
  int maxReplicas_;
  std::vector<Recommendation> recommendations_;
  std::vector<ScaleEvent> scaleUps_;
  std::vector<ScaleEvent> scaleDowns_;
};

// KEDA's operator loop plus the HPA, as an Autoscaler for the simulator.
class KedaAutoscaler : public Autoscaler {
 public:
  explicit KedaAutoscaler(KedaConfig config);
  int tick(const ClusterView& view) override;
  std::string note() const override { return note_; }

 private:
  KedaConfig config_;
  HpaModel hpa_;
  std::optional<int> lastActiveAt_;
  std::string note_;
};

}  // namespace ew::autoscale
