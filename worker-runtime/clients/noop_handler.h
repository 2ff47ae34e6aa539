#pragma once
// The noop handler: every event is done at once (benchmarks). Thread-safe.

#include "core/handler.h"

namespace ew::runtime {

class NoopHandler : public Handler {
 public:
  HandlerResult handle(const HandlerRequest&) override { return {}; }
  bool needsBody() const override { return false; }
  bool blocks() const override { return false; }
};

}  // namespace ew::runtime
