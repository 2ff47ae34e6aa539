#pragma once
// The Kafka poll loop: feeds the dispatcher, pauses topics whose subscription
// is over budget and resumes them, commits the done prefix every
// commitInterval, on revoke and on shutdown, and drains on stop.
//
// It follows the mounted Secret (clients/kafka_secret_watch.h), looked at
// every kSecretCheckInterval: a new SASL username or password goes to the
// live clients (nothing stops); new TLS files (CA, client certificate, key)
// are first checked (files, then one connection with them, as at start:
// kafka_security.h) and, when they work, the clients are made anew: fetching
// stops, admitted work finishes (within server.gracePeriod), the done
// offsets are committed, the consumer leaves the group, the dead-letter
// producer is replaced once its sends have their answers, and a new consumer
// joins. No event is lost: what did not finish in time is not committed and
// is fetched again. TLS files that do not work leave the running clients as
// they are, with an error in the log.
//
// The consumer comes from an injected ConsumerFactory (clients/consumer.h;
// KafkaConsumer in production) and every deadline, interval and liveness
// check reads the injected TimeSource, so unit tests run the loop on an
// in-memory Kafka and a manual clock.
//
// Thread-safety: run() is the poll thread; requestStop() and the status
// getters may be called from any thread.

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "clients/consumer.h"
#include "clients/kafka_producer.h"
#include "clients/kafka_secret_watch.h"
#include "ew/metrics.h"
#include "ew/time_source.h"
#include "loops/dispatcher.h"
#include "loops/source.h"

namespace ew::runtime {

class EventSource : public Source, public RebalanceListener {
 public:
  // How often the mounted Secret's files are compared with what the clients use.
  static constexpr std::chrono::seconds kSecretCheckInterval{5};

  // DEAD_LETTERS (may be null) follows the Secret with the consumer; it and
  // TIME must outlive the source. CONSUMERS makes the consumer at open() (and
  // anew after a TLS rotation).
  EventSource(const RuntimeConfig& config, Dispatcher& dispatcher, MetricsRegistry& metrics,
              KafkaDeadLetterProducer* deadLetters, ConsumerFactory consumers, const TimeSource& time);

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
  bool failed() const override { return failed_.load(); }
  int64_t commits() const { return commits_.load(); }

  void onAssigned(const std::vector<TopicPartition>& parts) override;
  std::vector<CommitPoint> onRevoking(const std::vector<TopicPartition>& parts, bool lost) override;

 private:
  void commitDone();
  void applyBackpressure();
  // Stops fetching, lets admitted work finish until DEADLINE (storing what
  // finishes), then commits and leaves the group; the dispatcher is stopped
  // first when STOP_DISPATCHER. True when every admitted event finished.
  bool drainAndLeave(MonoTime deadline, bool stopDispatcher);
  // Acts on a change of the mounted Secret (see above). False when the
  // clients could not be made anew (the source then stops).
  bool followSecret();
  bool recreateClients();

  const RuntimeConfig& config_;
  Dispatcher& dispatcher_;
  const ConsumerFactory consumers_;
  const TimeSource& time_;
  ConsumerPtr consumer_;
  KafkaDeadLetterProducer* const deadLetters_;
  std::optional<KafkaSecretWatch> secretWatch_;  // poll thread only; with security other than PLAINTEXT
  std::atomic<bool> stop_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> failed_{false};
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
