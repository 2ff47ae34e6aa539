#include "kafka/lag_reader_merge.h"

#include <catch2/catch.hpp>

using namespace ew::autoscale;
using ew::Error;

namespace {

// "orders" with 3 partitions and "payments" with 2, every log range known.
ClusterFetch cluster() {
  ClusterFetch c;
  c.partitionCounts.emplace("orders", 3);
  c.partitionCounts.emplace("payments", 2);
  for (int p = 0; p < 3; ++p) c.logRanges.emplace(PartitionKey{"orders", p}, LogRange{p, 100 + p});
  for (int p = 0; p < 2; ++p) c.logRanges.emplace(PartitionKey{"payments", p}, LogRange{0, 10});
  return c;
}

}  // namespace

TEST_CASE("mergeGroup lists every partition of the topics sorted, with commits and owners") {
  GroupFetch group;
  group.committed = std::map<PartitionKey, std::int64_t>{{{"orders", 1}, 50}, {{"payments", 0}, 7}, {{"other", 0}, 3}};
  group.owned = std::set<PartitionKey>{{"orders", 2}, {"payments", 1}, {"other", 0}};

  auto merged = mergeGroup({"payments", "orders", "payments"}, cluster(), group);
  REQUIRE(merged.ok());
  const auto& parts = *merged;
  REQUIRE(parts.size() == 5);
  CHECK(parts[0].topic == "orders");
  CHECK(parts[0].partition == 0);
  CHECK(parts[0].logStart == 0);
  CHECK(parts[0].end == 100);
  CHECK_FALSE(parts[0].committed.has_value());
  CHECK_FALSE(parts[0].hasOwner);
  CHECK(parts[1].partition == 1);
  CHECK(parts[1].logStart == 1);
  CHECK(parts[1].end == 101);
  CHECK(parts[1].committed == std::optional<std::int64_t>(50));
  CHECK(parts[2].partition == 2);
  CHECK(parts[2].hasOwner);
  CHECK(parts[3].topic == "payments");
  CHECK(parts[3].partition == 0);
  CHECK(parts[3].committed == std::optional<std::int64_t>(7));
  CHECK_FALSE(parts[3].hasOwner);
  CHECK(parts[4].partition == 1);
  CHECK(parts[4].hasOwner);
  CHECK_FALSE(parts[4].committed.has_value());
}

TEST_CASE("mergeGroup of a group without commits or members has no committed offsets and no owners") {
  auto merged = mergeGroup({"payments"}, cluster(), GroupFetch{});
  REQUIRE(merged.ok());
  REQUIRE(merged->size() == 2);
  for (const auto& p : *merged) {
    CHECK_FALSE(p.committed.has_value());
    CHECK_FALSE(p.hasOwner);
  }
}

TEST_CASE("mergeGroup reports a topic's metadata error before the group's errors") {
  ClusterFetch c = cluster();
  c.partitionCounts.emplace("missing", Error{"kafka b:9092: topic missing does not exist"});
  GroupFetch group;
  group.committed = Error{"kafka b:9092: reading committed offsets of group g: boom"};

  auto merged = mergeGroup({"orders", "missing"}, c, group);
  REQUIRE_FALSE(merged.ok());
  CHECK(merged.error().message == "kafka b:9092: topic missing does not exist");

  auto other = mergeGroup({"orders"}, c, group);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().message == "kafka b:9092: reading committed offsets of group g: boom");
}

TEST_CASE("mergeGroup fails on a partition whose log offsets failed, and on missing entries") {
  ClusterFetch c = cluster();
  c.logRanges.insert_or_assign(PartitionKey{"orders", 1}, Error{"kafka b:9092: partition orders[1] has no leader"});
  auto merged = mergeGroup({"orders"}, c, GroupFetch{});
  REQUIRE_FALSE(merged.ok());
  CHECK(merged.error().message == "kafka b:9092: partition orders[1] has no leader");
  CHECK(mergeGroup({"payments"}, c, GroupFetch{}).ok());

  c.logRanges.erase(PartitionKey{"payments", 1});
  auto gap = mergeGroup({"payments"}, c, GroupFetch{});
  REQUIRE_FALSE(gap.ok());
  CHECK(gap.error().message == "partition payments[1]: no log offsets were read");

  auto unknown = mergeGroup({"unknown"}, c, GroupFetch{});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "topic unknown: no metadata was read");
}

TEST_CASE("mergeGroup reports the group's member error after its commits") {
  GroupFetch group;
  group.owned = Error{"kafka b:9092: describing group g: Broker: Group authorization failed"};
  auto merged = mergeGroup({"orders"}, cluster(), group);
  REQUIRE_FALSE(merged.ok());
  CHECK(merged.error().message == "kafka b:9092: describing group g: Broker: Group authorization failed");
}

TEST_CASE("mergeGroup keeps a group's partitions in a vector of their number, not one grown by doubling") {
  ClusterFetch c;
  c.partitionCounts.emplace("orders", 12);
  for (int p = 0; p < 12; ++p) c.logRanges.emplace(PartitionKey{"orders", p}, LogRange{0, 10});
  auto merged = mergeGroup({"orders"}, c, GroupFetch{});
  REQUIRE(merged.ok());
  CHECK(merged->size() == 12);
  CHECK(merged->capacity() == 12);  // a batch of 1,000 groups holds them all at once
}
