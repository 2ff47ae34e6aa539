#include "core/cloud_event.h"

#include <nlohmann/json.hpp>

namespace ew::runtime {
namespace {

using nlohmann::json;

bool nonEmptyString(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
}

}  // namespace

std::string recordId(const Message& m) {
  return m.tp.topic + "-" + std::to_string(m.tp.partition) + "-" + std::to_string(m.offset);
}

bool isValidUtf8(const std::string& s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

std::string base64Encode(const std::string& in) {
  static const char* tbl = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += tbl[v >> 18], out += tbl[(v >> 12) & 63], out += tbl[(v >> 6) & 63], out += tbl[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += tbl[v >> 18], out += tbl[(v >> 12) & 63], out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += tbl[v >> 18], out += tbl[(v >> 12) & 63], out += tbl[(v >> 6) & 63], out += '=';
  }
  return out;
}

Result<Envelope> buildEnvelope(const Message& m, const EnvelopeOptions& o) {
  if (static_cast<int64_t>(m.value.size()) > o.maxEventBytes)
    return Error{"oversized: " + std::to_string(m.value.size()) + " bytes > maxEventBytes " +
                 std::to_string(o.maxEventBytes)};
  if (o.requireCloudEvent && m.value.empty()) return Error{"not a CloudEvent: empty value"};

  json parsed = json::parse(m.value, nullptr, /*allow_exceptions=*/false);
  const bool isJson = !parsed.is_discarded() && !m.value.empty();
  if (isJson && parsed.is_object() && parsed.contains("specversion")) {
    for (const char* attr : {"id", "source", "specversion", "type"})
      if (!nonEmptyString(parsed, attr))
        return Error{std::string("not a CloudEvent: attribute \"") + attr + "\" missing or not a non-empty string"};
    if (!parsed.contains("topic")) parsed["topic"] = m.tp.topic;
    if (!parsed.contains("pubsubname")) parsed["pubsubname"] = o.pubsubName;
    Envelope e{parsed["id"].get<std::string>(), parsed.dump(-1, ' ', false, json::error_handler_t::replace)};
    return e;
  }
  if (o.requireCloudEvent) {
    if (!isJson) return Error{"not a CloudEvent: value is not JSON"};
    if (!parsed.is_object()) return Error{"not a CloudEvent: JSON value is not an object"};
    return Error{"not a CloudEvent: attribute \"specversion\" missing"};
  }
  json e = {{"specversion", "1.0"},
            {"id", recordId(m)},
            {"source", o.source},
            {"type", "com.dapr.event.sent"},
            {"topic", m.tp.topic},
            {"pubsubname", o.pubsubName}};
  if (isJson) {
    e["datacontenttype"] = "application/json";
    e["data"] = std::move(parsed);
  } else if (isValidUtf8(m.value)) {
    e["datacontenttype"] = "text/plain";
    e["data"] = m.value;
  } else {
    e["datacontenttype"] = "application/octet-stream";
    e["data_base64"] = base64Encode(m.value);
  }
  return Envelope{recordId(m), e.dump()};
}

}  // namespace ew::runtime
