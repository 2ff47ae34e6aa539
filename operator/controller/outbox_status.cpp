#include "controller/outbox_status.h"

#include <cstdio>

namespace ew::controller {

using Json = nlohmann::json;

namespace {

// What one pod says of RELAY: its state ("" when the pod does not list it)
// and, when it counts the table, the figures.
struct PodSays {
  std::string state;
  std::optional<OutboxRelayFigures> figures;
};

PodSays podSays(const Json& status, const std::string& relay) {
  if (!status.is_object() || !status.contains("outbox") || !status["outbox"].is_array()) return {};
  for (const auto& r : status["outbox"]) {
    if (!r.is_object() || r.value("name", "") != relay) continue;
    PodSays s{r.value("state", ""), std::nullopt};
    if (s.state == "active" && r.contains("pending") && r["pending"].is_number())
      s.figures = OutboxRelayFigures{r["pending"].get<int64_t>(), r.value("oldestPendingAgeSeconds", 0.0), "", ""};
    return s;
  }
  return {};
}

std::string seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

}  // namespace

OutboxView observeOutbox(const OutboxView& previous, const std::vector<std::string>& relays,
                         const std::vector<OutboxPodRead>& reads, const std::string& now) {
  OutboxView out;
  for (const auto& name : relays) {
    OutboxRelayView v{name, std::nullopt, "", ""};
    for (const auto& p : previous)
      if (p.name == name) v.figures = p.figures;
    std::string unreadable, others;
    bool counted = false;
    for (const auto& read : reads) {
      if (!read.status) {
        unreadable +=
            (unreadable.empty() ? "" : "; ") + std::string("pod ") + read.pod + ": " + read.status.error().message;
        continue;
      }
      const PodSays says = podSays(*read.status, name);
      if (says.figures) {
        v.figures = *says.figures;
        v.figures->pod = read.pod;
        v.figures->observedAt = now;
        counted = true;
        break;
      }
      others += (others.empty() ? "" : ", ") + read.pod + " " + (says.state.empty() ? "without the relay" : says.state);
    }
    if (counted) {
      out.push_back(std::move(v));
      continue;
    }
    if (!unreadable.empty()) {
      v.staleReason = kStatusUnreadable;
      v.staleMessage = "cannot read the outbox pods' /status: " + unreadable;
    } else {
      v.staleReason = kNoActiveRelay;
      v.staleMessage =
          reads.empty() ? "no outbox pod is running" : "no outbox pod holds the table's lock (" + others + ")";
    }
    out.push_back(std::move(v));
  }
  return out;
}

OutboxCondition outboxBacklogCondition(const OutboxView& view) {
  std::string backlog, stale, flowing;
  std::string staleReason;
  for (const auto& v : view) {
    if (v.figures) {
      const auto& f = *v.figures;
      const std::string figures = v.name + ": " + std::to_string(f.pendingRows) + " rows pending" +
                                  (f.pendingRows > 0 ? ", oldest " + seconds(f.oldestPendingAgeSeconds) : "") +
                                  (v.staleReason.empty() ? "" : " (as of " + f.observedAt + ")");
      if (f.oldestPendingAgeSeconds >= static_cast<double>(kOutboxBacklogAge.count()))
        backlog += (backlog.empty() ? "" : "; ") + figures;
      else if (v.staleReason.empty())
        flowing += (flowing.empty() ? "" : "; ") + figures;
    }
    if (!v.staleReason.empty()) {
      if (staleReason.empty()) staleReason = v.staleReason;
      stale += (stale.empty() ? "" : "; ") + v.name + ": " + v.staleMessage;
    }
  }
  if (!backlog.empty())
    return {"True", "OldRowsPending",
            backlog + " (a row pending longer than " + std::to_string(kOutboxBacklogAge.count()) + " s)"};
  if (!stale.empty()) return {"Unknown", staleReason, stale};
  return {"False", "Flowing", flowing};
}

Json outboxStatusJson(const OutboxView& view) {
  Json out = Json::array();
  for (const auto& v : view) {
    Json r = {{"name", v.name}, {"stale", !v.staleReason.empty()}};
    if (!v.staleReason.empty()) r["staleReason"] = v.staleReason;
    if (v.figures) {
      r["pendingRows"] = v.figures->pendingRows;
      r["oldestPendingAgeSeconds"] = static_cast<int64_t>(v.figures->oldestPendingAgeSeconds);
      r["activePod"] = v.figures->pod;
      r["observedAt"] = v.figures->observedAt;
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::string outboxFingerprint(const OutboxView& view) {
  const OutboxCondition c = outboxBacklogCondition(view);
  std::string fp = c.status + "|" + c.reason;
  for (const auto& v : view) {
    fp += "|" + v.name + ":" + v.staleReason;
    if (v.figures) fp += ":" + v.figures->pod + (v.figures->pendingRows > 0 ? "+" : "0");
  }
  return fp;
}

}  // namespace ew::controller
