#pragma once
// At most one log line per interval for a repeated condition (e.g. the
// idempotency store being down), with the count of lines left out. Pure: the
// caller passes the time. Not thread-safe.

#include <chrono>
#include <cstdint>
#include <optional>

#include "ew/duration.h"

namespace ew::runtime {

class LogThrottle {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  explicit LogThrottle(Millis interval) : interval_(interval) {}

  // Called once per occurrence at NOW. When a line is due, returns how many
  // occurrences were left out since the previous line; otherwise nullopt.
  std::optional<uint64_t> admit(TimePoint now);

 private:
  Millis interval_;
  std::optional<TimePoint> last_;
  uint64_t suppressed_ = 0;
};

}  // namespace ew::runtime
