#pragma once
// Names and labels of everything rendered from one EventWorker. Pure.
// With metadata.name at most 55 characters (a CRD rule) every derived name
// below is a valid DNS label (at most 63).

#include <map>
#include <string>

namespace ew::render {

inline constexpr const char* kNameLabel = "eventworker.dev/name";
inline constexpr const char* kComponentLabel = "eventworker.dev/component";
inline constexpr const char* kConfigHashAnnotation = "eventworker.dev/config-hash";
inline constexpr const char* kRuntimeConfigKey = "runtime.yaml";
inline constexpr const char* kRuntimeConfigDir = "/etc/eventworker";
inline constexpr const char* kKafkaSecretDir = "/var/run/secrets/kafka";
inline constexpr const char* kOutboxSecretDir = "/var/run/secrets/outbox";  // + /<relay>/<key>

inline std::string configMapName(const std::string& worker) { return worker + "-runtime"; }
inline std::string eventsDeploymentName(const std::string& worker) { return worker + "-events"; }
inline std::string cronStatefulSetName(const std::string& worker) { return worker + "-cron"; }
inline std::string outboxDeploymentName(const std::string& worker) { return worker + "-outbox"; }
inline std::string streamsName(const std::string& worker) { return worker + "-streams"; }  // Deployment and Service
inline std::string subscriptionName(const std::string& worker, const std::string& subscription) {
  return worker + "-" + subscription;
}

// Seconds the runtime (and daprd) get to drain on SIGTERM: the pod's grace
// period less a margin for the kubelet, at least 1.
inline int drainSeconds(int gracePeriodSeconds) { return gracePeriodSeconds > 6 ? gracePeriodSeconds - 5 : 1; }

// The label selector (in kubectl's syntax) of a worker's events pods; the
// EventWorker's scale subresource reports it in status.selector.
inline std::string eventsSelector(const std::string& worker) {
  return std::string(kNameLabel) + "=" + worker + "," + kComponentLabel + "=events";
}

}  // namespace ew::render
