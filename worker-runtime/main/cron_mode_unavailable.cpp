// Linked when worker-runtime/cron does not provide ew_cron_mode (see loops/cron_mode.h).
#include "loops/cron_mode.h"

namespace ew::runtime {

Status runCronMode(const RuntimeConfig&, HandlerPtr, MetricsRegistry&, const std::atomic<bool>&) {
  return Error{"--mode cron: this binary was built without the cron engine (worker-runtime/cron)"};
}

}  // namespace ew::runtime
