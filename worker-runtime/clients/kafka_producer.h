#pragma once
// The dead-letter producer: idempotent, acks=all, and send() returns only when
// the broker acknowledged the record (or delivery failed), so the caller
// commits the original only after its dead letter is safe.
//
// Thread-safety: send() may be called from many threads at once.

#include <librdkafka/rdkafkacpp.h>

#include <memory>

#include "core/config.h"
#include "core/dead_letter.h"

namespace ew::runtime {

class KafkaDeadLetterProducer : public DeadLetterSink {
 public:
  static Result<std::unique_ptr<KafkaDeadLetterProducer>> create(const KafkaSourceConfig& config);
  ~KafkaDeadLetterProducer() override;

  Status send(const std::string& topic, const Message& original, const Headers& headers) override;

 private:
  class DeliveryCb;
  KafkaDeadLetterProducer() = default;

  std::unique_ptr<DeliveryCb> deliveryCb_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

}  // namespace ew::runtime
