#include "api/cel_rules.h"

#include <regex>
#include <set>

#include "ew/duration.h"

namespace ew::api {
namespace {

using Check = std::function<void(const Json&, const std::string& path, FieldErrors&)>;

const Json& at(const Json& o, const char* key) {
  static const Json kNull;
  return o.is_object() && o.contains(key) ? o[key] : kNull;
}

bool has(const Json& o, const char* key) { return o.is_object() && o.contains(key) && !o[key].is_null(); }

// Runs CHECK on every item of spec.<list>, with the item's path.
void eachItem(const Json& ew, const char* list, const Check& check, FieldErrors& errors) {
  const Json& items = at(at(ew, "spec"), list);
  if (!items.is_array()) return;
  for (std::size_t i = 0; i < items.size(); ++i)
    check(items[i], std::string("spec.") + list + "[" + std::to_string(i) + "]", errors);
}

long long millis(const Json& v) {
  if (!v.is_string()) return 0;
  auto d = ew::parseDuration(v.get<std::string>(), "");
  return d ? d->count() : 0;
}

void retryRules(const Json& retry, const std::string& path, FieldErrors& errors, const std::string& message) {
  if (!retry.is_object() || !has(retry, "initialBackoff") || !has(retry, "maxBackoff")) return;
  if (millis(retry["initialBackoff"]) > millis(retry["maxBackoff"])) errors.push_back({path, message});
}

void maxBackoffRule(const Json& retry, const std::string& path, FieldErrors& errors, const std::string& message) {
  if (has(retry, "maxBackoff") && millis(retry["maxBackoff"]) > 3'600'000)
    errors.push_back({path + ".maxBackoff", message});
}

void positiveDuration(const Json& o, const char* key, const std::string& path, long long minimum, FieldErrors& errors,
                      const std::string& message) {
  if (has(o, key) && millis(o[key]) < minimum) errors.push_back({path + "." + key, message});
}

const char* kRetryOrder = "initialBackoff must not exceed maxBackoff";
const char* kRetryPositive = "initialBackoff must be greater than 0";
const char* kTimeoutPositive = "timeout must be greater than 0";
const char* kRetryCap = "maxBackoff must be at most 1h";

// The retry rules of an item (a subscription or a cron job), at PATH.retry.
void retryOrderItem(const Json& item, const std::string& path, FieldErrors& e, const std::string& m) {
  retryRules(at(item, "retry"), path + ".retry", e, m);
}
void retryCapItem(const Json& item, const std::string& path, FieldErrors& e, const std::string& m) {
  maxBackoffRule(at(item, "retry"), path + ".retry", e, m);
}
void retryPositiveItem(const Json& item, const std::string& path, FieldErrors& e, const std::string& m) {
  positiveDuration(at(item, "retry"), "initialBackoff", path + ".retry", 1, e, m);
}

// The rules in the order the CRD lists them, added group by group.
class RuleTable {
 public:
  using WholeCheck = std::function<void(const Json& ew, FieldErrors&, const std::string& message)>;
  using ItemCheck =
      std::function<void(const Json& item, const std::string& path, FieldErrors&, const std::string& message)>;

  void add(std::string schemaPath, std::string message, WholeCheck f) {
    CelRule r{std::move(schemaPath), message, nullptr};
    r.check = [f = std::move(f), message](const Json& ew, FieldErrors& errors) { f(ew, errors, message); };
    rules_.push_back(std::move(r));
  }
  // A rule checked on every item of spec.<LIST>, F given the item's path.
  void addEach(std::string schemaPath, const char* list, std::string message, ItemCheck f) {
    add(std::move(schemaPath), std::move(message),
        [list, f = std::move(f)](const Json& ew, FieldErrors& e, const std::string& m) {
          eachItem(
              ew, list,
              [&](const Json& item, const std::string& path, FieldErrors& errors) { f(item, path, errors, m); }, e);
        });
  }
  std::vector<CelRule> take() { return std::move(rules_); }

