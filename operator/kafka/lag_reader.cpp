#include "kafka/lag_reader.h"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <utility>

#include "ew/duration.h"
#include "ew/kafka_refusal.h"
#include "kafka/admin_call.h"
#include "kafka/group_reads.h"
#include "kafka/lag_reader_merge.h"

namespace ew::autoscale {

using namespace admin;

namespace {

void logToSpdlog(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  const auto severity = level <= 3   ? spdlog::level::err
                        : level == 4 ? spdlog::level::warn
                        : level <= 6 ? spdlog::level::info
                                     : spdlog::level::debug;
  spdlog::log(severity, "kafka lag reader {}: {}: {}", rd_kafka_name(rk), facility, message);
}

// "a, b, c" (at most five names, then "and N more").
std::string joinNames(const std::set<std::string>& names) {
  constexpr std::size_t kShown = 5;
  std::string out;
  std::size_t shown = 0;
  for (const auto& name : names) {
    if (shown == kShown) return out + " and " + std::to_string(names.size() - kShown) + " more";
    out += (shown++ ? ", " : "") + name;
  }
  return out;
}

// Partition counts, and the partitions without a leader, from Metadata.
struct Layout {
  std::map<std::string, Result<int>> partitionCounts;
  std::set<PartitionKey> leaderless;
};

// One Metadata request, for all topics. librdkafka 2.0.2 can ask for one
// topic, for all, or for its "locally known" ones, which takes a topic handle
// per topic: and librdkafka keeps every topic it ever had a handle for until
// the client is destroyed, refreshing its metadata in the background (every
// second for a topic that does not exist). So the response carries the whole
// cluster; TOPICS are picked out of it. Such a request never creates topics.
Result<Layout> readMetadata(const Call& call, const std::set<std::string>& topics) {
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(call.rk, 1, nullptr, &raw, std::max(1, call.remainingMs()));
  MetadataPtr metadata(raw);
  if (err == RD_KAFKA_RESP_ERR__TRANSPORT)
    return call.error("no broker reachable within " + ew::formatDuration(call.timeout()), err);
  if (err) return call.failed("reading metadata of topics " + joinNames(topics), err);

  Layout layout;
  // A topic the credentials may not describe is left out of the response too.
  for (const auto& topic : topics)
    layout.partitionCounts.emplace(
        topic, call.error("topic " + topic + " does not exist", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART));
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& meta = metadata->topics[i];
    auto it = layout.partitionCounts.find(meta.topic);
    if (it == layout.partitionCounts.end()) continue;
    const std::string& topic = it->first;
    if (meta.err) {
      it->second = call.failed("topic " + topic, meta.err);
    } else if (meta.partition_cnt <= 0) {
      it->second = call.error("topic " + topic + " has no partitions");
    } else {
      it->second = meta.partition_cnt;
      for (int p = 0; p < meta.partition_cnt; ++p)
        if (meta.partitions[p].leader < 0) layout.leaderless.insert({topic, meta.partitions[p].id});
    }
  }
  return layout;
}

// The log start and end offsets of every partition of LAYOUT's topics: one
// ListOffsets EARLIEST and one LATEST batch (offsets_for_times with the
// special timestamps -2 and -1; librdkafka 2.0.2 has no ListOffsets admin
// call), each split per partition leader. A batch cannot name a partition
// twice, hence two. Leaderless partitions are left out: in librdkafka one
// partition's error fails its whole batch.
std::map<PartitionKey, Result<LogRange>> readLogRanges(const Call& call, const Layout& layout) {
  std::map<PartitionKey, Result<LogRange>> ranges;
  PartitionListPtr earliest(rd_kafka_topic_partition_list_new(0));
  PartitionListPtr latest(rd_kafka_topic_partition_list_new(0));
  std::set<std::string> asked;
  for (const auto& [topic, count] : layout.partitionCounts) {
    if (!count) continue;
    for (int p = 0; p < *count; ++p) {
      if (layout.leaderless.contains({topic, p})) {
        ranges.emplace(PartitionKey{topic, p}, call.error("partition " + partitionName(topic, p) + " has no leader",
                                                          RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE));
        continue;
      }
      rd_kafka_topic_partition_list_add(earliest.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
      rd_kafka_topic_partition_list_add(latest.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_END;
      asked.insert(topic);
    }
  }
  if (asked.empty()) return ranges;

  for (rd_kafka_topic_partition_list_t* batch : {earliest.get(), latest.get()}) {
    const int ms = call.remainingMs();
    const rd_kafka_resp_err_t err =
        ms > 0 ? rd_kafka_offsets_for_times(call.rk, batch, ms) : RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (err) {
      const Error failure = call.failed("reading log offsets of topics " + joinNames(asked), err);
      for (int i = 0; i < batch->cnt; ++i)
        ranges.emplace(PartitionKey{batch->elems[i].topic, batch->elems[i].partition}, failure);
      return ranges;
    }
  }

  for (int i = 0; i < earliest->cnt; ++i) {
    const rd_kafka_topic_partition_t& start = earliest->elems[i];
    const rd_kafka_topic_partition_t* end =
        rd_kafka_topic_partition_list_find(latest.get(), start.topic, start.partition);
    const PartitionKey key{start.topic, start.partition};
    const std::string doing = "reading log offsets of partition " + partitionName(key.topic, key.partition);
    if (start.err || end->err) {
      ranges.emplace(key, call.failed(doing, start.err ? start.err : end->err));
    } else if (start.offset < 0 || end->offset < 0) {
      ranges.emplace(key, call.error(doing + ": the broker returned no offset"));
    } else {
      ranges.emplace(key, LogRange{start.offset, end->offset});
    }
  }
  return ranges;
}

}  // namespace

// The brokers' refusals, from the errors librdkafka reports about them. A
// broker's error is reported once and then suppressed while it repeats
// unchanged (rd_kafka_broker_set_error: an identical error again within 30 s
// is only debug-logged), so a read must not forget what an earlier one saw:
// each broker's last reported error is kept, refusal or not, for the life of
// the client (a new client starts afresh, e.g. after the credentials changed).
// While a broker keeps refusing, its last error is that refusal; once it
// fails otherwise (unreachable, timed out), that new error is reported and
// replaces it.
struct LagReader::Refusals {
  std::mutex mu;
  std::map<std::string, std::optional<KafkaRefusal>> lastByBroker;  // guarded by mu

  // Notes the error ERR with TEXT ("sasl_ssl://host:9093/bootstrap: SASL
  // authentication error: ..."). Errors not about one broker ("1/1 brokers
  // are down") say nothing new and are left out.
  void note(int err, const std::string& text) {
    const auto colon = text.find(": ");
    if (colon == std::string::npos || text.substr(0, colon).find("://") == std::string::npos) return;
    const auto refusal = kafkaRefusal(err == RD_KAFKA_RESP_ERR__AUTHENTICATION, err == RD_KAFKA_RESP_ERR__SSL, text);
    std::lock_guard lock(mu);
    lastByBroker[text.substr(0, colon)] = refusal;
  }

  // A refusal that some broker's last error is, if any.
  std::optional<KafkaRefusal> current() {
    std::lock_guard lock(mu);
    for (const auto& [broker, refusal] : lastByBroker)
      if (refusal) return refusal;
    return std::nullopt;
  }
};

namespace {

// librdkafka's error callback (on the thread serving the client's queue):
// logged as librdkafka would without one, and noted for the reads.
void onClientError(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  spdlog::error("kafka lag reader {}: {}", rd_kafka_name(rk), reason);
  static_cast<LagReader::Refusals*>(opaque)->note(err, reason);
}

// Serves the client's own queue (its group handle's errors, connection
// errors through onClientError, SASL token refreshes), so that nothing piles
// up there between reads.
void drainClientQueue(rd_kafka_t* rk, const std::string& cluster, LagReader::Refusals& refusals) {
  while (rd_kafka_message_t* message = rd_kafka_consumer_poll(rk, 0)) {
    if (message->err) {
      const std::string text = rd_kafka_message_errstr(message);
      spdlog::warn("kafka lag reader {}: {}", cluster, text);
      refusals.note(message->err, text);
    }
    rd_kafka_message_destroy(message);
  }
}

// Why QUERY cannot be read, if it cannot.
std::optional<std::string> invalidQuery(const GroupQuery& query) {
  if (query.group.empty()) return "a query names no group";
  if (query.topics.empty()) return "group " + query.group + ": no topics to read";
  for (const auto& topic : query.topics)
    if (topic.empty()) return "group " + query.group + ": a topic name is empty";
  return std::nullopt;
}

// The groups and topics of a batch of queries, and why each invalid one is.
struct Batch {
  std::vector<std::string> groups;  // each once, in the queries' order
  std::set<std::string> topics;
  std::vector<std::optional<Error>> invalid;  // per query
};
Batch batchOf(const Call& call, const std::vector<GroupQuery>& queries) {
  Batch b;
  b.invalid.resize(queries.size());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    if (auto why = invalidQuery(queries[i])) {
      b.invalid[i] = call.error(*why);
      continue;
    }
    if (std::find(b.groups.begin(), b.groups.end(), queries[i].group) == b.groups.end())
      b.groups.push_back(queries[i].group);
    b.topics.insert(queries[i].topics.begin(), queries[i].topics.end());
  }
  return b;
}

// One result per query: its own error, the cluster's, or its group's offsets.
std::vector<GroupOffsets> resultsOf(const std::vector<GroupQuery>& queries, const Batch& batch,
                                    const std::optional<Error>& clusterError, const ClusterFetch& cluster,
                                    const GroupResults& groupResults) {
  std::vector<GroupOffsets> out;
  out.reserve(queries.size());
  for (std::size_t i = 0; i < queries.size(); ++i) {
    if (batch.invalid[i])
      out.emplace_back(*batch.invalid[i]);
    else if (clusterError)
      out.emplace_back(*clusterError);
    else
      out.push_back(mergeGroup(queries[i].topics, cluster, groupResults.fetched.at(queries[i].group)));
  }
  return out;
}

// A new client configured as CONF (which stays the caller's).
Result<std::shared_ptr<rd_kafka_t>> newClient(const rd_kafka_conf_t& conf, const std::string& cluster) {
  ConfPtr copy(rd_kafka_conf_dup(&conf));
  char err[512];
  // A consumer-type client that never subscribes, so it never joins its group.
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, copy.get(), err, sizeof err);
  if (!rk) return Error{"kafka " + cluster + ": cannot create the client: " + err};
  copy.release();                  // rd_kafka_new owns it now
  rd_kafka_poll_set_consumer(rk);  // one queue to serve: see drainClientQueue
  // It never joined its group, so there is nothing to leave.
  return std::shared_ptr<rd_kafka_t>(
      rk, [](rd_kafka_t* client) { rd_kafka_destroy_flags(client, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); });
}

}  // namespace

