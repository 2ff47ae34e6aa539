#include "core/log_throttle.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;
using ew::Millis;
using namespace std::chrono_literals;

TEST_CASE("log throttle: the first occurrence logs, then one line per interval with the count left out") {
  LogThrottle t(Millis(30'000));
  LogThrottle::TimePoint now{};
  REQUIRE(t.admit(now) == std::optional<uint64_t>(0));
  CHECK_FALSE(t.admit(now + 1s));
  CHECK_FALSE(t.admit(now + 29s));
  CHECK(t.admit(now + 30s) == std::optional<uint64_t>(2));
  CHECK_FALSE(t.admit(now + 31s));
  CHECK(t.admit(now + 5min) == std::optional<uint64_t>(1));
}
