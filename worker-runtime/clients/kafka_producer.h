#pragma once
// The dead-letter producer: idempotent, acks=all, and send() returns only when
// the broker acknowledged the record (or delivery failed), so the caller
// commits the original only after its dead letter is safe.
//
// Thread-safety: send() may be called from many threads at once, and beside
// setSaslCredentials() and reopen().

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <shared_mutex>

#include "clients/kafka_config.h"

#include "core/config.h"
#include "core/dead_letter.h"

namespace ew::runtime {

class KafkaDeadLetterProducer : public DeadLetterSink {
 public:
  static Result<std::unique_ptr<KafkaDeadLetterProducer>> create(const KafkaSourceConfig& config);
  ~KafkaDeadLetterProducer() override;

  Status send(const std::string& topic, const Message& original, const Headers& headers) override;

  // kafka_config.h setSaslCredentials, on this producer.
  Status setSaslCredentials(const SaslCredentials& credentials);
  // Replaces the client by one made from CONFIG now (the mounted Secret's
  // files as they are: kafka_secret_watch.h), once the sends in flight have
  // their answers; the old one is flushed and closed. On error the old one
  // stays.
  Status reopen(const KafkaSourceConfig& config);

 private:
  class DeliveryCb;
  KafkaDeadLetterProducer() = default;
  static Result<std::unique_ptr<RdKafka::Producer>> newProducer(const KafkaSourceConfig& config, DeliveryCb* cb);

  std::unique_ptr<DeliveryCb> deliveryCb_;
  std::shared_mutex mu_;                         // send() holds it shared, reopen() exclusive
  std::unique_ptr<RdKafka::Producer> producer_;  // guarded by mu_
};

}  // namespace ew::runtime
