#include "core/dapr_app.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/cloud_event.h"

namespace ew::runtime {
namespace {

using nlohmann::json;

constexpr std::string_view kCloudEventsJson = "application/cloudevents+json";
constexpr std::string_view kBulkEventType = "com.dapr.event.sent.bulk";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "Application/JSON; charset=utf-8" -> "application/json".
std::string mediaType(std::string_view contentType) {
  contentType = contentType.substr(0, contentType.find(';'));
  const auto first = contentType.find_first_not_of(" \t");
  if (first == std::string_view::npos) return "";
  const auto last = contentType.find_last_not_of(" \t");
  return lower(contentType.substr(first, last - first + 1));
}

bool isJsonMedia(const std::string& media) {
  return media == "application/json" || (media.size() > 5 && media.compare(media.size() - 5, 5, "+json") == 0);
}

const std::string* metaGet(const DaprMetadata& meta, std::string_view name) {
  for (const auto& [k, v] : meta)
    if (k.size() == name.size() && lower(k) == name) return &v;
  return nullptr;
}

template <typename T>
std::optional<T> number(const std::string* text) {
  T v{};
  if (!text) return std::nullopt;
  const char* end = text->data() + text->size();
  auto [p, ec] = std::from_chars(text->data(), end, v);
  if (ec != std::errc() || p != end) return std::nullopt;
  return v;
}

DaprEvent fromMetadata(const DaprMetadata& meta) {
  DaprEvent e;
  if (const auto* k = metaGet(meta, "__key"))
    e.key = *k;
  else if (const auto* pk = metaGet(meta, "partitionkey"))
    e.key = *pk;
  e.partition = number<int32_t>(metaGet(meta, "__partition"));
  e.offset = number<int64_t>(metaGet(meta, "__offset"));
  e.timestampMs = number<int64_t>(metaGet(meta, "__timestamp")).value_or(0);
  if (const auto* t = metaGet(meta, "__topic")) e.topic = *t;
  for (const char* h : {"traceparent", "tracestate"})
    if (const auto* v = metaGet(meta, h); v && !v->empty()) e.headers.emplace_back(h, *v);
  return e;
}

bool hasHeader(const Headers& headers, std::string_view name) {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
}

// Fills E from the structured CloudEvent CE (validated first): its
// partitionkey wins over metadata keys; topic and trace context fill gaps.
void applyCloudEvent(const json& ce, DaprEvent& e) {
  if (auto st = validateCloudEvent(ce); !st) {
    e.malformed = st.error().message;
    return;
  }
  if (auto pk = ce.find("partitionkey"); pk != ce.end() && pk->is_string()) e.key = pk->get<std::string>();
  if (auto t = ce.find("topic"); e.topic.empty() && t != ce.end() && t->is_string()) e.topic = t->get<std::string>();
  for (const char* h : {"traceparent", "tracestate"})
    if (auto v = ce.find(h);
        !hasHeader(e.headers, h) && v != ce.end() && v->is_string() && !v->get_ref<const std::string&>().empty())
      e.headers.emplace_back(h, v->get<std::string>());
}

// An event whose payload is JSON text TEXT (parsed: PARSED) of media type
// MEDIA: a CloudEvent when the media type says so or it carries specversion,
// else a plain JSON payload.
DaprEvent jsonEvent(const std::string& media, std::string text, const json& parsed, const DaprMetadata& meta) {
  DaprEvent e = fromMetadata(meta);
  e.value = std::move(text);
  if (parsed.is_discarded()) {
    e.malformed = "body is not valid JSON (Content-Type " + media + ")";
    return e;
  }
  if (media == kCloudEventsJson || (parsed.is_object() && parsed.contains("specversion"))) applyCloudEvent(parsed, e);
  return e;
}

DaprMetadata stringMap(const json& obj) {
  DaprMetadata out;
  if (!obj.is_object()) return out;
  for (const auto& [k, v] : obj.items())
    if (v.is_string()) out[k] = v.get<std::string>();
  return out;
}

std::string entryId(const json& entry) {
  for (const char* name : {"entryId", "entryID"})
    if (auto id = entry.find(name); id != entry.end() && id->is_string()) return id->get<std::string>();
  return "";
}

DaprEvent bulkEntryEvent(const json& entry, const DaprMetadata& envelopeMeta) {
  DaprMetadata meta = envelopeMeta;
  if (auto m = entry.find("metadata"); m != entry.end())
    for (auto& [k, v] : stringMap(*m)) meta[k] = v;
  std::string media;
  if (auto ct = entry.find("contentType"); ct != entry.end() && ct->is_string())
    media = mediaType(ct->get<std::string>());
  const auto event = entry.find("event");
  if (event != entry.end() && event->is_object())
    return jsonEvent(media.empty() ? std::string(kCloudEventsJson) : media, event->dump(), *event, meta);
  DaprEvent e = fromMetadata(meta);
  if (event != entry.end() && event->is_string()) {
    // A raw payload (rawPayload subscriptions): daprd sends its bytes in base64.
    auto bytes = base64Decode(event->get_ref<const std::string&>());
    if (bytes) {
      e.value = std::move(*bytes);
    } else {
      e.value = event->get<std::string>();
      e.malformed = "bulk entry event: " + bytes.error().message;
    }
    return e;
  }
  e.value = event == entry.end() ? "" : event->dump();
  e.malformed = "bulk entry event is neither a CloudEvent object nor base64 text";
  return e;
}

DaprRequest parseBulk(const json& envelope, const std::string& body) {
  DaprRequest r;
  const auto entries = envelope.find("entries");
  if (!entries->is_array()) {
    DaprEvent e;
    e.value = body;
    e.malformed = "bulk delivery: \"entries\" is not a list";
    r.events.push_back(std::move(e));
    return r;
  }
  r.bulk = true;
  const DaprMetadata meta = envelope.contains("metadata") ? stringMap(envelope["metadata"]) : DaprMetadata{};
  std::string topic;
  if (auto t = envelope.find("topic"); t != envelope.end() && t->is_string()) topic = t->get<std::string>();
  for (const auto& entry : *entries) {
    // Entries without an id cannot be answered; daprd never sends them.
    const std::string id = entry.is_object() ? entryId(entry) : "";
    if (id.empty()) continue;
    DaprEvent e = bulkEntryEvent(entry, meta);
    if (e.topic.empty()) e.topic = topic;
    r.entryIds.push_back(id);
    r.events.push_back(std::move(e));
  }
  return r;
}

bool isBulkEnvelope(const json& j) {
  if (!j.is_object() || !j.contains("entries")) return false;
  const auto type = j.find("type");
  return type != j.end() && type->is_string() && type->get_ref<const std::string&>() == kBulkEventType;
}

}  // namespace

const char* toString(DaprStatus s) {
  switch (s) {
    case DaprStatus::Success:
      return "SUCCESS";
    case DaprStatus::Retry:
      return "RETRY";
    case DaprStatus::Drop:
      return "DROP";
  }
  return "RETRY";
}

DaprRequest parseDaprRequest(std::string_view contentType, const std::string& body, const DaprMetadata& metadata) {
  const std::string media = mediaType(contentType);
  DaprRequest r;
  if (media == kCloudEventsJson || isJsonMedia(media)) {
    const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (media != kCloudEventsJson && isBulkEnvelope(parsed)) return parseBulk(parsed, body);
    r.events.push_back(jsonEvent(media, body, parsed, metadata));
    return r;
  }
  DaprEvent e = fromMetadata(metadata);
  e.value = body;
  r.events.push_back(std::move(e));
  return r;
}

std::string renderDaprReply(DaprStatus status) { return json{{"status", toString(status)}}.dump(); }

std::string renderDaprBulkReply(const std::vector<std::pair<std::string, DaprStatus>>& statuses) {
  json list = json::array();
  for (const auto& [id, status] : statuses) list.push_back({{"entryId", id}, {"status", toString(status)}});
  return json{{"statuses", std::move(list)}}.dump();
}

std::string renderDaprSubscriptions(const RuntimeConfig& config) {
  const DaprSourceConfig& d = *config.source.dapr;
  json list = json::array();
  for (const auto& s : config.subscriptions) {
    // "route" for daprd before routing rules (1.4); later ones take routes.default.
    json sub = {
        {"pubsubname", d.pubsubName}, {"topic", s.topic}, {"route", s.route}, {"routes", {{"default", s.route}}}};
    if (!s.deadLetterTopic.empty()) sub["deadLetterTopic"] = s.deadLetterTopic;
    if (!d.metadata.empty()) sub["metadata"] = d.metadata;
    if (d.bulkSubscribe.enabled) {
      json bulk = {{"enabled", true}};
      if (d.bulkSubscribe.maxMessagesCount > 0) bulk["maxMessagesCount"] = d.bulkSubscribe.maxMessagesCount;
      if (d.bulkSubscribe.maxAwaitDuration.count() > 0)
        bulk["maxAwaitDurationMs"] = d.bulkSubscribe.maxAwaitDuration.count();
      sub["bulkSubscribe"] = std::move(bulk);
    }
    list.push_back(std::move(sub));
  }
  return list.dump();
}

const SubscriptionConfig* daprSubscriptionFor(const RuntimeConfig& config, std::string_view path,
                                              std::string_view topic) {
  const SubscriptionConfig* only = nullptr;
  int matches = 0;
  for (const auto& s : config.subscriptions) {
    if (s.route != path) continue;
    if (s.topic == topic) return &s;
    only = &s;
    ++matches;
  }
  return matches == 1 ? only : nullptr;
}

}  // namespace ew::runtime