void LagReader::ConfDestroy::operator()(rd_kafka_conf_s* conf) const { rd_kafka_conf_destroy(conf); }

Result<std::unique_ptr<LagReader>> LagReader::create(const KafkaCluster& cluster, Millis timeout) {
  assert(timeout > Millis(0));
  const std::string prefix = "kafka " + cluster.bootstrapServers + ": ";
  if (cluster.bootstrapServers.empty()) return Error{"kafka: no bootstrap servers"};
  std::unique_ptr<rd_kafka_conf_s, ConfDestroy> conf(rd_kafka_conf_new());
  // Values may be secrets: errors name the key only (librdkafka's own message
  // quotes the value).
  auto set = [&](const std::string& key, const std::string& value) -> Status {
    char err[512];
    switch (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err)) {
      case RD_KAFKA_CONF_OK:
        return {};
      case RD_KAFKA_CONF_UNKNOWN:
        return Error{prefix + "unknown librdkafka property " + key};
      default:
        return Error{prefix + "librdkafka property " + key + ": invalid value (not shown)"};
    }
  };
  if (auto s = set("client.id", "eventworker-lag-reader"); !s) return s.error();
  // A group.id gives the client a (never joined) group handle. Without one,
  // librdkafka 2.0.2 dereferences a null group handle when an OffsetFetch of
  // ListConsumerGroupOffsets answers NOT_COORDINATOR (coordinator moving or
  // loading): confluentinc/librdkafka#5040. The handle only looks up its
  // group's coordinator; a property may name a group the credentials can
  // describe.
  if (auto s = set("group.id", "eventworker-lag-reader"); !s) return s.error();
  // librdkafka 2.0.2 caches a group's coordinator for admin requests until the
  // entry is unused for metadata.max.age.ms (default 15 minutes) and does not
  // drop it on NOT_COORDINATOR: polled more often than that, a group whose
  // coordinator moved (a broker restart) would fail for good. Two seconds let
  // the entry lapse between polls, at the cost of one FindCoordinator per
  // group and read (Metadata is requested on every read anyway).
  if (auto s = set("metadata.max.age.ms", "2000"); !s) return s.error();
  for (const auto& [key, value] : cluster.properties)
    if (auto s = set(key, value); !s) return s.error();
  // After the caller's properties, so that these always hold.
  if (auto s = set("bootstrap.servers", cluster.bootstrapServers); !s) return s.error();
  if (auto s = set("allow.auto.create.topics", "false"); !s) return s.error();
  rd_kafka_conf_set_log_cb(conf.get(), logToSpdlog);
  RefusalsPtr refusals(new Refusals(), [](Refusals* r) { delete r; });
  rd_kafka_conf_set_error_cb(conf.get(), onClientError);
  rd_kafka_conf_set_opaque(conf.get(), refusals.get());

  auto client = newClient(*conf, cluster.bootstrapServers);
  if (!client) return client.error();
  return std::unique_ptr<LagReader>(new LagReader(cluster.bootstrapServers, timeout, std::move(refusals),
                                                  std::move(conf), std::move(client).value()));
}

