#include "core/retry_schedule.h"

#include <algorithm>
#include <cmath>

namespace ew::runtime {

RetrySchedule::RetrySchedule(RetryConfig config, Uniform01 random) : config_(config), random_(std::move(random)) {}

Millis RetrySchedule::ceiling(int attempts) const {
  const int doublings = std::clamp(attempts - 1, 0, 62);
  const double initial = static_cast<double>(config_.initialBackoff.count());
  const double cap = static_cast<double>(config_.maxBackoff.count());
  return Millis(static_cast<int64_t>(std::min(cap, initial * std::ldexp(1.0, doublings))));
}

Millis RetrySchedule::delayAfter(int attempts) const {
  const double r = std::clamp(random_(), 0.0, 1.0);
  return Millis(static_cast<int64_t>(std::floor(r * static_cast<double>(ceiling(attempts).count()))));
}

}  // namespace ew::runtime
