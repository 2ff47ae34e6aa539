#include "controller/kafka_lag.h"

#include <map>
#include <mutex>
#include <utility>

#include "kafka/offset_commit.h"

namespace ew::controller {
namespace {

// Resolves accesses and hands out the pool's readers; remembers what each
// access resolved to last, so that the client of credentials replaced in
// their Secret is closed. Thread-safe.
class Readers {
 public:
  Readers(std::shared_ptr<autoscale::LagReaderPool> pool, OperatorSecrets secrets)
      : pool_(std::move(pool)), secrets_(std::move(secrets)) {}

  // ERROR, naming the Secret ACCESS reads with: first when the broker
  // refused it, else after what failed.
  Error namingSecret(const KafkaAccess& access, Error error) const {
    if (access.secretName.empty()) return error;
    const std::string secret = "Secret " + secrets_.ns + "/" + access.secretName;
    if (error.code == autoscale::kKafkaRefused)
      error.message = secret + " (spec.source.kafka.security.operatorSecretRef): " + error.message;
    else
      error.message += " (read with the credentials of " + secret + ")";
    return error;
  }

  Result<autoscale::KafkaCluster> cluster(const KafkaAccess& access) {
    auto cluster = kafkaCluster(access, secrets_);
    if (!cluster) return cluster.error();
    autoscale::KafkaCluster previous;
    {
      std::lock_guard lock(mu_);
      auto [it, added] = resolved_.try_emplace(access, *cluster);
      if (added || it->second == *cluster) return cluster;
      previous = std::exchange(it->second, *cluster);  // the Secret changed
    }
    pool_->release(previous);
    return cluster;
  }

  Result<autoscale::LagReaderPtr> reader(const KafkaAccess& access) {
    auto c = cluster(access);
    if (!c) return c.error();
    return pool_->reader(*c);
  }

 private:
  std::shared_ptr<autoscale::LagReaderPool> pool_;
  const OperatorSecrets secrets_;
  std::mutex mu_;
  std::map<KafkaAccess, autoscale::KafkaCluster> resolved_;  // guarded by mu_
};

}  // namespace

LagReadFn lagReadFn(std::shared_ptr<autoscale::LagReaderPool> pool, OperatorSecrets secrets) {
  auto readers = std::make_shared<Readers>(std::move(pool), std::move(secrets));
  return [readers](const KafkaAccess& access, const std::vector<LagQuery>& queries) {
    auto reader = readers->reader(access);
    if (!reader) return std::vector<LagResult>(queries.size(), LagResult(reader.error()));
    std::vector<autoscale::GroupQuery> groups;
    groups.reserve(queries.size());
    for (const auto& q : queries) groups.push_back({q.group, q.topics});
    auto results = (*reader)->readMany(groups);
    for (auto& r : results)
      if (!r) r = readers->namingSecret(access, r.error());
    return results;
  };
}

MigrationKafka migrationKafka(std::shared_ptr<autoscale::LagReaderPool> pool, autoscale::Millis timeout,
                              OperatorSecrets secrets) {
  auto readers = std::make_shared<Readers>(std::move(pool), std::move(secrets));
  MigrationKafka k;
  k.read = [readers](const KafkaAccess& access, const std::string& group,
                     const std::vector<std::string>& topics) -> Result<std::vector<autoscale::PartitionOffsets>> {
    auto reader = readers->reader(access);
    if (!reader) return reader.error();
    auto read = (*reader)->read({group, topics});
    if (!read) return readers->namingSecret(access, read.error());
    return read;
  };
  k.commit = [readers, timeout](const KafkaAccess& access, const std::string& group,
                                const std::map<autoscale::PartitionKey, std::int64_t>& offsets) -> Status {
    auto cluster = readers->cluster(access);
    if (!cluster) return cluster.error();
    return autoscale::commitGroupOffsets(*cluster, group, offsets, timeout);
  };
  return k;
}

}  // namespace ew::controller
