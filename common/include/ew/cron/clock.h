#pragma once
// Wall-clock time for cron (schedules are in UTC civil time, so this is the
// system clock, not the steady one). Injected into the real-time scheduler so
// that everything above it can be driven by plain time values in tests.

#include <chrono>

namespace ew::cron {

using TimePoint = std::chrono::system_clock::time_point;

class WallClock {
 public:
  virtual ~WallClock() = default;
  // Thread-safe.
  virtual TimePoint now() const = 0;
};

class SystemWallClock : public WallClock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

}  // namespace ew::cron
