#pragma once
// Follows the mounted Kafka Secret (the files source.kafka.security names)
// while the runtime runs. Kubernetes updates a mounted Secret in place, and
// does not restart the pod: the kubelet writes the new files into a fresh
// directory and swaps the volume's ..data symlink to it, atomically, a minute
// or so after the Secret changed. What each change asks of the Kafka clients
// (loops/event_source.h acts on it):
//   Sasl  username or password: librdkafka 2.8 takes new ones on a live client
//         (rd_kafka_sasl_set_credentials). Its connections stay up; the next
//         connection and the next re-authentication the broker asks for
//         (KIP-368, connections.max.reauth.ms) use them. Nothing is drained.
//   Tls   caFile, certFile or keyFile: librdkafka reads these only when a
//         client is created, so the clients are created anew: in-flight work
//         drained and committed first, as at a rebalance.
// Files are compared by content (the kubelet's swap keeps every path), read
// twice in a row so that a read straddling a swap is not taken.
//
// Thread-safety: one thread (the poll thread) uses a watch.

#include <string>
#include <utility>

#include "core/config.h"
#include "ew/result.h"

namespace ew::runtime {

enum class KafkaSecretChange { None, Sasl, Tls };

// What the files (or, for SASL, environment variables) held when read.
struct KafkaSecretContents {
  std::string username, password;  // with a SASL mechanism
  std::string ca, cert, key;       // the files' contents; "" when not configured
  bool operator==(const KafkaSecretContents&) const = default;
};

// What going from BEFORE to AFTER asks of the clients: Tls when a TLS file
// changed (the new clients read the SASL credentials as well), else Sasl
// when the username or password did, else None. Pure.
KafkaSecretChange kafkaSecretChange(const KafkaSecretContents& before, const KafkaSecretContents& after);

// SEC's files (and SASL credentials) now; an error names the field and file.
Result<KafkaSecretContents> readKafkaSecret(const KafkaSecurityConfig& sec);

class KafkaSecretWatch {
 public:
  // Starts from the contents the clients were made with.
  KafkaSecretWatch(KafkaSecurityConfig sec, KafkaSecretContents current)
      : sec_(std::move(sec)), current_(std::move(current)) {}

  // Reads the files again: the change since the contents last taken (then
  // taken as current), or None while two reads in a row disagree. A file
  // that cannot be read is an error and leaves the current contents.
  Result<KafkaSecretChange> check();

  const KafkaSecretContents& current() const { return current_; }
  const KafkaSecurityConfig& security() const { return sec_; }

 private:
  const KafkaSecurityConfig sec_;
  KafkaSecretContents current_;
};

}  // namespace ew::runtime
