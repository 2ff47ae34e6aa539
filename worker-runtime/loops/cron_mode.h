#pragma once
// The seam between main and the cron engine (worker-runtime/cron/).
//
// runCronMode schedules CONFIG.cron (CronJobConfig: schedule, route,
// concurrencyPolicy, startingDeadlineSeconds, timeout, retry) and calls
// HANDLER for each run with request.route = job.route and a CloudEvent body
// (type "dev.eventworker.cron", id unique per run), retrying per job.retry,
// until STOP becomes true; then it lets running jobs finish within
// config.server.gracePeriod and returns. It reports through METRICS
// (worker_cron_runs_total{worker,job,status}, worker_cron_last_success_timestamp_seconds{worker,job}).
// The schedule runs on TIME (fire times, deadlines, retries).
//
// Implemented by the library ew_cron_mode (worker-runtime/cron/cron_mode.cpp).

#include <atomic>

#include "core/config.h"
#include "core/handler.h"
#include "ew/metrics.h"
#include "ew/result.h"
#include "ew/time_source.h"

namespace ew::runtime {

Status runCronMode(const RuntimeConfig& config, HandlerPtr handler, MetricsRegistry& metrics,
                   const std::atomic<bool>& stop, const TimeSource& time);

}  // namespace ew::runtime
