#include "autoscale/recurrence.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <iterator>
#include <utility>

namespace ew::autoscale {
namespace {

// Time constant of the baseline's exponential smoothing.
constexpr double kBaselineSeconds = 60;
// Onsets closer than this are one burst seen twice, not a period; and a
// burst that resumes within this long after it ended had only dipped.
constexpr Millis kMinPeriod{30000};

Millis tolerance(Millis period) {
  return std::max(Millis(kMinToleranceSeconds * 1000LL),
                  Millis(static_cast<std::int64_t>(kTolerance * static_cast<double>(period.count()))));
}

// Two closed bursts of about the same length (each at least kMinGuessSeconds)
// and peak: not two spikes of noise.
bool alike(const BurstRecord& a, const BurstRecord& b) {
  const Millis da = a.end - a.start, db = b.end - b.start;
  const Millis minimum(kMinGuessSeconds * 1000LL);
  if (da < minimum || db < minimum) return false;
  const auto longer = std::max(da, db), shorter = std::min(da, db);
  return shorter.count() >= kAlike * static_cast<double>(longer.count()) &&
         std::min(a.peakRate, b.peakRate) >= kAlike * std::max(a.peakRate, b.peakRate);
}

// The pattern of `matched` (oldest first, the latest last) recurring every
// `period`, or nothing once `allowedMisses` expected onsets have passed
// without a burst.
std::optional<BurstPattern> recurring(std::initializer_list<const BurstRecord*> matched, Millis period,
                                      const RecurrenceState& state, Millis now, int allowedMisses) {
  BurstPattern p;
  p.period = period;
  p.inBurst = state.open.has_value();
  for (const BurstRecord* b : matched) {
    const bool open = state.open && b == &*state.open;  // its end is not known yet
    if (!open) p.duration = std::max(p.duration, b->end - b->start);
    p.peakRate = std::max(p.peakRate, b->peakRate);
    p.peakReplicas = std::max(p.peakReplicas, b->peakReplicas);
  }
  p.nextStart = (*std::prev(matched.end()))->start + period;
  int misses = 0;
  while (now > p.nextStart + tolerance(period)) {
    if (++misses >= allowedMisses) return std::nullopt;
    p.nextStart += period;
  }
  return p;
}

}  // namespace

RecurrenceState observeArrivals(const RecurrenceState& previous, Millis now, double rate, double seconds) {
  RecurrenceState s = previous;
  if (!s.baseline) {
    s.baseline = rate;
    s.firstAt = now;
    return s;
  }
  if (const auto first = std::exchange(s.firstAt, std::nullopt);
      first && *s.baseline > rate * (1 + kSurge) * (1 + kSurge)) {
    // The first rate was a burst already under way (see recurrence.h).
    s.bursts.push_back(BurstRecord{*first, now, *s.baseline, 0});
    if (s.bursts.size() > kMaxBursts) s.bursts.erase(s.bursts.begin());
    s.baseline = rate;
    return s;
  }
  const double base = *s.baseline;
  if (s.open) {
    s.open->peakRate = std::max(s.open->peakRate, rate);
    if (rate <= base * (1 + kSurge / 2)) {  // <=: a burst from an idle topic ends when it is idle again
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
    if (!s.bursts.empty() && now - s.bursts.back().end < kMinPeriod) {
      // A dip of noise within one burst (or a new level), not its end.
      s.open = s.bursts.back();
      s.open->peakRate = std::max(s.open->peakRate, rate);
      s.bursts.pop_back();
    } else {
      s.open = BurstRecord{now, now, rate, 0};
    }
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
  if (onsets.size() < 2) return std::nullopt;
  const BurstRecord& latest = *onsets.back();
  // The shortest period that three onsets, the latest among them, agree on.
  for (size_t i = onsets.size() - 1; i-- > 0;) {
    const Millis period = latest.start - onsets[i]->start;
    if (period < kMinPeriod) continue;
    for (size_t j = i; j-- > 0;) {
      const Millis gap = onsets[i]->start - onsets[j]->start;
      if (std::chrono::abs(gap - period) <= tolerance(period))
        return recurring({onsets[j], onsets[i], &latest}, (latest.start - onsets[j]->start) / 2, state, now,
                         kMaxMisses);
    }
  }
  // Else a guess from the last two bursts, when they are alike.
  if (state.open) return std::nullopt;
  const BurstRecord& before = *onsets[onsets.size() - 2];
  const Millis period = latest.start - before.start;
  if (period < kMinPeriod || !alike(before, latest)) return std::nullopt;
  return recurring({&before, &latest}, period, state, now, 1);
}

}  // namespace ew::autoscale
