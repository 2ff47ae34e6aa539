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

#include "clients/consumer.h"
#include "clients/kafka_config.h"
#include "core/config.h"
#include "core/fetch_stall.h"
#include "core/message.h"
#include "core/offset_tracker.h"
#include "ew/result.h"

namespace ew::runtime {

class KafkaConsumer : public Consumer {
 public:
  // LISTENER must outlive the consumer.
  static Result<std::unique_ptr<KafkaConsumer>> create(const KafkaSourceConfig& config,
                                                       const std::vector<std::string>& topics,
                                                       RebalanceListener* listener);
  // KafkaConsumer::create as a ConsumerFactory.
  static ConsumerFactory factory();
  ~KafkaConsumer() override;

  // Consumer (clients/consumer.h). Transient broker errors in poll() are
  // logged and swallowed (librdkafka reconnects by itself).
  size_t poll(int timeoutMs, size_t max, std::vector<Message>& out) override;
  Status store(const std::vector<CommitPoint>& points) override;
  // Counted as their results are served, on the poll thread.
  uint64_t timerCommits() const override { return timerCommits_.load(); }
  uint64_t timerCommitErrors() const override { return timerCommitErrors_.load(); }
  void pause(const std::vector<TopicPartition>& parts) override;
  void resume(const std::vector<TopicPartition>& parts) override;
  uint64_t fetchWakeups() const override { return wakeups_.load(); }
  void close() override;
  Status setSaslCredentials(const SaslCredentials& credentials) override;

  Status commit(const std::vector<CommitPoint>& points);  // synchronous (revocation)
  std::vector<TopicPartition> assignment();

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
