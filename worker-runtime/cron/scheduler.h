#pragma once
// The real-time shell around CronPlanner. One driver thread sleeps until the
// planner's next wakeup, an attempt's end or stop(), asks the planner what is
// due and does it: each attempt runs on a thread of its own that calls the
// invoker (see job.h for its contract); cancellation is the attempt's
// CancelToken. All decisions live in the planner; this file only waits,
// spawns, flags and joins.
//
// The driver sleeps at most 1 s at a time so a wall-clock jump is noticed
// within a second. Thread-safe: every public method may be called from any
// thread.

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "core/retry_schedule.h"
#include "cron/job.h"
#include "cron/planner.h"
#include "ew/cron/clock.h"

namespace ew::cron {

class CronScheduler {
 public:
  // `clock` must outlive the scheduler. `random` feeds retry jitter; it is
  // called with the scheduler's lock held, so it need not be thread-safe.
  CronScheduler(std::vector<CronJob> jobs, JobInvoker invoker, const TimeSource& clock, runtime::Uniform01 random);
  ~CronScheduler();  // stop() without grace

  CronScheduler(const CronScheduler&) = delete;
  CronScheduler& operator=(const CronScheduler&) = delete;

  // Starts the driver thread; the first fire time of each job is the first one
  // after now. A second call does nothing.
  void start();

  // Stops scheduling (no new runs or retries), gives the attempts in flight up
  // to `grace` to return, cancels those still running, then blocks until every
  // invoker call has returned and all threads are joined. Idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds::zero());

  // True between start() and stop() (for /readyz: cron is scheduled).
  bool running() const;

  // A snapshot per job, in config order; empty before start().
  std::vector<JobStats> stats() const;

 private:
  struct Attempt {
    std::shared_ptr<CancelToken> cancel;
    std::thread thread;
  };

  void driverLoop();
  void executeLocked(const Actions& actions);
  void runAttempt(AttemptStart start, const CronJob* job, std::shared_ptr<CancelToken> cancel);
  std::vector<std::thread> takeFinishedLocked();

  std::vector<CronJob> jobs_;  // handed to the planner by start()
  const JobInvoker invoker_;
  const TimeSource& clock_;
  runtime::Uniform01 random_;

  std::mutex stopMu_;  // serializes stop()
  mutable std::mutex mu_;
  std::condition_variable wake_;  // an attempt ended, or stop()
  std::optional<CronPlanner> planner_;
  std::map<RunId, Attempt> attempts_;  // attempts whose invoker call has not returned
  std::vector<std::thread> finished_;  // threads of returned attempts, to join
  std::thread driver_;
  bool started_ = false;
  bool stopping_ = false;
};

}  // namespace ew::cron
