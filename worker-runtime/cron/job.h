#pragma once
// A cron job ready to schedule, and the seam through which a run calls the
// handler (the job invoker).

#include <atomic>
#include <functional>
#include <vector>

#include "core/config.h"
#include "core/handler.h"
#include "ew/cron/clock.h"
#include "ew/cron/schedule.h"
#include "ew/result.h"

namespace ew::cron {

struct CronJob {
  runtime::CronJobConfig config;
  Schedule schedule;  // parsed config.schedule
  // Allow only: at most this many runs of the job at once; a fire time that
  // finds the bound reached is skipped (not part of the config format).
  int maxConcurrentRuns = 4;
};

// Parses each job's schedule. Errors name the job: "cron[1] (price-sync).schedule:
// field 2 (hour): 24 is out of range 0-23".
Result<std::vector<CronJob>> makeCronJobs(const std::vector<runtime::CronJobConfig>& configs);

// A cooperative cancel flag for one attempt. Thread-safe.
class CancelToken {
 public:
  void requestCancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> cancelled_{false};
};

// One attempt of one run of a job, as handed to the invoker.
struct CronAttempt {
  const CronJob& job;     // route: job.config.route
  TimePoint scheduledAt;  // the fire time this run belongs to (whole seconds, UTC)
  int attempt;            // 1-based; > 1 for retries
  TimePoint deadline;     // wall-clock: start of this attempt + job.config.timeout
  const CancelToken& cancel;
};

// Calls the handler for one attempt and reports how it went:
//   Done   -> the run succeeded;
//   Retry  -> failed, may succeed later: retried with the job's backoff while
//             attempts remain (config.retry.maxAttempts counts all attempts);
//   Reject -> failed for good: no retry.
// Contract: called on a thread of the scheduler's own, concurrently for
// different runs (also of the same job, under Allow and Replace), so it must
// be thread-safe. It should give up by `deadline`, and must return promptly
// once `cancel.cancelled()` (set on Replace, on timeout and on shutdown); the
// result of a cancelled attempt is recorded as cancelled or timed out unless
// it is Done. The references in CronAttempt are valid only during the call.
using JobInvoker = std::function<runtime::HandlerResult(const CronAttempt&)>;

}  // namespace ew::cron
