#pragma once
// What the operator says of an EventWorker's outbox relays (spec.outbox) in
// its status: each relay's pending rows and the age of its oldest pending
// row, and the OutboxBacklog condition. Pure: takes the outbox pods' /status
// replies as the monitor (outbox_monitor.h) read them, returns values.
//
// The figures come from the relays themselves, never from the database: the
// operator holds no database credentials. Only the relay holding its table's
// lock counts the table (worker-runtime/loops/outbox_relay.h), so a relay's
// figures are those of the one pod that reports it "active".
//
// A relay whose figures cannot be read this time (a pod does not answer, or
// no pod holds the lock) keeps its last known figures, marked stale with the
// reason: a status that flickers to zero on a failed read would hide a backlog.
//
// OutboxBacklog: True (OldRowsPending) when a relay's oldest pending row is
// older than kOutboxBacklogAge; else Unknown (NoActiveRelay or
// StatusUnreadable) when a relay's figures are stale; else False (Flowing).

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ew/result.h"

namespace ew::controller {

// A pending row older than this makes OutboxBacklog True.
inline constexpr std::chrono::seconds kOutboxBacklogAge{60};

// One outbox pod's /status, as read: the body, or why it could not be read.
struct OutboxPodRead {
  std::string pod;
  Result<nlohmann::json> status;
};

struct OutboxRelayFigures {
  int64_t pendingRows = 0;
  double oldestPendingAgeSeconds = 0;
  std::string pod;         // the pod that counted them (the active relay)
  std::string observedAt;  // RFC 3339: when they were read
  bool operator==(const OutboxRelayFigures&) const = default;
};

struct OutboxRelayView {
  std::string name;
  std::optional<OutboxRelayFigures> figures;  // the last counted; nullopt: never read yet
  // Empty when the figures were read at the last poll; else why not
  // (kNoActiveRelay, kStatusUnreadable) and the detail.
  std::string staleReason, staleMessage;
  bool operator==(const OutboxRelayView&) const = default;
};
using OutboxView = std::vector<OutboxRelayView>;  // in spec.outbox order

inline constexpr const char* kNoActiveRelay = "NoActiveRelay";
inline constexpr const char* kStatusUnreadable = "StatusUnreadable";

// The view after one poll of the outbox pods: RELAYS are the relay names of
// spec.outbox, PREVIOUS the view before (its figures are kept for a relay not
// read now), NOW (RFC 3339) the time of the reads.
OutboxView observeOutbox(const OutboxView& previous, const std::vector<std::string>& relays,
                         const std::vector<OutboxPodRead>& reads, const std::string& now);

struct OutboxCondition {
  std::string status;  // True | False | Unknown
  std::string reason, message;
};
OutboxCondition outboxBacklogCondition(const OutboxView& view);

// status.outbox: [{name, pendingRows, oldestPendingAgeSeconds, activePod,
// observedAt, stale, staleReason}] (the figures only once read).
nlohmann::json outboxStatusJson(const OutboxView& view);

// What of VIEW a status write must carry at once (the condition, which relay
// is stale, whether a relay has a backlog, the active pods); figures that
// move every poll are left out (refreshed every kStatusRefresh).
std::string outboxFingerprint(const OutboxView& view);

}  // namespace ew::controller
