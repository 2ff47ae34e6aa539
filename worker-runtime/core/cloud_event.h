#pragma once
// The CloudEvents (structured JSON, spec 1.0) envelope that handlers receive,
// built the way Dapr builds it so an existing Dapr handler works unchanged:
// a value that already is a structured CloudEvent is passed through (with
// "topic" and "pubsubname" added when absent); anything else is wrapped with
// type "com.dapr.event.sent" and the value in "data" (JSON values as JSON,
// UTF-8 text as a string, other bytes in "data_base64"). Pure.

#include <cstdint>
#include <string>

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

}  // namespace ew::runtime
