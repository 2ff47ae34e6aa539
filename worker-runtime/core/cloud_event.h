#pragma once
// The CloudEvents (structured JSON, spec 1.0) envelope that handlers receive,
// built the way Dapr builds it so an existing Dapr handler works unchanged:
// a value that already is a structured CloudEvent is passed through (with
// "topic" and "pubsubname" added when absent); anything else is wrapped with
// type "com.dapr.event.sent" and the value in "data" (JSON values as JSON,
// UTF-8 text as a string, other bytes in "data_base64"). Pure.

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "core/message.h"
#include "ew/result.h"

namespace ew::runtime {

struct EnvelopeOptions {
  int64_t maxEventBytes = 1048576;
  bool requireCloudEvent = false;
  std::string source;      // "source" of wrapped events (the service or worker name)
  std::string pubsubName;  // "pubsubname" attribute (the subscription name)
};

struct Envelope {
  std::string id;    // the CloudEvent id, or "<topic>-<partition>-<offset>" for wrapped values
  std::string body;  // JSON text, Content-Type application/cloudevents+json
};

// Builds the envelope of MESSAGE, or an Error whose message is the reason the
// value is malformed (oversized, empty, not a CloudEvent when one is required).
Result<Envelope> buildEnvelope(const Message& message, const EnvelopeOptions& options);

// A deterministic event id for a record: "<topic>-<partition>-<offset>".
std::string recordId(const Message& message);

bool isValidUtf8(const std::string& s);
std::string base64Encode(const std::string& bytes);
// RFC 4648 base64 (standard alphabet; the padding may be left out). Error on
// any other character or a truncated quantum.
Result<std::string> base64Decode(std::string_view text);

// Checks that CE_JSON (a parsed JSON value) is a structured CloudEvent:
// an object whose id, source, specversion and type are non-empty strings, and
// whose payload is in at most one of data and data_base64 (valid base64).
// The error message says what is wrong.
Status validateCloudEvent(const nlohmann::json& ceJson);

// The payload bytes of a structured CloudEvent: data_base64 decoded, a string
// data as is, other JSON data as JSON text, "" when there is no payload.
// Error when both are present or data_base64 is not valid base64.
Result<std::string> cloudEventData(const nlohmann::json& ceJson);

}  // namespace ew::runtime
