#include "api/decode.h"

#include "ew/duration.h"

namespace ew::api {
namespace {

// Thrown inside decoding only; turned into an Error at the boundary.
struct DecodeError {
  std::string message;
};

std::vector<std::string> strings(const Json& o, const char* key) {
  std::vector<std::string> out;
  for (const auto& s : o.value(key, Json::array())) out.push_back(s.get<std::string>());
  return out;
}

std::optional<std::string> optString(const Json& o, const char* key) {
  if (!o.contains(key) || o[key].is_null()) return std::nullopt;
  return o[key].get<std::string>();
}

Millis duration(const Json& o, const char* key, Millis fallback, const std::string& path) {
  if (!o.contains(key)) return fallback;
  auto d = ew::parseDuration(o[key].get<std::string>(), path + "." + key);
  if (!d) throw DecodeError{d.error().message};
  return *d;
}

std::string quantity(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Resources resources(const Json& o) {
  Resources r;
  const Json requests = o.value("requests", Json::object()), limits = o.value("limits", Json::object());
  for (const auto& [k, v] : requests.items()) r.requests[k] = quantity(v);
  for (const auto& [k, v] : limits.items()) r.limits[k] = quantity(v);
  return r;
}

RetrySpec retry(const Json& o, RetrySpec r, const std::string& path) {
  r.maxAttempts = o.value("maxAttempts", r.maxAttempts);
  r.initialBackoff = duration(o, "initialBackoff", r.initialBackoff, path);
  r.maxBackoff = duration(o, "maxBackoff", r.maxBackoff, path);
  return r;
}

HandlerSpec handler(const Json& o) {
  HandlerSpec h;
  h.image = o.value("image", "");
  h.imagePullPolicy = optString(o, "imagePullPolicy");
  h.command = strings(o, "command");
  h.args = strings(o, "args");
  h.env = o.value("env", Json::array());
  h.kind = o.value("kind", "http") == "noop" ? HandlerSpec::Kind::Noop : HandlerSpec::Kind::Http;
  h.host = o.value("host", h.host);
  h.allowNonLoopback = o.value("allowNonLoopback", false);
  h.port = o.value("port", h.port);
  h.timeout = duration(o, "timeout", h.timeout, "spec.handler");
  h.maxConnections = o.value("maxConnections", h.maxConnections);
  h.resources = resources(o.value("resources", Json::object()));
  return h;
}

RuntimeSpec runtimeSpec(const Json& o) {
  RuntimeSpec r;
  r.image = optString(o, "image");
  r.resources = resources(o.value("resources", Json::object()));
  r.metricsPort = o.value("metricsPort", r.metricsPort);
  r.gracePeriodSeconds = o.value("gracePeriodSeconds", r.gracePeriodSeconds);
  r.logFormat = o.value("logFormat", r.logFormat);
  r.logLevel = o.value("logLevel", r.logLevel);
  return r;
}

KafkaSource kafka(const Json& o) {
  KafkaSource k;
  k.brokers = strings(o, "brokers");
  k.consumerGroup = optString(o, "consumerGroup");
  k.offsetReset = o.value("offsetReset", k.offsetReset);
  if (o.contains("security")) {
    const Json& s = o["security"];
    KafkaSecurity sec;
    sec.protocol = s.value("protocol", sec.protocol);
    sec.saslMechanism = optString(s, "saslMechanism");
    if (s.contains("secretRef")) sec.secretName = optString(s["secretRef"], "name");
    sec.clientCertificate = s.value("clientCertificate", false);
    if (s.contains("operatorSecretRef")) sec.operatorSecretName = optString(s["operatorSecretRef"], "name");
    k.security = sec;
  }
  return k;
}

DaprSpec dapr(const Json& o) {
  DaprSpec d;
  d.enabled = o.value("enabled", false);
  d.appId = optString(o, "appId");
  d.appPort = o.value("appPort", d.appPort);
  d.pubsubName = o.value("pubsubName", d.pubsubName);
  d.logLevel = o.value("logLevel", d.logLevel);
  return d;
}

Subscription subscription(const Json& o, const std::string& path) {
  Subscription s;
  s.name = o.value("name", "");
  s.topic = o.value("topic", "");
  s.route = o.value("route", "");
  s.deadLetterTopic = optString(o, "deadLetterTopic");
  s.concurrency = o.value("concurrency", s.concurrency);
  s.ordering = o.value("ordering", s.ordering);
  s.retry = retry(o.value("retry", Json::object()), s.retry, path + ".retry");
  s.maxEventBytes = o.value("maxEventBytes", s.maxEventBytes);
  s.requireCloudEvent = o.value("requireCloudEvent", false);
  const Json idem = o.value("idempotency", Json::object());
  s.idempotency.kind = idem.value("kind", s.idempotency.kind);
  s.idempotency.ttl = duration(idem, "ttl", s.idempotency.ttl, path + ".idempotency");
  s.idempotency.capacity = idem.value("capacity", s.idempotency.capacity);
  s.idempotency.redisAddress = optString(idem, "redisAddress");
  return s;
}

CronJob cronJob(const Json& o, const std::string& path) {
  CronJob c;
  c.name = o.value("name", "");
  c.schedule = o.value("schedule", "");
  c.route = o.value("route", "");
  c.concurrencyPolicy = o.value("concurrencyPolicy", c.concurrencyPolicy);
  c.startingDeadlineSeconds = o.value("startingDeadlineSeconds", c.startingDeadlineSeconds);
  c.timeout = duration(o, "timeout", c.timeout, path);
  c.retry = retry(o.value("retry", Json::object()), c.retry, path + ".retry");
  c.suspend = o.value("suspend", false);
  return c;
}

OutboxRelay outboxRelay(const Json& o, const std::string& path) {
  OutboxRelay r;
  r.name = o.value("name", "");
  const Json ref = o.value("connectionSecretRef", Json::object());
  r.secretName = ref.value("name", "");
  r.secretKey = ref.value("key", r.secretKey);
  r.table = o.value("table", r.table);
  r.topic = optString(o, "topic");
  const Json c = o.value("columns", Json::object());
  r.columns = OutboxColumns{c.value("id", "id"),         c.value("eventType", "event_type"), c.value("topic", "topic"),
                            c.value("key", ""),          c.value("payload", "payload"),      c.value("headers", ""),
                            c.value("status", "status"), c.value("createdAt", "created_at"), c.value("error", "")};
  r.completion = o.value("completion", r.completion);
  r.batchSize = o.value("batchSize", r.batchSize);
  r.pollInterval = duration(o, "pollInterval", r.pollInterval, path);
  r.notifyChannel = optString(o, "notifyChannel");
  return r;
}

Stream stream(const Json& o, const std::string& path) {
  Stream s;
  s.name = o.value("name", "");
  s.topics = o.value("topics", s.topics);
  s.path = o.value("path", "");
  const Json filter = o.value("filter", Json::object());
  s.filterTypes = filter.value("types", s.filterTypes);
  s.filterKeys = filter.value("keys", s.filterKeys);
  s.fields = o.value("fields", s.fields);
  s.clientBuffer = o.value("clientBuffer", s.clientBuffer);
  s.replayEvents = o.value("replayEvents", s.replayEvents);
  s.heartbeatInterval = duration(o, "heartbeatInterval", s.heartbeatInterval, path);
  s.reconnectDelay = duration(o, "reconnectDelay", s.reconnectDelay, path);
  s.resumeFallback = o.value("resumeFallback", s.resumeFallback);
  const Json auth = o.value("auth", Json::object());
  s.auth.mode = auth.value("mode", s.auth.mode);
  s.auth.url = optString(auth, "url");
  s.auth.cacheTTL = duration(auth, "cacheTTL", s.auth.cacheTTL, path + ".auth");
  return s;
}

StreamsScalingSpec streamsScaling(const Json& o) {
  StreamsScalingSpec s;
  s.minReplicas = o.value("minReplicas", s.minReplicas);
  s.maxReplicas = o.value("maxReplicas", s.maxReplicas);
  s.targetClientsPerReplica = o.value("targetClientsPerReplica", s.targetClientsPerReplica);
  s.scaleDownStabilizationSeconds = o.value("scaleDownStabilizationSeconds", s.scaleDownStabilizationSeconds);
  return s;
}

ScalingSpec scaling(const Json& o) {
  ScalingSpec s;
  s.minReplicas = o.value("minReplicas", s.minReplicas);
  s.maxReplicas = o.value("maxReplicas", s.maxReplicas);
  s.lagThreshold = o.value("lagThreshold", s.lagThreshold);
  s.activationLagThreshold = o.value("activationLagThreshold", s.activationLagThreshold);
  if (o.contains("targetDrainSeconds")) s.targetDrainSeconds = o["targetDrainSeconds"].get<int>();
  s.pollIntervalSeconds = o.value("pollIntervalSeconds", s.pollIntervalSeconds);
  s.scaleDownStabilizationSeconds = o.value("scaleDownStabilizationSeconds", s.scaleDownStabilizationSeconds);
  s.enabled = o.value("enabled", s.enabled);
  s.cooldownSeconds = o.value("cooldownSeconds", s.cooldownSeconds);
  s.maxScaleDownPercent = o.value("maxScaleDownPercent", s.maxScaleDownPercent);
  s.allowIdleConsumers = o.value("allowIdleConsumers", s.allowIdleConsumers);
  s.predictive = o.value("predictive", s.predictive);
  const Json fb = o.value("fallback", Json::object());
  s.fallback.failureThreshold = fb.value("failureThreshold", s.fallback.failureThreshold);
  if (fb.contains("replicas")) s.fallback.replicas = fb["replicas"].get<int>();
  return s;
}

EventWorker decode(const Json& object) {
  EventWorker ew;
  const Json meta = object.value("metadata", Json::object());
  ew.metadata.name = meta.value("name", "");
  ew.metadata.nameSpace = meta.value("namespace", "");
  ew.metadata.uid = meta.value("uid", "");
  ew.metadata.generation = meta.value("generation", std::int64_t{0});
  const Json labels = meta.value("labels", Json::object());
  for (const auto& [k, v] : labels.items())
    if (v.is_string()) ew.metadata.labels[k] = v.get<std::string>();

  const Json spec = object.value("spec", Json::object());
  EventWorkerSpec& s = ew.spec;
  s.service = spec.value("service", "");
  if (spec.contains("replicas")) s.replicas = spec["replicas"].get<int>();
  s.handler = handler(spec.value("handler", Json::object()));
  s.runtime = runtimeSpec(spec.value("runtime", Json::object()));
  const Json source = spec.value("source", Json::object());
  if (source.contains("kafka")) s.kafka = kafka(source["kafka"]);
  s.dapr = dapr(spec.value("dapr", Json::object()));
  const Json subs = spec.value("subscriptions", Json::array());
  for (std::size_t i = 0; i < subs.size(); ++i)
    s.subscriptions.push_back(subscription(subs[i], "spec.subscriptions[" + std::to_string(i) + "]"));
  const Json cron = spec.value("cron", Json::array());
  for (std::size_t i = 0; i < cron.size(); ++i)
    s.cron.push_back(cronJob(cron[i], "spec.cron[" + std::to_string(i) + "]"));
  const Json outbox = spec.value("outbox", Json::array());
  for (std::size_t i = 0; i < outbox.size(); ++i)
    s.outbox.push_back(outboxRelay(outbox[i], "spec.outbox[" + std::to_string(i) + "]"));
  const Json streams = spec.value("streams", Json::array());
  for (std::size_t i = 0; i < streams.size(); ++i)
    s.streams.push_back(stream(streams[i], "spec.streams[" + std::to_string(i) + "]"));
  s.streamsScaling = streamsScaling(spec.value("streamsScaling", Json::object()));
  s.scaling = scaling(spec.value("scaling", Json::object()));
  if (spec.contains("migrateFrom")) {
    const Json& m = spec["migrateFrom"];
    s.migrateFrom = MigrateFrom{m.value("appId", ""), m.value("handoff", "pause"), m.value("settleSeconds", 10),
                                m.value("programmaticSubscriptions", false)};
  }
  return ew;
}

}  // namespace

Result<EventWorker> decodeEventWorker(const Json& object) {
  try {
    return decode(object);
  } catch (const DecodeError& e) {
    return Error{e.message};
  } catch (const Json::exception& e) {
    return Error{std::string("unexpected shape (was the schema applied?): ") + e.what()};
  }
}

}  // namespace ew::api
