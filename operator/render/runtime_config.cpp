// The runtime config file, in the format worker-runtime/config/FORMAT.md
// defines, with every default written out.

#include "api/operator_rules.h"
#include "ew/duration.h"
#include "render/names.h"
#include "render/render.h"

namespace ew::render {
namespace {

using ew::formatDuration;

Json retry(const api::RetrySpec& r) {
  return {{"maxAttempts", r.maxAttempts},
          {"initialBackoff", formatDuration(r.initialBackoff)},
          {"maxBackoff", formatDuration(r.maxBackoff)}};
}

Json kafka(const api::EventWorker& ew) {
  const api::KafkaSource& k = *ew.spec.kafka;
  Json out = {{"brokers", k.brokers},
              {"consumerGroup", ew.effectiveConsumerGroup()},
              {"offsetReset", k.offsetReset},
              {"commitInterval", "1s"},
              {"properties", Json::object()}};
  if (k.security) {
    Json sec = {{"protocol", k.security->protocol}};
    const bool sasl = k.security->protocol.rfind("SASL", 0) == 0;
    const bool tls = k.security->protocol.find("SSL") != std::string::npos;
    if (sasl && k.security->saslMechanism) sec["saslMechanism"] = *k.security->saslMechanism;
    if (k.security->secretName) {
      const std::string dir = kKafkaSecretDir;
      if (sasl) {
        sec["usernameFile"] = dir + "/username";
        sec["passwordFile"] = dir + "/password";
      }
      if (tls) sec["caFile"] = dir + "/ca.crt";
      if (tls && k.security->clientCertificate) {
        sec["certFile"] = dir + "/tls.crt";
        sec["keyFile"] = dir + "/tls.key";
      }
    }
    out["security"] = sec;
  }
  return out;
}

Json handler(const api::HandlerSpec& h) {
  if (h.kind == api::HandlerSpec::Kind::Noop) return {{"kind", "noop"}};
  const std::string host = h.host.find(':') != std::string::npos ? "[" + h.host + "]" : h.host;
  return {{"kind", "http"},
          {"http",
           {{"url", "http://" + host + ":" + std::to_string(h.port)},
            {"allowNonLoopback", h.allowNonLoopback},
            {"timeout", formatDuration(h.timeout)},
            {"maxConnections", h.maxConnections}}}};
}

Json subscription(const api::Subscription& s) {
  Json out = {{"name", s.name},
              {"topic", s.topic},
              {"route", s.route},
              {"concurrency", s.concurrency},
              {"ordering", s.ordering},
              {"retry", retry(s.retry)},
              {"maxEventBytes", s.maxEventBytes},
              {"requireCloudEvent", s.requireCloudEvent}};
  if (s.deadLetterTopic) out["deadLetterTopic"] = *s.deadLetterTopic;
  Json idem = {
      {"kind", s.idempotency.kind}, {"ttl", formatDuration(s.idempotency.ttl)}, {"capacity", s.idempotency.capacity}};
  if (s.idempotency.redisAddress) idem["redisAddress"] = *s.idempotency.redisAddress;
  out["idempotency"] = idem;
  return out;
}

Json cronJob(const api::CronJob& c) {
  return {{"name", c.name},
          {"schedule", c.schedule},
          {"route", c.route},
          {"concurrencyPolicy", c.concurrencyPolicy},
          {"startingDeadlineSeconds", c.startingDeadlineSeconds},
          {"timeout", formatDuration(c.timeout)},
          {"retry", retry(c.retry)}};
}

Json outboxRelay(const api::OutboxRelay& r) {
  const auto& c = r.columns;
  Json columns = {{"id", c.id},           {"eventType", c.eventType}, {"topic", c.topic},
                  {"payload", c.payload}, {"status", c.status},       {"createdAt", c.createdAt}};
  if (!c.key.empty()) columns["key"] = c.key;
  if (!c.headers.empty()) columns["headers"] = c.headers;
  if (!c.error.empty()) columns["error"] = c.error;
  Json out = {{"name", r.name},
              {"connectionFile", std::string(kOutboxSecretDir) + "/" + r.name + "/" + r.secretKey},
              {"table", r.table},
              {"columns", columns},
              {"completion", r.completion},
              {"batchSize", r.batchSize},
              {"pollInterval", formatDuration(r.pollInterval)}};
  if (r.topic) out["topic"] = *r.topic;
  if (r.notifyChannel) out["notifyChannel"] = *r.notifyChannel;
  return out;
}

Json stream(const api::Stream& s) {
  Json out = {{"name", s.name},
              {"topics", s.topics},
              {"path", s.path},
              {"fields", s.fields},
              {"clientBuffer", s.clientBuffer},
              {"replayEvents", s.replayEvents},
              {"heartbeatInterval", formatDuration(s.heartbeatInterval)},
              {"reconnectDelay", formatDuration(s.reconnectDelay)},
              {"resumeFallback", s.resumeFallback}};
  Json filter = Json::object();
  if (!s.filterTypes.empty()) filter["types"] = s.filterTypes;
  if (!s.filterKeys.empty()) filter["keys"] = s.filterKeys;
  if (!filter.empty()) out["filter"] = filter;
  if (s.auth.mode == "bearer")
    out["auth"] = {{"mode", "bearer"}, {"url", s.auth.url.value_or("")}, {"cacheTTL", formatDuration(s.auth.cacheTTL)}};
  return out;
}

}  // namespace

std::string runtimeConfig(const api::EventWorker& ew) {
  const auto& spec = ew.spec;
  Json config = {{"apiVersion", "runtime.eventworker.dev/v1"},
                 {"worker", ew.metadata.name},
                 {"namespace", ew.metadata.nameSpace},
                 {"service", spec.service},
                 {"handler", handler(spec.handler)}};
  // The outbox relays publish to spec.source.kafka, read from source.kafka
  // (so not beside Dapr-delivered subscriptions: an operator rule says so).
  if (!spec.subscriptions.empty()) {
    if (spec.dapr.enabled)
      config["source"] = {{"kind", "dapr"}, {"dapr", {{"appPort", spec.dapr.appPort}}}};
    else
      config["source"] = {{"kind", "kafka"}, {"kafka", kafka(ew)}};
  } else if ((!spec.outbox.empty() || !spec.streams.empty()) && spec.kafka) {
    config["source"] = {{"kind", "kafka"}, {"kafka", kafka(ew)}};
  }
  Json subs = Json::array();
  for (const auto& s : spec.subscriptions) subs.push_back(subscription(s));
  config["subscriptions"] = subs;
  Json cron = Json::array();
  for (const auto& c : spec.cron)
    if (!c.suspend) cron.push_back(cronJob(c));
  config["cron"] = cron;
  if (!spec.outbox.empty()) {
    Json outbox = Json::array();
    for (const auto& r : spec.outbox) outbox.push_back(outboxRelay(r));
    config["outbox"] = outbox;
  }
  if (!spec.streams.empty()) {
    Json streams = Json::array();
    for (const auto& s : spec.streams) streams.push_back(stream(s));
    config["streams"] = streams;
  }
  const int drain = drainSeconds(spec.runtime.gracePeriodSeconds);
  config["server"] = {{"address", "0.0.0.0:" + std::to_string(spec.runtime.metricsPort)},
                      {"gracePeriod", std::to_string(drain) + "s"}};
  if (!spec.streams.empty()) config["server"]["streamsAddress"] = "0.0.0.0:" + std::to_string(api::kStreamsPort);
  config["log"] = {{"format", spec.runtime.logFormat}, {"level", spec.runtime.logLevel}};
  return api::toYaml(config);
}

}  // namespace ew::render
