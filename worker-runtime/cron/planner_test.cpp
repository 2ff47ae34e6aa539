#include "cron/planner.h"

#include <catch2/catch.hpp>

using namespace std::chrono;
using ew::cron::Actions;
using ew::cron::CronJob;
using ew::cron::CronPlanner;
using ew::cron::JobStats;
using ew::cron::RunId;
using ew::cron::RunOutcome;
using ew::cron::TimePoint;
using ew::runtime::ConcurrencyPolicy;
using ew::runtime::HandlerResult;
using ew::runtime::Outcome;

namespace {

TimePoint utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

const TimePoint kT0 = utc(2024, 9, 1, 12, 0, 0) + 500ms;

struct JobSpec {
  std::string schedule;
  ConcurrencyPolicy policy = ConcurrencyPolicy::Forbid;
  int64_t startingDeadlineSeconds = 60;
  milliseconds timeout = 5min;
  ew::runtime::RetryConfig retry{1, 1s, 60s};  // no retries unless asked
  int maxConcurrentRuns = 4;
};

CronJob makeJob(const JobSpec& spec) {
  ew::runtime::CronJobConfig c;
  c.name = "job";
  c.schedule = spec.schedule;
  c.route = "/jobs/job";
  c.concurrencyPolicy = spec.policy;
  c.startingDeadlineSeconds = spec.startingDeadlineSeconds;
  c.timeout = spec.timeout;
  c.retry = spec.retry;
  auto jobs = ew::cron::makeCronJobs({c});
  REQUIRE(jobs.ok());
  CronJob job = jobs->front();
  job.maxConcurrentRuns = spec.maxConcurrentRuns;
  return job;
}

// Backoff delays at their ceiling: initialBackoff * 2^(attempt-1), capped.
CronPlanner planner(const JobSpec& spec, TimePoint now = kT0) {
  return CronPlanner({makeJob(spec)}, now, [] { return 1.0; });
}

const HandlerResult kDone{Outcome::Done, ""};
const HandlerResult kRetry{Outcome::Retry, "HTTP 503"};
const HandlerResult kReject{Outcome::Reject, "HTTP 404"};

uint64_t runs(const JobStats& s, RunOutcome o) { return s.runs[static_cast<size_t>(o)]; }

// Every 2 seconds (6 fields): fires at kT0 + 1.5s, + 3.5s, + 5.5s, ...
TimePoint fire(int n) { return utc(2024, 9, 1, 12, 0, 2 * n); }

}  // namespace

TEST_CASE("planner: nothing is due before the first fire time after construction") {
  CronPlanner p = planner({"* * * * *"});
  CHECK(p.nextWakeup() == utc(2024, 9, 1, 12, 1));
  CHECK(p.stats()[0].nextRun == utc(2024, 9, 1, 12, 1));
  CHECK(p.due(utc(2024, 9, 1, 12, 0, 59) + 999ms).start.empty());
  Actions a = p.due(utc(2024, 9, 1, 12, 1) + 20ms);
  REQUIRE(a.start.size() == 1);
  CHECK(a.start[0].scheduledAt == utc(2024, 9, 1, 12, 1));
  CHECK(a.start[0].attempt == 1);
  CHECK(a.start[0].deadline == utc(2024, 9, 1, 12, 1) + 20ms + 5min);
  CHECK(p.stats()[0].lastRun == utc(2024, 9, 1, 12, 1) + 20ms);
  CHECK(p.stats()[0].nextRun == utc(2024, 9, 1, 12, 2));
  CHECK(p.due(utc(2024, 9, 1, 12, 1, 30)).start.empty());  // the same fire time starts once
}

TEST_CASE("planner: a planner made on a fire time, or just after it, never runs it (the pod it replaces may have)") {
  for (const TimePoint start : {fire(3), fire(3) + 1ms, fire(3) + 999ms}) {
    CronPlanner p = planner({"*/2 * * * * *"}, start);
    CHECK(p.nextWakeup() == fire(4));
    CHECK(p.due(start).start.empty());
    CHECK(p.due(fire(4) - 1ms).start.empty());
    const Actions a = p.due(fire(4));
    REQUIRE(a.start.size() == 1);
    CHECK(a.start[0].scheduledAt == fire(4));
    CHECK(p.stats()[0].missed == 0);
  }
}

