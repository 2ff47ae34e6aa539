#pragma once
// The Kafka poll loop: feeds the dispatcher, pauses topics whose subscription
// is over budget and resumes them, commits the done prefix every
// commitInterval, on revoke and on shutdown, and drains on stop.
//
// Thread-safety: run() is the poll thread; requestStop() and the status
// getters may be called from any thread.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "clients/kafka_consumer.h"
#include "ew/metrics.h"
#include "loops/dispatcher.h"
#include "loops/source.h"

namespace ew::runtime {

class EventSource : public Source, public RebalanceListener {
 public:
  EventSource(const RuntimeConfig& config, Dispatcher& dispatcher, MetricsRegistry& metrics);

  // Creates the consumer (fails on bad Kafka settings).
  Status open() override;
  // Polls until requestStop(); then stops fetching, drains until GRACE from the
  // stop request, commits, and leaves the group. Returns true when every
  // admitted event finished within the grace period.
  bool run() override;
  void requestStop() override { stop_.store(true); }

  bool alive() const override;  // the poll loop iterated recently
  bool ready() const override { return assigned_.load() > 0; }
  size_t assignedPartitions() const override { return assigned_.load(); }
  int64_t commits() const { return commits_.load(); }

  void onAssigned(const std::vector<TopicPartition>& parts) override;
  std::vector<CommitPoint> onRevoking(const std::vector<TopicPartition>& parts, bool lost) override;

 private:
  void commitDone();
  void applyBackpressure();

  const RuntimeConfig& config_;
  Dispatcher& dispatcher_;
  std::unique_ptr<KafkaConsumer> consumer_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> draining_{false};
  std::atomic<size_t> assigned_{0};
  std::atomic<int64_t> commits_{0};
  uint64_t timerCommitsSeen_ = 0, timerCommitErrorsSeen_ = 0;  // poll thread only
  std::atomic<int64_t> lastLoopMs_{0};
  std::set<std::string> pausedTopics_;  // poll thread only
  std::set<TopicPartition> parts_;      // poll thread only
  Counter* commitCounter_;
  Counter* commitErrors_;
  std::map<std::string, Counter*> pauses_;  // by topic
  Counter* fetchWakeups_;
  uint64_t fetchWakeupsSeen_ = 0;  // poll thread only
};

}  // namespace ew::runtime
