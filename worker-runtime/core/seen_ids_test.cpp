#include "core/seen_ids.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;
using namespace std::chrono_literals;

TEST_CASE("remembered ids are seen until their ttl passes") {
  SeenIds s(10, 1000ms);
  const auto t0 = std::chrono::steady_clock::time_point{};
  CHECK_FALSE(s.contains("a", t0));
  s.remember("a", t0);
  CHECK(s.contains("a", t0 + 999ms));
  CHECK_FALSE(s.contains("a", t0 + 1000ms));
  CHECK(s.size() == 0);
}

TEST_CASE("capacity evicts the least recently used") {
  SeenIds s(2, 1h);
  const auto t0 = std::chrono::steady_clock::time_point{};
  s.remember("a", t0);
  s.remember("b", t0);
  CHECK(s.contains("a", t0));  // a is now more recent than b
  s.remember("c", t0);
  CHECK(s.contains("a", t0));
  CHECK_FALSE(s.contains("b", t0));
  CHECK(s.contains("c", t0));
}
