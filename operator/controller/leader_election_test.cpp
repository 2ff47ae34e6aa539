#include "controller/leader_election.h"

#include <catch2/catch.hpp>

TEST_CASE("MicroTime is RFC 3339 UTC with microseconds") {
  using namespace std::chrono;
  const system_clock::time_point t = system_clock::from_time_t(1795400000) + microseconds(42);
  CHECK(ew::controller::microTime(t) == "2026-11-23T02:13:20.000042Z");
}
