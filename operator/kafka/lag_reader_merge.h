#pragma once
// The pure half of the lag reader (lag_reader.h): what one batched read of a
// cluster fetched — per topic, per partition and per consumer group — merged
// into one group's PartitionOffsets. No I/O. Thread-compatible value types;
// the function is pure.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "autoscale/policy.h"
#include "ew/result.h"

namespace ew::autoscale {

struct LogRange {
  std::int64_t start = 0;  // log start offset
  std::int64_t end = 0;    // log end offset
};

// What one read fetched cluster-wide. Error messages are complete (they name
// the cluster and the topic or partition).
struct ClusterFetch {
  std::map<std::string, Result<int>> partitionCounts;  // per topic
  std::map<PartitionKey, Result<LogRange>> logRanges;  // per partition of the counted topics
};

// What one read fetched for one consumer group.
struct GroupFetch {
  // Committed offsets; a partition without a commit is absent.
  Result<std::map<PartitionKey, std::int64_t>> committed = std::map<PartitionKey, std::int64_t>{};
  // Partitions assigned to a member of the group now.
  Result<std::set<PartitionKey>> owned = std::set<PartitionKey>{};
};

// Every partition of TOPICS (duplicates ignored) as the group sees it, sorted
// by (topic, partition); committed offsets and owners of other topics are
// ignored. Otherwise the first error, looked for in this order: the topics'
// metadata (in topic order), their partitions' log offsets, the group's
// committed offsets, the group's members. A topic or partition missing from
// CLUSTER is an error too (it names the topic or partition).
Result<std::vector<PartitionOffsets>> mergeGroup(const std::vector<std::string>& topics, const ClusterFetch& cluster,
                                                 const GroupFetch& group);

}  // namespace ew::autoscale
