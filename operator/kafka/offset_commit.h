#pragma once
// Sets a consumer group's committed offsets with librdkafka's admin API
// (AlterConsumerGroupOffsets): the migration's offset copy (DESIGN.md
// section 6). The broker refuses it while a member of the group consumes the
// topics, which is the guarantee the migration relies on.

#include <cstdint>
#include <map>

#include "kafka/lag_reader.h"

namespace ew::autoscale {

// One short-lived client per call (a migration step is rare). Errors name the
// cluster, the group and the first refused partition; property values never
// appear. REQUIRES: timeout > 0.
Status commitGroupOffsets(const KafkaCluster& cluster, const std::string& group,
                          const std::map<PartitionKey, std::int64_t>& offsets, Millis timeout = kDefaultLagReadTimeout);

}  // namespace ew::autoscale
