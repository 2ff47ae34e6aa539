#pragma once
// What the operator says of an EventWorker's streams Deployment in its
// status (status.streams): the clients its pods counted and why it runs as
// many pods as it does. Pure; the streams scaler (streams_scaler.h) makes
// the view.

#include <nlohmann/json.hpp>

#include <string>

#include "autoscale/streams_policy.h"

namespace ew::controller {

// The latest decision and when its clients were counted (RFC 3339).
struct StreamsView {
  autoscale::StreamsDecision decision;
  std::string observedAt;
};

// status.streams: {clients, podsRead, pods, desiredReplicas, reason, message, observedAt}.
nlohmann::json streamsStatusJson(const StreamsView& view);

}  // namespace ew::controller
