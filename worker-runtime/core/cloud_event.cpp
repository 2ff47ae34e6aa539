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

Result<std::string> base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  size_t end = in.size();
  if (end % 4 == 0 && end >= 2 && in[end - 1] == '=') end -= in[end - 2] == '=' ? 2 : 1;
  std::string out;
  out.reserve(end / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < end; ++i) {
    const int v = value(in[i]);
    if (v < 0) return Error{"invalid base64: unexpected character at position " + std::to_string(i)};
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  if (end % 4 == 1) return Error{"invalid base64: truncated"};
  return out;
}

Result<std::string> cloudEventData(const json& ce) {
  const auto data = ce.find("data");
  const auto data64 = ce.find("data_base64");
  const bool hasData = data != ce.end() && !data->is_null();
  const bool hasData64 = data64 != ce.end() && !data64->is_null();
  if (hasData && hasData64) return Error{"both data and data_base64 are set"};
  if (hasData64) {
    if (!data64->is_string()) return Error{"data_base64 is not a string"};
    auto bytes = base64Decode(data64->get_ref<const std::string&>());
    if (!bytes) return Error{"data_base64: " + bytes.error().message};
    return bytes;
  }
  if (!hasData) return std::string();
  if (data->is_string()) return data->get<std::string>();
  return data->dump(-1, ' ', false, json::error_handler_t::replace);
}

Status validateCloudEvent(const json& ce) {
  if (!ce.is_object()) return Error{"not a CloudEvent: not a JSON object"};
  for (const char* attr : {"id", "source", "specversion", "type"})
    if (!nonEmptyString(ce, attr))
      return Error{std::string("not a CloudEvent: attribute \"") + attr + "\" missing or not a non-empty string"};
  if (auto data = cloudEventData(ce); !data) return Error{"CloudEvent payload: " + data.error().message};
  return {};
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
  json e = {{"specversion", "1.0"},          {"id", recordId(m)},   {"source", o.source},
            {"type", "com.dapr.event.sent"}, {"topic", m.tp.topic}, {"pubsubname", o.pubsubName}};
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
