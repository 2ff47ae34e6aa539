#include "autoscale/recurrence.h"

#include <algorithm>
#include <cmath>

namespace ew::autoscale {
namespace {

// Time constant of the baseline's exponential smoothing.
constexpr double kBaselineSeconds = 60;
// Onsets closer than this are one burst seen twice, not a period.
constexpr Millis kMinPeriod{30000};

Millis tolerance(Millis period) {
  return std::max(Millis(kMinToleranceSeconds * 1000LL),
                  Millis(static_cast<std::int64_t>(kTolerance * static_cast<double>(period.count()))));
}

}  // namespace

RecurrenceState observeArrivals(const RecurrenceState& previous, Millis now, double rate, double seconds) {
  RecurrenceState s = previous;
  if (!s.baseline) {
    s.baseline = rate;
    return s;
  }
  const double base = *s.baseline;
  if (s.open) {
    s.open->peakRate = std::max(s.open->peakRate, rate);
    if (rate < base * (1 + kSurge / 2)) {
      s.open->end = now;
      s.bursts.push_back(*s.open);
      if (s.bursts.size() > kMaxBursts) s.bursts.erase(s.bursts.begin());
      s.open.reset();
    } else if (now - s.open->start > Millis(kMaxBurstSeconds * 1000LL)) {
      s.baseline = rate;  // a new level, not a burst
      s.open.reset();
    }
    return s;
  }
  if (rate > base * (1 + kSurge)) {
    s.open = BurstRecord{now, now, rate, 0};
    return s;
  }
  const double alpha = seconds / (kBaselineSeconds + seconds);
  s.baseline = alpha * rate + (1 - alpha) * base;
  return s;
}

RecurrenceState noteBurstReplicas(const RecurrenceState& previous, int replicas) {
  RecurrenceState s = previous;
  if (s.open) s.open->peakReplicas = std::max(s.open->peakReplicas, replicas);
  return s;
}

std::optional<BurstPattern> detectPattern(const RecurrenceState& state, Millis now) {
  std::vector<const BurstRecord*> onsets;
  for (const auto& b : state.bursts) onsets.push_back(&b);
  if (state.open) onsets.push_back(&*state.open);
  if (onsets.size() < 3) return std::nullopt;
  const BurstRecord& latest = *onsets.back();
  // The shortest period that three onsets, the latest among them, agree on.
  for (size_t i = onsets.size() - 1; i-- > 0;) {
    const Millis period = latest.start - onsets[i]->start;
    if (period < kMinPeriod) continue;
    const Millis tol = tolerance(period);
    for (size_t j = i; j-- > 0;) {
      const Millis gap = onsets[i]->start - onsets[j]->start;
      if (std::chrono::abs(gap - period) > tol) continue;
      BurstPattern p;
      p.period = (latest.start - onsets[j]->start) / 2;
      p.inBurst = state.open.has_value();
      for (const BurstRecord* b : {onsets[j], onsets[i], &latest}) {
        const bool open = state.open && b == &*state.open;  // its end is not known yet
        if (!open) p.duration = std::max(p.duration, b->end - b->start);
        p.peakRate = std::max(p.peakRate, b->peakRate);
        p.peakReplicas = std::max(p.peakReplicas, b->peakReplicas);
      }
      p.nextStart = latest.start + p.period;
      int misses = 0;
      while (now > p.nextStart + tolerance(p.period)) {
        if (++misses >= kMaxMisses) return std::nullopt;
        p.nextStart += p.period;
      }
      return p;
    }
  }
  return std::nullopt;
}

}  // namespace ew::autoscale
