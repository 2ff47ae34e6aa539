#pragma once
// Dapr's app channel as plain values (the runtime as the Dapr app, source.kind
// dapr): the programmatic subscription document of GET /dapr/subscribe, the
// deliveries daprd POSTs to a subscription's route (one CloudEvent, a plain
// payload, or a bulk envelope of entries), and the replies it expects. Pure:
// no sockets; the server is loops/dapr_source.
//
// Contract (docs.dapr.io, reference/api/pubsub_api; dapr/dapr
// pkg/runtime/pubsub/subscriptions.go and bulksubscribe_events.go):
//   GET /dapr/subscribe -> [{"pubsubname","topic","route","routes":{"default"},
//     "deadLetterTopic"?, "metadata"?, "bulkSubscribe"?}]
//   POST <route>, Content-Type application/cloudevents+json: one event;
//     reply 200 {"status":"SUCCESS"|"RETRY"|"DROP"}
//   POST <route>, Content-Type application/json with
//     {"type":"com.dapr.event.sent.bulk","entries":[{"entryId","event",
//     "contentType","metadata"}],"topic","metadata"}: a bulk delivery; reply
//     200 {"statuses":[{"entryId","status"}]}
// Delivery metadata (HTTP headers of a single delivery, "metadata" of a bulk
// entry) carries the Kafka record's "__key", "__partition", "__offset",
// "__topic" and "__timestamp" when the pubsub component is Kafka.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/message.h"

namespace ew::runtime {

enum class DaprStatus { Success, Retry, Drop };
const char* toString(DaprStatus s);  // "SUCCESS" | "RETRY" | "DROP"

// Delivery metadata by name; names are compared without regard to case (HTTP
// header names arrive lowercased).
using DaprMetadata = std::map<std::string, std::string>;

// One event of a delivery, ready to dispatch like a consumed record.
struct DaprEvent {
  std::string value;                 // the record value: the CloudEvent (JSON text) or the plain payload
  std::optional<std::string> key;    // ordering key: CloudEvent "partitionkey", else "__key", else "partitionKey"
  std::optional<int32_t> partition;  // "__partition"
  std::optional<int64_t> offset;     // "__offset"
  int64_t timestampMs = 0;           // "__timestamp"
  std::string topic;                 // "__topic", else the CloudEvent's "topic", else the bulk envelope's; "" unknown
  Headers headers;                   // non-empty traceparent and tracestate (metadata, else CloudEvent attributes)
  std::string malformed;             // non-empty: why the event can never be handled (then value is the raw input)
};

struct DaprRequest {
  bool bulk = false;
  std::vector<std::string> entryIds;  // bulk: the entry id of each event, in order
  std::vector<DaprEvent> events;      // one for a single delivery
};

// Parses the body of a POST to a subscription route. CONTENT_TYPE is the
// request's Content-Type; METADATA its headers. Never fails: what cannot be
// handled comes back as events with `malformed` set (a bulk envelope that is
// not valid becomes one malformed single event).
DaprRequest parseDaprRequest(std::string_view contentType, const std::string& body, const DaprMetadata& metadata);

// {"status":"<S>"}.
std::string renderDaprReply(DaprStatus status);
// {"statuses":[{"entryId":"<id>","status":"<S>"},...]}.
std::string renderDaprBulkReply(const std::vector<std::pair<std::string, DaprStatus>>& statuses);

// The JSON array GET /dapr/subscribe answers with when source.dapr.subscribe
// is programmatic. REQUIRES: config.source.dapr.
std::string renderDaprSubscriptions(const RuntimeConfig& config);

// The subscription a delivery to PATH is for: the one whose route is PATH, or,
// when several share it, the one among them whose topic is TOPIC. Null when
// none matches.
const SubscriptionConfig* daprSubscriptionFor(const RuntimeConfig& config, std::string_view path,
                                              std::string_view topic);

}  // namespace ew::runtime
