#pragma once
// What a source needs of a Kafka consumer group member: the seam between the
// Kafka poll loop (loops/event_source.h) and librdkafka
// (clients/kafka_consumer.h), so that the loop can run in unit tests on an
// in-memory Kafka (clients/memory_kafka.h).
//
// The contract every implementation keeps (librdkafka's, which
// tests/integration/runtime/consumer_contract_test.cpp holds the in-memory
// one to):
// - Records of a partition come in offset order, from its committed offset
//   (or the reset policy's end) on, and never from a paused partition.
// - Rebalances are served inside poll() and close(), on the calling thread:
//   onAssigned before the partitions' first record, onRevoking before they
//   are given up; the points onRevoking returns (when not lost) are stored
//   and committed at once.
// - Only stored offsets are committed, by a timer every commitInterval (not
//   while a rebalance runs), and on revocation and close.
//
// Thread-safety: one thread (the poll thread) calls every method; the
// listener is called on that thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "clients/kafka_config.h"
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

class Consumer {
 public:
  virtual ~Consumer() = default;  // closes (leaves the group) if close() was not called

  // Appends up to MAX records to OUT, waiting up to TIMEOUT_MS for MAX of them
  // (with TIMEOUT_MS 0 it takes what is ready, with MAX 1 it returns on the
  // first record). Returns how many were appended.
  virtual size_t poll(int timeoutMs, size_t max, std::vector<Message>& out) = 0;
  // Hands POINTS to the commit timer. Points of partitions no longer
  // assigned are dropped (their final offsets were committed when they were
  // revoked).
  virtual Status store(const std::vector<CommitPoint>& points) = 0;
  // Commits the timer sent that succeeded / failed so far.
  virtual uint64_t timerCommits() const = 0;
  virtual uint64_t timerCommitErrors() const = 0;
  virtual void pause(const std::vector<TopicPartition>& parts) = 0;
  virtual void resume(const std::vector<TopicPartition>& parts) = 0;
  // Times the fetcher was woken after its queue drained (core/fetch_stall.h).
  virtual uint64_t fetchWakeups() const = 0;
  // Leaves the group (revoking everything through the listener). Idempotent.
  virtual void close() = 0;
  // New SASL credentials for the next authentication (kafka_config.h).
  virtual Status setSaslCredentials(const SaslCredentials& credentials) = 0;
};

using ConsumerPtr = std::unique_ptr<Consumer>;

// Makes a member of CONFIG's consumer group subscribed to TOPICS. LISTENER
// must outlive the consumer.
using ConsumerFactory = std::function<Result<ConsumerPtr>(
    const KafkaSourceConfig& config, const std::vector<std::string>& topics, RebalanceListener* listener)>;

}  // namespace ew::runtime
