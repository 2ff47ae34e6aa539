#pragma once
// The options of `eventworker simulate`, shared by both policies where they
// mean the same thing (the same lagThreshold, bounds and cooldown), and the
// autoscaler they describe. Pure.

#include <cstdint>
#include <string>

#include "autoscale/keda_model.h"
#include "autoscale/simulator.h"
#include "ew/result.h"

namespace ew::autoscale {

struct SimulationOptions {
  std::string policy = "eventworker";  // eventworker | keda
  ModelConfig model;
  // Both policies.
  int minReplicas = 1;
  int maxReplicas = 100;             // KEDA's default maxReplicaCount
  std::int64_t lagThreshold = 1000;  // the CRD's default
  std::int64_t activationLagThreshold = 0;
  int cooldownSeconds = 300;
  // eventworker only (the CRD's defaults, and drain-time mode on).
  int targetDrainSeconds = 60;  // 0: lag mode only
  int stabilizationSeconds = 120;
  int pollIntervalSeconds = 5;
  int maxScaleDownPercent = 75;
  bool predictive = true;
};

// The policy's configuration as the options give it.
PolicyConfig eventWorkerConfig(const SimulationOptions& options);
KedaConfig kedaConfig(const SimulationOptions& options);

// Errors name the option ("--lag-threshold: must be at least 1").
Result<AutoscalerPtr> makeAutoscaler(const SimulationOptions& options);

// Checks the model's options; errors name the option.
Status validateModel(const ModelConfig& model);

}  // namespace ew::autoscale
