#include "core/config.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;
using ew::formatDuration;
using ew::Millis;
using ew::parseDuration;

namespace {

const char* kFull = R"(
apiVersion: runtime.eventworker.dev/v1
worker: customer-worker
namespace: shop
service: customer
source:
  kind: kafka
  kafka:
    brokers: ["kafka:9092"]
    consumerGroup: customer-worker
    offsetReset: latest
    commitInterval: 2s
    security:
      protocol: SASL_SSL
      saslMechanism: SCRAM-SHA-512
      usernameFile: /var/run/secrets/kafka/username
      passwordEnv: KAFKA_PASSWORD
      caFile: /var/run/secrets/kafka/ca.crt
    properties: {fetch.min.bytes: "1"}
handler:
  kind: http
  http:
    url: http://127.0.0.1:8080
    timeout: 10s
    maxConnections: 8
  exec:
    command: ["/app/handler", "--event"]
    timeout: 30s
subscriptions:
- name: order-completed
  topic: order.completed
  route: /events/order-completed
  deadLetterTopic: order.completed.dlq
  concurrency: 32
  ordering: partition
  retry: {maxAttempts: 7, initialBackoff: 100ms, maxBackoff: 1m}
  maxEventBytes: 2048
  requireCloudEvent: true
  idempotency: {kind: memory, ttl: 1h, capacity: 10}
cron:
- name: price-sync
  schedule: "*/5 * * * *"
  route: /jobs/price-sync
  concurrencyPolicy: Replace
  startingDeadlineSeconds: 30
  timeout: 1m
  retry: {maxAttempts: 2, initialBackoff: 1s, maxBackoff: 5s}
server:
  address: 127.0.0.1:9191
  gracePeriod: 10s
log:
  format: json
  level: debug
)";

const char* kMinimal = R"(
apiVersion: runtime.eventworker.dev/v1
worker: w
source: {kind: kafka, kafka: {brokers: ["b:9092"], consumerGroup: g}}
handler: {kind: noop}
subscriptions:
- {name: s, topic: t, route: /e}
)";

std::string errorOf(const std::string& yaml) {
  auto r = parseConfig(yaml);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  REQUIRE(pos != std::string::npos);
  return s.replace(pos, from.size(), to);
}

}  // namespace

