#include "autoscale/streams_policy.h"

#include <algorithm>

namespace ew::autoscale {

namespace {

int clampInto(int replicas, const StreamsPolicyConfig& c) { return std::clamp(replicas, c.minReplicas, c.maxReplicas); }

// Fewest replicas that carry CLIENTS at PERCENT of TARGET each, at most a million.
int replicasFor(std::int64_t clients, std::int64_t target, std::int64_t percent) {
  const std::int64_t per = target * percent;
  return static_cast<int>(std::min<std::int64_t>((clients * 100 + per - 1) / per, 1'000'000));
}

std::string counted(const StreamsDecision& d) {
  std::string s = std::to_string(d.clients) + " client" + (d.clients == 1 ? "" : "s") + " on ";
  if (d.podsRead == d.pods) return s + std::to_string(d.pods) + " pod" + (d.pods == 1 ? "" : "s");
  return s + std::to_string(d.podsRead) + " of " + std::to_string(d.pods) + " pods (the others did not answer)";
}

}  // namespace

Status validate(const StreamsPolicyConfig& c) {
  auto bad = [](const std::string& field, const std::string& what) {
    return Status(Error{"streamsScaling." + field + ": " + what});
  };
  if (c.minReplicas < 1) return bad("minReplicas", "must be at least 1");
  if (c.maxReplicas < 1) return bad("maxReplicas", "must be at least 1");
  if (c.minReplicas > c.maxReplicas) return bad("minReplicas", "must not exceed maxReplicas");
  if (c.targetClientsPerReplica < 1) return bad("targetClientsPerReplica", "must be at least 1");
  if (c.scaleDownStabilizationSeconds < 0) return bad("scaleDownStabilizationSeconds", "must be at least 0");
  return Status::success();
}

const char* streamsReasonName(StreamsReason r) {
  switch (r) {
    case StreamsReason::Clients:
      return "Clients";
    case StreamsReason::Bounds:
      return "Bounds";
    case StreamsReason::Stabilizing:
      return "Stabilizing";
    case StreamsReason::PartialRead:
      return "PartialRead";
    case StreamsReason::Unreadable:
      return "Unreadable";
  }
  return "Unknown";
}

StreamsPolicyStep streamsPoll(const StreamsPolicyState& state, const StreamsPolicyConfig& c,
                              const StreamsObservation& o) {
  StreamsPolicyStep step{{}, state};
  StreamsDecision& d = step.decision;
  d.pods = static_cast<int>(o.podClients.size());
  for (const auto& clients : o.podClients)
    if (clients) {
      ++d.podsRead;
      d.clients += *clients;
    }
  const int current = o.currentReplicas;
  const std::string replicas = std::to_string(clampInto(current, c));
  if (d.podsRead == 0) {
    d.desiredReplicas = clampInto(current, c);
    d.reason = StreamsReason::Unreadable;
    d.message =
        (d.pods == 0 ? "no streams pod runs yet" : "no streams pod answered (" + std::to_string(d.pods) + " asked)") +
        std::string(": holding ") + replicas + " replicas";
    return step;
  }
  const int wanted = replicasFor(d.clients, c.targetClientsPerReplica, 100);
  const int sized = clampInto(wanted, c);
  const StreamsReason sizedReason = wanted > c.maxReplicas ? StreamsReason::Bounds : StreamsReason::Clients;
  const std::string sizing = counted(d) + ", target " + std::to_string(c.targetClientsPerReplica) + " per replica";

  auto& history = step.state.history;
  const Millis window{static_cast<std::int64_t>(c.scaleDownStabilizationSeconds) * 1000};
  history.erase(std::remove_if(history.begin(), history.end(), [&](const auto& r) { return o.now - r.at >= window; }),
                history.end());
  // The first count (an operator start) keeps the size it found for the
  // window: a restart does not shrink the group at once.
  if (!step.state.seeded) history.push_back({o.now, clampInto(current, c)});
  step.state.seeded = true;
  // A partial read counts fewer clients than there are: a floor all the same.
  history.push_back({o.now, clampInto(replicasFor(d.clients, c.targetClientsPerReplica, kStreamsScaleDownPercent), c)});
  const bool partial = d.podsRead < d.pods;

  if (sized >= current) {  // up at once (or steady)
    d.desiredReplicas = sized;
    d.reason = sizedReason;
    d.message = sizing + ": " + std::to_string(sized) + " replicas" +
                (sizedReason == StreamsReason::Bounds ? " (the bounds)" : "");
    return step;
  }
  if (partial) {  // a lower bound: never down on it
    d.desiredReplicas = clampInto(current, c);
    d.reason = StreamsReason::PartialRead;
    d.message = sizing + ": holding " + replicas + " replicas until every pod answers";
    return step;
  }
  int highest = 0;
  for (const auto& r : history) highest = std::max(highest, r.replicas);
  d.desiredReplicas = clampInto(std::min(current, std::max(highest, sized)), c);
  d.reason = d.desiredReplicas == sized ? sizedReason : StreamsReason::Stabilizing;
  d.message = sizing + ": " + std::to_string(d.desiredReplicas) + " replicas";
  if (d.reason == StreamsReason::Stabilizing)
    d.message += " (" + std::to_string(sized) +
                 " would do; a scale-down waits until the smaller group would run at most " +
                 std::to_string(kStreamsScaleDownPercent) + "% of its target for " +
                 std::to_string(c.scaleDownStabilizationSeconds) + "s)";
  return step;
}

int streamsReplicas(const std::optional<StreamsDecision>& decision, std::optional<int> live,
                    const StreamsPolicyConfig& c) {
  if (decision) return clampInto(decision->desiredReplicas, c);
  if (live) return clampInto(*live, c);
  return c.minReplicas;
}

}  // namespace ew::autoscale
