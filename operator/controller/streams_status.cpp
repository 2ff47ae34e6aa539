#include "controller/streams_status.h"

namespace ew::controller {

nlohmann::json streamsStatusJson(const StreamsView& v) {
  const autoscale::StreamsDecision& d = v.decision;
  return {{"clients", d.clients},
          {"podsRead", d.podsRead},
          {"pods", d.pods},
          {"desiredReplicas", d.desiredReplicas},
          {"reason", autoscale::streamsReasonName(d.reason)},
          {"message", d.message},
          {"observedAt", v.observedAt}};
}

}  // namespace ew::controller
