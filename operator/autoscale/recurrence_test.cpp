#include "autoscale/recurrence.h"

#include <catch2/catch.hpp>

using namespace ew::autoscale;
using namespace std::chrono_literals;

namespace {

// Feeds a rate every 5 s over [from, to): `burst` msg/s during [start, start +
// length) of every period from first, `base` msg/s otherwise.
struct Feeder {
  RecurrenceState state;
  void run(int from, int to, double base, double burst = 0, int first = 0, int period = 0, int length = 0) {
    for (int t = from; t < to; t += 5) {
      bool in = period > 0 && t >= first && (t - first) % period < length;
      state = observeArrivals(state, Millis(t * 1000LL), in ? burst : base, 5);
    }
  }
};

}  // namespace

TEST_CASE("noise of tens of percent around a level starts no burst") {
  Feeder f;
  for (int t = 0; t < 3600; t += 5) f.state = observeArrivals(f.state, Millis(t * 1000LL), t % 10 == 0 ? 130 : 75, 5);
  CHECK_FALSE(f.state.open);
  CHECK(f.state.bursts.empty());
  CHECK_FALSE(detectPattern(f.state, 3600s));
}

TEST_CASE("a burst is recorded with its onset, end and peak rate") {
  Feeder f;
  f.run(0, 300, 40);
  f.run(300, 330, 40, 800, 300, 1000, 30);
  REQUIRE(f.state.open);
  CHECK(f.state.open->start == 300s);
  f.state = noteBurstReplicas(f.state, 9);
  f.run(330, 400, 40);
  REQUIRE(f.state.bursts.size() == 1);
  CHECK(f.state.bursts[0].start == 300s);
  CHECK(f.state.bursts[0].end == 330s);
  CHECK(f.state.bursts[0].peakRate == 800);
  CHECK(f.state.bursts[0].peakReplicas == 9);
  CHECK_FALSE(f.state.open);
}

TEST_CASE("two alike bursts make a guess that one missed onset drops") {
  Feeder f;
  f.run(0, 120, 40);
  f.run(120, 480, 40, 800, 120, 180, 30);  // onsets at 120 and 300
  auto guess = detectPattern(f.state, 480s);
  REQUIRE(guess);
  CHECK(guess->period == 180s);
  CHECK(guess->nextStart == 480s);
  CHECK_FALSE(detectPattern(f.state, Millis((480 + kMinToleranceSeconds + 1) * 1000LL)));
}

TEST_CASE("two bursts unlike in length or peak make no guess") {
  Feeder f;
  f.run(0, 120, 40);
  f.run(120, 150, 40, 800, 120, 1000, 30);
  f.run(150, 300, 40);
  f.run(300, 310, 40, 800, 300, 1000, 10);  // a spike, shorter than kMinGuessSeconds
  f.run(310, 400, 40);
  CHECK_FALSE(detectPattern(f.state, 400s));
  f.run(400, 430, 40, 300, 400, 1000, 30);  // as long, a third of the peak
  f.run(430, 500, 40);
  CHECK_FALSE(detectPattern(f.state, 500s));
}

TEST_CASE("three onsets a period apart make a pattern") {
  Feeder f;
  f.run(0, 120, 40);
  f.run(120, 480, 40, 800, 120, 180, 30);  // onsets at 120 and 300
  f.run(480, 520, 40, 800, 120, 180, 30);  // the third at 480
  auto p = detectPattern(f.state, 520s);
  REQUIRE(p);
  CHECK(p->period == 180s);
  CHECK(p->nextStart == 660s);
  CHECK(p->peakRate == 800);
  CHECK(p->duration == 30s);
  CHECK_FALSE(p->inBurst);
}

TEST_CASE("an extra burst between recurring ones does not hide the period") {
  Feeder f;
  f.run(0, 120, 40);
  f.run(120, 1020, 40, 800, 120, 300, 30);     // onsets 120, 420, 720
  f.run(1020, 1040, 40, 800, 1020, 1000, 10);  // an odd one at 1020
  f.run(1040, 1060, 40);
  auto p = detectPattern(f.state, 1060s);
  REQUIRE(p);
  CHECK(p->period == 300s);
  CHECK(p->nextStart == 1320s);
}

TEST_CASE("onsets that do not agree on a period make no pattern") {
  Feeder f;
  f.run(0, 100, 40);
  for (auto [onset, peak] : {std::pair{100, 800}, {300, 800}, {420, 800}, {820, 400}, {1130, 800}}) {
    f.run(onset, onset + 20, 40, peak, onset, 1000, 20);  // the last two unlike
    f.run(onset + 20, onset + 40, 40);
  }
  CHECK_FALSE(detectPattern(f.state, 1200s));
}

