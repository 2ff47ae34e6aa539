#pragma once
// The exec handler: runs COMMAND once per event with the CloudEvent JSON on
// stdin and EW_ROUTE / EW_EVENT_ID in the environment; exit 0 is done, 75 a
// retry, anything else a reject. A run past the timeout is killed (SIGKILL,
// whole process group) and retried; the timeout runs on TIME (which must
// outlive the handler). Thread-safe.

#include "core/config.h"
#include "core/handler.h"
#include "ew/time_source.h"

namespace ew::runtime {

class ExecHandler : public Handler {
 public:
  explicit ExecHandler(ExecHandlerConfig config, const TimeSource& time = systemTime())
      : config_(std::move(config)), time_(time) {}
  HandlerResult handle(const HandlerRequest& request) override;

 private:
  ExecHandlerConfig config_;
  const TimeSource& time_;
};

}  // namespace ew::runtime