TEST_CASE("planner: Forbid skips a fire time while the previous run is still running") {
  CronPlanner p = planner({"*/2 * * * * *", ConcurrencyPolicy::Forbid});
  Actions a = p.due(fire(1));
  REQUIRE(a.start.size() == 1);
  const RunId first = a.start[0].run;
  CHECK(p.due(fire(2)).start.empty());  // still running
  CHECK(p.stats()[0].skipped == 1);
  CHECK(p.stats()[0].active == 1);
  p.finished(first, kDone, fire(2) + 1s);
  a = p.due(fire(3));
  REQUIRE(a.start.size() == 1);
  CHECK(a.start[0].scheduledAt == fire(3));
  const JobStats s = p.stats()[0];
  CHECK(s.started == 2);
  CHECK(s.skipped == 1);
  CHECK(runs(s, RunOutcome::Succeeded) == 1);
  CHECK(s.lastSuccess == fire(2) + 1s);
}

TEST_CASE("planner: Forbid counts a run waiting to retry as running") {
  CronPlanner p = planner({"*/2 * * * * *", ConcurrencyPolicy::Forbid, 60, 5min, {3, 10s, 60s}});
  Actions a = p.due(fire(1));
  p.finished(a.start[0].run, kRetry, fire(1) + 1s);  // retry at fire(1) + 11s
  CHECK(p.due(fire(2)).start.empty());
  CHECK(p.stats()[0].skipped == 1);
}

TEST_CASE("planner: Allow overlaps runs up to the bound") {
  CronPlanner p = planner({"*/2 * * * * *", ConcurrencyPolicy::Allow, 60, 5min, {1, 1s, 1s}, 2});
  const RunId first = p.due(fire(1)).start.at(0).run;
  CHECK(p.due(fire(2)).start.size() == 1);  // overlaps the first
  CHECK(p.stats()[0].active == 2);
  CHECK(p.due(fire(3)).start.empty());  // bound of 2 reached
  CHECK(p.stats()[0].skipped == 1);
  p.finished(first, kDone, fire(3) + 1s);
  CHECK(p.due(fire(4)).start.size() == 1);
  CHECK(p.stats()[0].started == 3);
}

TEST_CASE("planner: Replace cancels the running run, then starts the new one") {
  CronPlanner p = planner({"*/2 * * * * *", ConcurrencyPolicy::Replace, 60, 5min, {3, 1s, 1s}});
  const RunId first = p.due(fire(1)).start.at(0).run;
  Actions a = p.due(fire(2));
  CHECK(a.cancel == std::vector<RunId>{first});
  REQUIRE(a.start.size() == 1);
  const RunId second = a.start[0].run;
  CHECK(second != first);
  CHECK(runs(p.stats()[0], RunOutcome::Cancelled) == 1);
  CHECK(p.stats()[0].active == 1);
  // The cancelled attempt reports back late; it is neither retried nor counted again.
  p.finished(first, kRetry, fire(2) + 100ms);
  CHECK(p.due(fire(2) + 1500ms).start.empty());  // a retry would have been due at + 1.1 s
  p.finished(second, kDone, fire(2) + 1600ms);
  const JobStats s = p.stats()[0];
  CHECK(runs(s, RunOutcome::Cancelled) == 1);
  CHECK(runs(s, RunOutcome::Succeeded) == 1);
  CHECK(s.retries == 0);
}

TEST_CASE("planner: Replace drops a run that is waiting to retry") {
  CronPlanner p = planner({"*/2 * * * * *", ConcurrencyPolicy::Replace, 60, 5min, {3, 10s, 60s}});
  const RunId first = p.due(fire(1)).start.at(0).run;
  p.finished(first, kRetry, fire(1) + 1s);
  Actions a = p.due(fire(2));
  CHECK(a.cancel.empty());  // nothing in flight to cancel
  CHECK(a.start.size() == 1);
  CHECK(runs(p.stats()[0], RunOutcome::Cancelled) == 1);
  CHECK(p.stats()[0].active == 1);
  CHECK(p.nextWakeup() == fire(3));  // not the dropped retry at fire(1) + 11 s
}

TEST_CASE("planner: a fire time later than startingDeadlineSeconds is missed, without catch-up") {
  CronPlanner p = planner({"* * * * *", ConcurrencyPolicy::Forbid, 30}, utc(2024, 9, 1, 12, 0));
  // A stall: 12:01, 12:02 and 12:03 all passed; the latest is 45 s late.
  Actions a = p.due(utc(2024, 9, 1, 12, 3, 45));
  CHECK(a.start.empty());
  JobStats s = p.stats()[0];
  CHECK(s.missed == 3);
  CHECK(s.nextRun == utc(2024, 9, 1, 12, 4));
  // The next fire time, 10 s late, is within the deadline.
  a = p.due(utc(2024, 9, 1, 12, 4, 10));
  REQUIRE(a.start.size() == 1);
  CHECK(a.start[0].scheduledAt == utc(2024, 9, 1, 12, 4));
  CHECK(p.stats()[0].missed == 3);
}

