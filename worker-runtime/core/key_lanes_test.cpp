#include "core/key_lanes.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;

TEST_CASE("one item per lane runs, the rest wait in order") {
  KeyLanes<int> lanes(100);
  CHECK(lanes.admit("a", 1) == 1);
  CHECK_FALSE(lanes.admit("a", 2));
  CHECK_FALSE(lanes.admit("a", 3));
  CHECK(lanes.admit("b", 4) == 4);
  CHECK(lanes.admitted() == 4);
  CHECK(lanes.waiting() == 2);
  CHECK(lanes.finish("a") == 2);
  CHECK(lanes.finish("a") == 3);
  CHECK_FALSE(lanes.finish("a"));
  CHECK(lanes.admit("a", 5) == 5);  // lane idle again
  CHECK(lanes.activeLanes() == 2);
}

TEST_CASE("unordered items always run and still count against the budget") {
  KeyLanes<int> lanes(2);
  CHECK(lanes.admit(std::nullopt, 1) == 1);
  CHECK_FALSE(lanes.full());
  CHECK(lanes.admit(std::nullopt, 2) == 2);
  CHECK(lanes.full());
  CHECK_FALSE(lanes.finish(std::nullopt));
  CHECK_FALSE(lanes.full());
  CHECK(lanes.activeLanes() == 0);
}

TEST_CASE("the budget can change while items are admitted") {
  KeyLanes<int> lanes(4);
  lanes.admit("a", 1);
  lanes.admit("b", 2);
  lanes.admit("c", 3);
  CHECK_FALSE(lanes.full());
  lanes.setBudget(2);
  CHECK(lanes.full());
  CHECK(lanes.admitted() == 3);
  lanes.setBudget(100);
  CHECK_FALSE(lanes.full());
  CHECK(lanes.budget() == 100);
}

TEST_CASE("dropping waiting items keeps the running one and the order of the rest") {
  KeyLanes<int> lanes(100);
  lanes.admit("a", 1);
  lanes.admit("a", 2);
  lanes.admit("a", 3);
  lanes.admit("a", 4);
  auto dropped = lanes.dropWaiting([](int v) { return v % 2 == 1; });
  CHECK(dropped == std::vector<int>{3});
  CHECK(lanes.admitted() == 3);
  CHECK(lanes.finish("a") == 2);
  CHECK(lanes.finish("a") == 4);
  CHECK_FALSE(lanes.finish("a"));
  CHECK(lanes.admitted() == 0);
}
