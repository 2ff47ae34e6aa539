#include "controller/kafka_lag.h"

#include "autoscale/offset_commit.h"

namespace ew::controller {

LagReadFn lagReadFn(std::shared_ptr<autoscale::LagReaderPool> pool) {
  return [pool = std::move(pool)](const std::string& cluster, const std::vector<LagQuery>& queries) {
    auto reader = pool->reader(autoscale::KafkaCluster{cluster, {}});
    if (!reader) return std::vector<LagResult>(queries.size(), LagResult(reader.error()));
    std::vector<autoscale::GroupQuery> groups;
    groups.reserve(queries.size());
    for (const auto& q : queries) groups.push_back({q.group, q.topics});
    return (*reader)->readMany(groups);
  };
}

MigrationKafka migrationKafka(std::shared_ptr<autoscale::LagReaderPool> pool, autoscale::Millis timeout) {
  MigrationKafka k;
  k.read = [pool](const std::string& cluster, const std::string& group, const std::vector<std::string>& topics)
      -> Result<std::vector<autoscale::PartitionOffsets>> {
    auto reader = pool->reader(autoscale::KafkaCluster{cluster, {}});
    if (!reader) return reader.error();
    return (*reader)->read({group, topics});
  };
  k.commit = [timeout](const std::string& cluster, const std::string& group,
                       const std::map<autoscale::PartitionKey, std::int64_t>& offsets) {
    return autoscale::commitGroupOffsets(autoscale::KafkaCluster{cluster, {}}, group, offsets, timeout);
  };
  return k;
}

}  // namespace ew::controller
