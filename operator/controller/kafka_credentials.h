#pragma once
// Where the operator's own Kafka credentials come from, with least privilege
// kept (manifests/README.md, RBAC):
//   - never from a worker's namespace: the runtime mounts secretRef there, the
//     operator does not read it (no Secret rights outside its namespace);
//   - from a Secret in the operator's namespace that an EventWorker names
//     (spec.source.kafka.security.operatorSecretRef), and only when the
//     Secret says so: labelled kKafkaCredentialsLabel=true (the operator
//     watches only those) and its annotation kKafkaNamespacesAnnotation lists
//     the EventWorker's namespace (comma-separated, or "*"). A user who may
//     create EventWorkers cannot make the operator use credentials an admin
//     did not hand out to that namespace (the confused deputy of KEDA's
//     ClusterTriggerAuthentication).
// The Secret's keys are the runtime's: username and password (SASL), ca.crt
// (optional: without it the system trust store), tls.crt and tls.key
// (clientCertificate). They become librdkafka properties of the lag reader
// and the offset copy (ssl.*.pem: never written to disk). Errors name the
// Secret and the key, never a value. A changed Secret changes the
// properties, and so the pooled client (kafka_lag.h): picked up at the next
// poll, without a restart.

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "controller/kafka_access.h"
#include "ew/result.h"
#include "kafka/lag_reader.h"

namespace ew::controller {

inline constexpr const char* kKafkaCredentialsLabel = "eventworker.dev/kafka-credentials";
inline constexpr const char* kKafkaNamespacesAnnotation = "eventworker.dev/namespaces";

// The client settings for ACCESS. SECRET is the Secret ACCESS names, as the
// API returns it (data in base64), nullopt when the operator does not see it
// (absent, or not labelled); SECRET_NAMESPACE is where the operator looks.
// PLAINTEXT needs no Secret. Pure.
Result<autoscale::KafkaCluster> kafkaCluster(const KafkaAccess& access, const std::optional<nlohmann::json>& secret,
                                             const std::string& secretNamespace);

// The Secrets the operator may read: those of its own namespace NS carrying
// the label, looked up by name (a watch-fed store). No lookup: none.
struct OperatorSecrets {
  std::string ns;
  std::function<std::optional<nlohmann::json>(const std::string& name)> lookup;
};

// kafkaCluster with the Secret SECRETS has under the name ACCESS gives.
Result<autoscale::KafkaCluster> kafkaCluster(const KafkaAccess& access, const OperatorSecrets& secrets);

}  // namespace ew::controller