LagReader::LagReader(std::string bootstrap, Millis timeout, RefusalsPtr refusals,
                     std::unique_ptr<rd_kafka_conf_s, ConfDestroy> conf, ClientPtr client)
    : bootstrap_(std::move(bootstrap)),
      timeout_(timeout),
      refusals_(std::move(refusals)),
      conf_(std::move(conf)),
      client_(std::move(client)) {}

LagReader::~LagReader() = default;

LagReader::ClientPtr LagReader::client() const {
  std::lock_guard lock(mu_);
  return client_;
}

void LagReader::retire(const ClientPtr& client) {
  std::lock_guard lock(mu_);
  if (client_ != client) return;  // already replaced
  auto fresh = newClient(*conf_, bootstrap_);
  if (!fresh) {
    spdlog::error("kafka lag reader {}: keeping a client with requests left behind: {}", bootstrap_,
                  fresh.error().message);
    return;
  }
  spdlog::info("kafka lag reader {}: replacing the client, which has group requests left in flight", bootstrap_);
  client_ = std::move(fresh).value();  // the old one goes with its last read
}

std::vector<GroupOffsets> LagReader::readMany(const std::vector<GroupQuery>& queries) {
  const ClientPtr client = this->client();
  const Call call(client.get(), bootstrap_, timeout_);
  drainClientQueue(call.rk, bootstrap_, *refusals_);
  const Batch batch = batchOf(call, queries);

  // Metadata first: no group request is sent to an unreachable cluster. The
  // group requests are in flight while ListOffsets runs.
  std::optional<Error> clusterError;
  ClusterFetch cluster;
  GroupResults groupResults;
  if (!batch.groups.empty()) {
    if (auto layout = readMetadata(call, batch.topics); !layout) {
      clusterError = unreachable(call, layout.error());
    } else {
      const std::vector<std::string> asked = groupsToAsk(call, batch.groups, groupResults);
      QueuePtr queue(rd_kafka_queue_new(call.rk));
      if (!asked.empty()) sendGroupRequests(call, asked, queue.get());
      cluster.logRanges = readLogRanges(call, *layout);
      cluster.partitionCounts = std::move(layout->partitionCounts);
      if (!asked.empty()) {
        GroupResults read = collectGroupResults(call, queue.get(), asked);
        if (!read.complete) retire(client);
        groupResults.fetched.merge(read.fetched);
      }
    }
  }
  return resultsOf(queries, batch, clusterError, cluster, groupResults);
}