TEST_CASE("a pattern that stops recurring stops being reported after kMaxMisses periods") {
  Feeder f;
  f.run(0, 120, 40);
  f.run(120, 1020, 40, 800, 120, 180, 30);  // last onset 840
  auto p = detectPattern(f.state, 1020s);
  REQUIRE(p);
  CHECK(p->nextStart == 1020s);
  f.run(1020, 1300, 40);  // no burst at 1020
  p = detectPattern(f.state, 1100s);
  REQUIRE(p);
  CHECK(p->nextStart == 1200s);  // the miss moves the expectation on
  CHECK_FALSE(detectPattern(f.state, 1300s));
}

TEST_CASE("a rise that lasts is a new level, not a burst") {
  Feeder f;
  f.run(0, 300, 100);
  f.run(300, 300 + kMaxBurstSeconds + 60, 400);
  CHECK_FALSE(f.state.open);
  CHECK(f.state.bursts.empty());
  REQUIRE(f.state.baseline);
  CHECK(*f.state.baseline > 300);
}

TEST_CASE("the history is bounded") {
  Feeder f;
  f.run(0, 100, 40);
  f.run(100, 100 + 60 * 50, 40, 800, 100, 60, 20);
  CHECK(f.state.bursts.size() == kMaxBursts);
  auto p = detectPattern(f.state, Millis((100 + 60 * 50) * 1000LL));
  REQUIRE(p);
  CHECK(p->period == 60s);
}

TEST_CASE("a burst into an idle topic ends when the topic is idle again") {
  Feeder f;
  f.run(0, 100, 0);
  f.run(100, 105, 0, 3000, 100, 1000, 5);
  REQUIRE(f.state.open);
  f.run(105, 110, 0);
  CHECK_FALSE(f.state.open);
  CHECK(f.state.bursts.size() == 1);
}

TEST_CASE("dips of noise around a new level neither end the burst nor make a pattern") {
  Feeder f;
  f.run(0, 600, 300);
  // 600 msg/s from t=600, every fourth poll dipping to 360 (below 1.25 x 300).
  for (int t = 600; t < 600 + kMaxBurstSeconds + 120; t += 5) {
    f.state = observeArrivals(f.state, Millis(t * 1000LL), t % 20 == 0 ? 360 : 600, 5);
    CHECK_FALSE(detectPattern(f.state, Millis(t * 1000LL)));
  }
  CHECK_FALSE(f.state.open);
  CHECK(f.state.bursts.empty());
  REQUIRE(f.state.baseline);
  CHECK(*f.state.baseline > 400);
}

TEST_CASE("a burst under way at the first poll is recorded as one, and the next bursts make the pattern") {
  // A worker created (or the operator restarted) while a burst is on: the
  // first rate measured is the burst's. Taken as the baseline, it hid the
  // bursts after it (autoscale_live_test on the node: no Predicted scale-out).
  RecurrenceState s;
  s = observeArrivals(s, 1s, 6000, 1);  // the first rate: 6,000 msg/s
  for (int t = 2; t < 40; ++t) s = observeArrivals(s, Millis(t * 1000LL), 0, 1);
  REQUIRE(s.bursts.size() == 1);
  CHECK(s.bursts[0].start == 1s);
  CHECK(s.bursts[0].end == 2s);
  CHECK(s.bursts[0].peakRate == 6000);
  CHECK(*s.baseline == 0);
  // Two more bursts, 40 s apart; the first's onset poll sees only part of it.
  for (int t = 40; t < 110; ++t) {
    const int since = (t - 40) % 40;
    s = observeArrivals(s, Millis(t * 1000LL), since == 0 ? 510 : since == 1 ? 5500 : 0, 1);
  }
  auto p = detectPattern(s, 110s);
  REQUIRE(p);
  CHECK(p->period == 39500ms);
  CHECK(p->nextStart == 119500ms);  // the latest onset, 80 s, plus the period
}

TEST_CASE("a first rate the next poll confirms is the baseline, and no burst") {
  RecurrenceState s;
  s = observeArrivals(s, 5s, 100, 5);
  s = observeArrivals(s, 10s, 80, 5);  // within kSurge of the first
  CHECK(s.bursts.empty());
  CHECK_FALSE(s.open);
  REQUIRE(s.baseline);
  CHECK(*s.baseline > 80);
  CHECK(*s.baseline < 100);
  CHECK_FALSE(s.firstAt);
}
