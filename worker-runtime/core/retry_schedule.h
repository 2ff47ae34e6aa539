#pragma once
// Exponential backoff with full jitter (AWS architecture blog, "Exponential
// Backoff And Jitter"): the delay before attempt n+1 is uniform in
// [0, min(maxBackoff, initialBackoff * 2^(n-1))]. Pure; randomness is injected.

#include <cstdint>
#include <functional>

#include "core/config.h"

namespace ew::runtime {

// Returns a value uniform in [0, 1). Not required to be thread-safe; callers
// that share one serialize access.
using Uniform01 = std::function<double()>;

class RetrySchedule {
 public:
  RetrySchedule(RetryConfig config, Uniform01 random);

  // True when an event that has failed ATTEMPTS times may be tried again.
  bool shouldRetry(int attempts) const { return attempts < config_.maxAttempts; }

  // The upper bound of the delay after failed attempt ATTEMPTS (>= 1).
  Millis ceiling(int attempts) const;

  // The jittered delay after failed attempt ATTEMPTS (>= 1): in [0, ceiling].
  Millis delayAfter(int attempts) const;

  const RetryConfig& config() const { return config_; }

 private:
  RetryConfig config_;
  Uniform01 random_;
};

}  // namespace ew::runtime
