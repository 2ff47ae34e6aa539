#include "core/admission_budget.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;
using namespace std::chrono_literals;

TEST_CASE("the budget is the floor until a call was observed") {
  AdmissionBudget b(1024, 65536, 16, 1s);
  CHECK(b.events() == 1024);
}

TEST_CASE("the budget is what the handler calls finish in the drain time") {
  AdmissionBudget b(1024, 65536, 16, 1s);
  b.observe(500us);  // 16 calls at once, 2,000 per second each
  CHECK(b.events() == 32000);
  AdmissionBudget half(1024, 65536, 16, 500ms);
  half.observe(500us);
  CHECK(half.events() == 16000);
}

TEST_CASE("the budget stays between the floor and the ceiling") {
  AdmissionBudget b(1024, 65536, 16, 1s);
  b.observe(10us);
  CHECK(b.events() == 65536);
  AdmissionBudget slow(1024, 65536, 16, 1s);
  slow.observe(100ms);  // 160 per second
  CHECK(slow.events() == 1024);
}

TEST_CASE("the call duration is a moving mean: one slow call moves it a little, many move it all the way") {
  AdmissionBudget b(100, 1'000'000, 1, 1s);
  b.observe(1ms);
  CHECK(b.events() == 1000);
  b.observe(33ms);  // mean 1 ms + (33 - 1) / 32 = 2 ms
  CHECK(b.events() == 500);
  for (int i = 0; i < 500; ++i) b.observe(10ms);
  CHECK(b.events() == Approx(100).margin(1));
}
