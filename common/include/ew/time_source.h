#pragma once
// One source of time for logic (STYLE.md: no clock reads in logic except
// through this): monotonic time for deadlines, intervals and back-off, wall
// time for what is shown to users or compared with other machines (status
// timestamps, leases, cron). Production uses systemTime(); tests use
// ManualTime and move it on by hand, so retry timing, first-status waits and
// lease expiry are driven without sleeps.
//
// Thread-safe: both implementations may be read from any thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

namespace ew {

using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

class TimeSource {
 public:
  virtual ~TimeSource() = default;
  virtual MonoTime now() const = 0;
  virtual WallTime wallNow() const = 0;
  // Blocks on CV (LOCK held) until notified or until now() reaches DEADLINE.
  // It may return early (spurious wake-ups, or a manual clock's short real
  // wait): callers re-check their condition and their deadline in a loop.
  virtual void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, MonoTime deadline) const = 0;
  // Waits until PRED holds (true) or DEADLINE passes with PRED still false.
  template <typename Pred>
  bool wait(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, MonoTime deadline, Pred pred) const {
    while (!pred()) {
      if (now() >= deadline) return pred();
      waitUntil(cv, lock, deadline);
    }
    return true;
  }
};

// "2026-12-06T05:23:07Z": whole seconds, UTC (Kubernetes' metav1.Time).
std::string rfc3339(WallTime t);

// The machine's clocks (steady_clock, system_clock).
const TimeSource& systemTime();

// Time that moves only when a test moves it. Starts at a fixed, arbitrary
// point (not zero, so "time_point{}" stays distinguishable as "never").
class ManualTime : public TimeSource {
 public:
  ManualTime();
  MonoTime now() const override;
  WallTime wallNow() const override;
  // Waits at most a millisecond of real time (or until notified): threads
  // waiting on a manual deadline notice advance() within that.
  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, MonoTime deadline) const override;
  void advance(std::chrono::nanoseconds by);

 private:
  std::atomic<int64_t> elapsedNs_{0};
  const MonoTime monoStart_;
  const WallTime wallStart_;
};

}  // namespace ew
