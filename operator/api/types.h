#pragma once
// The EventWorker resource (eventworker.dev/v1alpha1) as typed values, after
// the CRD's defaults have been applied. The CRD's schema
// (crds/eventworker.dev_eventworkers.yaml) is the contract; these structs
// mirror it field for field. Value types, no behaviour.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ew::api {

using Millis = std::chrono::milliseconds;

struct Resources {
  std::map<std::string, std::string> requests;  // cpu, memory -> quantity text
  std::map<std::string, std::string> limits;
};

struct HandlerSpec {
  enum class Kind { Http, Noop };
  std::string image;
  std::optional<std::string> imagePullPolicy;
  std::vector<std::string> command;
  std::vector<std::string> args;
  nlohmann::json env = nlohmann::json::array();  // []EnvVar, passed through as declared
  Kind kind = Kind::Http;
  std::string host = "127.0.0.1";
  bool allowNonLoopback = false;
  int port = 8080;
  Millis timeout{30000};
  int maxConnections = 16;
  Resources resources;
};

struct RuntimeSpec {
  std::optional<std::string> image;  // else the operator's --runtime-image
  Resources resources;
  int metricsPort = 9090;
  int gracePeriodSeconds = 30;
  std::string logFormat = "json";
  std::string logLevel = "info";
};

struct KafkaSecurity {
  std::string protocol = "PLAINTEXT";
  std::optional<std::string> saslMechanism;
  std::optional<std::string> secretName;          // Secret with keys username, password, ca.crt[, tls.crt, tls.key]
  bool clientCertificate = false;                 // the Secrets hold tls.crt and tls.key (mTLS)
  std::optional<std::string> operatorSecretName;  // the operator's credentials, in its own namespace
};

struct KafkaSource {
  std::vector<std::string> brokers;
  std::optional<std::string> consumerGroup;  // as declared; see effectiveConsumerGroup
  std::string offsetReset = "earliest";
  std::optional<KafkaSecurity> security;
};

struct DaprSpec {
  bool enabled = false;
  std::optional<std::string> appId;  // as declared; see effectiveAppId
  int appPort = 5005;
  std::string pubsubName = "pubsub";
  std::string logLevel = "info";
};

struct RetrySpec {
  int maxAttempts = 5;
  Millis initialBackoff{200};
  Millis maxBackoff{30000};
};

struct IdempotencySpec {
  std::string kind = "none";  // none | memory | redis
  Millis ttl{24LL * 3600 * 1000};
  std::int64_t capacity = 100000;
  std::optional<std::string> redisAddress;
};

struct Subscription {
  std::string name;
  std::string topic;
  std::string route;
  std::optional<std::string> deadLetterTopic;
  int concurrency = 16;
  std::string ordering = "key";  // key | partition | none
  RetrySpec retry;
  std::int64_t maxEventBytes = 1048576;
  bool requireCloudEvent = false;
  IdempotencySpec idempotency;
};

struct CronJob {
  std::string name;
  std::string schedule;
  std::string route;
  std::string concurrencyPolicy = "Forbid";  // Forbid | Allow | Replace
  int startingDeadlineSeconds = 60;
  Millis timeout{300000};
  RetrySpec retry{3, Millis{1000}, Millis{60000}};
  bool suspend = false;
};

// One outbox relay (spec.outbox[*]); column names are SQL identifiers, empty
// for a column the table does not have.
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

struct OutboxRelay {
  std::string name;
  std::string secretName;         // connectionSecretRef.name
  std::string secretKey = "url";  // connectionSecretRef.key: a libpq connection URI
  std::string table = "outbox_events";
  std::optional<std::string> topic;  // else columns.topic per row
  OutboxColumns columns;
  std::string completion = "markPublished";  // markPublished | delete
  int batchSize = 500;
  Millis pollInterval{1000};
  std::optional<std::string> notifyChannel;
};

// One SSE stream (spec.streams[*]), served by the <name>-streams pods.
struct StreamAuth {
  std::string mode = "none";  // none | bearer
  std::optional<std::string> url;
  Millis cacheTTL{30000};
};

struct Stream {
  std::string name;
  std::vector<std::string> topics;
  std::string path;
  std::vector<std::string> filterTypes, filterKeys;  // empty: every record
  std::vector<std::string> fields{"id", "type", "source", "time", "data"};
  int clientBuffer = 1000;
  int replayEvents = 10000;
  Millis heartbeatInterval{15000};
  Millis reconnectDelay{2000};
  std::string resumeFallback = "oldest";  // oldest | newest
  StreamAuth auth;
};

struct Fallback {
  int failureThreshold = 3;
  std::optional<int> replicas;
};

struct ScalingSpec {
  int minReplicas = 1;
  int maxReplicas = 10;
  std::int64_t lagThreshold = 1000;
  std::int64_t activationLagThreshold = 0;
  std::optional<int> targetDrainSeconds;
  bool enabled = true;  // false: spec.replicas (or minReplicas) sets the events Deployment
  int pollIntervalSeconds = 5;
  int scaleDownStabilizationSeconds = 120;
  int cooldownSeconds = 300;
  int maxScaleDownPercent = 75;
  bool allowIdleConsumers = false;
  bool predictive = true;  // scale ahead of recurring bursts (autoscale/recurrence.h)
  Fallback fallback;
};

// How the streams Deployment follows connected clients (spec.streamsScaling;
// the policy in autoscale/streams_policy.h).
struct StreamsScalingSpec {
  int minReplicas = 2;
  int maxReplicas = 10;
  std::int64_t targetClientsPerReplica = 2500;
  int scaleDownStabilizationSeconds = 300;
};

struct MigrateFrom {
  std::string appId;
  std::string handoff = "pause";  // pause | overlap
  int settleSeconds = 10;
  bool programmaticSubscriptions = false;
};

struct EventWorkerSpec {
  std::string service;
  std::optional<int> replicas;
  HandlerSpec handler;
  RuntimeSpec runtime;
  std::optional<KafkaSource> kafka;
  DaprSpec dapr;
  std::vector<Subscription> subscriptions;
  std::vector<CronJob> cron;
  std::vector<OutboxRelay> outbox;
  std::vector<Stream> streams;
  StreamsScalingSpec streamsScaling;
  ScalingSpec scaling;
  std::optional<MigrateFrom> migrateFrom;
};

struct ObjectMeta {
  std::string name;
  std::string nameSpace;  // "namespace" is a keyword
  std::string uid;
  std::int64_t generation = 0;
  std::map<std::string, std::string> labels;
};

struct EventWorker {
  ObjectMeta metadata;
  EventWorkerSpec spec;

  // The Dapr app id of the worker: spec.dapr.appId, else metadata.name.
  std::string effectiveAppId() const { return spec.dapr.appId.value_or(metadata.name); }
  // The Kafka consumer group the worker's events are consumed in: the
  // declared one, else the Dapr app id (Dapr's Kafka pubsub default) when
  // Dapr delivers, else metadata.name.
  std::string effectiveConsumerGroup() const {
    if (spec.kafka && spec.kafka->consumerGroup) return *spec.kafka->consumerGroup;
    return spec.dapr.enabled ? effectiveAppId() : metadata.name;
  }
};

}  // namespace ew::api
