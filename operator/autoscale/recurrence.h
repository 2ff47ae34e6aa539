#pragma once
// Recurring bursts in a consumer group's arrival rate (issue 18): a bounded
// history of the bursts seen, and a period search over their onsets, so that
// the policy (policy.h) can hold capacity through short gaps and scale out
// ahead of the next burst. Pure: the caller passes each poll's time and the
// arrival rate it measured from log-end offsets; the state is a value.
//
// Why onsets, not an autocorrelation of a binned rate history: a lag-driven
// autoscaler loses to recurring traffic only at a burst's start (pods start,
// the group rebalances, the backlog builds); what it needs to know is when
// the next burst starts and how large it is. An autocorrelation over hours
// of bins costs O(bins x lags) per poll per worker and places the onset only
// to a bin; the onsets themselves are exact to a poll, and a handful of them
// is all the history needed (kMaxBursts records, a few hundred bytes per
// worker, bounded however long the worker runs).
//
// The rules, each against a known failure:
//   - A burst starts when the rate rises more than kSurge above the baseline
//     (the rate outside bursts, smoothed): noise of a few tens of percent per
//     poll never starts one. It ends when the rate falls back below half that
//     rise; a burst that rises again within 30 s had only dipped (noise
//     around a new level crosses that line often) and goes on. One that lasts
//     longer than kMaxBurstSeconds is a new level, not a burst: the baseline
//     takes it and no burst is recorded.
//   - A period is accepted when three onsets agree on it (two intervals
//     within max(kMinToleranceSeconds, kTolerance x period)); extra onsets
//     between them are ignored. Before that, the last two bursts make a
//     guess when they are alike (lengths and peaks within kAlike of each
//     other, each at least kMinGuessSeconds long, so not spikes of noise); a
//     guess is dropped as soon as its one predicted onset passes without a
//     burst.
//   - A pattern that stops recurring stops counting: after kMaxMisses
//     predicted onsets pass without a burst, no pattern is reported until
//     onsets agree again.
//   - The first rate seen (a new worker, an operator restart) is the
//     baseline only once the next poll confirms it: a first rate above the
//     next one by more than a surge twice over ((1 + kSurge)^2, so that one
//     sample of noise against another does not count) was a burst under way,
//     and is recorded as one (from that first poll to the next) with the next
//     rate as the baseline. Taken as the baseline instead, it would hide the
//     bursts after it for minutes, until the smoothing brought it down.
//   - Memory is lost with the process (an operator restart): the policy is
//     then reactive until three bursts have been seen again, which costs lag
//     on those bursts but never capacity on a wrong guess.
//
// Thread-compatible value types; the functions are pure.

#include <chrono>
#include <optional>
#include <vector>

namespace ew::autoscale {

using Millis = std::chrono::milliseconds;

struct BurstRecord {
  Millis start{0};
  Millis end{0};         // the poll that saw it end (start while open)
  double peakRate = 0;   // highest rate measured between two polls within it
  int peakReplicas = 0;  // highest replica count the policy asked for within it
};

struct RecurrenceState {
  std::optional<double> baseline;   // the smoothed arrival rate outside bursts
  std::optional<Millis> firstAt;    // the poll whose rate alone set `baseline`, until the next judges it
  std::optional<BurstRecord> open;  // the burst in progress
  std::vector<BurstRecord> bursts;  // ended bursts, oldest first, at most kMaxBursts
};

// A recurring burst: the next onset expected and how large it will be.
struct BurstPattern {
  Millis period{0};
  Millis nextStart{0};   // the next onset expected at or after the time asked about
  Millis duration{0};    // the longest of the matched bursts
  double peakRate = 0;   // the highest of the matched bursts
  int peakReplicas = 0;  // likewise
  bool inBurst = false;  // a burst is open now
};

inline constexpr size_t kMaxBursts = 8;
inline constexpr double kSurge = 0.5;
inline constexpr int kMaxBurstSeconds = 900;
inline constexpr double kTolerance = 0.05;
inline constexpr int kMinToleranceSeconds = 12;
inline constexpr int kMaxMisses = 2;
inline constexpr double kAlike = 0.75;
inline constexpr int kMinGuessSeconds = 15;

// Feeds the arrival rate measured over the `seconds` before `now` (> 0).
RecurrenceState observeArrivals(const RecurrenceState& state, Millis now, double rate, double seconds);

// Records that the policy asked for `replicas` at a poll within the open
// burst (no-op without one).
RecurrenceState noteBurstReplicas(const RecurrenceState& state, int replicas);

// The pattern the onsets show at `now`: three that agree, with fewer than
// kMaxMisses predicted onsets passed since the latest, or else the last two
// bursts when they are alike and the onset they predict has not passed.
std::optional<BurstPattern> detectPattern(const RecurrenceState& state, Millis now);

}  // namespace ew::autoscale
