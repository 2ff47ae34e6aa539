#pragma once
// What a stream sends, as text (the HTML Living Standard's
// text/event-stream): which records pass a stream's filter, the data of an
// event (the stream's exposed fields as one JSON object), and the control
// events and comments. Pure.

#include <optional>
#include <string>

#include "core/config.h"
#include "core/message.h"
#include "ew/result.h"

namespace ew::runtime {

// The data line(s) of MESSAGE's event on STREAM, "data: {...}\n\n", or
// nullopt when the record does not pass the stream's filter. An Error (the
// reason) for a record that cannot be an event (empty, oversized). The
// record's CloudEvent type is its value's type attribute when the value is a
// structured CloudEvent, else its ce_type header, else com.dapr.event.sent
// (the envelope Dapr and the events mode give a plain value).
Result<std::optional<std::string>> eventBody(const Message& message, const StreamConfig& stream);

// "id: <token>\n".
std::string idLine(const std::string& token);

// A named control event: "event: <name>\ndata: <json>\n\n". Names used:
// ew-resume (where a resumed client starts, and why), ew-overflow (cut off
// for being too slow), ew-reconnect (the pod is going away).
std::string controlEvent(const std::string& name, const std::string& json);

// The first bytes of every stream: the retry hint ("retry: <ms>\n\n").
std::string retryHint(Millis reconnectDelay);

// A heartbeat: an SSE comment line, ignored by EventSource.
inline constexpr const char* kHeartbeat = ":\n\n";

}  // namespace ew::runtime
