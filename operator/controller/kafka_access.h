#pragma once
// How the operator reaches the Kafka cluster of one EventWorker: the brokers
// and, for any protocol but PLAINTEXT, the Secret in the operator's own
// namespace that holds its credentials (spec.source.kafka.security.
// operatorSecretRef). The autoscaler batches reads per KafkaAccess; the lag
// readers are shared per resolved cluster + credentials (kafka_credentials.h),
// so two namespaces allowed the same Secret share one client. A value type.

#include <compare>
#include <string>

namespace ew::controller {

struct KafkaAccess {
  std::string bootstrapServers;  // "host:port[,host:port...]"
  std::string protocol = "PLAINTEXT";
  std::string saslMechanism;       // with a SASL protocol
  std::string secretName;          // operatorSecretRef.name; "" with PLAINTEXT
  bool clientCertificate = false;  // the Secret holds tls.crt and tls.key
  // The EventWorker's namespace: the Secret must allow it. Part of the key
  // only when a Secret is named ("" with PLAINTEXT, so that every PLAINTEXT
  // worker of a cluster shares one batch).
  std::string workerNamespace;
  auto operator<=>(const KafkaAccess&) const = default;
};

}  // namespace ew::controller
