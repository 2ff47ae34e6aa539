#pragma once
// Binds the autoscaler's lag source (LagReadFn) to the librdkafka lag reader:
// one client per cluster from the pool, one batched read per call.

#include <memory>

#include "autoscale/lag_reader.h"
#include "controller/autoscaler.h"

namespace ew::controller {

LagReadFn lagReadFn(std::shared_ptr<autoscale::LagReaderPool> pool);

}  // namespace ew::controller
