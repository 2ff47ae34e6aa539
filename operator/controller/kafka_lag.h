#pragma once
// Binds the autoscaler's lag source (LagReadFn) to the librdkafka lag reader:
// one client per cluster from the pool, one batched read per call.

#include <memory>

#include "autoscale/lag_reader.h"
#include "controller/autoscaler.h"
#include "controller/reconciler.h"

namespace ew::controller {

LagReadFn lagReadFn(std::shared_ptr<autoscale::LagReaderPool> pool);

// The migration's Kafka access: reads through the pool's clients, copies
// offsets with a short-lived admin client.
MigrationKafka migrationKafka(std::shared_ptr<autoscale::LagReaderPool> pool, autoscale::Millis timeout);

}  // namespace ew::controller
