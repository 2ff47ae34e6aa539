#include "api/operator_rules.h"

#include <map>
#include <regex>

#include "api/quantity.h"
#include "ew/cron/schedule.h"

namespace ew::api {
namespace {

std::string item(const char* list, std::size_t i) {
  return std::string("spec.") + list + "[" + std::to_string(i) + "]";
}

void schedules(const EventWorker& ew, FieldErrors& errors) {
  for (std::size_t i = 0; i < ew.spec.cron.size(); ++i) {
    auto s = cron::Schedule::parse(ew.spec.cron[i].schedule);
    if (!s) errors.push_back({item("cron", i) + ".schedule", s.error().message});
  }
}

void topics(const EventWorker& ew, FieldErrors& errors) {
  std::map<std::string, std::string> owner;  // topic -> subscription
  const auto& subs = ew.spec.subscriptions;
  for (std::size_t i = 0; i < subs.size(); ++i) {
    auto [it, fresh] = owner.emplace(subs[i].topic, subs[i].name);
    if (!fresh)
      errors.push_back({item("subscriptions", i) + ".topic",
                        "topic \"" + subs[i].topic + "\" is already consumed by subscription \"" + it->second +
                            "\"; one consumer group delivers each event once, so declare one subscription per topic"});
  }
  for (std::size_t i = 0; i < subs.size(); ++i) {
    if (subs[i].deadLetterTopic && owner.count(*subs[i].deadLetterTopic))
      errors.push_back({item("subscriptions", i) + ".deadLetterTopic",
                        "dead-letter topic \"" + *subs[i].deadLetterTopic + "\" is consumed by subscription \"" +
                            owner[*subs[i].deadLetterTopic] +
                            "\"; failed events would loop back: use a topic no subscription reads"});
  }
}

void ports(const EventWorker& ew, FieldErrors& errors) {
  const auto& s = ew.spec;
  if (s.handler.kind == HandlerSpec::Kind::Http && s.handler.port == s.runtime.metricsPort)
    errors.push_back({"spec.handler.port", "port " + std::to_string(s.handler.port) +
                                               " is also spec.runtime.metricsPort; the handler and the runtime share "
                                               "the pod's network: pick different ports"});
  if (!s.dapr.enabled) return;
  auto reserved = [](int p) {
    for (int r : kDaprReservedPorts)
      if (r == p) return true;
    return false;
  };
  const std::string list = "3500, 3501, 50001, 50002, 9091";
  if (reserved(s.handler.port) && s.handler.kind == HandlerSpec::Kind::Http)
    errors.push_back({"spec.handler.port", "port " + std::to_string(s.handler.port) + " is used by the Dapr sidecar (" +
                                               list + "); pick another"});
  if (reserved(s.runtime.metricsPort))
    errors.push_back({"spec.runtime.metricsPort", "port " + std::to_string(s.runtime.metricsPort) +
                                                      " is used by the Dapr sidecar (" + list + "); pick another"});
  if (reserved(s.dapr.appPort))
    errors.push_back({"spec.dapr.appPort", "port " + std::to_string(s.dapr.appPort) + " is used by the Dapr sidecar (" +
                                               list + "); pick another"});
  if (s.dapr.appPort == s.runtime.metricsPort ||
      (s.handler.kind == HandlerSpec::Kind::Http && s.dapr.appPort == s.handler.port))
    errors.push_back({"spec.dapr.appPort", "port " + std::to_string(s.dapr.appPort) +
                                               " is already the handler port or the runtime metrics port; the runtime "
                                               "listens on the Dapr app port for daprd, so it must be distinct"});
}

void resources(const Resources& r, const std::string& path, FieldErrors& errors) {
  for (const auto* group : {&r.requests, &r.limits}) {
    const std::string kind = group == &r.requests ? "requests" : "limits";
    for (const auto& [name, text] : *group) {
      if (name != "cpu" && name != "memory" && name != "ephemeral-storage")
        errors.push_back(
            {path + "." + kind + "." + name, "unsupported resource; use cpu, memory or ephemeral-storage"});
      auto q = parseQuantity(text);
      if (!q)
        errors.push_back(
            {path + "." + kind + "." + name, "\"" + text + "\" is not a quantity (e.g. 100m, 0.5, 128Mi, 1Gi)"});
      else if (*q < 0)
        errors.push_back({path + "." + kind + "." + name, "must not be negative"});
    }
  }
  for (const auto& [name, text] : r.requests) {
    auto it = r.limits.find(name);
    if (it == r.limits.end()) continue;
    auto req = parseQuantity(text), lim = parseQuantity(it->second);
    if (req && lim && *req > *lim)
      errors.push_back({path + ".requests." + name, "request " + text + " exceeds the limit " + it->second +
                                                        "; a request must be less than or equal to its limit"});
  }
}

void dapr(const EventWorker& ew, FieldErrors& errors) {
  static const std::regex dnsLabel("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$");
  if (ew.spec.dapr.enabled && !ew.spec.dapr.appId &&
      (ew.metadata.name.size() > 63 || !std::regex_match(ew.metadata.name, dnsLabel)))
    errors.push_back(
        {"spec.dapr.appId",
         "metadata.name \"" + ew.metadata.name +
             "\" is not a valid Dapr app id (a DNS label: lower-case letters, digits, '-'); set spec.dapr.appId"});
  if (ew.spec.migrateFrom && ew.spec.subscriptions.empty())
    errors.push_back({"spec.migrateFrom", "there is nothing to migrate: declare the subscriptions to move off " +
                                              ew.spec.migrateFrom->appId + " in spec.subscriptions"});
}

// Two relays of one table would publish its rows twice and race to mark them.
void outbox(const EventWorker& ew, FieldErrors& errors) {
  if (!ew.spec.outbox.empty() && ew.spec.dapr.enabled && !ew.spec.subscriptions.empty())
    errors.push_back({"spec.outbox",
                      "outbox relays beside Dapr-delivered subscriptions are not supported yet (the "
                      "runtime config has one source): declare them in an EventWorker of their own"});
  std::map<std::pair<std::string, std::string>, std::string> owner;  // (secret, table) -> relay
  for (std::size_t i = 0; i < ew.spec.outbox.size(); ++i) {
    const auto& r = ew.spec.outbox[i];
    if (r.pollInterval < Millis(10)) errors.push_back({item("outbox", i) + ".pollInterval", "must be at least 10ms"});
    auto [it, fresh] = owner.emplace(std::make_pair(r.secretName, r.table), r.name);
    if (!fresh)
      errors.push_back({item("outbox", i) + ".table", "table \"" + r.table + "\" of the database in Secret \"" +
                                                          r.secretName + "\" is already relayed by outbox \"" +
                                                          it->second + "\"; one relay per table"});
  }
}

// The streams read spec.source.kafka through the runtime config's one source,
// and listen on kStreamsPort beside the metrics port.
void streams(const EventWorker& ew, FieldErrors& errors) {
  if (ew.spec.streams.empty()) return;
  if (ew.spec.dapr.enabled && !ew.spec.subscriptions.empty())
    errors.push_back({"spec.streams",
                      "streams beside Dapr-delivered subscriptions are not supported yet (the runtime config has one "
                      "source): declare them in an EventWorker of their own"});
  if (ew.spec.runtime.metricsPort == kStreamsPort)
    errors.push_back({"spec.runtime.metricsPort", "port " + std::to_string(kStreamsPort) +
                                                      " is the streams port (Service <name>-streams); pick another"});
}

}  // namespace

void checkOperatorRules(const EventWorker& ew, FieldErrors& errors) {
  schedules(ew, errors);
  topics(ew, errors);
  ports(ew, errors);
  resources(ew.spec.handler.resources, "spec.handler.resources", errors);
  resources(ew.spec.runtime.resources, "spec.runtime.resources", errors);
  dapr(ew, errors);
  outbox(ew, errors);
  streams(ew, errors);
}

}  // namespace ew::api
