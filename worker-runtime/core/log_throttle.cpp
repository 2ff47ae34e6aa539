#include "core/log_throttle.h"

namespace ew::runtime {

std::optional<uint64_t> LogThrottle::admit(TimePoint now) {
  if (last_ && now - *last_ < interval_) {
    ++suppressed_;
    return std::nullopt;
  }
  last_ = now;
  const uint64_t left = suppressed_;
  suppressed_ = 0;
  return left;
}

}  // namespace ew::runtime
