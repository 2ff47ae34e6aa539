#include "core/admission_budget.h"

#include <algorithm>

namespace ew::runtime {

namespace {

// Weight of the latest call in the mean: reacts within a few dozen calls.
constexpr double kWeight = 1.0 / 32;

}  // namespace

AdmissionBudget::AdmissionBudget(size_t floor, size_t ceiling, size_t parallelism, std::chrono::nanoseconds drain)
    : floor_(floor),
      ceiling_(std::max(floor, ceiling)),
      parallelism_(std::max<size_t>(parallelism, 1)),
      drainNs_(static_cast<double>(drain.count())),
      events_(floor) {}

void AdmissionBudget::observe(std::chrono::nanoseconds call) {
  const double ns = std::max(1.0, static_cast<double>(call.count()));
  meanNs_ = meanNs_ == 0 ? ns : meanNs_ + kWeight * (ns - meanNs_);
  const double n = drainNs_ * static_cast<double>(parallelism_) / meanNs_;
  events_ = n >= static_cast<double>(ceiling_) ? ceiling_ : std::max(floor_, static_cast<size_t>(n));
}

}  // namespace ew::runtime
