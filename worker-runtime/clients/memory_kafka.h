#pragma once
// Kafka in memory, for unit tests of the sources (clients/consumer.h): topics
// of partitions holding records, each group's committed offsets, and group
// members (MemoryConsumer) that keep the Consumer contract as KafkaConsumer
// does on a real broker. tests/integration/runtime/consumer_contract_test.cpp
// runs one scenario against both, so that it cannot drift from the broker.
//
// What it does: offset order per partition, from the committed offset (or
// the reset policy's end: earliest or latest); pause flags that outlive an
// assignment (as librdkafka's do); rebalances the test asks for, served
// inside the member's next poll() (onRevoking's points stored and committed,
// then what was stored for those partitions committed too, as librdkafka's
// unassign does); the commit timer every commitInterval on the injected
// clock, committing only stored offsets; close() revoking everything.
//
// What it does not do: several members of one group (a second one is
// refused), broker errors and failed commits, record timestamps
// (timestampMs is 0), fetcher wake-ups (none) and SASL (accepted, unused).
//
// Thread-safety: MemoryKafka's methods from any thread; a MemoryConsumer's
// Consumer methods from its poll thread, its test methods from any thread.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "clients/consumer.h"
#include "ew/time_source.h"

namespace ew::runtime {

class MemoryConsumer;

class MemoryKafka {
 public:
  explicit MemoryKafka(const TimeSource& time);  // TIME drives the commit timer; it must outlive this
  ~MemoryKafka();                                // REQUIRES: no member left

  void createTopic(const std::string& topic, int partitions);
  // Appends a record to TOPIC[PARTITION]; returns its offset.
  int64_t produce(const std::string& topic, int partition, const std::optional<std::string>& key,
                  const std::string& value, const Headers& headers = {});
  // The committed offset of GROUP on TP; nullopt when none.
  std::optional<int64_t> committed(const std::string& group, const TopicPartition& tp) const;
  // Offsets past the last record of TP.
  int64_t endOffset(const TopicPartition& tp) const;

  // A ConsumerFactory whose consumers join groups here.
  ConsumerFactory consumers();
  // GROUP's member, or null. Valid until that member is destroyed.
  MemoryConsumer* member(const std::string& group) const;

  // Waits (real time, at most WITHIN) until PRED holds, re-checking it after
  // every change here (records, commits, polls, rebalances). PRED runs with
  // no lock held.
  bool waitFor(const std::function<bool()>& pred, std::chrono::milliseconds within) const;

 private:
  friend class MemoryConsumer;
  void changed() const;  // wakes waitFor() and polls waiting for records

  const TimeSource& time_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  mutable uint64_t changes_ = 0;                                         // guarded by mu_
  std::map<std::string, std::vector<std::vector<Message>>> topics_;      // by topic, partition; guarded by mu_
  std::map<std::pair<std::string, TopicPartition>, int64_t> committed_;  // by group; guarded by mu_
  std::map<std::string, MemoryConsumer*> members_;                       // by group; guarded by mu_
};

class MemoryConsumer : public Consumer {
 public:
  MemoryConsumer(MemoryKafka& kafka, const KafkaSourceConfig& config, const std::vector<std::string>& topics,
                 RebalanceListener* listener);
  ~MemoryConsumer() override;

  // Consumer.
  size_t poll(int timeoutMs, size_t max, std::vector<Message>& out) override;
  Status store(const std::vector<CommitPoint>& points) override;
  uint64_t timerCommits() const override;
  uint64_t timerCommitErrors() const override { return 0; }
  void pause(const std::vector<TopicPartition>& parts) override;
  void resume(const std::vector<TopicPartition>& parts) override;
  uint64_t fetchWakeups() const override { return 0; }
  void close() override;
  Status setSaslCredentials(const SaslCredentials&) override { return {}; }

  // For tests: a rebalance that takes PARTS away (LOST: as a lost
  // assignment, nothing committed), or gives PARTS back, served in the next
  // poll().
  void revoke(const std::vector<TopicPartition>& parts, bool lost = false);
  void assign(const std::vector<TopicPartition>& parts);
  std::set<TopicPartition> assignment() const;
  std::set<TopicPartition> paused() const;
  // The offset stored for TP (to be committed by the timer); nullopt when none.
  std::optional<int64_t> stored(const TopicPartition& tp) const;
  uint64_t polls() const;
  // True once a rebalance the test asked for was served (onRevoking or onAssigned returned).
  bool rebalancesServed() const;

 private:
  struct Rebalance {
    bool assign;
    bool lost;
    std::vector<TopicPartition> parts;
  };
  // Serves the rebalances asked for, calling the listener. Called on the
  // poll thread without MemoryKafka::mu_ held.
  void serveRebalances();
  void revokeNow(const std::vector<TopicPartition>& parts, bool lost);
  void assignNow(const std::vector<TopicPartition>& parts);
  void commitLocked(const TopicPartition& tp, int64_t offset);  // REQUIRES: kafka_.mu_ held
  size_t takeLocked(size_t max, std::vector<Message>& out);     // REQUIRES: kafka_.mu_ held

  MemoryKafka& kafka_;
  const std::string group_;
  const std::string offsetReset_;
  const std::chrono::milliseconds commitInterval_;
  RebalanceListener* const listener_;
  bool closed_ = false;  // poll thread only
  // Guarded by kafka_.mu_:
  std::vector<Rebalance> rebalances_;
  std::set<TopicPartition> assigned_, paused_;
  std::map<TopicPartition, int64_t> position_, stored_;
  MonoTime nextCommit_;
  uint64_t timerCommits_ = 0, polls_ = 0;
  bool serving_ = false;  // rebalances taken from rebalances_ and not served yet
};

}  // namespace ew::runtime
