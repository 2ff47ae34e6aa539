#pragma once
// Test harness for the worker runtime against the real broker: topic admin,
// producing and reading back records, the ledger HTTP handler (ledger.h),
// and runtime processes (the real binary) to start, signal and kill.
// Everything has a timeout; nothing here can hang a test.

#include <librdkafka/rdkafkacpp.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ledger.h"

namespace ew::rttest {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Record {
  std::optional<std::string> key;
  std::string value;
  Headers headers;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string header(const std::string& name) const;  // "" when absent
};

class Kafka {
 public:
  Kafka();  // bootstrap from the test servers' env
  ~Kafka();
  const std::string& bootstrap() const { return bootstrap_; }
  void createTopic(const std::string& topic, int partitions, const std::map<std::string, std::string>& config = {});
  // Grows TOPIC to TOTAL partitions (the admin API's CreatePartitions) and
  // waits until this producer can write to them.
  void addPartitions(const std::string& topic, int total);
  // To PARTITION, or where the partitioner puts KEY.
  void produce(const std::string& topic, const std::optional<std::string>& key, const std::string& value,
               int32_t partition = RdKafka::Topic::PARTITION_UA);
  void flush();
  // Reads every record of TOPIC (all partitions) until COUNT were read or TIMEOUT.
  std::vector<Record> readAll(const std::string& topic, size_t count, std::chrono::seconds timeout);
  // The committed offsets of GROUP on TOPIC's partitions 0..PARTITIONS-1 (-1: none, or not read).
  std::vector<int64_t> committed(const std::string& group, const std::string& topic, int partitions);
  // Sum over partitions of the committed offsets of GROUP on TOPIC (-1 for none).
  int64_t committedTotal(const std::string& group, const std::string& topic, int partitions);
  // Creates SCRAM-SHA-512 user USER with PASSWORD, or changes its password:
  // the AlterUserScramCredentials request kafka-configs --alter
  // --add-config 'SCRAM-SHA-512=[password=...]' sends, without a JVM start.
  void setScramPassword(const std::string& user, const std::string& password);

 private:
  std::string bootstrap_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

// A runtime config (FORMAT.md) for one subscription (and optional cron jobs),
// and the --mode to run it in.
struct ConfigSpec {
  std::string source = "kafka";  // kafka | dapr (daprd's deliveries are POSTed to daprPort)
  int daprPort = 0;              // source dapr: filled by RuntimeProcess when 0
  std::string daprOptions;       // source dapr: more source.dapr keys in flow style, e.g. "subscribe: programmatic"
  std::string worker = "rt";
  std::string brokers;   // source kafka: "" for the test broker's PLAINTEXT listener (EW_KAFKA_BOOTSTRAP)
  std::string security;  // source kafka: source.kafka.security in flow style; "" for none
  std::string group;
  std::string topic;
  std::string deadLetterTopic;
  int concurrency = 16;
  std::string ordering = "key";
  int ledgerPort = 0;  // 0: noop handler
  std::string handlerTimeout = "5s";
  std::string retry = "{maxAttempts: 3, initialBackoff: 100ms, maxBackoff: 400ms}";
  bool requireCloudEvent = false;
  std::string gracePeriod = "10s";
  std::string properties = "{}";
  std::string commitInterval = "500ms";
  std::string idempotency;  // the subscription's idempotency map in flow style; "" for none
  std::string cron;         // the cron list in flow style, e.g. "[{name: a, schedule: ..., route: /a}]"; "" for none
  std::string outbox;       // the outbox list in flow style; "" for none (with an empty topic: no subscriptions)
  std::string streams;      // the streams list in flow style; "" for none (with an empty topic: no subscriptions)
  std::string mode = "events";  // --mode: events | cron | all | outbox | streams
  int opsPort = 0;              // filled by RuntimeProcess when 0
  int streamsPort = 0;          // server.streamsAddress's port; filled by RuntimeProcess when 0
};
std::string renderConfig(const ConfigSpec& spec);

// A runtime process running the real binary with a config file.
class RuntimeProcess {
 public:
  RuntimeProcess(const std::string& name, ConfigSpec spec);
  ~RuntimeProcess();  // SIGKILLs if still running
  pid_t pid() const { return pid_; }
  void signal(int sig);
  // Waits for exit; returns the exit status (as waitpid) or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;
  int opsPort() const { return opsPort_; }
  int daprPort() const { return daprPort_; }
  int streamsPort() const { return streamsPort_; }

 private:
  std::string logPath_;
  pid_t pid_ = -1;
  int exitStatus_ = -1;
  int opsPort_ = 0;
  int daprPort_ = 0;
  int streamsPort_ = 0;
};

int freePort();

// SIGTERM to RT, which must exit 0 within 15 s (its log shown if not).
void requireCleanExit(RuntimeProcess& rt);

// A redis-server of its own on a free 127.0.0.1 port, without persistence;
// killed on destruction (so also when a test fails) and, should the test
// process die first, by the kernel (PR_SET_PDEATHSIG).
class RedisServer {
 public:
  RedisServer();  // returns once it answers PING
  ~RedisServer();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Sends COMMANDS pipelined on one connection and returns their replies as
  // JSON (arrays, strings, integers, null); an error reply, or no whole reply
  // within 10 s, fails the test.
  std::vector<nlohmann::json> commands(const std::vector<std::vector<std::string>>& commands) const;

 private:
  int port_ = 0;
  pid_t pid_ = -1;
};

// On leaving the scope: FLAG false, then T joined (a thread a failed
// REQUIRE must not leave running).
struct StopAndJoin {
  std::thread& t;
  std::atomic<bool>& flag;
  ~StopAndJoin() {
    flag = false;
    if (t.joinable()) t.join();
  }
};

// A test payload: {"key": KEY, "seq": SEQ}.
std::string payload(const std::string& key, int64_t seq);
// The same payload as the data of a structured CloudEvent with id ID, as a
// Dapr publisher writes it to Kafka (daprd passes a JSON object that is no
// CloudEvent through as it is, without an id).
std::string cloudEvent(const std::string& id, const std::string& key, int64_t seq);

// The value of SERIES (name{labels} exactly as rendered) in Prometheus text
// METRICS; -1 when absent.
double metricValue(const std::string& metrics, const std::string& series);

// GET http://127.0.0.1:PORT/PATH; returns "" when unreachable.
std::string httpGet(int port, const std::string& path);

struct HttpResult {
  int status = 0;  // 0: no reply (unreachable, or nothing within the timeout)
  std::string body;
};
// A request to http://127.0.0.1:PORT/PATH on a connection of its own (as
// daprd sends deliveries), waiting for the whole reply until TIMEOUT.
HttpResult httpRequest(int port, const std::string& method, const std::string& path, const std::string& contentType,
                       const std::string& body, const Headers& headers = {},
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace ew::rttest
