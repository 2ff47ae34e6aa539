#pragma once
// The pure core of cron mode: given the time, what is due. It tracks each
// job's next fire time, the runs in progress and their attempts, and applies
// concurrencyPolicy, startingDeadlineSeconds, per-attempt timeouts and retries
// with backoff. It starts nothing itself: due() returns the attempts to start
// and the attempts to cancel; the caller reports each attempt's end through
// finished(). No clocks, threads or I/O: time comes in as arguments and
// randomness (retry jitter) through the constructor.
//
// Semantics, per job:
//  - A fire time is due once now >= it. If several are due at once (the caller
//    was late, or the clock jumped), only the latest is considered; the earlier
//    ones count as missed. Never a burst of catch-up runs.
//  - A due fire time later than startingDeadlineSeconds (whole seconds) is
//    skipped and counted as missed.
//  - Forbid: skipped (counted) while a run of the job is in progress, including
//    its backoff between attempts. Allow: runs overlap, up to
//    CronJob::maxConcurrentRuns; beyond that skipped. Replace: the runs in
//    progress are cancelled (outcome Cancelled) and the new one starts.
//  - Each attempt has a deadline of start + timeout; past it the attempt is
//    cancelled and, unless it still returns Done, counts as a timeout, which is
//    retried like Retry. Retries wait runtime::RetrySchedule's delay (full
//    jitter) and stop after retry.maxAttempts attempts in all.
//
// Thread-compatible: one caller at a time (the scheduler holds a mutex).

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/handler.h"
#include "core/retry_schedule.h"
#include "cron/job.h"
#include "ew/cron/clock.h"

namespace ew::cron {

using RunId = uint64_t;

enum class RunOutcome { Succeeded, Failed, TimedOut, Cancelled };
inline constexpr size_t kRunOutcomeCount = 4;
const char* toString(RunOutcome o);  // "succeeded", "failed", "timed_out", "cancelled"

// A plain snapshot for metrics and /status.
struct JobStats {
  std::string name;
  std::array<uint64_t, kRunOutcomeCount> runs{};  // finished runs, indexed by RunOutcome
  uint64_t started = 0;                           // runs started
  uint64_t retries = 0;                           // attempts after the first
  uint64_t skipped = 0;                           // fire times not run because of concurrencyPolicy
  uint64_t missed = 0;                            // fire times not run because late (see above); counts
                                                  // at most 1000 per catch-up after a long stall
  int active = 0;                                 // runs in progress (attempting or backing off)
  std::optional<TimePoint> lastRun;               // when the latest run started
  std::optional<TimePoint> lastSuccess;           // when the latest successful run ended
  std::optional<TimePoint> nextRun;               // the next fire time; none after stop() or if never
  std::string lastError;                          // detail of the latest failed attempt
};

struct AttemptStart {
  RunId run;
  size_t job;   // index into the jobs given to the constructor
  int attempt;  // 1-based
  TimePoint scheduledAt;
  TimePoint deadline;
};

// What the caller must do now: first request cancellation of the attempts in
// flight for `cancel`, then start `start`.
struct Actions {
  std::vector<RunId> cancel;
  std::vector<AttemptStart> start;
};

class CronPlanner {
 public:
  // Schedules each job's first fire time strictly after `now`.
  CronPlanner(std::vector<CronJob> jobs, TimePoint now, runtime::Uniform01 random);

  const CronJob& job(size_t index) const { return jobs_[index].job; }
  size_t jobCount() const { return jobs_.size(); }

  // Everything due at `now`: timeouts to cancel, retries and fire times to start.
  Actions due(TimePoint now);

  // The attempt of `run` returned `result` at `now`. REQUIRES: run came from
  // an AttemptStart and has not been reported yet.
  void finished(RunId run, const runtime::HandlerResult& result, TimePoint now);

  // Graceful shutdown, first step: starts nothing afterwards (no fire times,
  // no retries; pending retries end as Cancelled, and a failing attempt is no
  // longer retried) while attempts in flight run on. finished() still accepted.
  void drain();

  // Shutdown: drain(), then cancels every attempt in flight (outcome
  // Cancelled). finished() still accepted.
  Actions stop();

  // The earliest time due() has something to do, or nullopt (nothing scheduled).
  std::optional<TimePoint> nextWakeup() const;

  std::vector<JobStats> stats() const;

 private:
  enum class RunState { Attempting, BackingOff, Abandoned };
  struct Run {
    size_t job;
    TimePoint scheduledAt;
    int attempt = 1;
    RunState state = RunState::Attempting;
    TimePoint deadline{};   // Attempting
    TimePoint retryAt{};    // BackingOff
    bool timedOut = false;  // Attempting: cancelled at its deadline
  };
  struct JobState {
    CronJob job;
    runtime::RetrySchedule retry;
    std::optional<TimePoint> next;
    JobStats stats;
  };

  void fire(size_t job, TimePoint now, Actions& actions);
  void startRun(size_t job, TimePoint scheduledAt, TimePoint now, Actions& actions);
  void count(JobState& job, RunOutcome outcome) { ++job.stats.runs[static_cast<size_t>(outcome)]; }

  std::vector<JobState> jobs_;
  std::map<RunId, Run> runs_;
  RunId nextRunId_ = 1;
  bool stopped_ = false;
};

}  // namespace ew::cron