 private:
  std::vector<CelRule> rules_;
};

void addObjectRules(RuleTable& t) {
  t.add("",
        "metadata.name must be at most 55 characters so that <name>-runtime, <name>-events, <name>-cron, "
        "<name>-outbox and <name>-streams are valid DNS labels",
        [](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& name = at(at(ew, "metadata"), "name");
          if (name.is_string() && name.get<std::string>().size() > 55) e.push_back({"metadata.name", m});
        });
  t.add("",
        "spec.migrateFrom.appId must differ from the worker's own Dapr app id (spec.dapr.appId, or metadata.name when "
        "unset)",
        [](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& spec = at(ew, "spec");
          if (!has(spec, "migrateFrom")) return;
          const Json& dapr = at(spec, "dapr");
          const Json own = has(dapr, "appId") ? dapr["appId"] : at(at(ew, "metadata"), "name");
          if (at(spec["migrateFrom"], "appId") == own) e.push_back({"spec.migrateFrom.appId", m});
        });
  t.add("spec", "at least one subscription, cron job, outbox relay or stream is required",
        [](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& spec = at(ew, "spec");
          const auto size = [&](const char* k) { return at(spec, k).is_array() ? at(spec, k).size() : 0; };
          if (size("subscriptions") == 0 && size("cron") == 0 && size("outbox") == 0 && size("streams") == 0)
            e.push_back({"spec", m});
        });
  t.add("spec", "spec.source.kafka is required when streams are declared (they read from it)",
        [](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& spec = at(ew, "spec");
          if (at(spec, "streams").is_array() && !spec["streams"].empty() && !has(at(spec, "source"), "kafka"))
            e.push_back({"spec.source.kafka", m});
        });
  t.add("spec", "spec.source.kafka is required when outbox relays are declared (they publish to it)",
        [](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& spec = at(ew, "spec");
          if (at(spec, "outbox").is_array() && !spec["outbox"].empty() && !has(at(spec, "source"), "kafka"))
            e.push_back({"spec.source.kafka", m});
        });
  t.add(
      "spec",
      "spec.source.kafka is required when subscriptions are declared (the worker consumes from it, and scales on "
      "its lag)",
      [](const Json& ew, FieldErrors& e, const std::string& m) {
        const Json& spec = at(ew, "spec");
        if (at(spec, "subscriptions").is_array() && !spec["subscriptions"].empty() && !has(at(spec, "source"), "kafka"))
          e.push_back({"spec.source.kafka", m});
      });
  t.add("spec", "spec.migrateFrom requires spec.dapr.enabled: true (migration moves Dapr subscriptions)",
        [](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& spec = at(ew, "spec");
          if (has(spec, "migrateFrom") && at(at(spec, "dapr"), "enabled") != true) e.push_back({"spec.migrateFrom", m});
        });
}

void addHandlerRules(RuleTable& t) {
  t.add("spec.handler",
        "handler.host must be a loopback address (127.0.0.1, localhost or ::1) unless allowNonLoopback is true",
        [](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& h = at(at(ew, "spec"), "handler");
          if (!h.is_object() || at(h, "allowNonLoopback") == true) return;
          const Json& host = at(h, "host");
          if (host.is_string() && host != "127.0.0.1" && host != "localhost" && host != "::1")
            e.push_back({"spec.handler.host", m});
        });
  t.add("spec.handler", kTimeoutPositive, [](const Json& ew, FieldErrors& e, const std::string& m) {
    positiveDuration(at(at(ew, "spec"), "handler"), "timeout", "spec.handler", 1, e, m);
  });
}

void addKafkaSecurityRules(RuleTable& t) {
  const auto security = [](const Json& ew) -> const Json& {
    return at(at(at(at(ew, "spec"), "source"), "kafka"), "security");
  };
  t.add("spec.source.kafka.security", "SASL protocols require saslMechanism and secretRef",
        [security](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& s = security(ew);
          if (!s.is_object()) return;
          const Json& p = at(s, "protocol");
          if (p.is_string() && p.get<std::string>().rfind("SASL", 0) == 0 &&
              (!has(s, "saslMechanism") || !has(s, "secretRef")))
            e.push_back({"spec.source.kafka.security", m});
        });
  t.add("spec.source.kafka.security", "clientCertificate requires protocol SSL or SASL_SSL and secretRef",
        [security](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& s = security(ew);
          if (!s.is_object() || at(s, "clientCertificate") != true) return;
          const Json& p = at(s, "protocol");
          if (!(p == "SSL" || p == "SASL_SSL") || !has(s, "secretRef")) e.push_back({"spec.source.kafka.security", m});
        });
  t.add("spec.source.kafka.security", "operatorSecretRef is only for protocols other than PLAINTEXT",
        [security](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& s = security(ew);
          if (s.is_object() && has(s, "operatorSecretRef") && at(s, "protocol") == "PLAINTEXT")
            e.push_back({"spec.source.kafka.security", m});
        });
}

void addSubscriptionRules(RuleTable& t) {
  t.addEach("spec.subscriptions[*]", "subscriptions", "deadLetterTopic must differ from topic",
            [](const Json& s, const std::string& path, FieldErrors& e, const std::string& m) {
              if (has(s, "deadLetterTopic") && at(s, "deadLetterTopic") == at(s, "topic"))
                e.push_back({path + ".deadLetterTopic", m});
            });
  t.addEach("spec.subscriptions[*].retry", "subscriptions", kRetryOrder, retryOrderItem);
  t.addEach("spec.subscriptions[*].retry", "subscriptions", kRetryCap, retryCapItem);
  t.addEach("spec.subscriptions[*].retry", "subscriptions", kRetryPositive, retryPositiveItem);
  t.addEach("spec.subscriptions[*].idempotency", "subscriptions", "ttl must be at least 1s",
            [](const Json& s, const std::string& path, FieldErrors& e, const std::string& m) {
              positiveDuration(at(s, "idempotency"), "ttl", path + ".idempotency", 1000, e, m);
            });
  t.addEach("spec.subscriptions[*].idempotency", "subscriptions", "redisAddress is required when kind is redis",
            [](const Json& s, const std::string& path, FieldErrors& e, const std::string& m) {
              const Json& i = at(s, "idempotency");
              if (at(i, "kind") == "redis" && !has(i, "redisAddress")) e.push_back({path + ".idempotency", m});
            });
}

void addCronRules(RuleTable& t) {
  t.addEach(
      "spec.cron[*]", "cron",
      "schedule must be a macro (@hourly, @daily, @every 5m, ...) or have 5 or 6 space-separated fields",
      [](const Json& c, const std::string& path, FieldErrors& e, const std::string& m) {
        static const std::regex shape(
            R"(^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|@every ([0-9]+(ms|s|m|h))+|[^ ]+( +[^ ]+){4,5})$)");
        const Json& s = at(c, "schedule");
        if (s.is_string() && !std::regex_match(s.get<std::string>(), shape)) e.push_back({path + ".schedule", m});
      });
  t.addEach("spec.cron[*].retry", "cron", kRetryOrder, retryOrderItem);
  t.addEach("spec.cron[*].retry", "cron", kRetryCap, retryCapItem);
  t.addEach("spec.cron[*]", "cron", kTimeoutPositive,
            [](const Json& c, const std::string& path, FieldErrors& e, const std::string& m) {
              positiveDuration(c, "timeout", path, 1, e, m);
            });
  t.addEach("spec.cron[*].retry", "cron", kRetryPositive, retryPositiveItem);
}

void addOutboxRules(RuleTable& t) {
  t.addEach("spec.outbox[*]", "outbox", "set topic (one topic for every row) or columns.topic (a topic per row)",
            [](const Json& o, const std::string& path, FieldErrors& e, const std::string& m) {
              if (!has(o, "topic") && at(at(o, "columns"), "topic") == "") e.push_back({path + ".topic", m});
            });
  t.addEach("spec.outbox[*]", "outbox", "completion markPublished needs columns.status",
            [](const Json& o, const std::string& path, FieldErrors& e, const std::string& m) {
              if (at(o, "completion") == "markPublished" && at(at(o, "columns"), "status") == "")
                e.push_back({path + ".completion", m});
            });
}

void addStreamRules(RuleTable& t) {
  t.add("spec.streams", "each stream needs a path of its own",
        [](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& streams = at(at(ew, "spec"), "streams");
          if (!streams.is_array()) return;
          std::set<Json> paths;
          for (const auto& s : streams)
            if (!paths.insert(at(s, "path")).second) {
              e.push_back({"spec.streams", m});
              return;
            }
        });
  t.addEach("spec.streams[*]", "streams",
            "clientBuffer must not exceed replayEvents (a client is cut off before it falls out of the replay window)",
            [](const Json& s, const std::string& path, FieldErrors& e, const std::string& m) {
              if (at(s, "clientBuffer").is_number() && at(s, "replayEvents").is_number() &&
                  s["clientBuffer"] > s["replayEvents"])
                e.push_back({path + ".clientBuffer", m});
            });
  t.addEach(
      "spec.streams[*]", "streams", "heartbeatInterval must be between 1s and 5m",
      [](const Json& s, const std::string& path, FieldErrors& e, const std::string& m) {
        const Json& h = at(s, "heartbeatInterval");
        if (h.is_string() && ew::parseDuration(h.get<std::string>(), "") && (millis(h) < 1000 || millis(h) > 300'000))
          e.push_back({path + ".heartbeatInterval", m});
      });
  t.addEach("spec.streams[*].auth", "streams", "url is required when mode is bearer",
            [](const Json& s, const std::string& path, FieldErrors& e, const std::string& m) {
              const Json& a = at(s, "auth");
              if (at(a, "mode") == "bearer" && !has(a, "url")) e.push_back({path + ".auth.url", m});
            });
}

void addScalingRules(RuleTable& t) {
  t.add(
      "spec.scaling", "minReplicas must be less than or equal to maxReplicas",
      [](const Json& ew, FieldErrors& e, const std::string& m) {
        const Json& s = at(at(ew, "spec"), "scaling");
        if (at(s, "minReplicas").is_number() && at(s, "maxReplicas").is_number() && s["minReplicas"] > s["maxReplicas"])
          e.push_back({"spec.scaling", m});
      });
  t.add("spec.scaling", "fallback.replicas must be less than or equal to maxReplicas",
        [](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& s = at(at(ew, "spec"), "scaling");
          const Json& r = at(at(s, "fallback"), "replicas");
          if (r.is_number() && at(s, "maxReplicas").is_number() && r > s["maxReplicas"])
            e.push_back({"spec.scaling", m});
        });
  t.add("spec.streamsScaling", "minReplicas must be less than or equal to maxReplicas",
        [](const Json& ew, FieldErrors& e, const std::string& m) {
          const Json& s = at(at(ew, "spec"), "streamsScaling");
          const Json min = at(s, "minReplicas").is_number() ? s["minReplicas"] : Json(2);
          const Json max = at(s, "maxReplicas").is_number() ? s["maxReplicas"] : Json(10);
          if (s.is_object() && min > max) e.push_back({"spec.streamsScaling", m});
        });
}

std::vector<CelRule> build() {
  RuleTable t;
  addObjectRules(t);
  addHandlerRules(t);
  addKafkaSecurityRules(t);
  addSubscriptionRules(t);
  addCronRules(t);
  addOutboxRules(t);
  addStreamRules(t);
  addScalingRules(t);
  return t.take();
}

}  // namespace

const std::vector<CelRule>& celRules() {
  static const std::vector<CelRule> rules = build();
  return rules;
}

void checkCelRules(const Json& eventWorker, FieldErrors& errors) {
  for (const auto& r : celRules()) r.check(eventWorker, errors);
}

}  // namespace ew::api
