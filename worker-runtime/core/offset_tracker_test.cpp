#include "core/offset_tracker.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;

TEST_CASE("only the contiguous done prefix is committable") {
  OffsetTracker t;
  const TopicPartition tp{"t", 0};
  t.assign(tp);
  for (int64_t o : {10, 11, 12, 14}) t.track(tp, o);  // 13 absent: a gap
  CHECK(t.committable().empty());
  CHECK(t.markDone(tp, 11));
  CHECK(t.markDone(tp, 14));
  CHECK(t.committable().empty());  // 10 still running
  CHECK(t.markDone(tp, 10));
  REQUIRE(t.committable().size() == 1);
  CHECK(t.committable()[0].offset == 12);
  CHECK(t.pending(tp) == 1);
  CHECK(t.markDone(tp, 12));
  CHECK(t.committable(tp)->offset == 15);
  CHECK(t.pendingTotal() == 0);
}

TEST_CASE("committed points are not offered again until they move") {
  OffsetTracker t;
  const TopicPartition tp{"t", 3};
  t.assign(tp);
  t.track(tp, 0);
  t.markDone(tp, 0);
  auto points = t.committable();
  REQUIRE(points.size() == 1);
  t.markCommitted(points[0]);
  CHECK(t.committable().empty());
  t.track(tp, 1);
  t.markDone(tp, 1);
  REQUIRE(t.committable().size() == 1);
  CHECK(t.committable()[0].offset == 2);
}

TEST_CASE("marking unknown, repeated or revoked offsets changes nothing") {
  OffsetTracker t;
  const TopicPartition a{"t", 0}, b{"t", 1};
  t.assign(a);
  t.assign(b);
  t.track(a, 5);
  t.track(b, 7);
  CHECK_FALSE(t.markDone(a, 6));
  CHECK(t.markDone(a, 5));
  CHECK_FALSE(t.markDone(a, 5));
  t.revoke(b);
  CHECK_FALSE(t.markDone(b, 7));
  CHECK(t.pendingTotal() == 0);
  CHECK_FALSE(t.committable(b));
  REQUIRE(t.committable().size() == 1);
  CHECK(t.committable()[0].tp == a);
}

TEST_CASE("partitions are independent") {
  OffsetTracker t;
  const TopicPartition a{"t", 0}, b{"u", 0};
  t.assign(a);
  t.assign(b);
  t.track(a, 0);
  t.track(b, 0);
  t.track(b, 1);
  t.markDone(b, 1);
  t.markDone(a, 0);
  auto points = t.committable();
  REQUIRE(points.size() == 1);
  CHECK(points[0].tp == a);
  CHECK(t.pendingTotal() == 1);
}

TEST_CASE("the highest finished offset counts work done beyond a gap") {
  OffsetTracker t;
  const TopicPartition tp{"t", 0};
  CHECK(!t.highestDone(tp));  // not assigned
  t.assign(tp);
  for (int64_t o : {10, 11, 12, 13}) t.track(tp, o);
  CHECK(!t.highestDone(tp));  // nothing finished
  CHECK(t.markDone(tp, 12));
  CHECK(t.highestDone(tp) == 12);  // beyond the gap at 10 and 11
  CHECK(t.markDone(tp, 10));
  CHECK(t.markDone(tp, 11));
  CHECK(t.highestDone(tp) == 12);  // now the done prefix: commit point 13
  CHECK(t.committable(tp)->offset == 13);
  CHECK(t.markDone(tp, 13));
  CHECK(t.highestDone(tp) == 13);  // everything done: nothing in flight
  t.revoke(tp);
  CHECK(!t.highestDone(tp));
}
