#include "controller/kafka_lag.h"

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

}  // namespace ew::controller
