#pragma once
// The outbox relay's producer (core/outbox_io.h OutboxPublisher): idempotent,
// acks=all, enable.gapless.guarantee (a failure that would leave a gap in a
// partition's sequence is a fatal error instead: the producer is made anew,
// every row in flight is reported transient, and the held rows go again from
// the first one). Batches are produced in id order, several in flight;
// collect() returns when a batch's delivery reports are in (message.timeout.ms
// bounds the wait; 30 s unless source.kafka.properties sets it; linger.ms 1
// unless it sets that). A topic's metadata is asked for when a batch first
// names it (up to 1 s), not left to librdkafka's own once-a-second lookup.
// Refused for good (the row is marked failed): message too large, unknown
// topic or partition, invalid record or topic name, a row without a topic.
// Everything else (timeouts, broker down, authorization) is transient: the
// row is held and retried.
//
// Thread-compatible: one relay thread per producer.

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/outbox_io.h"

namespace ew::runtime {

class KafkaOutboxProducer : public OutboxPublisher {
 public:
  // SOURCE: the CloudEvent source of every row.
  static Result<std::unique_ptr<KafkaOutboxProducer>> create(const KafkaSourceConfig& config, std::string source);
  ~KafkaOutboxProducer() override;
  void produce(const std::vector<OutboxRow>& rows) override;
  std::map<int64_t, DeliveryReport> collect(const std::vector<OutboxRow>& rows) override;

 private:
  class DeliveryCb;
  KafkaOutboxProducer() = default;
  Status renew();
  // After a fatal error: a new producer, and every row still in flight
  // reported transient (the old producer's reports of them are not awaited).
  void renewAfterFatal(const std::string& why);
  // Asks for the metadata of TOPIC (its partitions and leaders) now, once.
  void learnTopic(const std::string& topic);

  KafkaSourceConfig config_;
  std::string source_;
  std::unique_ptr<DeliveryCb> deliveryCb_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::vector<std::pair<int64_t, OutboxMessage>> messages_;  // produce()'s, empty between calls
  std::unordered_set<std::string> knownTopics_;  // whose metadata this producer has asked for (answered or not)
};

// True for the errors that no retry can cure for this row.
bool refusedForGood(RdKafka::ErrorCode err);

}  // namespace ew::runtime