TEST_CASE("planner: after a short stall only the latest fire time runs") {
  CronPlanner p = planner({"* * * * *", ConcurrencyPolicy::Allow, 30}, utc(2024, 9, 1, 12, 0));
  Actions a = p.due(utc(2024, 9, 1, 12, 3, 20));
  REQUIRE(a.start.size() == 1);  // not three
  CHECK(a.start[0].scheduledAt == utc(2024, 9, 1, 12, 3));
  CHECK(p.stats()[0].missed == 2);
}

TEST_CASE("planner: the deadline is measured in whole seconds, so 0 allows sub-second lateness") {
  CronPlanner p = planner({"* * * * *", ConcurrencyPolicy::Forbid, 0}, utc(2024, 9, 1, 12, 0));
  CHECK(p.due(utc(2024, 9, 1, 12, 1) + 900ms).start.size() == 1);
  CHECK(p.due(utc(2024, 9, 1, 12, 2, 1)).start.empty());
  CHECK(p.stats()[0].missed == 1);
}

TEST_CASE("planner: a clock jump of years is handled at once, with one run at most") {
  CronPlanner p = planner({"* * * * * *", ConcurrencyPolicy::Forbid, 60});
  const TimePoint later = utc(2031, 3, 4, 5, 6, 7) + 250ms;
  Actions a = p.due(later);
  REQUIRE(a.start.size() == 1);
  CHECK(a.start[0].scheduledAt == utc(2031, 3, 4, 5, 6, 7));
  CHECK(p.stats()[0].missed == 1000);  // saturates per catch-up
  CHECK(p.stats()[0].nextRun == utc(2031, 3, 4, 5, 6, 8));

  CronPlanner q = planner({"*/7 * * * *", ConcurrencyPolicy::Forbid, 60});
  a = q.due(utc(2029, 1, 1, 0, 0, 30));
  REQUIRE(a.start.size() == 1);
  CHECK(a.start[0].scheduledAt == utc(2029, 1, 1, 0, 0));
}

TEST_CASE("planner: a clock that goes back starts nothing and keeps the next fire time") {
  CronPlanner p = planner({"* * * * *"});
  CHECK(p.due(kT0 - 1h).start.empty());
  CHECK(p.nextWakeup() == utc(2024, 9, 1, 12, 1));
}

TEST_CASE("planner: retries back off exponentially, then the run fails") {
  CronPlanner p = planner({"@hourly", ConcurrencyPolicy::Forbid, 60, 5min, {3, 1s, 60s}});
  const TimePoint t = utc(2024, 9, 1, 13);
  const RunId run = p.due(t).start.at(0).run;
  p.finished(run, kRetry, t + 1s);
  CHECK(p.nextWakeup() == t + 2s);  // 1 s backoff
  CHECK(p.due(t + 2s - 1ms).start.empty());
  Actions a = p.due(t + 2s);
  REQUIRE(a.start.size() == 1);
  CHECK(a.start[0].run == run);
  CHECK(a.start[0].attempt == 2);
  CHECK(a.start[0].scheduledAt == t);
  p.finished(run, kRetry, t + 3s);
  CHECK(p.nextWakeup() == t + 5s);  // 2 s backoff
  a = p.due(t + 5s);
  REQUIRE(a.start.size() == 1);
  CHECK(a.start[0].attempt == 3);
  p.finished(run, kRetry, t + 6s);  // the third and last attempt
  CHECK(p.nextWakeup() == utc(2024, 9, 1, 14));
  const JobStats s = p.stats()[0];
  CHECK(runs(s, RunOutcome::Failed) == 1);
  CHECK(s.retries == 2);
  CHECK(s.started == 1);
  CHECK(s.active == 0);
  CHECK(s.lastError == "HTTP 503");
}

TEST_CASE("planner: a retried run can still succeed, and Reject is never retried") {
  CronPlanner p = planner({"@hourly", ConcurrencyPolicy::Forbid, 60, 5min, {3, 1s, 60s}});
  const TimePoint t = utc(2024, 9, 1, 13);
  RunId run = p.due(t).start.at(0).run;
  p.finished(run, kRetry, t + 1s);
  p.due(t + 2s);
  p.finished(run, kDone, t + 3s);
  CHECK(runs(p.stats()[0], RunOutcome::Succeeded) == 1);

  run = p.due(t + 1h).start.at(0).run;
  p.finished(run, kReject, t + 1h + 1s);
  CHECK(p.due(t + 1h + 1min).start.empty());
  CHECK(runs(p.stats()[0], RunOutcome::Failed) == 1);
  CHECK(p.stats()[0].lastError == "HTTP 404");
}

