#include "cron/duration.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using ew::cron::parseDuration;

TEST_CASE("duration: units and sums") {
  CHECK(*parseDuration("250ms") == 250ms);
  CHECK(*parseDuration("30s") == 30s);
  CHECK(*parseDuration("5m") == 5min);
  CHECK(*parseDuration("2h") == 2h);
  CHECK(*parseDuration("1h30m") == 90min);
  CHECK(*parseDuration("0s") == 0ms);
}

TEST_CASE("duration: malformed text is an error naming it") {
  for (const char* text : {"", "5", "5x", "s", "-1s", "1.5s", "1h 30m", "99999999999999h"}) {
    INFO(text);
    auto r = parseDuration(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "\"" + std::string(text) + "\" is not a duration (expected e.g. 250ms, 30s, 5m, 1h30m)");
  }
}
