#include "cron/planner.h"

#include <algorithm>
#include <cassert>
#include <utility>

#include "ew/duration.h"

namespace ew::cron {
namespace {

using namespace std::chrono;

constexpr int kScanLimit = 1000;

// REQUIRES: first is a fire time of s and first <= now. Returns the latest fire
// time <= now and how many fire times from first on it supersedes (at most
// kScanLimit; past that the latest is found by bisection over seconds).
std::pair<TimePoint, uint64_t> latestFire(const Schedule& s, TimePoint first, TimePoint now) {
  auto firesBy = [&](TimePoint t) {
    auto n = s.nextAfter(t);
    return n && *n <= now;
  };
  TimePoint f = first;
  uint64_t superseded = 0;
  for (int i = 0; i < kScanLimit; ++i) {
    auto n = s.nextAfter(f);
    if (!n || *n > now) return {f, superseded};
    f = *n;
    ++superseded;
  }
  if (!firesBy(f)) return {f, superseded};
  // Smallest whole second x with no fire time in (x, now]: the latest fire time.
  sys_seconds lo = floor<seconds>(f);    // firesBy(lo)
  sys_seconds hi = floor<seconds>(now);  // !firesBy(hi): the next fire after hi is > now
  while (hi - lo > 1s) {
    const sys_seconds mid = lo + (hi - lo) / 2;
    (firesBy(mid) ? lo : hi) = mid;
  }
  return {hi, superseded};
}

}  // namespace

const char* toString(RunOutcome o) {
  switch (o) {
    case RunOutcome::Succeeded:
      return "succeeded";
    case RunOutcome::Failed:
      return "failed";
    case RunOutcome::TimedOut:
      return "timed_out";
    case RunOutcome::Cancelled:
      return "cancelled";
  }
  return "unknown";
}

CronPlanner::CronPlanner(std::vector<CronJob> jobs, TimePoint now, runtime::Uniform01 random) {
  jobs_.reserve(jobs.size());
  for (CronJob& job : jobs) {
    runtime::RetrySchedule retry(job.config.retry, random);
    auto next = job.schedule.nextAfter(now);
    JobStats stats;
    stats.name = job.config.name;
    jobs_.push_back(JobState{std::move(job), std::move(retry), next, std::move(stats)});
  }
}

Actions CronPlanner::due(TimePoint now) {
  Actions actions;
  for (auto& [id, run] : runs_) {
    JobState& js = jobs_[run.job];
    if (run.state == RunState::Attempting && !run.timedOut && now >= run.deadline) {
      run.timedOut = true;
      actions.cancel.push_back(id);
    } else if (run.state == RunState::BackingOff && now >= run.retryAt) {
      run.state = RunState::Attempting;
      ++run.attempt;
      run.deadline = now + js.job.config.timeout;
      run.timedOut = false;
      ++js.stats.retries;
      actions.start.push_back({id, run.job, run.attempt, run.scheduledAt, run.deadline});
    }
  }
  if (!stopped_) {
    for (size_t j = 0; j < jobs_.size(); ++j) fire(j, now, actions);
  }
  return actions;
}

void CronPlanner::fire(size_t j, TimePoint now, Actions& actions) {
  JobState& js = jobs_[j];
  if (!js.next || *js.next > now) return;
  const auto [scheduledAt, superseded] = latestFire(js.job.schedule, *js.next, now);
  js.stats.missed += superseded;
  js.next = js.job.schedule.nextAfter(scheduledAt);
  if (floor<seconds>(now - scheduledAt) > seconds(js.job.config.startingDeadlineSeconds)) {
    ++js.stats.missed;
    return;
  }
  const auto active = std::count_if(runs_.begin(), runs_.end(), [&](const auto& entry) {
    return entry.second.job == j && entry.second.state != RunState::Abandoned;
  });
  switch (js.job.config.concurrencyPolicy) {
    case runtime::ConcurrencyPolicy::Forbid:
      if (active > 0) {
        ++js.stats.skipped;
        return;
      }
      break;
    case runtime::ConcurrencyPolicy::Allow:
      if (active >= js.job.maxConcurrentRuns) {
        ++js.stats.skipped;
        return;
      }
      break;
    case runtime::ConcurrencyPolicy::Replace:
      for (auto it = runs_.begin(); it != runs_.end();) {
        Run& run = it->second;
        if (run.job != j || run.state == RunState::Abandoned) {
          ++it;
          continue;
        }
        count(js, RunOutcome::Cancelled);
        if (run.state == RunState::Attempting) {
          run.state = RunState::Abandoned;  // erased when its attempt reports back
          actions.cancel.push_back(it->first);
          ++it;
        } else {
          it = runs_.erase(it);
        }
      }
      break;
  }
  startRun(j, scheduledAt, now, actions);
}

void CronPlanner::startRun(size_t j, TimePoint scheduledAt, TimePoint now, Actions& actions) {
  JobState& js = jobs_[j];
  const RunId id = nextRunId_++;
  Run run{j, scheduledAt};
  run.deadline = now + js.job.config.timeout;
  runs_.emplace(id, run);
  ++js.stats.started;
  js.stats.lastRun = now;
  actions.start.push_back({id, j, run.attempt, scheduledAt, run.deadline});
}

void CronPlanner::finished(RunId id, const runtime::HandlerResult& result, TimePoint now) {
  auto it = runs_.find(id);
  assert(it != runs_.end());
  if (it == runs_.end()) return;
  Run& run = it->second;
  JobState& js = jobs_[run.job];
  if (run.state == RunState::Abandoned) {  // already counted as cancelled
    runs_.erase(it);
    return;
  }
  assert(run.state == RunState::Attempting);
  if (result.outcome == runtime::Outcome::Done) {
    count(js, RunOutcome::Succeeded);
    js.stats.lastSuccess = now;
    runs_.erase(it);
    return;
  }
  js.stats.lastError = run.timedOut ? "attempt " + std::to_string(run.attempt) + " timed out after " +
                                          ew::formatDuration(js.job.config.timeout)
                                    : result.detail;
  const bool retryable = run.timedOut || result.outcome == runtime::Outcome::Retry;
  if (retryable && !stopped_ && js.retry.shouldRetry(run.attempt)) {
    run.state = RunState::BackingOff;
    run.retryAt = now + js.retry.delayAfter(run.attempt);
    return;
  }
  count(js, run.timedOut ? RunOutcome::TimedOut : RunOutcome::Failed);
  runs_.erase(it);
}

void CronPlanner::drain() {
  stopped_ = true;
  for (JobState& js : jobs_) js.next.reset();
  for (auto it = runs_.begin(); it != runs_.end();) {
    if (it->second.state == RunState::BackingOff) {
      count(jobs_[it->second.job], RunOutcome::Cancelled);
      it = runs_.erase(it);
    } else {
      ++it;
    }
  }
}

Actions CronPlanner::stop() {
  drain();
  Actions actions;
  for (auto& [id, run] : runs_) {
    if (run.state != RunState::Attempting) continue;
    count(jobs_[run.job], RunOutcome::Cancelled);
    run.state = RunState::Abandoned;
    actions.cancel.push_back(id);
  }
  return actions;
}

std::optional<TimePoint> CronPlanner::nextWakeup() const {
  std::optional<TimePoint> wake;
  auto consider = [&](TimePoint t) {
    if (!wake || t < *wake) wake = t;
  };
  for (const JobState& js : jobs_) {
    if (js.next) consider(*js.next);
  }
  for (const auto& [id, run] : runs_) {
    if (run.state == RunState::BackingOff) consider(run.retryAt);
    if (run.state == RunState::Attempting && !run.timedOut) consider(run.deadline);
  }
  return wake;
}

std::vector<JobStats> CronPlanner::stats() const {
  std::vector<JobStats> out;
  out.reserve(jobs_.size());
  for (size_t j = 0; j < jobs_.size(); ++j) {
    JobStats s = jobs_[j].stats;
    s.nextRun = jobs_[j].next;
    s.active = static_cast<int>(std::count_if(runs_.begin(), runs_.end(), [&](const auto& entry) {
      return entry.second.job == j && entry.second.state != RunState::Abandoned;
    }));
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace ew::cron
