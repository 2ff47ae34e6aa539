#pragma once
// A librdkafka consumer group member: cooperative-sticky assignment, auto
// commit off, manual commits of explicit offsets, pause/resume.
//
// Thread-safety: one thread (the poll thread) calls every method; the
// rebalance listener is called on that thread from inside poll()/close().

#include <librdkafka/rdkafkacpp.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/message.h"
#include "core/offset_tracker.h"
#include "ew/result.h"

namespace ew::runtime {

class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // PARTS were added to this member's assignment; returns after they are usable.
  virtual void onAssigned(const std::vector<TopicPartition>& parts) = 0;
  // PARTS are being taken away. LOST: they may already belong to another member,
  // so nothing may be committed for them. Returns the commit points to commit
  // before they are given up (empty when lost).
  virtual std::vector<CommitPoint> onRevoking(const std::vector<TopicPartition>& parts, bool lost) = 0;
};

class KafkaConsumer {
 public:
  // LISTENER must outlive the consumer.
  static Result<std::unique_ptr<KafkaConsumer>> create(const KafkaSourceConfig& config,
                                                       const std::vector<std::string>& topics,
                                                       RebalanceListener* listener);
  ~KafkaConsumer();  // closes (leaves the group) if close() was not called

  // The next record, or nullopt after TIMEOUT_MS without one. Transient broker
  // errors are logged and swallowed (librdkafka reconnects by itself).
  std::optional<Message> poll(int timeoutMs);

  Status commit(const std::vector<CommitPoint>& points);  // synchronous
  void pause(const std::vector<TopicPartition>& parts);
  void resume(const std::vector<TopicPartition>& parts);
  std::vector<TopicPartition> assignment();
  // Leaves the group (revoking everything through the listener). Idempotent.
  void close();

 private:
  class RebalanceCb;
  KafkaConsumer() = default;

  std::unique_ptr<RebalanceCb> rebalanceCb_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  bool closed_ = false;
};

}  // namespace ew::runtime
