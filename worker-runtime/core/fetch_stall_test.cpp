#include "core/fetch_stall.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;

TEST_CASE("fetch stall guard: a queue that keeps below half the threshold never asks for a wake-up") {
  FetchStallGuard g(100'000);
  for (size_t q : {0, 10, 20'000, 49'999, 0, 24'999, 0}) CHECK_FALSE(g.observe(q));
}

TEST_CASE("fetch stall guard: once the queue held half the threshold, one wake-up when it drains below a quarter") {
  FetchStallGuard g(100'000);
  CHECK_FALSE(g.observe(50'000));
  CHECK_FALSE(g.observe(99'000));
  CHECK_FALSE(g.observe(30'000));  // draining, still above a quarter
  CHECK(g.observe(24'999));
  CHECK_FALSE(g.observe(10'000));  // one wake-up per fill
  CHECK_FALSE(g.observe(0));
  CHECK_FALSE(g.observe(40'000));  // refilling below half: not armed again
  CHECK_FALSE(g.observe(0));
  CHECK_FALSE(g.observe(60'000));
  CHECK(g.observe(0));
}

TEST_CASE("fetch stall guard: a tiny threshold asks when the queue runs empty after holding a record") {
  FetchStallGuard g(1);  // half and a quarter of it would round down to 0
  CHECK_FALSE(g.observe(0));
  CHECK_FALSE(g.observe(5));
  CHECK(g.observe(0));
  CHECK_FALSE(g.observe(0));
  FetchStallGuard g4(4);
  CHECK_FALSE(g4.observe(2));
  CHECK_FALSE(g4.observe(1));
  CHECK(g4.observe(0));
}
