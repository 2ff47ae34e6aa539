#include "cron/scheduler.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

namespace ew::cron {

namespace {
constexpr std::chrono::seconds kMaxSleep{1};
}  // namespace

CronScheduler::CronScheduler(std::vector<CronJob> jobs, JobInvoker invoker, const TimeSource& clock,
                             runtime::Uniform01 random)
    : jobs_(std::move(jobs)), invoker_(std::move(invoker)), clock_(clock), random_(std::move(random)) {}

CronScheduler::~CronScheduler() { stop(); }

void CronScheduler::start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  planner_.emplace(std::move(jobs_), clock_.wallNow(), random_);
  driver_ = std::thread([this] { driverLoop(); });
}

void CronScheduler::stop(std::chrono::milliseconds grace) {
  std::lock_guard stopLock(stopMu_);
  std::unique_lock lock(mu_);
  if (stopping_) return;
  stopping_ = true;
  wake_.notify_all();
  if (planner_) {
    planner_->drain();
    clock_.wait(wake_, lock, clock_.now() + grace, [this] { return attempts_.empty(); });
    executeLocked(planner_->stop());
  }
  wake_.wait(lock, [this] { return attempts_.empty(); });
  std::vector<std::thread> threads = takeFinishedLocked();
  lock.unlock();
  if (driver_.joinable()) driver_.join();
  for (std::thread& t : threads) t.join();
}

bool CronScheduler::running() const {
  std::lock_guard lock(mu_);
  return started_ && !stopping_;
}

std::vector<JobStats> CronScheduler::stats() const {
  std::lock_guard lock(mu_);
  return planner_ ? planner_->stats() : std::vector<JobStats>{};
}

void CronScheduler::driverLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    std::vector<std::thread> done = takeFinishedLocked();
    if (!done.empty()) {
      lock.unlock();
      for (std::thread& t : done) t.join();  // they have returned; joins are immediate
      lock.lock();
      continue;
    }
    executeLocked(planner_->due(clock_.wallNow()));
    std::chrono::nanoseconds sleep = kMaxSleep;
    if (auto wake = planner_->nextWakeup()) sleep = std::min<std::chrono::nanoseconds>(sleep, *wake - clock_.wallNow());
    if (sleep > std::chrono::nanoseconds::zero()) clock_.waitUntil(wake_, lock, clock_.now() + sleep);
  }
}

void CronScheduler::executeLocked(const Actions& actions) {
  for (RunId run : actions.cancel) {
    if (auto it = attempts_.find(run); it != attempts_.end()) it->second.cancel->requestCancel();
  }
  for (const AttemptStart& start : actions.start) {
    auto cancel = std::make_shared<CancelToken>();
    Attempt& attempt = attempts_[start.run];
    attempt.cancel = cancel;
    // The thread touches attempts_ only under mu_, so after this assignment.
    attempt.thread = std::thread(&CronScheduler::runAttempt, this, start, &planner_->job(start.job), std::move(cancel));
  }
}

void CronScheduler::runAttempt(AttemptStart start, const CronJob* job, std::shared_ptr<CancelToken> cancel) {
  runtime::HandlerResult result;
  try {
    result = invoker_(CronAttempt{*job, start.scheduledAt, start.attempt, start.deadline, *cancel});
  } catch (const std::exception& e) {
    result = {runtime::Outcome::Retry, std::string("job invoker threw: ") + e.what()};
  } catch (...) {
    result = {runtime::Outcome::Retry, "job invoker threw"};
  }
  std::lock_guard lock(mu_);
  planner_->finished(start.run, result, clock_.wallNow());
  auto it = attempts_.find(start.run);
  finished_.push_back(std::move(it->second.thread));
  attempts_.erase(it);
  wake_.notify_all();
}

std::vector<std::thread> CronScheduler::takeFinishedLocked() {
  std::vector<std::thread> out;
  out.swap(finished_);
  return out;
}

}  // namespace ew::cron
