#include <catch2/catch.hpp>

#include "streams/auth_cache.h"

using namespace ew::runtime;
using namespace std::chrono_literals;

TEST_CASE("verdicts are reused until their TTL, failed checks never") {
  ew::ManualTime time;
  AuthCache cache(30s, 100);
  cache.put("a", AuthVerdict::Allowed, time.now());
  cache.put("r", AuthVerdict::Refused, time.now());
  cache.put("u", AuthVerdict::Unavailable, time.now());
  CHECK(cache.find("a", time.now()) == AuthVerdict::Allowed);
  CHECK(cache.find("r", time.now()) == AuthVerdict::Refused);
  CHECK_FALSE(cache.find("u", time.now()));
  time.advance(29s);
  CHECK(cache.find("a", time.now()) == AuthVerdict::Allowed);
  time.advance(1s);
  CHECK_FALSE(cache.find("a", time.now()));
}

TEST_CASE("the cache holds at most maxEntries tokens, dropping the expired, then the oldest") {
  ew::ManualTime time;
  AuthCache cache(10s, 3);
  for (const char* t : {"1", "2", "3"}) {
    cache.put(t, AuthVerdict::Allowed, time.now());
    time.advance(1s);
  }
  cache.put("4", AuthVerdict::Allowed, time.now());
  CHECK(cache.size() == 3);
  CHECK_FALSE(cache.find("1", time.now()));
  CHECK(cache.find("4", time.now()));
  time.advance(20s);
  cache.put("5", AuthVerdict::Refused, time.now());
  CHECK(cache.size() == 1);
}