Error LagReader::unreachable(const Call& call, const Error& metadataError) {
  // No broker answered: one that refused the client says why.
  drainClientQueue(call.rk, bootstrap_, *refusals_);
  if (auto refused = refusals_->current())
    return Error{"kafka " + bootstrap_ + ": the broker refused the client: " + kafkaRefusalText(*refused),
                 kKafkaRefused};
  return metadataError;
}

std::vector<std::string> LagReader::groupsToAsk(const Call& call, const std::vector<std::string>& groups,
                                                GroupResults& results) {
  // Only groups that exist are asked about; the others have nothing to
  // read. A group this reader has seen listed before is asked about
  // whether listed now or not: a broker that has just restarted lists
  // only the groups whose offsets it has loaded (Kafka 4's coordinator
  // answers ListGroups without an error meanwhile), and the listing
  // would then read as "nothing committed" (lag from the log start, and
  // a migration's offset copy from nothing).
  auto existing = listExisting(call, groups);
  if (!existing) return groups;
  std::vector<std::string> asked;
  std::lock_guard lock(mu_);
  seenGroups_.insert(existing->begin(), existing->end());
  for (const auto& group : groups)
    if (seenGroups_.contains(group))
      asked.push_back(group);
    else
      results.fetched.try_emplace(group);  // nothing committed, no members
  return asked;
}

