#pragma once
// The CloudEvent a cron run sends to the handler. Pure.

#include <string>

#include "cron/job.h"
#include "ew/cron/clock.h"

namespace ew::cron {

struct CronEvent {
  std::string id;    // "<worker>/<job>/<scheduled unix seconds>": one per run, kept across retries
  std::string body;  // structured CloudEvent JSON, type "dev.eventworker.cron"
};

CronEvent cronEvent(const std::string& worker, const std::string& ns, const CronJob& job, TimePoint scheduledAt,
                    int attempt);

}  // namespace ew::cron
