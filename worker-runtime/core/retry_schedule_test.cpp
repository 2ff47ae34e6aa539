#include "core/retry_schedule.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;
using ew::Millis;

TEST_CASE("the ceiling doubles from initialBackoff up to maxBackoff") {
  RetrySchedule s({5, Millis(200), Millis(1000)}, [] { return 0.999999; });
  CHECK(s.ceiling(1) == Millis(200));
  CHECK(s.ceiling(2) == Millis(400));
  CHECK(s.ceiling(3) == Millis(800));
  CHECK(s.ceiling(4) == Millis(1000));
  CHECK(s.ceiling(100) == Millis(1000));
}

TEST_CASE("full jitter spans [0, ceiling] by the injected random source") {
  double r = 0;
  RetrySchedule s({5, Millis(200), Millis(30000)}, [&] { return r; });
  r = 0.0;
  CHECK(s.delayAfter(3) == Millis(0));
  r = 0.5;
  CHECK(s.delayAfter(3) == Millis(400));
  r = 0.999;
  CHECK(s.delayAfter(3) == Millis(799));
}

TEST_CASE("maxAttempts bounds retries") {
  RetrySchedule s({3, Millis(1), Millis(1)}, [] { return 0.0; });
  CHECK(s.shouldRetry(1));
  CHECK(s.shouldRetry(2));
  CHECK_FALSE(s.shouldRetry(3));
}
