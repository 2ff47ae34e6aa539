#include "kube/watcher.h"

#include <catch2/catch.hpp>

using ew::kube::jitteredBackoff;
using namespace std::chrono_literals;

TEST_CASE("jittered backoff doubles from the base up to the cap") {
  CHECK(jitteredBackoff(0, 200ms, 30s, 0.0) == 100ms);
  CHECK(jitteredBackoff(3, 200ms, 30s, 0.0) == 800ms);
  CHECK(jitteredBackoff(3, 200ms, 30s, 0.999) < 1600ms);
  CHECK(jitteredBackoff(3, 200ms, 30s, 0.999) > 1590ms);
  CHECK(jitteredBackoff(40, 200ms, 30s, 0.0) == 15s);
}