TEST_CASE("planner: an attempt past its timeout is cancelled and retried, then times out") {
  CronPlanner p = planner({"@hourly", ConcurrencyPolicy::Forbid, 60, 10s, {2, 1s, 60s}});
  const TimePoint t = utc(2024, 9, 1, 13);
  Actions a = p.due(t);
  const RunId run = a.start.at(0).run;
  CHECK(a.start[0].deadline == t + 10s);
  CHECK(p.nextWakeup() == t + 10s);
  CHECK(p.due(t + 9s).cancel.empty());
  a = p.due(t + 10s);
  CHECK(a.cancel == std::vector<RunId>{run});
  CHECK(p.due(t + 10s).cancel.empty());     // asked once
  p.finished(run, kRetry, t + 10s + 50ms);  // the invoker gave up
  a = p.due(t + 11s + 50ms);
  REQUIRE(a.start.size() == 1);
  CHECK(a.start[0].attempt == 2);
  CHECK(a.start[0].deadline == t + 21s + 50ms);
  CHECK(p.due(t + 21s + 50ms).cancel == std::vector<RunId>{run});
  p.finished(run, kRetry, t + 22s);
  const JobStats s = p.stats()[0];
  CHECK(runs(s, RunOutcome::TimedOut) == 1);
  CHECK(s.lastError == "attempt 2 timed out after 10s");
}

TEST_CASE("planner: an attempt that returns Done after its timeout still succeeds") {
  CronPlanner p = planner({"@hourly", ConcurrencyPolicy::Forbid, 60, 10s});
  const TimePoint t = utc(2024, 9, 1, 13);
  const RunId run = p.due(t).start.at(0).run;
  p.due(t + 10s);
  p.finished(run, kDone, t + 10s + 1ms);
  CHECK(runs(p.stats()[0], RunOutcome::Succeeded) == 1);
}

TEST_CASE("planner: stop cancels attempts in flight, drops retries and schedules nothing more") {
  CronPlanner p({makeJob({"*/2 * * * * *", ConcurrencyPolicy::Allow, 60, 5min, {3, 10s, 60s}})}, kT0,
                [] { return 1.0; });
  const RunId a1 = p.due(fire(1)).start.at(0).run;
  const RunId a2 = p.due(fire(2)).start.at(0).run;
  p.finished(a1, kRetry, fire(2) + 1s);  // a1 now waits to retry
  Actions a = p.stop();
  CHECK(a.cancel == std::vector<RunId>{a2});
  CHECK(a.start.empty());
  CHECK_FALSE(p.nextWakeup().has_value());
  CHECK(p.due(fire(10)).start.empty());
  p.finished(a2, kDone, fire(3));  // reported after stop: accepted, already counted
  const JobStats s = p.stats()[0];
  CHECK(runs(s, RunOutcome::Cancelled) == 2);
  CHECK(runs(s, RunOutcome::Succeeded) == 0);
  CHECK(s.active == 0);
  CHECK_FALSE(s.nextRun.has_value());
}

TEST_CASE("planner: jobs are independent and outcomes have metric names") {
  CronPlanner p({makeJob({"*/2 * * * * *"}), makeJob({"@hourly"})}, kT0, [] { return 1.0; });
  CHECK(p.jobCount() == 2);
  CHECK(p.nextWakeup() == fire(1));
  Actions a = p.due(fire(1));
  REQUIRE(a.start.size() == 1);
  CHECK(a.start[0].job == 0);
  CHECK(p.stats()[1].nextRun == utc(2024, 9, 1, 13));
  CHECK(std::string(toString(RunOutcome::TimedOut)) == "timed_out");
}

TEST_CASE("planner: drain lets attempts in flight finish but starts nothing new") {
  CronPlanner p = planner({"*/2 * * * * *", ConcurrencyPolicy::Allow, 60, 10s, {3, 1s, 60s}});
  const RunId a1 = p.due(fire(1)).start.at(0).run;
  const RunId a2 = p.due(fire(2)).start.at(0).run;
  const RunId a3 = p.due(fire(3)).start.at(0).run;
  p.finished(a3, kRetry, fire(3) + 100ms);  // waiting to retry: dropped by drain
  p.drain();
  CHECK(p.nextWakeup() == fire(1) + 10s);  // a1's deadline still watched
  CHECK(p.due(fire(4)).start.empty());
  p.finished(a1, kDone, fire(4));
  p.finished(a2, kRetry, fire(4));  // not retried any more
  const JobStats s = p.stats()[0];
  CHECK(runs(s, RunOutcome::Succeeded) == 1);
  CHECK(runs(s, RunOutcome::Failed) == 1);
  CHECK(runs(s, RunOutcome::Cancelled) == 1);
  CHECK(s.active == 0);
  CHECK_FALSE(p.nextWakeup().has_value());
}