GroupOffsets LagReader::read(const GroupQuery& query) { return std::move(readMany({query}).front()); }

Result<LagReaderPtr> LagReaderPool::reader(const KafkaCluster& cluster) {
  std::lock_guard lock(mu_);
  if (auto it = readers_.find(cluster); it != readers_.end()) return it->second;
  auto created = LagReader::create(cluster, timeout_);
  if (!created) return created.error();
  LagReaderPtr reader = std::move(created).value();
  readers_.emplace(cluster, reader);
  return reader;
}

void LagReaderPool::retainOnly(const std::vector<KafkaCluster>& inUse) {
  const std::set<KafkaCluster> keep(inUse.begin(), inUse.end());
  std::vector<LagReaderPtr> closing;  // destroyed after the lock is released: closing a client can take a while
  {
    std::lock_guard lock(mu_);
    for (auto it = readers_.begin(); it != readers_.end();) {
      if (keep.contains(it->first)) {
        ++it;
      } else {
        closing.push_back(std::move(it->second));
        it = readers_.erase(it);
      }
    }
  }
}

void LagReaderPool::release(const KafkaCluster& cluster) {
  LagReaderPtr closing;  // destroyed after the lock is released
  std::lock_guard lock(mu_);
  if (auto it = readers_.find(cluster); it != readers_.end()) {
    closing = std::move(it->second);
    readers_.erase(it);
  }
}

std::size_t LagReaderPool::clientCount() const {
  std::lock_guard lock(mu_);
  return readers_.size();
}

}  // namespace ew::autoscale
