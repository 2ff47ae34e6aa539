#pragma once
// Binds the pure API pipeline (load: defaults, schema, CEL and operator rules)
// and the renderer to the reconciler's RenderFn. An invalid resource comes
// back as an Error whose message lists every finding with its field path.

#include "api/types.h"
#include "controller/reconciler.h"
#include "render/render.h"

namespace ew::controller {

// How the operator reaches EW's Kafka: brokers, and for any protocol but
// PLAINTEXT the operatorSecretRef (REQUIRES: ew.spec.kafka is set).
KafkaAccess kafkaAccess(const api::EventWorker& ew);

// What the autoscaler polls for EW (REQUIRES: ew.spec.kafka is set).
ScaleTarget scaleTarget(const api::EventWorker& ew);

// What the streams scaler polls for EW (REQUIRES: ew.spec.streams is not empty).
StreamsTarget streamsTarget(const api::EventWorker& ew);

RenderFn makeRenderFn(render::RenderOptions options);

// makeRenderFn with the default options.
Result<Rendered> renderEventWorker(const kube::Json& eventWorker);

}  // namespace ew::controller
