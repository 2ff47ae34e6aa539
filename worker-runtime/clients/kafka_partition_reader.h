#pragma once
// A Kafka reader of chosen partitions from chosen offsets, outside any
// consumer group: it never joins a group and never commits (the streams'
// positions come from their clients). librdkafka's consumer with assign()
// only; its group.id is set because librdkafka's assign() needs one, and is
// never used on the broker (no JoinGroup, no OffsetCommit).
//
// Thread-safety: one thread calls poll(); the metadata and watermark calls may
// come from any thread.

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/message.h"
#include "core/offset_tracker.h"
#include "ew/result.h"

namespace ew::runtime {

struct Watermarks {
  int64_t low = 0;   // the oldest retained offset
  int64_t high = 0;  // the next offset to be written
};

class KafkaPartitionReader {
 public:
  static Result<std::unique_ptr<KafkaPartitionReader>> create(const KafkaSourceConfig& config,
                                                              const std::string& clientId);
  ~KafkaPartitionReader();

  // Every partition of TOPICS; an error names a topic that does not exist.
  Result<std::vector<TopicPartition>> partitions(const std::vector<std::string>& topics, int timeoutMs);
  Result<Watermarks> watermarks(const TopicPartition& tp, int timeoutMs);
  // Reads each partition from its offset (replacing any earlier assignment).
  Status assign(const std::vector<std::pair<TopicPartition, int64_t>>& starts);
  // Reads these partitions too, each from its offset (the others go on).
  Status add(const std::vector<std::pair<TopicPartition, int64_t>>& starts);
  // Appends up to MAX records to OUT, waiting up to TIMEOUT_MS for the first.
  size_t poll(int timeoutMs, size_t max, std::vector<Message>& out);

 private:
  KafkaPartitionReader() = default;
  struct QueueDeleter {
    void operator()(rd_kafka_queue_t* q) const;
  };
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue_;  // released before consumer_
  std::vector<rd_kafka_message_t*> batch_;
};

using KafkaPartitionReaderPtr = std::unique_ptr<KafkaPartitionReader>;

}  // namespace ew::runtime
