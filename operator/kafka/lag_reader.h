#pragma once
// Reads what the scaling policy (policy.h) needs from Kafka: for consumer
// groups and their topics, per partition the log start, end and committed
// offsets and whether a member of the group owns it now. The thin librdkafka
// shell (its C API: the admin calls are not in the C++ wrapper of 2.0.2); the
// merging is pure, in lag_reader_merge.h.
//
// Offsets as read:
//   logStart   ListOffsets EARLIEST (retention-deleted messages excluded).
//   end        ListOffsets LATEST under the client's isolation.level:
//              read_committed by default, as the worker runtime's consumers
//              read, which is the high watermark unless a transaction is open
//              (set isolation.level=read_uncommitted in the properties for
//              the high watermark always).
//   committed  OffsetFetch of the group; std::nullopt without a commit (the
//              policy applies the offset-reset rule).
//   hasOwner   the member assignments of DescribeGroups; none when the group
//              is Empty or Dead, or between assignments in a rebalance.

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "autoscale/policy.h"
#include "ew/result.h"

struct rd_kafka_s;
struct rd_kafka_conf_s;
namespace ew::autoscale::admin {
class Call;
struct GroupResults;
}  // namespace ew::autoscale::admin

namespace ew::autoscale {

inline constexpr Millis kDefaultLagReadTimeout{5000};

// A Kafka cluster as an EventWorker names it.
struct KafkaCluster {
  std::string bootstrapServers;  // "host:port[,host:port...]"; names the cluster in errors
  // Extra librdkafka properties (security.protocol, sasl.*, ssl.*, ...).
  // Values may be secrets: they are never logged nor put in errors.
  std::map<std::string, std::string> properties;
  auto operator<=>(const KafkaCluster&) const = default;
};

struct GroupQuery {
  std::string group;
  std::vector<std::string> topics;
};

// A group's partitions of its query's topics, sorted by (topic, partition); or
// why they could not be read, e.g. "kafka broker1:9092: topic orders does not
// exist" (also when the credentials may not describe it), "kafka
// broker1:9092: timed out after 5s describing group g".
using GroupOffsets = Result<std::vector<PartitionOffsets>>;

// Error::code of a read the broker refused (credentials, certificates): its
// message says which, e.g. "kafka broker1:9093: the broker refused the
// client: wrong username or password" (ew/kafka_refusal.h); on every read
// while the broker keeps refusing, not only on the first. A cluster none of
// whose brokers answers is not a refusal: "kafka broker1:9093: no broker
// reachable within 5s", code RD_KAFKA_RESP_ERR__TRANSPORT.
inline constexpr int kKafkaRefused = 1;

// One librdkafka client for one cluster (replaced by a new one after a read
// that timed out with group requests in flight: see lag_reader.cpp). It never
// creates topics (also not when the broker's auto.create.topics.enable is
// set) and never joins a group: its group.id ("eventworker-lag-reader" unless
// a property names another) is only looked up (FindCoordinator).
// Thread-safe: readMany may run on several threads at once.
class LagReader {
 public:
  // Fails when librdkafka rejects a property (the error names the key, never
  // the value). Does not wait for the cluster: an unreachable one fails the
  // reads, not create().
  // REQUIRES: timeout > 0.
  static Result<std::unique_ptr<LagReader>> create(const KafkaCluster& cluster,
                                                   Millis timeout = kDefaultLagReadTimeout);
  ~LagReader();
  LagReader(const LagReader&) = delete;
  LagReader& operator=(const LagReader&) = delete;

  // One result per query, in the queries' order; one group's failure leaves
  // the others alone. For all queries together it sends one Metadata request
  // (for all topics of the cluster: librdkafka 2.0.2 cannot name several
  // without keeping them forever), ListOffsets EARLIEST and LATEST for all
  // partitions of the queries' topics (each batched per partition leader), one
  // ListConsumerGroups call (one ListGroups request per broker), then for the
  // groups that exist one DescribeConsumerGroups call plus one
  // ListConsumerGroupOffsets call per group, all in flight at once (librdkafka
  // 2.0.2 sends one DescribeGroups and one OffsetFetch request per group to
  // the group's coordinator). A group that is not listed has nothing committed
  // and no members, unless this reader saw it listed before (a restarted
  // broker lists a group only once it has loaded its offsets); when the
  // listing fails, every group is asked about. (A broker with ACLs lists only
  // the groups the client may describe: one it may not reads as new here,
  // where asking would have failed with GROUP_AUTHORIZATION_FAILED.) Returns within about `timeout`, the whole
  // call's budget. A query with an empty group or no topics gets an error.
  std::vector<GroupOffsets> readMany(const std::vector<GroupQuery>& queries);

  // readMany({query}).front().
  GroupOffsets read(const GroupQuery& query);

  const std::string& bootstrapServers() const { return bootstrap_; }

  // Each broker's last error as librdkafka reports it, refusal or not
  // (lag_reader.cpp).
  struct Refusals;
  using RefusalsPtr = std::unique_ptr<Refusals, void (*)(Refusals*)>;

 private:
  struct ConfDestroy {
    void operator()(rd_kafka_conf_s* conf) const;
  };
  using ClientPtr = std::shared_ptr<rd_kafka_s>;
  LagReader(std::string bootstrap, Millis timeout, RefusalsPtr refusals,
            std::unique_ptr<rd_kafka_conf_s, ConfDestroy> conf, ClientPtr client);

  ClientPtr client() const;
  // The steps of readMany(): the error of a cluster whose metadata could not
  // be read (a broker's refusal, when one refused); the groups to ask about,
  // the others entered into RESULTS as having nothing committed.
  Error unreachable(const admin::Call& call, const Error& metadataError);
  std::vector<std::string> groupsToAsk(const admin::Call& call, const std::vector<std::string>& groups,
                                       admin::GroupResults& results);
  // Replaces CLIENT (unless that happened already) after a read left requests
  // in flight on it; it is destroyed once the reads using it return.
  void retire(const ClientPtr& client);

  const std::string bootstrap_;
  const Millis timeout_;
  const RefusalsPtr refusals_;  // the clients' error callback opaque: declared before them, outlives them
  const std::unique_ptr<rd_kafka_conf_s, ConfDestroy> conf_;  // for replacement clients
  mutable std::mutex mu_;
  ClientPtr client_;  // guarded by mu_
  // Groups once listed: always asked about (see readMany). Grows with the
  // groups of the workers this operator has read, a name each.
  std::set<std::string> seenGroups_;  // guarded by mu_
};

using LagReaderPtr = std::shared_ptr<LagReader>;

// The readers of an operator: one client per cluster (bootstrap string and
// properties), shared by every EventWorker that reads from it. Thread-safe.
class LagReaderPool {
 public:
  explicit LagReaderPool(Millis timeout = kDefaultLagReadTimeout) : timeout_(timeout) {}

  // The reader for CLUSTER, created on first use (errors as LagReader::create).
  Result<LagReaderPtr> reader(const KafkaCluster& cluster);

  // Closes the clients of every cluster not in IN_USE (once their last reader
  // is released), e.g. after the EventWorkers naming them are gone or their
  // credentials changed.
  void retainOnly(const std::vector<KafkaCluster>& inUse);

  // Closes the client of CLUSTER (once its last reader is released), e.g.
  // after its credentials changed; a later reader() makes a new one.
  void release(const KafkaCluster& cluster);

  // The clients the pool holds.
  std::size_t clientCount() const;

 private:
  const Millis timeout_;
  mutable std::mutex mu_;
  std::map<KafkaCluster, LagReaderPtr> readers_;
};

}  // namespace ew::autoscale
