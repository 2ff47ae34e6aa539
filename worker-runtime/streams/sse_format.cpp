#include "streams/sse_format.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/cloud_event.h"

namespace ew::runtime {
namespace {

using nlohmann::json;

const std::string* header(const Message& m, const char* name) {
  for (const auto& [k, v] : m.headers)
    if (k == name) return &v;
  return nullptr;
}

bool listed(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

}  // namespace

Result<std::optional<std::string>> eventBody(const Message& m, const StreamConfig& stream) {
  if (!stream.filterKeys.empty() && (!m.key || !listed(stream.filterKeys, *m.key))) return std::optional<std::string>();
  if (m.value.empty()) return Error{"the record has no value (a tombstone)"};
  EnvelopeOptions o;
  o.maxEventBytes = stream.maxEventBytes;
  o.source = stream.name;
  o.pubsubName = stream.name;
  auto envelope = buildEnvelope(m, o);
  if (!envelope) return envelope.error();
  json ce = json::parse(envelope->body, nullptr, false);
  if (!ce.is_object()) return Error{"the record's envelope is not a JSON object"};
  if (ce.value("type", "") == "com.dapr.event.sent")
    if (const std::string* t = header(m, "ce_type")) ce["type"] = *t;
  if (!stream.filterTypes.empty() && !listed(stream.filterTypes, ce.value("type", "")))
    return std::optional<std::string>();
  json data = json::object();
  for (const auto& f : stream.fields) {
    if (f == "key")
      data["key"] = m.key ? json(*m.key) : json(nullptr);
    else if (f == "topic")
      data["topic"] = m.tp.topic;
    else if (f == "partition")
      data["partition"] = m.tp.partition;
    else if (f == "offset")
      data["offset"] = m.offset;
    else if (f == "data" && ce.contains("data_base64"))
      data["data_base64"] = ce["data_base64"];
    else if (ce.contains(f))
      data[f] = ce[f];
  }
  // One line: dump() escapes every newline inside strings.
  return std::optional<std::string>("data: " + data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n");
}

std::string idLine(const std::string& token) { return "id: " + token + "\n"; }

std::string controlEvent(const std::string& name, const std::string& json) {
  return "event: " + name + "\ndata: " + json + "\n\n";
}

std::string retryHint(Millis reconnectDelay) { return "retry: " + std::to_string(reconnectDelay.count()) + "\n\n"; }

}  // namespace ew::runtime