TEST_CASE("the full example from FORMAT.md parses into every field") {
  auto r = parseConfig(kFull);
  INFO((r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  const RuntimeConfig& c = *r;
  CHECK(c.worker == "customer-worker");
  CHECK(c.namespace_ == "shop");
  CHECK(c.service == "customer");
  REQUIRE(c.source.kafka);
  CHECK(c.source.kafka->brokers == std::vector<std::string>{"kafka:9092"});
  CHECK(c.source.kafka->offsetReset == "latest");
  CHECK(c.source.kafka->commitInterval == Millis(2000));
  REQUIRE(c.source.kafka->security);
  CHECK(c.source.kafka->security->saslMechanism == "SCRAM-SHA-512");
  CHECK(c.source.kafka->security->passwordEnv == "KAFKA_PASSWORD");
  CHECK(c.source.kafka->properties.at("fetch.min.bytes") == "1");
  CHECK(c.handler.kind == HandlerKind::Http);
  CHECK(c.handler.http->timeout == Millis(10000));
  CHECK(c.handler.http->maxConnections == 8);
  CHECK(c.handler.exec->command.size() == 2);
  REQUIRE(c.subscriptions.size() == 1);
  const auto& s = c.subscriptions[0];
  CHECK(s.deadLetterTopic == "order.completed.dlq");
  CHECK(s.concurrency == 32);
  CHECK(s.ordering == Ordering::Partition);
  CHECK(s.retry.maxAttempts == 7);
  CHECK(s.retry.initialBackoff == Millis(100));
  CHECK(s.retry.maxBackoff == Millis(60000));
  CHECK(s.maxEventBytes == 2048);
  CHECK(s.requireCloudEvent);
  CHECK(s.idempotency.kind == IdempotencyKind::Memory);
  CHECK(s.idempotency.capacity == 10);
  REQUIRE(c.cron.size() == 1);
  CHECK(c.cron[0].schedule == "*/5 * * * *");
  CHECK(c.cron[0].concurrencyPolicy == ConcurrencyPolicy::Replace);
  CHECK(c.cron[0].startingDeadlineSeconds == 30);
  CHECK(c.cron[0].timeout == Millis(60000));
  CHECK(c.cron[0].retry.maxAttempts == 2);
  CHECK(c.server.address == "127.0.0.1:9191");
  CHECK(c.server.gracePeriod == Millis(10000));
  CHECK(c.log.format == "json");
  CHECK(c.log.level == "debug");
}

TEST_CASE("absent keys take the documented defaults") {
  auto r = parseConfig(kMinimal);
  INFO((r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  const auto& k = *r->source.kafka;
  CHECK(k.offsetReset == "earliest");
  CHECK(k.commitInterval == Millis(1000));
  const auto& s = r->subscriptions[0];
  CHECK(s.concurrency == 16);
  CHECK(s.ordering == Ordering::Key);
  CHECK(s.retry.maxAttempts == 5);
  CHECK(s.retry.initialBackoff == Millis(200));
  CHECK(s.retry.maxBackoff == Millis(30000));
  CHECK(s.maxEventBytes == 1048576);
  CHECK_FALSE(s.requireCloudEvent);
  CHECK(s.idempotency.kind == IdempotencyKind::None);
  CHECK(r->server.address == "0.0.0.0:9090");
  CHECK(r->server.gracePeriod == Millis(25000));
  CHECK(r->log.format == "text");
  CHECK(r->log.level == "info");
}

TEST_CASE("cron defaults") {
  auto r = parseConfig(std::string(kMinimal) + "cron:\n- {name: j, schedule: '@hourly', route: /j}\n");
  REQUIRE(r.ok());
  const auto& j = r->cron[0];
  CHECK(j.concurrencyPolicy == ConcurrencyPolicy::Forbid);
  CHECK(j.startingDeadlineSeconds == 60);
  CHECK(j.timeout == Millis(300000));
}

TEST_CASE("errors name the field") {
  using Catch::Matchers::Contains;
  using Catch::Matchers::StartsWith;
  const std::string m = kMinimal;
  CHECK_THAT(errorOf(replace(m, "route: /e", "route: /e, colour: red")),
             StartsWith("subscriptions[0].colour: unknown key"));
  CHECK_THAT(errorOf(replace(m, "route: /e", "route: /e, retry: {maxAttempts: 0}")),
             StartsWith("subscriptions[0].retry.maxAttempts: must be >= 1"));
  CHECK_THAT(errorOf(replace(m, "route: /e", "route: /e, ordering: random")),
             StartsWith("subscriptions[0].ordering: \"random\" is not one of"));
  CHECK_THAT(errorOf(replace(m, "route: /e", "route: /e, retry: {maxBackoff: 10}")),
             StartsWith("subscriptions[0].retry.maxBackoff: invalid duration \"10\""));
  CHECK_THAT(errorOf(replace(m, "route: /e", "route: e")), StartsWith("subscriptions[0].route: must start with /"));
  CHECK_THAT(errorOf(replace(m, "consumerGroup: g", "consumerGrop: g")),
             StartsWith("source.kafka.consumerGrop: unknown key"));
  CHECK_THAT(errorOf(replace(m, "brokers: [\"b:9092\"], ", "")), StartsWith("source.kafka.brokers: required"));
  CHECK_THAT(errorOf(replace(m, "runtime.eventworker.dev/v1", "v2")), StartsWith("apiVersion:"));
  CHECK_THAT(errorOf(replace(m, "kind: noop", "kind: http, http: {url: 'http://10.0.0.1:80'}")),
             StartsWith("handler.http.url: must be a loopback address"));
  CHECK(parseConfig(replace(m, "kind: noop", "kind: http, http: {url: 'http://10.0.0.1:80', allowNonLoopback: true}"))
            .ok());
  CHECK_THAT(errorOf(replace(m, "kind: noop", "kind: http, http: {url: 'http://127.0.0.1:http'}")),
             StartsWith("handler.http.url: \"http://127.0.0.1:http\": port is not a number"));
  CHECK_THAT(errorOf(replace(m, "kind: noop", "kind: exec")), StartsWith("handler.exec: required"));
  CHECK_THAT(errorOf(m + "- {name: s, topic: t2, route: /e}\n"), StartsWith("subscriptions[1].name: duplicate"));
  CHECK_THAT(errorOf(m + "- {name: s2, topic: t, route: /e}\n"), StartsWith("subscriptions[1].topic:"));
  CHECK_THAT(errorOf(replace(m, "consumerGroup: g", "consumerGroup: g, properties: {sasl.password: x}")),
             Contains("secrets are not allowed inline"));
  CHECK_THAT(errorOf(replace(m, "consumerGroup: g", "consumerGroup: g, security: {protocol: SASL_SSL}")),
             StartsWith("source.kafka.security.saslMechanism: required"));
  CHECK_THAT(errorOf(replace(m, "consumerGroup: g", "consumerGroup: g, security: {protocol: SSL, certFile: /c}")),
             StartsWith("source.kafka.security.keyFile: certFile and keyFile go together"));
  CHECK_THAT(errorOf(replace(m, "consumerGroup: g", "consumerGroup: g, security: {protocol: SSL, keyFile: /k}")),
             StartsWith("source.kafka.security.certFile: certFile and keyFile go together"));
  CHECK_THAT(errorOf(replace(m, "consumerGroup: g",
                             "consumerGroup: g, security: {protocol: PLAINTEXT, certFile: /c, keyFile: /k}")),
             StartsWith("source.kafka.security.certFile: only allowed with protocol SSL or SASL_SSL"));
  CHECK_THAT(errorOf(replace(m, "consumerGroup: g",
                             "consumerGroup: g, security: {protocol: SASL_PLAINTEXT, saslMechanism: PLAIN, "
                             "usernameEnv: U, passwordEnv: P, caFile: /ca}")),
             StartsWith("source.kafka.security.caFile: only allowed with protocol SSL or SASL_SSL"));
  CHECK(parseConfig(replace(m, "consumerGroup: g",
                            "consumerGroup: g, security: {protocol: SSL, caFile: /ca, certFile: /c, keyFile: /k}"))
            .ok());
  CHECK_THAT(errorOf(m + "cron:\n- {name: j, schedule: x, route: /j, concurrencyPolicy: Sometimes}\n"),
             StartsWith("cron[0].concurrencyPolicy:"));
  for (const char* bad : {"redis", "redis:", ":6379", "redis:99999", "redis:port"})
    CHECK_THAT(errorOf(replace(m, "route: /e",
                               std::string("route: /e, idempotency: {kind: redis, redisAddress: '") + bad + "'}")),
               StartsWith("subscriptions[0].idempotency.redisAddress: must be host:port"));
  CHECK(parseConfig(replace(m, "route: /e", "route: /e, idempotency: {kind: redis, redisAddress: 'redis:6379'}")).ok());
  CHECK_THAT(errorOf("worker: [unclosed"), StartsWith("config: invalid YAML"));
  CHECK_THAT(errorOf(""), StartsWith("config: empty document"));
  CHECK_THAT(errorOf("- a\n- b\n"), StartsWith("config: must be a mapping"));
}

TEST_CASE("durations") {
  CHECK(*parseDuration("250ms", "f") == Millis(250));
  CHECK(*parseDuration("30s", "f") == Millis(30000));
  CHECK(*parseDuration("5m", "f") == Millis(300000));
  CHECK(*parseDuration("2h", "f") == Millis(7200000));
  CHECK(*parseDuration("1h30m", "f") == Millis(5400000));
  CHECK(*parseDuration("1m500ms", "f") == Millis(60500));
  CHECK_FALSE(parseDuration("", "f").ok());
  CHECK_FALSE(parseDuration("1h30", "f").ok());
  CHECK_FALSE(parseDuration("999999999999999s", "f").ok());
  CHECK_FALSE(parseDuration("5", "f").ok());
  CHECK_FALSE(parseDuration("s", "f").ok());
  CHECK_FALSE(parseDuration("-1s", "f").ok());
  CHECK_FALSE(parseDuration("1d", "f").ok());
  CHECK(formatDuration(Millis(1500)) == "1500ms");
  CHECK(formatDuration(Millis(120000)) == "2m");
}

TEST_CASE("only literal loopback hosts pass the loopback check") {
  const std::string head = "apiVersion: runtime.eventworker.dev/v1\nworker: w\nhandler: {kind: http, http: {url: \"";
  auto accepted = [&](const std::string& url) { return parseConfig(head + url + "\"}}\n").ok(); };
  CHECK(accepted("http://127.0.0.1:8080"));
  CHECK(accepted("http://127.1.2.3:8080/x"));
  CHECK(accepted("http://localhost:8080"));
  CHECK(accepted("http://[::1]:8080"));
  CHECK_FALSE(accepted("http://127.0.0.1.evil.example:8080"));
  CHECK_FALSE(accepted("http://10.0.0.1:8080"));
  CHECK_FALSE(accepted("http://[::1].evil:8080"));
  CHECK_FALSE(accepted("http://localhost.evil.example:8080"));
}

TEST_CASE("a dapr source takes the app port, and defaults to loopback and declarative subscriptions") {
  const std::string m = replace(kMinimal, "{kind: kafka, kafka: {brokers: [\"b:9092\"], consumerGroup: g}}",
                                "{kind: dapr, dapr: {appPort: 5005}}");
  auto r = parseConfig(m);
  INFO((r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  REQUIRE(r->source.kind == SourceKind::Dapr);
  const auto& d = *r->source.dapr;
  CHECK(d.appPort == 5005);
  CHECK(d.address == "127.0.0.1");
  CHECK(d.subscribe == DaprSubscribe::Declarative);
  CHECK(d.pubsubName == "pubsub");
  CHECK(d.metadata.empty());
  CHECK_FALSE(d.bulkSubscribe.enabled);
  CHECK_FALSE(r->source.kafka);

  auto full = parseConfig(replace(m, "{appPort: 5005}",
                                  "{appPort: 5005, address: '::1', subscribe: programmatic, pubsubName: kafka-pubsub, "
                                  "metadata: {rawPayload: 'true'}, "
                                  "bulkSubscribe: {enabled: true, maxMessagesCount: 50, maxAwaitDuration: 250ms}}"));
  INFO((full.ok() ? "" : full.error().message));
  REQUIRE(full.ok());
  const auto& f = *full->source.dapr;
  CHECK(f.address == "::1");
  CHECK(f.subscribe == DaprSubscribe::Programmatic);
  CHECK(f.pubsubName == "kafka-pubsub");
  CHECK(f.metadata == std::map<std::string, std::string>{{"rawPayload", "true"}});
  CHECK(f.bulkSubscribe.enabled);
  CHECK(f.bulkSubscribe.maxMessagesCount == 50);
  CHECK(f.bulkSubscribe.maxAwaitDuration == Millis(250));
}

TEST_CASE("dapr source errors name the field") {
  using Catch::Matchers::StartsWith;
  const std::string m = replace(kMinimal, "{kind: kafka, kafka: {brokers: [\"b:9092\"], consumerGroup: g}}",
                                "{kind: dapr, dapr: {appPort: 5005}}");
  CHECK_THAT(errorOf(replace(m, "{appPort: 5005}", "{}")), StartsWith("source.dapr.appPort: required"));
  CHECK_THAT(errorOf(replace(m, "appPort: 5005", "appPort: 70000")), StartsWith("source.dapr.appPort: must be <="));
  CHECK_THAT(errorOf(replace(m, "appPort: 5005", "appPort: 5005, address: localhost")),
             StartsWith("source.dapr.address: must be an IP address"));
  CHECK_THAT(errorOf(replace(m, "appPort: 5005", "appPort: 5005, subscribe: both")),
             StartsWith("source.dapr.subscribe: \"both\" is not one of"));
  for (const char* key : {"pubsubName: p", "metadata: {a: b}", "bulkSubscribe: {enabled: true}"})
    CHECK_THAT(errorOf(replace(m, "appPort: 5005", std::string("appPort: 5005, ") + key)),
               Catch::Matchers::EndsWith("only allowed with subscribe: programmatic"));
  CHECK_THAT(errorOf(replace(m, "appPort: 5005",
                             "appPort: 5005, subscribe: programmatic, bulkSubscribe: {maxAwaitDuration: 0s}")),
             StartsWith("source.dapr.bulkSubscribe.maxAwaitDuration: must be > 0"));
  CHECK_THAT(errorOf(replace(m, "appPort: 5005", "appPort: 5005, subscribe: programmatic, metadata: {a: [1]}")),
             StartsWith("source.dapr.metadata.a: must be a string"));
  CHECK_THAT(errorOf(replace(m, "appPort: 5005", "appPort: 9090")),
             StartsWith("source.dapr.appPort: must differ from the port of server.address"));
  CHECK_THAT(
      errorOf(replace(m, "{appPort: 5005}", "{appPort: 5005}, kafka: {brokers: [\"b:9092\"], consumerGroup: g}")),
      StartsWith("source.kafka: only allowed when kind is kafka"));
}

TEST_CASE("an outbox relay takes the guide's table shape by default") {
  auto r = parseConfig(std::string(kMinimal) + "outbox:\n- {name: orders, connectionFile: /s/url}\n");
  INFO((r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  const auto& o = r->outbox.at(0);
  CHECK(o.table == "outbox_events");
  CHECK(o.columns.id == "id");
  CHECK(o.columns.eventType == "event_type");
  CHECK(o.columns.topic == "topic");
  CHECK(o.columns.payload == "payload");
  CHECK(o.columns.status == "status");
  CHECK(o.columns.createdAt == "created_at");
  CHECK(o.columns.key.empty());
  CHECK(o.completion == OutboxCompletion::MarkPublished);
  CHECK(o.batchSize == 500);
  CHECK(o.pollInterval == Millis(1000));
  CHECK(o.notifyChannel.empty());
}

TEST_CASE("bad outbox settings are refused naming the field") {
  const std::string m = std::string(kMinimal) + "outbox:\n- {name: orders, connectionFile: /s/url}\n";
  CHECK_THAT(errorOf(replace(m, "connectionFile: /s/url", "connectionFile: /s/url, connectionEnv: URL")),
             Catch::StartsWith("outbox[0].connectionFile: set exactly one of"));
  CHECK_THAT(errorOf(replace(m, ", connectionFile: /s/url", "")), Catch::StartsWith("outbox[0].connectionFile:"));
  CHECK_THAT(errorOf(replace(m, "/s/url", "/s/url, table: \"x; drop table y\"")),
             Catch::StartsWith("outbox[0].table: must be [schema.]table"));
  CHECK_THAT(errorOf(replace(m, "/s/url", "/s/url, columns: {key: \"Key\"}")),
             Catch::StartsWith("outbox[0].columns.key: must be a lower-case SQL identifier"));
  CHECK_THAT(errorOf(replace(m, "/s/url", "/s/url, columns: {topic: \"\"}")),
             Catch::StartsWith("outbox[0].topic: required when columns.topic is empty"));
  CHECK_THAT(errorOf(replace(m, "/s/url", "/s/url, columns: {status: \"\"}")),
             Catch::StartsWith("outbox[0].completion: markPublished needs columns.status"));
  CHECK_THAT(errorOf(replace(m, "/s/url", "/s/url, pollInterval: 1ms")),
             Catch::StartsWith("outbox[0].pollInterval: must be at least 10ms"));
  CHECK_THAT(errorOf(replace(m, "/s/url", "/s/url, batchSize: 0")),
             Catch::StartsWith("outbox[0].batchSize: must be >= 1"));
  CHECK_THAT(errorOf(replace(m, "/s/url", "/s/url, password: hunter2")),
             Catch::StartsWith("outbox[0].password: unknown key"));
}

TEST_CASE("outbox relays need source.kafka to publish to") {
  const std::string noSource = R"(
apiVersion: runtime.eventworker.dev/v1
worker: w
handler: {kind: noop}
outbox:
- {name: orders, connectionFile: /s/url}
)";
  CHECK_THAT(errorOf(noSource), Catch::StartsWith("source.kafka: required when outbox relays are declared"));
}

TEST_CASE("a stream takes its defaults, topics sorted") {
  auto r = parseConfig(std::string(kMinimal) + "streams:\n- {name: orders, topics: [b, a], path: /streams/orders}\n");
  INFO((r.ok() ? "" : r.error().message));
  REQUIRE(r.ok());
  const auto& s = r->streams.at(0);
  CHECK(s.topics == std::vector<std::string>{"a", "b"});
  CHECK(s.fields == std::vector<std::string>{"id", "type", "source", "time", "data"});
  CHECK(s.clientBuffer == 1000);
  CHECK(s.replayEvents == 10000);
  CHECK(s.heartbeatInterval == Millis(15000));
  CHECK(s.reconnectDelay == Millis(2000));
  CHECK(s.resumeFallback == ResumeFallback::Oldest);
  CHECK(s.authMode == StreamAuthMode::None);
  CHECK(r->server.streamsAddress == "0.0.0.0:8088");
}

TEST_CASE("bad stream settings are refused naming the field") {
  const std::string m = std::string(kMinimal) + "streams:\n- {name: orders, topics: [a], path: /o}\n";
  CHECK_THAT(errorOf(replace(m, "topics: [a]", "topics: []")), Catch::StartsWith("streams[0].topics: required"));
  CHECK_THAT(errorOf(replace(m, "topics: [a]", "topics: [a, \"b c\"]")),
             Catch::StartsWith("streams[0].topics[1]: not a Kafka topic name"));
  CHECK_THAT(errorOf(replace(m, "path: /o", "path: o")), Catch::StartsWith("streams[0].path: must be an HTTP path"));
  CHECK_THAT(errorOf(replace(m, "path: /o", "path: /o, fields: [id, secret]")),
             Catch::StartsWith("streams[0].fields[1]: \"secret\" is not an event field"));
  CHECK_THAT(errorOf(replace(m, "path: /o", "path: /o, clientBuffer: 20, replayEvents: 10")),
             Catch::StartsWith("streams[0].clientBuffer: must not exceed replayEvents"));
  CHECK_THAT(errorOf(replace(m, "path: /o", "path: /o, auth: {mode: bearer}")),
             Catch::StartsWith("streams[0].auth.url: required"));
  CHECK_THAT(errorOf(replace(m, "path: /o", "path: /o, auth: {mode: bearer, url: \"ftp://x\"}")),
             Catch::StartsWith("streams[0].auth.url:"));
  CHECK_THAT(errorOf(replace(m, "path: /o", "path: /o, resumeFallback: latest")),
             Catch::StartsWith("streams[0].resumeFallback: \"latest\" is not one of"));
  CHECK_THAT(errorOf(m + "- {name: again, topics: [a], path: /o}\n"),
             Catch::StartsWith("streams[1].path: path \"/o\" is already a stream's"));
}
