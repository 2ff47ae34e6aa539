#pragma once
// A librdkafka consumer group member: cooperative-sticky assignment,
// pause/resume, and at-least-once commits: the offsets of finished records
// are stored (store()) and librdkafka's commit timer commits them every
// commitInterval; a revocation commits its partitions' final offsets at once
// (commit()).
//
// Why not commit from our own timer: librdkafka before 2.10 (Debian 12's
// 2.0.2, where this was measured, and the 2.8.0 hack/build-librdkafka.sh
// builds) treats an OffsetCommit answered with ILLEGAL_GENERATION as the
// loss of the whole assignment, and a commit sent while the group rebalances gets
// that answer whenever the generation moves on before it is served
// (librdkafka issue #4059, fixed in 2.10 by PR #4908). In a scale-out, with
// pods joining one after another, our 1 s commits kept landing in those
// windows: the partitions were dropped as lost, their uncommitted progress
// consumed again by their next owner (276-441 duplicates in 12,000 events
// of the node's burst test). librdkafka's own commit timer does not commit
// while the group is rebalancing (rdkafka_cgrp.c, offset_commit_tmr_cb).
//
// Thread-safety: one thread (the poll thread) calls every method; the
// rebalance listener is called on that thread from inside poll()/close().
// A thread of its own wakes librdkafka's fetcher (core/fetch_stall.h).

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "clients/kafka_config.h"
#include "core/config.h"
#include "core/fetch_stall.h"
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

  // Appends up to MAX records to OUT, waiting up to TIMEOUT_MS for MAX of them
  // (librdkafka's batch semantics: with TIMEOUT_MS 0 it takes what is ready,
  // with MAX 1 it returns on the first record). Returns how many were appended. Transient broker
  // errors are logged and swallowed (librdkafka reconnects by itself).
  size_t poll(int timeoutMs, size_t max, std::vector<Message>& out);

  // Hands POINTS to librdkafka's commit timer. Points of partitions no
  // longer assigned are dropped (their final offsets were committed when
  // they were revoked).
  Status store(const std::vector<CommitPoint>& points);
  Status commit(const std::vector<CommitPoint>& points);  // synchronous (revocation)
  // Commits librdkafka's timer sent that succeeded / failed (counted as their
  // results are served, on the poll thread).
  uint64_t timerCommits() const { return timerCommits_.load(); }
  uint64_t timerCommitErrors() const { return timerCommitErrors_.load(); }
  void pause(const std::vector<TopicPartition>& parts);
  void resume(const std::vector<TopicPartition>& parts);
  std::vector<TopicPartition> assignment();
  // Times the fetcher was woken after its queue drained (core/fetch_stall.h).
  uint64_t fetchWakeups() const { return wakeups_.load(); }
  // Leaves the group (revoking everything through the listener). Idempotent.
  void close();
  // kafka_config.h setSaslCredentials, on this consumer.
  Status setSaslCredentials(const SaslCredentials& credentials);

 private:
  class RebalanceCb;
  class CommitCb;
  KafkaConsumer() = default;

  struct QueueDeleter {
    void operator()(rd_kafka_queue_t* q) const;
  };

  std::unique_ptr<RebalanceCb> rebalanceCb_;
  std::unique_ptr<CommitCb> commitCb_;
  std::atomic<uint64_t> timerCommits_{0}, timerCommitErrors_{0};
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  // The consumer queue, read in batches with the C API (no per-record wrapper
  // objects). Declared after consumer_: released before it.
  std::unique_ptr<rd_kafka_queue_t, QueueDeleter> queue_;
  std::vector<rd_kafka_message_t*> batch_;
  bool closed_ = false;

  // Wakes the fetcher (core/fetch_stall.h) from its own thread: the request
  // waits for a broker round trip, the poll thread does not.
  void wakeFetcher();
  void wakerLoop();
  std::optional<FetchStallGuard> stallGuard_;  // poll thread only
  std::mutex wakeMu_;
  std::condition_variable wakeCv_;
  bool wakeDue_ = false;    // guarded by wakeMu_
  bool wakerStop_ = false;  // guarded by wakeMu_
  std::atomic<uint64_t> wakeups_{0};
  std::thread waker_;
};

}  // namespace ew::runtime
