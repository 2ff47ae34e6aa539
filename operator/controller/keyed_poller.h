#pragma once
// The schedule the pod monitors share (outbox_monitor.h, streams_scaler.h):
// EventWorker keys tracked with a Target (what to poll) and a State of the
// monitor's own, each polled every interval. track() of a new or changed
// target makes it due at once (its State is kept); run() calls the
// monitor's pollDue() until stop(), waking early for a key that falls due.
//
// Thread-safe: entries_ is guarded by mu_; a monitor's pollDue() takes
// takeDue() and untilNextDue() (each locks mu_), and mu_ itself around its
// reads of entries_.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ew/time_source.h"

namespace ew::controller {

template <class Target, class State>
class KeyedPoller {
 public:
  using Millis = std::chrono::milliseconds;

  // Starts or updates polling for KEY (namespace/name).
  void track(const std::string& key, const Target& target) {
    std::lock_guard lock(mu_);
    auto [it, added] = entries_.try_emplace(key);
    if (!added && it->second.target == target) return;
    it->second.target = target;
    it->second.nextDue = time_.now();  // a new or changed spec is looked at promptly
    cv_.notify_all();
  }
  void untrack(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    forget(key, it->second);
    entries_.erase(it);
  }

  // Polls every target due; returns how long until the next is due.
  virtual Millis pollDue() = 0;

  void run() {
    while (!stopped_) {
      const Millis wait = pollDue();
      std::unique_lock lock(mu_);
      const MonoTime deadline = time_.now() + wait;
      time_.wait(cv_, lock, deadline, [this, deadline] {
        if (stopped_) return true;
        for (const auto& [key, e] : entries_)
          if (e.nextDue < deadline) return true;
        return false;
      });
    }
  }
  void stop() {
    stopped_ = true;
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }

 protected:
  KeyedPoller(const TimeSource& time, Millis interval) : time_(time), interval_(interval) {}
  virtual ~KeyedPoller() = default;

  struct Entry {
    Target target;
    State state;
    MonoTime nextDue{};
  };
  struct Due {
    std::string key;
    Target target;
  };

  // The keys due at NOW with their targets; each is next due an interval later.
  std::vector<Due> takeDue(MonoTime now) {
    std::vector<Due> due;
    std::lock_guard lock(mu_);
    for (auto& [key, e] : entries_) {
      if (e.nextDue > now) continue;
      due.push_back({key, e.target});
      e.nextDue = now + interval_;
    }
    return due;
  }
  // How long from NOW until the next key is due (at most an interval).
  Millis untilNextDue(MonoTime now) const {
    std::lock_guard lock(mu_);
    MonoTime next = now + interval_;
    for (const auto& [key, e] : entries_) next = std::min(next, e.nextDue);
    return std::chrono::duration_cast<Millis>(std::max(next - now, MonoTime::duration::zero()));
  }
  // The entry of D's key while it is still tracked with D's target, else
  // null (untracked or changed during the poll). REQUIRES: mu_ held.
  Entry* stillTracked(const Due& d) {
    auto it = entries_.find(d.key);
    return it == entries_.end() || !(it->second.target == d.target) ? nullptr : &it->second;
  }

  // KEY is untracked: a monitor drops what it exports of E (its metric
  // series). REQUIRES: mu_ held.
  virtual void forget(const std::string& /*key*/, Entry& /*e*/) {}

  const TimeSource& time_;
  const Millis interval_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;  // guarded by mu_

 private:
  std::condition_variable cv_;
  std::atomic<bool> stopped_{false};
};

}  // namespace ew::controller
