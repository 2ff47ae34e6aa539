#pragma once
// The outbox relay's pure core: what a row becomes on Kafka, and what may be
// marked done once a batch's delivery reports are in.
//
// Order contract (DESIGN.md 10): rows with the same key reach Kafka in id
// order, also across a failover. The relay reads a batch in id order and
// produces it in that order with the idempotent producer (per partition, in
// order, no duplicates from its own retries; enable.gapless.guarantee turns a
// would-be gap into a fatal error). What the table records is settled here:
//   - a row is marked done (published) only when its delivery was reported
//     and every earlier row of its key in the batch is settled (published or
//     refused for good); a later row of a key whose earlier row failed
//     transiently is held, so the next batch publishes the key again from its
//     first unsettled row, in id order: Kafka may hold duplicates (the row id
//     is the CloudEvent id, for consumers to drop them), never a same-key
//     row first delivered ahead of an earlier one;
//   - a row Kafka refuses for good (too large, unknown topic, invalid) is
//     marked failed with the reason and blocks nothing;
//   - rows without a key promise no order and are settled on their own.
// Anchors: Debezium's outbox event router (row id as the event id, the key
// from an aggregate column); the guide's polling loop, which marks a row as
// soon as its own send returned and so reorders a key when one send fails.
// Pure: no I/O, no clock.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/message.h"

namespace ew::runtime {

struct OutboxRow {
  int64_t id = 0;
  std::string topic;
  std::optional<std::string> key;
  std::string eventType;       // empty: kOutboxDefaultEventType
  std::string payload;         // JSON text or plain text
  bool payloadIsJson = false;  // from a json or jsonb column: PostgreSQL has checked it
  Headers headers;
  std::string createdAt;      // RFC 3339 text as PostgreSQL gave it; the CloudEvent "time"
  double createdAtEpoch = 0;  // the same, in seconds since the epoch (publish latency)
};

inline constexpr const char* kOutboxDefaultEventType = "dev.eventworker.outbox";

// A PostgreSQL timestamptz as its binary form gives it (microseconds since
// 2000-01-01 00:00:00 UTC) in RFC 3339 text, UTC, with microseconds
// ("2026-12-06T09:00:00.000123Z": what to_char(t, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
// gives in a UTC session); empty for +-infinity, as to_char gives NULL.
std::string pgTimestampText(int64_t micros);
// The same instant in seconds since the Unix epoch (+-HUGE_VAL for +-infinity).
double pgTimestampEpoch(int64_t micros);

// The Kafka message of a row: a structured CloudEvent (id = the row id,
// source = SOURCE, type, time, data: the payload as JSON when it parses, else
// as a string), headers as given plus content-type.
struct OutboxMessage {
  std::string topic;
  std::optional<std::string> key;
  std::string value;
  Headers headers;
};
OutboxMessage outboxMessage(const OutboxRow& row, const std::string& source);

enum class Delivery { Delivered, Refused, Transient, Unreported };

struct DeliveryReport {
  Delivery outcome = Delivery::Unreported;
  std::string reason;  // Refused, Transient: the broker's or librdkafka's words
};

struct BatchSettlement {
  std::vector<int64_t> published;                        // mark done (status PUBLISHED, or delete)
  std::vector<std::pair<int64_t, std::string>> refused;  // mark failed with the reason
  std::vector<int64_t> held;                             // left pending: read again by the next batch
};

// REQUIRES: ROWS in increasing id order; REPORTS has an entry per row id
// (a missing one counts as Unreported).
BatchSettlement settleBatch(const std::vector<OutboxRow>& rows, const std::map<int64_t, DeliveryReport>& reports);

}  // namespace ew::runtime
