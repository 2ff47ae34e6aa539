#pragma once
// The ledger's Kafka producer: idempotent, acks=all, a short linger so that
// the records of many requests in flight share batches (nothing is flushed
// per record). Each record's outcome reaches its callback once the broker
// acknowledged it or delivery failed; message.timeout.ms bounds that wait,
// so a broker that is down fails records within seconds, not never.
// A fatal producer error (the idempotent producer cannot go on) ends the
// process with exit code 1, so the kubelet restarts the container.
//
// Thread-safety: produce() may be called from any thread; callbacks run on
// the producer's poll thread (or, for a record that could not be queued, on
// the caller's thread before produce() returns) and must not block.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "ew/result.h"

namespace ew::testing {

struct LedgerProducerOptions {
  std::string bootstrap;  // bootstrap.servers
  std::string topic;
  std::chrono::milliseconds messageTimeout{10000};
};

class LedgerProducer;
using LedgerProducerPtr = std::unique_ptr<LedgerProducer>;

class LedgerProducer {
 public:
  using Done = std::function<void(Status)>;

  // Error names the property librdkafka refused.
  static Result<LedgerProducerPtr> create(const LedgerProducerOptions& options);
  // Waits up to messageTimeout for records still in flight, then stops the poll thread.
  ~LedgerProducer();
  LedgerProducer(const LedgerProducer&) = delete;
  LedgerProducer& operator=(const LedgerProducer&) = delete;

  // Queues KEY/VALUE for the ledger topic; DONE gets the delivery's outcome.
  void produce(const std::string& key, const std::string& value, Done done);

 private:
  struct KafkaDelete {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  };

  LedgerProducer(LedgerProducerOptions options, rd_kafka_t* rk);
  void pollLoop();

  const LedgerProducerOptions options_;
  std::unique_ptr<rd_kafka_t, KafkaDelete> rk_;
  std::atomic<bool> stop_{false};
  std::thread poller_;  // last: started once the handle exists
};

}  // namespace ew::testing
