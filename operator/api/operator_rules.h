#pragma once
// What only the operator can judge: rules the CRD's schema and CEL cannot
// express (or cannot afford), checked by `eventworker validate` and by the
// reconciler, which reports them in a Degraded condition. Pure.

#include "api/field_errors.h"
#include "api/types.h"

namespace ew::api {

// Ports the Dapr sidecar listens on inside the pod when the operator renders
// it (HTTP, health, gRPC, internal gRPC, and the metrics port it assigns).
inline constexpr int kDaprReservedPorts[] = {3500, 3501, 50001, 50002, 9091};
// The port the runtime serves spec.streams on (--mode streams; Service <name>-streams).
inline constexpr int kStreamsPort = 8088;

void checkOperatorRules(const EventWorker& ew, FieldErrors& errors);

}  // namespace ew::api
