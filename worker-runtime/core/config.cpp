#include "core/config.h"

#include <arpa/inet.h>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/config_reader.h"
#include "core/http_target.h"

namespace ew::runtime {
namespace {

using namespace config_reader;

constexpr EnumName<SourceKind> kSourceKinds[] = {{"kafka", SourceKind::Kafka}, {"dapr", SourceKind::Dapr}};
constexpr EnumName<DaprSubscribe> kDaprSubscribes[] = {{"declarative", DaprSubscribe::Declarative},
                                                       {"programmatic", DaprSubscribe::Programmatic}};
constexpr EnumName<HandlerKind> kHandlerKinds[] = {
    {"http", HandlerKind::Http}, {"exec", HandlerKind::Exec}, {"noop", HandlerKind::Noop}};
constexpr EnumName<IdempotencyKind> kIdempotencyKinds[] = {
    {"none", IdempotencyKind::None}, {"memory", IdempotencyKind::Memory}, {"redis", IdempotencyKind::Redis}};
constexpr EnumName<Ordering> kOrderings[] = {
    {"key", Ordering::Key}, {"partition", Ordering::Partition}, {"none", Ordering::None}};
constexpr EnumName<ConcurrencyPolicy> kConcurrencyPolicies[] = {{"Forbid", ConcurrencyPolicy::Forbid},
                                                                {"Allow", ConcurrencyPolicy::Allow},
                                                                {"Replace", ConcurrencyPolicy::Replace}};

RetryConfig parseRetry(const Map& parent, const std::string& key, RetryConfig def) {
  if (!parent.has(key)) return def;
  Map m(parent.node(key), parent.path(key), {"maxAttempts", "initialBackoff", "maxBackoff"});
  RetryConfig r;
  r.maxAttempts = static_cast<int>(m.integer("maxAttempts", def.maxAttempts, 1, 1000));
  r.initialBackoff = m.duration("initialBackoff", def.initialBackoff);
  r.maxBackoff = m.duration("maxBackoff", def.maxBackoff);
  if (r.initialBackoff.count() <= 0) fail(m.path("initialBackoff"), "must be > 0");
  if (r.maxBackoff < r.initialBackoff) fail(m.path("maxBackoff"), "must be >= initialBackoff");
  return r;
}

KafkaSecurityConfig parseSecurity(const Map& m) {
  KafkaSecurityConfig s;
  s.protocol = m.oneOf("protocol", "PLAINTEXT", {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"});
  const bool sasl = s.protocol.rfind("SASL_", 0) == 0;
  if (sasl)
    s.saslMechanism = m.oneOf("saslMechanism", "", {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"});
  else if (m.has("saslMechanism"))
    fail(m.path("saslMechanism"), "only allowed with protocol SASL_PLAINTEXT or SASL_SSL");
  s.usernameFile = m.str("usernameFile", "");
  s.usernameEnv = m.str("usernameEnv", "");
  s.passwordFile = m.str("passwordFile", "");
  s.passwordEnv = m.str("passwordEnv", "");
  s.caFile = m.str("caFile", "");
  s.certFile = m.str("certFile", "");
  s.keyFile = m.str("keyFile", "");
  const bool tls = s.protocol.find("SSL") != std::string::npos;
  for (const char* key : {"caFile", "certFile", "keyFile"})
    if (!tls && m.has(key)) fail(m.path(key), "only allowed with protocol SSL or SASL_SSL");
  if (s.certFile.empty() != s.keyFile.empty())
    fail(m.path(s.certFile.empty() ? "certFile" : "keyFile"), "certFile and keyFile go together");
  auto oneRef = [&](const std::string& file, const std::string& env, const char* what) {
    if (!file.empty() && !env.empty())
      fail(m.path(std::string(what) + "File"), std::string("set only one of ") + what + "File and " + what + "Env");
    if (sasl && file.empty() && env.empty())
      fail(m.path(std::string(what) + "File"), std::string("SASL needs ") + what + "File or " + what + "Env");
  };
  oneRef(s.usernameFile, s.usernameEnv, "username");
  oneRef(s.passwordFile, s.passwordEnv, "password");
  return s;
}

bool looksSecret(const std::string& property) {
  for (const char* word : {"password", "secret", "sasl.username", "key.pem", "certificate.pem", "oauthbearer"})
    if (property.find(word) != std::string::npos) return true;
  return false;
}

KafkaSourceConfig parseKafka(const Map& m) {
  KafkaSourceConfig k;
  k.brokers = m.strings("brokers");
  if (k.brokers.empty()) fail(m.path("brokers"), "required: at least one host:port");
  for (size_t i = 0; i < k.brokers.size(); ++i)
    checkHostPort(m.path("brokers") + "[" + std::to_string(i) + "]", k.brokers[i]);
  k.consumerGroup = m.str("consumerGroup", "", true);
  k.offsetReset = m.oneOf("offsetReset", "earliest", {"earliest", "latest"});
  k.commitInterval = m.duration("commitInterval", k.commitInterval);
  if (k.commitInterval.count() <= 0) fail(m.path("commitInterval"), "must be > 0");
  if (m.has("security"))
    k.security = parseSecurity(Map(m.node("security"), m.path("security"),
                                   {"protocol", "saslMechanism", "usernameFile", "usernameEnv", "passwordFile",
                                    "passwordEnv", "caFile", "certFile", "keyFile"}));
  if (m.has("properties")) {
    const YAML::Node props = m.node("properties");
    if (!props.IsMap()) fail(m.path("properties"), "must be a mapping");
    for (const auto& kv : props) {
      const std::string key = kv.first.as<std::string>();
      const std::string path = m.path("properties") + "." + key;
      if (!kv.second.IsScalar()) fail(path, "must be a string");
      if (looksSecret(key)) fail(path, "secrets are not allowed inline; use security.*File or *Env");
      k.properties[key] = kv.second.Scalar();
    }
  }
  return k;
}

bool isIpAddress(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

DaprSourceConfig parseDapr(const Map& m) {
  DaprSourceConfig d;
  if (!m.has("appPort")) fail(m.path("appPort"), "required");
  d.appPort = static_cast<int>(m.integer("appPort", 0, 1, 65535));
  d.address = m.str("address", d.address);
  if (!isIpAddress(d.address)) fail(m.path("address"), "must be an IP address (127.0.0.1, 0.0.0.0, ::1, ...)");
  d.subscribe = m.enumOf("subscribe", "declarative", kDaprSubscribes);
  const bool programmatic = d.subscribe == DaprSubscribe::Programmatic;
  for (const char* key : {"pubsubName", "metadata", "bulkSubscribe"})
    if (!programmatic && m.has(key)) fail(m.path(key), "only allowed with subscribe: programmatic");
  d.pubsubName = m.str("pubsubName", d.pubsubName);
  if (d.pubsubName.empty()) fail(m.path("pubsubName"), "must not be empty");
  if (m.has("metadata")) {
    const YAML::Node md = m.node("metadata");
    if (!md.IsMap()) fail(m.path("metadata"), "must be a mapping of strings");
    for (const auto& kv : md) {
      const std::string key = kv.first.as<std::string>();
      if (!kv.second.IsScalar()) fail(m.path("metadata") + "." + key, "must be a string");
      d.metadata[key] = kv.second.Scalar();
    }
  }
  if (m.has("bulkSubscribe")) {
    Map b(m.node("bulkSubscribe"), m.path("bulkSubscribe"), {"enabled", "maxMessagesCount", "maxAwaitDuration"});
    d.bulkSubscribe.enabled = b.boolean("enabled", false);
    d.bulkSubscribe.maxMessagesCount = static_cast<int>(b.integer("maxMessagesCount", 0, 1, 100000));
    d.bulkSubscribe.maxAwaitDuration = b.duration("maxAwaitDuration", Millis(0));
    if (b.has("maxAwaitDuration") && d.bulkSubscribe.maxAwaitDuration.count() <= 0)
      fail(b.path("maxAwaitDuration"), "must be > 0");
  }
  return d;
}

SourceConfig parseSource(const Map& m) {
  SourceConfig s;
  s.kind = m.enumOf("kind", "", kSourceKinds);
  if (s.kind == SourceKind::Kafka) {
    if (!m.has("kafka")) fail(m.path("kafka"), "required when kind is kafka");
    s.kafka = parseKafka(Map(m.node("kafka"), m.path("kafka"),
                             {"brokers", "consumerGroup", "offsetReset", "commitInterval", "security", "properties"}));
  } else {
    if (!m.has("dapr")) fail(m.path("dapr"), "required when kind is dapr");
    s.dapr = parseDapr(Map(m.node("dapr"), m.path("dapr"),
                           {"appPort", "address", "subscribe", "pubsubName", "metadata", "bulkSubscribe"}));
  }
  if (s.kind == SourceKind::Kafka && m.has("dapr")) fail(m.path("dapr"), "only allowed when kind is dapr");
  if (s.kind == SourceKind::Dapr && m.has("kafka")) fail(m.path("kafka"), "only allowed when kind is kafka");
  return s;
}

// True only for a literal loopback host: localhost, [::1], or an IPv4
// address 127.x.y.z (a name such as 127.0.0.1.example.com is not loopback).
bool isLoopbackUrl(const std::string& url) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return false;
  std::string authority = url.substr(scheme + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.find('@') != std::string::npos) return false;
  if (!authority.empty() && authority[0] == '[') {
    const auto close = authority.find(']');
    return close != std::string::npos && authority.substr(0, close + 1) == "[::1]" &&
           (close + 1 == authority.size() || authority[close + 1] == ':');
  }
  const std::string host = authority.substr(0, authority.find(':'));
  if (host == "localhost") return true;
  in_addr addr{};
  if (inet_pton(AF_INET, host.c_str(), &addr) != 1) return false;
  return (ntohl(addr.s_addr) >> 24) == 127;
}

HandlerConfig parseHandler(const Map& m) {
  HandlerConfig h;
  h.kind = m.enumOf("kind", "", kHandlerKinds);
  if (m.has("http")) {
    Map x(m.node("http"), m.path("http"), {"url", "allowNonLoopback", "timeout", "maxConnections"});
    HttpHandlerConfig c;
    c.url = x.str("url", "", true);
    if (c.url.rfind("http://", 0) != 0 && c.url.rfind("https://", 0) != 0)
      fail(x.path("url"), "must start with http:// or https://");
    if (auto t = parseHttpUrl(c.url); !t) fail(x.path("url"), t.error().message);
    c.allowNonLoopback = x.boolean("allowNonLoopback", false);
    if (!c.allowNonLoopback && !isLoopbackUrl(c.url))
      fail(x.path("url"), "must be a loopback address (127.0.0.1, localhost, [::1]) unless allowNonLoopback: true");
    c.timeout = x.duration("timeout", c.timeout);
    if (c.timeout.count() <= 0) fail(x.path("timeout"), "must be > 0");
    c.maxConnections = static_cast<int>(x.integer("maxConnections", 16, 1, 4096));
    h.http = c;
  }
  if (m.has("exec")) {
    Map x(m.node("exec"), m.path("exec"), {"command", "timeout"});
    ExecHandlerConfig c;
    c.command = x.strings("command");
    if (c.command.empty()) fail(x.path("command"), "required: a non-empty list");
    c.timeout = x.duration("timeout", c.timeout);
    if (c.timeout.count() <= 0) fail(x.path("timeout"), "must be > 0");
    h.exec = c;
  }
  if (h.kind == HandlerKind::Http && !h.http) fail(m.path("http"), "required when kind is http");
  if (h.kind == HandlerKind::Exec && !h.exec) fail(m.path("exec"), "required when kind is exec");
  return h;
}

IdempotencyConfig parseIdempotency(const Map& m) {
  IdempotencyConfig c;
  c.kind = m.enumOf("kind", "none", kIdempotencyKinds);
  c.ttl = m.duration("ttl", c.ttl);
  if (c.ttl.count() < 1000) fail(m.path("ttl"), "must be >= 1s");
  c.capacity = m.integer("capacity", c.capacity, 1, 100'000'000);
  c.redisAddress = m.str("redisAddress", c.redisAddress);
  if (c.kind == IdempotencyKind::Redis) checkHostPort(m.path("redisAddress"), c.redisAddress);
  return c;
}

std::string validRoute(const Map& m) {
  std::string route = m.str("route", "", true);
  if (route.empty() || route[0] != '/') fail(m.path("route"), "must start with /");
  return route;
}

SubscriptionConfig parseSubscription(const Map& m) {
  SubscriptionConfig s;
  s.name = m.str("name", "", true);
  s.topic = m.str("topic", "", true);
  if (s.topic.empty()) fail(m.path("topic"), "must not be empty");
  s.route = validRoute(m);
  s.deadLetterTopic = m.str("deadLetterTopic", "");
  if (!s.deadLetterTopic.empty() && s.deadLetterTopic == s.topic)
    fail(m.path("deadLetterTopic"), "must differ from topic");
  s.concurrency = static_cast<int>(m.integer("concurrency", 16, 1, 4096));
  s.ordering = m.enumOf("ordering", "key", kOrderings);
  s.retry = parseRetry(m, "retry", RetryConfig{});
  s.maxEventBytes = m.integer("maxEventBytes", s.maxEventBytes, 1, 100 * 1024 * 1024);
  s.requireCloudEvent = m.boolean("requireCloudEvent", false);
  if (m.has("idempotency"))
    s.idempotency = parseIdempotency(
        Map(m.node("idempotency"), m.path("idempotency"), {"kind", "ttl", "capacity", "redisAddress"}));
  return s;
}

CronJobConfig parseCronJob(const Map& m) {
  CronJobConfig c;
  c.name = m.str("name", "", true);
  c.schedule = m.str("schedule", "", true);
  if (c.schedule.empty()) fail(m.path("schedule"), "must not be empty");
  c.route = validRoute(m);
  c.concurrencyPolicy = m.enumOf("concurrencyPolicy", "Forbid", kConcurrencyPolicies);
  c.startingDeadlineSeconds = m.integer("startingDeadlineSeconds", 60, 0, 365LL * 24 * 3600);
  c.timeout = m.duration("timeout", c.timeout);
  if (c.timeout.count() <= 0) fail(m.path("timeout"), "must be > 0");
  c.retry = parseRetry(m, "retry", c.retry);
  return c;
}

template <typename T, typename F>
std::vector<T> parseList(const Map& root, const std::string& key, const std::set<std::string>& allowed, F parseOne) {
  std::vector<T> out;
  if (!root.has(key)) return out;
  const YAML::Node list = root.node(key);
  if (!list.IsSequence()) fail(root.path(key), "must be a list");
  std::set<std::string> names;
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string path = root.path(key) + "[" + std::to_string(i) + "]";
    T item = parseOne(Map(list[i], path, allowed));
    if (!names.insert(item.name).second) fail(path + ".name", "duplicate name \"" + item.name + "\"");
    out.push_back(std::move(item));
  }
  return out;
}

RuntimeConfig parseRoot(const YAML::Node& doc) {
  Map root(doc, "",
           {"apiVersion", "worker", "namespace", "service", "source", "handler", "subscriptions", "cron", "outbox",
            "streams", "server", "log"});
  const std::string apiVersion = root.str("apiVersion", "", true);
  if (apiVersion != kConfigApiVersion)
    fail("apiVersion", "\"" + apiVersion + "\" is not supported; want " + kConfigApiVersion);
  RuntimeConfig c;
  c.worker = root.str("worker", "", true);
  if (c.worker.empty()) fail("worker", "must not be empty");
  c.namespace_ = root.str("namespace", "");
  c.service = root.str("service", "");
  if (root.has("source")) c.source = parseSource(Map(root.node("source"), "source", {"kind", "kafka", "dapr"}));
  if (!root.has("handler")) fail("handler", "required");
  c.handler = parseHandler(Map(root.node("handler"), "handler", {"kind", "http", "exec"}));
  c.subscriptions =
      parseList<SubscriptionConfig>(root, "subscriptions",
                                    {"name", "topic", "route", "deadLetterTopic", "concurrency", "ordering", "retry",
                                     "maxEventBytes", "requireCloudEvent", "idempotency"},
                                    parseSubscription);
  if (!root.has("source") && !c.subscriptions.empty()) fail("source", "required when subscriptions are declared");
  std::set<std::string> topics;
  for (size_t i = 0; i < c.subscriptions.size(); ++i)
    if (!topics.insert(c.subscriptions[i].topic).second)
      fail("subscriptions[" + std::to_string(i) + "].topic",
           "topic \"" + c.subscriptions[i].topic + "\" is already used by another subscription");
  c.cron = parseList<CronJobConfig>(
      root, "cron", {"name", "schedule", "route", "concurrencyPolicy", "startingDeadlineSeconds", "timeout", "retry"},
      parseCronJob);
  c.outbox = parseList<OutboxConfig>(root, "outbox",
                                     {"name", "connectionFile", "connectionEnv", "table", "topic", "columns",
                                      "completion", "batchSize", "pollInterval", "notifyChannel"},
                                     parseOutbox);
  if (!c.outbox.empty() && !(c.source.kafka)) fail("source.kafka", "required when outbox relays are declared");
  c.streams =
      parseList<StreamConfig>(root, "streams",
                              {"name", "topics", "path", "filter", "fields", "clientBuffer", "replayEvents",
                               "heartbeatInterval", "reconnectDelay", "resumeFallback", "maxEventBytes", "auth"},
                              parseStream);
  if (!c.streams.empty() && !(c.source.kafka)) fail("source.kafka", "required when streams are declared");
  std::set<std::string> paths;
  for (size_t i = 0; i < c.streams.size(); ++i)
    if (!paths.insert(c.streams[i].path).second)
      fail("streams[" + std::to_string(i) + "].path", "path \"" + c.streams[i].path + "\" is already a stream's");
  if (root.has("server")) {
    Map s(root.node("server"), "server", {"address", "gracePeriod", "streamsAddress"});
    c.server.address = s.hostPort("address", c.server.address);
    c.server.streamsAddress = s.hostPort("streamsAddress", c.server.streamsAddress);
    c.server.gracePeriod = s.duration("gracePeriod", c.server.gracePeriod);
  }
  if (c.source.dapr &&
      c.server.address.substr(c.server.address.rfind(':') + 1) == std::to_string(c.source.dapr->appPort))
    fail("source.dapr.appPort", "must differ from the port of server.address (" + c.server.address + ")");
  if (root.has("log")) {
    Map l(root.node("log"), "log", {"format", "level"});
    c.log.format = l.oneOf("format", "text", {"text", "json"});
    c.log.level = l.oneOf("level", "info", {"trace", "debug", "info", "warn", "error", "critical", "off"});
  }
  return c;
}

}  // namespace

Result<RuntimeConfig> parseConfig(const std::string& yamlText) {
  try {
    const YAML::Node doc = YAML::Load(yamlText);
    if (!doc || doc.IsNull()) return Error{"config: empty document"};
    return parseRoot(doc);
  } catch (const ConfigError& e) {
    return Error{e.what()};
  } catch (const YAML::Exception& e) {
    return Error{std::string("config: invalid YAML: ") + e.what()};
  }
}

const char* toString(Ordering o) { return nameOf(kOrderings, o); }

const char* toString(ConcurrencyPolicy p) { return nameOf(kConcurrencyPolicies, p); }

const char* toString(OutboxCompletion c) { return nameOf(kOutboxCompletions, c); }

const char* toString(ResumeFallback f) { return nameOf(kResumeFallbacks, f); }

}  // namespace ew::runtime
