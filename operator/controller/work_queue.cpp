#include "controller/work_queue.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ew::controller {

std::chrono::milliseconds backoffDelay(const BackoffPolicy& policy, int failures) {
  if (failures <= 0) return std::chrono::milliseconds(0);
  const int64_t base = policy.base.count(), cap = policy.cap.count();
  int64_t d = base;
  for (int i = 1; i < failures && d < cap; ++i) d *= 2;
  return std::chrono::milliseconds(std::min(d, cap));
}

WorkQueue::WorkQueue(const TimeSource& clock, BackoffPolicy policy)
    : clock_(clock), policy_(policy), tokens_(policy.retryBurst), tokensAt_(clock.now()) {}

void WorkQueue::enqueueLocked(const std::string& key) {
  waiting_.erase(key);
  if (processing_.count(key)) {
    dirty_.insert(key);
    return;
  }
  if (queued_.insert(key).second) ready_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::add(const std::string& key) {
  std::lock_guard lock(mu_);
  if (shutDown_) return;
  enqueueLocked(key);
}

void WorkQueue::addAfter(const std::string& key, std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  if (shutDown_) return;
  if (delay.count() <= 0) return enqueueLocked(key);
  if (queued_.count(key)) return;  // already ready: sooner than any delay
  const TimePoint due = clock_.now() + delay;
  auto [it, inserted] = waiting_.emplace(key, due);
  if (!inserted && due < it->second) it->second = due;
  cv_.notify_one();
}

void WorkQueue::cancelDelayed(const std::string& key) {
  std::lock_guard lock(mu_);
  waiting_.erase(key);
}

std::chrono::milliseconds WorkQueue::reserveRetryLocked() {
  const TimePoint now = clock_.now();
  const double elapsed = std::chrono::duration<double>(now - tokensAt_).count();
  tokens_ = std::min(policy_.retryBurst, tokens_ + std::max(0.0, elapsed) * policy_.retriesPerSecond);
  tokensAt_ = now;
  tokens_ -= 1;
  if (tokens_ >= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(-tokens_ / policy_.retriesPerSecond * 1000)));
}

void WorkQueue::addRateLimited(const std::string& key) {
  std::chrono::milliseconds delay;
  {
    std::lock_guard lock(mu_);
    delay = std::max(backoffDelay(policy_, ++failures_[key]), reserveRetryLocked());
  }
  addAfter(key, delay);
}

void WorkQueue::forget(const std::string& key) {
  std::lock_guard lock(mu_);
  failures_.erase(key);
}

int WorkQueue::failures(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = failures_.find(key);
  return it == failures_.end() ? 0 : it->second;
}

void WorkQueue::promoteDueLocked() {
  const TimePoint now = clock_.now();
  // Due keys in due-time order keep delayed requeues roughly FIFO.
  std::vector<std::pair<TimePoint, std::string>> due;
  for (const auto& [key, at] : waiting_)
    if (at <= now) due.emplace_back(at, key);
  std::sort(due.begin(), due.end());
  for (const auto& [at, key] : due) enqueueLocked(key);
}

std::optional<std::string> WorkQueue::tryGet() {
  std::lock_guard lock(mu_);
  promoteDueLocked();
  if (ready_.empty()) return std::nullopt;
  std::string key = std::move(ready_.front());
  ready_.pop_front();
  queued_.erase(key);
  processing_.insert(key);
  return key;
}

std::optional<std::string> WorkQueue::get(std::chrono::milliseconds maxWait) {
  const auto deadline = clock_.now() + maxWait;
  std::unique_lock lock(mu_);
  while (!shutDown_) {
    promoteDueLocked();
    if (!ready_.empty()) {
      std::string key = std::move(ready_.front());
      ready_.pop_front();
      queued_.erase(key);
      processing_.insert(key);
      return key;
    }
    if (clock_.now() >= deadline) return std::nullopt;
    auto wakeAt = deadline;
    for (const auto& [key, due] : waiting_) wakeAt = std::min(wakeAt, due);
    clock_.waitUntil(cv_, lock, wakeAt);
  }
  return std::nullopt;
}

void WorkQueue::done(const std::string& key) {
  std::lock_guard lock(mu_);
  processing_.erase(key);
  if (dirty_.erase(key) && !shutDown_) enqueueLocked(key);
}

void WorkQueue::shutDown() {
  std::lock_guard lock(mu_);
  shutDown_ = true;
  cv_.notify_all();
}

bool WorkQueue::shuttingDown() const {
  std::lock_guard lock(mu_);
  return shutDown_;
}

size_t WorkQueue::depth() const {
  std::lock_guard lock(mu_);
  return ready_.size() + waiting_.size() + dirty_.size();
}

std::optional<WorkQueue::TimePoint> WorkQueue::nextDelayed() const {
  std::lock_guard lock(mu_);
  std::optional<TimePoint> best;
  for (const auto& [key, at] : waiting_)
    if (!best || at < *best) best = at;
  return best;
}

}  // namespace ew::controller
