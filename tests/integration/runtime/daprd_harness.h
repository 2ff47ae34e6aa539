#pragma once
// The Dapr path end to end through the real sidecar, for any broker daprd has a
// pubsub component for: a standalone daprd (hack/build-daprd.sh) with the
// broker's Component and a dapr.io/v2alpha1 Subscription file, delivering to
// the real runtime (source.kind: dapr), which calls a ledger handler. The
// cases (per-key order of a burst, bulk deliveries, runtime retries and
// daprd's dead-letter topic) are written once here against DaprBroker and run
// per broker by runtime_daprd_test (Kafka) and runtime_daprd_brokers_test
// (Google Cloud Pub/Sub on pstest, Redis Streams).
//
// daprd is built on request only, so when no daprd with the broker's component
// is in the cache a case exits with code 77, which ctest counts as skipped
// (SKIP_RETURN_CODE), after printing why and how to get one.

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime_harness.h"

namespace ew::rttest {

// The broker behind daprd's "pubsub" Component, as the cases drive it. Not
// thread-safe: one test thread uses it.
class DaprBroker {
 public:
  virtual ~DaprBroker() = default;
  // "pubsub.kafka", ... (for messages).
  virtual std::string type() const = 0;
  // The Component's spec (type, version, metadata) for daprd consuming as
  // GROUP (its app id).
  virtual std::string componentSpec(const std::string& group) const = 0;
  // Makes TOPIC (with PARTITIONS where the broker has them) ready to be
  // published to and read from with readAll, before daprd starts.
  virtual void createTopic(const std::string& topic, int partitions) = 0;
  // Queues VALUE for TOPIC under ordering key KEY; flush() sends what is queued.
  virtual void publish(const std::string& topic, const std::string& key, const std::string& value) = 0;
  // REQUIRES: daprd (consuming as GROUP) is up, for brokers that only keep
  // messages for subscriptions that exist when they are published.
  virtual void flush(const std::string& group) = 0;
  // The values published to TOPIC (from the start), until COUNT or TIMEOUT.
  virtual std::vector<std::string> readAll(const std::string& topic, size_t count, std::chrono::seconds timeout) = 0;
  // True when daprd hands the app the broker's message key (Kafka's "__key");
  // else the publisher names the key in the CloudEvent's "partitionkey".
  virtual bool keyInMetadata() const = 0;
};
using DaprBrokerPtr = std::unique_ptr<DaprBroker>;

// Kafka through the test broker (EW_KAFKA_BOOTSTRAP).
DaprBrokerPtr kafkaBroker();
// Google Cloud Pub/Sub on the test servers' pstest (EW_PUBSUB_EMULATOR_HOST),
// with message ordering on.
DaprBrokerPtr pubsubBroker();
// Redis Streams on REDIS. CONCURRENCY is the component's number of delivery
// workers (1: stream order; more: several messages in flight at once).
DaprBrokerPtr redisStreamsBroker(const RedisServer& redis, int concurrency);

// The daprd binary of DAPR_VERSION that has the pubsub component TYPE
// ($EW_DAPRD, else the first of hack/build-daprd.sh's variants that registers
// it), or a counted skip saying what to build.
std::string daprdOrSkip(const std::string& type);

// One daprd in standalone mode (no placement, no scheduler), its resources in
// a directory of its own; killed on destruction, or by the kernel should the
// test process die first.
class Daprd {
 public:
  Daprd(const std::string& bin, const std::string& appId, int appPort, const std::string& resources);
  ~Daprd();
  // daprd answers its health endpoint (204) once its components and the app
  // channel are up.
  bool ready(std::chrono::seconds timeout) const;
  std::string logTail() const;

 private:
  std::string dir_, logPath_;
  int httpPort_ = 0;
  pid_t pid_ = -1;
};

// A topic and its dead-letter topic on BROKER, the runtime (source dapr,
// ledger handler, retry maxAttempts 3) and daprd in front of it, subscribed
// with a declarative Subscription (bulk deliveries of up to BULK events when
// BULK > 0).
struct DaprdStack {
  std::string topic, dlq, group;
  std::unique_ptr<RuntimeProcess> runtime;
  std::unique_ptr<Daprd> daprd;

  DaprdStack(DaprBroker& broker, const Ledger& ledger, const std::string& name, int partitions, int bulk);
  std::string logs() const;  // daprd's log tail and the runtime's log
};

// The cases, each a whole test on BROKER (CHECKs and REQUIREs inside).
// A burst of KEYS x PER_KEY events reaches the handler at least once, per key
// in order and never two of a key at once; in single deliveries, or in bulk
// deliveries of up to BULK events when BULK > 0 (answered per entry: fewer
// requests than events).
void checkBurstInKeyOrder(DaprBroker& broker, const std::string& name, int partitions, int keys, int perKey,
                          int bulk = 0);
// Events the handler asks to retry are retried in the runtime; one it fails
// every time is dropped after retry.maxAttempts and reaches daprd's
// dead-letter topic, alone; nothing else is held up.
void checkRetriesAndDeadLetter(DaprBroker& broker, const std::string& name, int partitions);

}  // namespace ew::rttest
