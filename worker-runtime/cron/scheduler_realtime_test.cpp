// Real time, real threads: sleeps for ~7 s, so labelled "integration" (no
// servers needed). Everything the scheduler decides is covered hermetically
// in planner_test.cpp; this checks the shell keeps time and honours Forbid.

#include "cron/scheduler.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

using namespace std::chrono;
using ew::systemTime;
using ew::cron::CronAttempt;
using ew::cron::CronJob;
using ew::cron::CronScheduler;
using ew::cron::JobStats;
using ew::cron::RunOutcome;
using ew::cron::TimePoint;
using ew::runtime::HandlerResult;
using ew::runtime::Outcome;

namespace {

CronJob everyTwoSeconds(const std::string& name) {
  ew::runtime::CronJobConfig c;
  c.name = name;
  c.schedule = "*/2 * * * * *";
  c.route = "/jobs/" + name;
  c.concurrencyPolicy = ew::runtime::ConcurrencyPolicy::Forbid;
  auto jobs = ew::cron::makeCronJobs({c});
  REQUIRE(jobs.ok());
  return jobs->front();
}

struct Call {
  TimePoint scheduledAt;
  TimePoint started;
  TimePoint ended;
  bool cancelled = false;
};

}  // namespace

TEST_CASE("real time: a 6-field every-2-seconds job runs on time, and Forbid skips a 3 s job's overlap") {
  std::mutex mu;
  std::vector<Call> fast, slow;
  auto invoker = [&](const CronAttempt& a) -> HandlerResult {
    Call call{a.scheduledAt, system_clock::now(), {}};
    if (a.job.config.name == "slow") {
      const auto until = call.started + 3s;
      while (system_clock::now() < until && !a.cancel.cancelled()) std::this_thread::sleep_for(10ms);
      call.cancelled = a.cancel.cancelled();
    }
    call.ended = system_clock::now();
    std::lock_guard lock(mu);
    (a.job.config.name == "slow" ? slow : fast).push_back(call);
    return {call.cancelled ? Outcome::Retry : Outcome::Done, ""};
  };

  const ew::TimeSource& clock = systemTime();
  CronScheduler scheduler({everyTwoSeconds("fast"), everyTwoSeconds("slow")}, invoker, clock, [] { return 0.5; });
  scheduler.start();
  CHECK(scheduler.running());

  // Fires at t, t+2, t+4: fast runs each; slow runs t (until t+3), skips t+2, runs t+4.
  const auto giveUp = steady_clock::now() + 9s;
  while (steady_clock::now() < giveUp) {
    {
      std::lock_guard lock(mu);
      if (fast.size() >= 3) break;
    }
    std::this_thread::sleep_for(20ms);
  }
  std::this_thread::sleep_for(200ms);  // let slow's second run begin
  const std::vector<JobStats> beforeStop = scheduler.stats();
  scheduler.stop();  // cancels slow's second run
  CHECK_FALSE(scheduler.running());

  std::lock_guard lock(mu);
  REQUIRE(fast.size() >= 3);
  for (size_t i = 0; i < 3; ++i) {
    INFO("fast run " << i);
    const auto sinceBoundary = fast[i].started - fast[i].scheduledAt;
    CHECK(sinceBoundary >= 0ms);
    CHECK(sinceBoundary < 300ms);
    CHECK(duration_cast<seconds>(fast[i].scheduledAt.time_since_epoch()).count() % 2 == 0);
    if (i > 0) CHECK(fast[i].scheduledAt - fast[i - 1].scheduledAt == 2s);
  }

  REQUIRE(slow.size() == 2);
  CHECK(slow[0].scheduledAt == fast[0].scheduledAt);
  CHECK_FALSE(slow[0].cancelled);
  CHECK(slow[1].scheduledAt - slow[0].scheduledAt == 4s);  // t+2 skipped
  CHECK(slow[1].started >= slow[0].ended);                 // never overlapping
  CHECK(slow[1].cancelled);                                // by stop()

  REQUIRE(beforeStop.size() == 2);
  CHECK(beforeStop[1].name == "slow");
  CHECK(beforeStop[1].skipped == 1);
  CHECK(beforeStop[1].started == 2);
  CHECK(beforeStop[0].skipped == 0);
  CHECK(beforeStop[0].runs[static_cast<size_t>(RunOutcome::Succeeded)] >= 3);

  const std::vector<JobStats> after = scheduler.stats();
  CHECK(after[1].runs[static_cast<size_t>(RunOutcome::Succeeded)] == 1);
  CHECK(after[1].runs[static_cast<size_t>(RunOutcome::Cancelled)] == 1);
  CHECK(after[1].active == 0);
}

TEST_CASE("real time: stop with a grace period lets the running attempt finish") {
  std::atomic<int> calls{0};
  std::atomic<bool> sawCancel{false};
  auto invoker = [&](const CronAttempt& a) -> HandlerResult {
    ++calls;
    std::this_thread::sleep_for(300ms);
    sawCancel = a.cancel.cancelled();
    return {Outcome::Done, ""};
  };
  const ew::TimeSource& clock = systemTime();
  CronScheduler scheduler({everyTwoSeconds("graceful")}, invoker, clock, [] { return 0.5; });
  scheduler.start();
  const auto giveUp = steady_clock::now() + 4s;
  while (calls == 0 && steady_clock::now() < giveUp) std::this_thread::sleep_for(10ms);
  REQUIRE(calls == 1);
  scheduler.stop(5s);
  CHECK_FALSE(sawCancel);
  const JobStats s = scheduler.stats().at(0);
  CHECK(s.runs[static_cast<size_t>(RunOutcome::Succeeded)] == 1);
  CHECK(s.runs[static_cast<size_t>(RunOutcome::Cancelled)] == 0);
}

TEST_CASE("real time: stop before start and repeated stop return at once") {
  const ew::TimeSource& clock = systemTime();
  CronScheduler scheduler(
      {everyTwoSeconds("never-started")}, [](const CronAttempt&) { return HandlerResult{}; }, clock,
      [] { return 0.5; });
  CHECK(scheduler.stats().empty());
  scheduler.stop();
  scheduler.stop();
  scheduler.start();  // after stop: does nothing
  CHECK_FALSE(scheduler.running());
}
