#include "kafka/offset_commit.h"

#include <librdkafka/rdkafka.h>

#include <memory>

namespace ew::autoscale {

namespace {

struct Destroy {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
  void operator()(rd_kafka_topic_partition_list_t* l) const { rd_kafka_topic_partition_list_destroy(l); }
  void operator()(rd_kafka_AlterConsumerGroupOffsets_t* a) const { rd_kafka_AlterConsumerGroupOffsets_destroy(a); }
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
template <typename T>
using Ptr = std::unique_ptr<T, Destroy>;

}  // namespace

Status commitGroupOffsets(const KafkaCluster& cluster, const std::string& group,
                          const std::map<PartitionKey, std::int64_t>& offsets, Millis timeout) {
  const std::string prefix = "kafka " + cluster.bootstrapServers + ": group " + group + ": ";
  if (offsets.empty()) return Status::success();
  Ptr<rd_kafka_conf_t> conf(rd_kafka_conf_new());
  char err[512];
  auto set = [&](const std::string& key, const std::string& value) -> Status {
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      return Error{prefix + "librdkafka property " + key + ": invalid (value not shown)"};
    return Status::success();
  };
  // A group handle avoids librdkafka#5040 (see lag_reader.cpp); never joined.
  for (const auto& [key, value] : std::map<std::string, std::string>{
           {"client.id", "eventworker-offset-copy"}, {"group.id", "eventworker-offset-copy"}, {"log_level", "3"}})
    if (auto s = set(key, value); !s) return s;
  for (const auto& [key, value] : cluster.properties)
    if (auto s = set(key, value); !s) return s;
  if (auto s = set("bootstrap.servers", cluster.bootstrapServers); !s) return s;
  Ptr<rd_kafka_t> rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err));
  if (!rk) return Error{prefix + "cannot create the client: " + err};
  conf.release();  // owned by the client now

  // Reach the cluster first: a group request must not wait for a coordinator
  // of an unreachable cluster (librdkafka 2.0.2 aborts when such a request
  // times out and the coordinator turns up later; see lag_reader.cpp).
  const struct rd_kafka_metadata* md = nullptr;
  if (auto e = rd_kafka_metadata(rk.get(), 0, nullptr, &md, static_cast<int>(timeout.count())); e)
    return Error{prefix + "cannot reach the cluster: " + rd_kafka_err2str(e)};
  rd_kafka_metadata_destroy(md);

  Ptr<rd_kafka_topic_partition_list_t> list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [key, offset] : offsets)
    rd_kafka_topic_partition_list_add(list.get(), key.topic.c_str(), key.partition)->offset = offset;
  Ptr<rd_kafka_AlterConsumerGroupOffsets_t> request(rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list.get()));
  Ptr<rd_kafka_AdminOptions_t> options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS));
  rd_kafka_AdminOptions_set_request_timeout(options.get(), 3600 * 1000, err, sizeof err);
  Ptr<rd_kafka_queue_t> queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_AlterConsumerGroupOffsets_t* one = request.get();
  rd_kafka_AlterConsumerGroupOffsets(rk.get(), &one, 1, options.get(), queue.get());

  Ptr<rd_kafka_event_t> event(rd_kafka_queue_poll(queue.get(), static_cast<int>(timeout.count())));
  if (!event) return Error{prefix + "timed out after " + std::to_string(timeout.count()) + " ms setting offsets"};
  if (rd_kafka_event_error(event.get()))
    return Error{prefix + "setting offsets: " + rd_kafka_event_error_string(event.get())};
  const auto* result = rd_kafka_event_AlterConsumerGroupOffsets_result(event.get());
  if (!result) return Error{prefix + "unexpected reply to AlterConsumerGroupOffsets"};
  size_t n = 0;
  const rd_kafka_group_result_t** groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(result, &n);
  for (size_t i = 0; i < n; ++i) {
    if (const rd_kafka_error_t* e = rd_kafka_group_result_error(groups[i]))
      return Error{prefix + "setting offsets: " + rd_kafka_error_string(e)};
    const rd_kafka_topic_partition_list_t* parts = rd_kafka_group_result_partitions(groups[i]);
    for (int j = 0; parts && j < parts->cnt; ++j)
      if (parts->elems[j].err)
        return Error{prefix + parts->elems[j].topic + "/" + std::to_string(parts->elems[j].partition) + ": " +
                     rd_kafka_err2str(parts->elems[j].err)};
  }
  return Status::success();
}

}  // namespace ew::autoscale
