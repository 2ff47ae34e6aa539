#include "core/id_store.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;
using ew::Millis;
using namespace std::chrono_literals;

TEST_CASE("memory id store: claimed until done, then duplicate for the ttl") {
  SeenIds::TimePoint now{};
  MemoryIdStore store(10, Millis(1000), [&] { return now; });
  CHECK(*store.claim("a", "t-0-1") == Claim::Claimed);
  CHECK(*store.claim("a", "t-0-1") == Claim::Claimed);  // not done yet: a retry or a copy may run
  REQUIRE(store.done("a").ok());
  CHECK(*store.claim("a", "t-0-1") == Claim::Duplicate);
  CHECK(*store.claim("b", "t-0-2") == Claim::Claimed);
  now += 1s;
  CHECK(*store.claim("a", "t-0-1") == Claim::Claimed);  // expired
}

TEST_CASE("memory id store: release keeps an id claimable") {
  MemoryIdStore store(10, Millis(1000), [] { return SeenIds::TimePoint{}; });
  REQUIRE(*store.claim("a", "t-0-1") == Claim::Claimed);
  REQUIRE(store.release("a", "t-0-1").ok());
  CHECK(*store.claim("a", "t-0-1") == Claim::Claimed);
}
