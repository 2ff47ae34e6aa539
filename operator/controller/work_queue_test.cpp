#include "controller/work_queue.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using ew::controller::backoffDelay;
using ew::controller::BackoffPolicy;
using ew::controller::WorkQueue;

using FakeClock = ew::ManualTime;

TEST_CASE("a key added twice is handed out once") {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  q.add("b");
  q.add("a");
  CHECK(q.depth() == 2);
  CHECK(q.tryGet() == "a");
  CHECK(q.tryGet() == "b");
  CHECK_FALSE(q.tryGet());
}

TEST_CASE("a key being processed is never handed to a second worker, its re-add replays on done") {
  FakeClock clock;
  WorkQueue q(clock);
  q.add("a");
  REQUIRE(q.tryGet() == "a");
  q.add("a");               // an event arrives while "a" reconciles
  CHECK_FALSE(q.tryGet());  // not handed out twice
  q.done("a");
  CHECK(q.tryGet() == "a");
  q.done("a");
  CHECK_FALSE(q.tryGet());
}

TEST_CASE("delayed adds wait for their time, an immediate add wins") {
  FakeClock clock;
  WorkQueue q(clock);
  q.addAfter("a", 100ms);
  CHECK_FALSE(q.tryGet());
  clock.advance(99ms);
  CHECK_FALSE(q.tryGet());
  clock.advance(1ms);
  CHECK(q.tryGet() == "a");
  q.done("a");

  q.addAfter("b", 10s);
  q.add("b");
  CHECK(q.tryGet() == "b");
  q.done("b");
  clock.advance(11s);
  CHECK_FALSE(q.tryGet());  // the delayed copy was absorbed
}

TEST_CASE("the earlier of two delayed adds wins") {
  FakeClock clock;
  WorkQueue q(clock);
  q.addAfter("a", 10s);
  q.addAfter("a", 1s);
  clock.advance(1s);
  CHECK(q.tryGet() == "a");
}

TEST_CASE("per-key exponential backoff from 5 ms to 1000 s, reset by forget") {
  BackoffPolicy p;
  CHECK(backoffDelay(p, 1) == 5ms);
  CHECK(backoffDelay(p, 2) == 10ms);
  CHECK(backoffDelay(p, 10) == 2560ms);
  CHECK(backoffDelay(p, 18) == 655360ms);
  CHECK(backoffDelay(p, 19) == 1000s);
  CHECK(backoffDelay(p, 500) == 1000s);

  FakeClock clock;
  WorkQueue q(clock);
  q.addRateLimited("a");
  q.addRateLimited("b");
  clock.advance(5ms);
  CHECK(q.tryGet() == "a");
  q.done("a");
  CHECK(q.tryGet() == "b");
  q.done("b");
  q.addRateLimited("a");  // second failure of "a": 10 ms
  clock.advance(9ms);
  CHECK_FALSE(q.tryGet());
  clock.advance(1ms);
  CHECK(q.tryGet() == "a");
  q.done("a");
  CHECK(q.failures("a") == 2);
  q.forget("a");
  CHECK(q.failures("a") == 0);
  CHECK(q.failures("b") == 1);
}

TEST_CASE("cancelDelayed drops a pending delayed add, and only that key's") {
  FakeClock clock;
  WorkQueue q(clock);
  q.addAfter("a", 10ms);
  q.addAfter("b", 10ms);
  q.cancelDelayed("a");
  clock.advance(10ms);
  CHECK(q.tryGet() == "b");
  q.done("b");
  CHECK_FALSE(q.tryGet());
}

TEST_CASE("retries of all keys together: bursts of 100, then 10 a second") {
  FakeClock clock;
  WorkQueue q(clock);
  // 100 first failures of distinct keys: their own 5 ms backoff each.
  for (int i = 0; i < 100; ++i) q.addRateLimited("k" + std::to_string(i));
  clock.advance(5ms);
  for (int i = 0; i < 100; ++i) {
    auto k = q.tryGet();
    REQUIRE(k);
    q.done(*k);
  }
  // The bucket is empty (5 ms refilled a twentieth of a token): the next
  // ones wait for tokens, 95 ms and 195 ms.
  q.addRateLimited("x");
  q.addRateLimited("y");
  clock.advance(94ms);
  CHECK_FALSE(q.tryGet());
  clock.advance(1ms);
  CHECK(q.tryGet() == "x");
  q.done("x");
  clock.advance(99ms);
  CHECK_FALSE(q.tryGet());
  clock.advance(1ms);
  CHECK(q.tryGet() == "y");
  q.done("y");
  // Quiet for 10 s: the bucket is full again.
  clock.advance(10s);
  q.addRateLimited("z");
  clock.advance(5ms);
  CHECK(q.tryGet() == "z");
}

TEST_CASE("shutDown releases a blocked get and refuses new keys") {
  const ew::TimeSource& clock = ew::systemTime();
  WorkQueue q(clock);
  q.shutDown();
  CHECK_FALSE(q.get(10s));  // returns at once, not after 10 s
  q.add("a");
  CHECK(q.depth() == 0);
}

TEST_CASE("get returns a ready key without waiting and times out when empty") {
  const ew::TimeSource& clock = ew::systemTime();
  WorkQueue q(clock);
  q.add("x");
  CHECK(q.get(1s) == "x");
  CHECK_FALSE(q.get(1ms));
}
