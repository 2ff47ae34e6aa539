#pragma once
// The runtime config (worker-runtime/config/FORMAT.md, version 1) as plain
// values, and its parser/validator. Pure: parseConfig takes YAML text, never
// reads files or the environment (secret references are resolved later, by
// the Kafka client). Errors name the field path, e.g.
// "subscriptions[1].retry.maxAttempts: must be >= 1".

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ew/duration.h"
#include "ew/result.h"

namespace ew::runtime {

inline constexpr const char* kConfigApiVersion = "runtime.eventworker.dev/v1";

struct RetryConfig {
  int maxAttempts = 5;
  Millis initialBackoff{200};
  Millis maxBackoff{30'000};
};

struct KafkaSecurityConfig {
  std::string protocol = "PLAINTEXT";  // PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
  std::string saslMechanism;           // PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512
  std::string usernameFile, usernameEnv;
  std::string passwordFile, passwordEnv;
  std::string caFile;             // CA certificates (PEM) the broker's certificate is verified against
  std::string certFile, keyFile;  // client certificate and its key (PEM), for brokers that require one (mTLS)
};

struct KafkaSourceConfig {
  std::vector<std::string> brokers;
  std::string consumerGroup;
  std::string offsetReset = "earliest";  // earliest | latest
  Millis commitInterval{1000};
  std::optional<KafkaSecurityConfig> security;
  std::map<std::string, std::string> properties;  // extra non-secret librdkafka properties
};

struct DaprBulkSubscribeConfig {
  bool enabled = false;
  int maxMessagesCount = 0;    // 0: the pubsub component's default
  Millis maxAwaitDuration{0};  // 0: the pubsub component's default
};

// How daprd learns the worker's subscriptions: from GET /dapr/subscribe
// (programmatic), or from dapr.io Subscription objects (declarative: the
// operator makes them; /dapr/subscribe answers 404).
enum class DaprSubscribe { Declarative, Programmatic };

struct DaprSourceConfig {
  int appPort = 0;
  std::string address = "127.0.0.1";  // bind address of the app port (daprd is in the same pod)
  DaprSubscribe subscribe = DaprSubscribe::Declarative;
  std::string pubsubName = "pubsub";            // programmatic only
  std::map<std::string, std::string> metadata;  // programmatic only: metadata of every subscription
  DaprBulkSubscribeConfig bulkSubscribe;        // programmatic only
};

enum class SourceKind { Kafka, Dapr };

struct SourceConfig {
  SourceKind kind = SourceKind::Kafka;
  std::optional<KafkaSourceConfig> kafka;
  std::optional<DaprSourceConfig> dapr;
};

struct HttpHandlerConfig {
  std::string url;
  bool allowNonLoopback = false;
  Millis timeout{30'000};
  int maxConnections = 16;
};

struct ExecHandlerConfig {
  std::vector<std::string> command;
  Millis timeout{30'000};
};

enum class HandlerKind { Http, Exec, Noop };

struct HandlerConfig {
  HandlerKind kind = HandlerKind::Noop;
  std::optional<HttpHandlerConfig> http;
  std::optional<ExecHandlerConfig> exec;
};

enum class Ordering { Key, Partition, None };
enum class IdempotencyKind { None, Memory, Redis };

struct IdempotencyConfig {
  IdempotencyKind kind = IdempotencyKind::None;
  Millis ttl{24 * 3'600'000};
  int64_t capacity = 100000;
  std::string redisAddress = "127.0.0.1:6379";
};

struct SubscriptionConfig {
  std::string name;
  std::string topic;
  std::string route;
  std::string deadLetterTopic;  // empty: exhausted events are logged, counted and committed
  int concurrency = 16;
  Ordering ordering = Ordering::Key;
  RetryConfig retry;
  int64_t maxEventBytes = 1048576;
  bool requireCloudEvent = false;
  IdempotencyConfig idempotency;
};

enum class ConcurrencyPolicy { Forbid, Allow, Replace };

// One cron job; consumed by worker-runtime/cron/.
struct CronJobConfig {
  std::string name;
  std::string schedule;  // 5 fields, or 6 with seconds first, or an @macro; UTC
  std::string route;
  ConcurrencyPolicy concurrencyPolicy = ConcurrencyPolicy::Forbid;
  int64_t startingDeadlineSeconds = 60;
  Millis timeout{5 * 60'000};
  RetryConfig retry{3, Millis(1000), Millis(60'000)};
};

// One outbox relay (--mode outbox): PostgreSQL table -> Kafka
// (source.kafka's brokers and security). Column names are SQL identifiers
// (checked here, quoted in every statement); empty: the table has none.
struct OutboxColumns {
  std::string id = "id";
  std::string eventType = "event_type";
  std::string topic = "topic";
  std::string key;
  std::string payload = "payload";
  std::string headers;
  std::string status = "status";
  std::string createdAt = "created_at";
  std::string error;
};

enum class OutboxCompletion { MarkPublished, Delete };

struct OutboxConfig {
  std::string name;
  std::string connectionFile, connectionEnv;  // a libpq URI, by reference only (never inline, never logged)
  std::string table = "outbox_events";        // [schema.]table
  std::string topic;                          // fixed topic; empty: columns.topic per row
  OutboxColumns columns;
  OutboxCompletion completion = OutboxCompletion::MarkPublished;
  int batchSize = 500;
  Millis pollInterval{1000};
  std::string notifyChannel;  // empty: poll only
};

// One SSE stream (--mode streams, streams/streams_mode.h): source.kafka's
// topics fanned out to HTTP clients, resumable by Last-Event-ID.
enum class StreamAuthMode { None, Bearer };
enum class ResumeFallback { Oldest, Newest };

struct StreamConfig {
  std::string name;
  std::vector<std::string> topics;                   // sorted, unique
  std::string path;                                  // "/streams/orders"
  std::vector<std::string> filterTypes, filterKeys;  // empty: every record
  std::vector<std::string> fields{"id", "type", "source", "time", "data"};
  int clientBuffer = 1000;  // events a client may be behind before it is cut off
  int replayEvents = 10000;
  Millis heartbeatInterval{15'000};
  Millis reconnectDelay{2'000};
  ResumeFallback resumeFallback = ResumeFallback::Oldest;
  StreamAuthMode authMode = StreamAuthMode::None;
  std::string authUrl;  // bearer: GET with the client's Authorization header; 2xx allows
  Millis authCacheTTL{30'000};
  int64_t maxEventBytes = 1048576;
};

struct ServerConfig {
  std::string address = "0.0.0.0:9090";
  std::string streamsAddress = "0.0.0.0:8088";  // --mode streams: where clients connect
  Millis gracePeriod{25'000};
};

struct LogConfig {
  std::string format = "text";  // text | json
  std::string level = "info";   // trace | debug | info | warn | error | critical | off
};

struct RuntimeConfig {
  std::string worker;
  std::string namespace_;
  std::string service;
  SourceConfig source;
  HandlerConfig handler;
  std::vector<SubscriptionConfig> subscriptions;
  std::vector<CronJobConfig> cron;
  std::vector<OutboxConfig> outbox;
  std::vector<StreamConfig> streams;
  ServerConfig server;
  LogConfig log;
};

// Parses and validates YAML_TEXT. Unknown keys are errors.
Result<RuntimeConfig> parseConfig(const std::string& yamlText);

const char* toString(Ordering o);
const char* toString(ConcurrencyPolicy p);
const char* toString(OutboxCompletion c);
const char* toString(ResumeFallback f);

}  // namespace ew::runtime
