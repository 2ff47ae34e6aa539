#include "clients/kafka_partition_reader.h"

#include <librdkafka/rdkafka.h>

#include "clients/kafka_config.h"
#include "clients/kafka_message.h"

namespace ew::runtime {
namespace {

// librdkafka's partition list of STARTS, destroyed with it.
struct PartitionList {
  explicit PartitionList(const std::vector<std::pair<TopicPartition, int64_t>>& starts) {
    for (const auto& [tp, offset] : starts)
      list.push_back(RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
  }
  ~PartitionList() { RdKafka::TopicPartition::destroy(list); }
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  std::vector<RdKafka::TopicPartition*> list;
};

}  // namespace

void KafkaPartitionReader::QueueDeleter::operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }

Result<KafkaPartitionReaderPtr> KafkaPartitionReader::create(const KafkaSourceConfig& config,
                                                             const std::string& clientId) {
  auto conf = kafkaClientConf(config);
  if (!conf) return conf.error();
  for (const auto& [k, v] :
       std::initializer_list<std::pair<const char*, std::string>>{{"group.id", "eventworker-streams-unused"},
                                                                  {"client.id", clientId},
                                                                  {"enable.auto.commit", "false"},
                                                                  {"enable.auto.offset.store", "false"},
                                                                  {"auto.offset.reset", "earliest"},
                                                                  {"enable.partition.eof", "false"},
                                                                  {"allow.auto.create.topics", "false"}})
    if (auto s = setConf(**conf, k, v); !s) return s.error();
  if (!config.properties.count("max.partition.fetch.bytes"))
    if (auto s = setConf(**conf, "max.partition.fetch.bytes", "262144"); !s) return s.error();
  std::string err;
  KafkaPartitionReaderPtr self(new KafkaPartitionReader());
  self->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!self->consumer_) return Error{"kafka: cannot create reader: " + err};
  self->queue_.reset(rd_kafka_queue_get_consumer(self->consumer_->c_ptr()));
  return self;
}

KafkaPartitionReader::~KafkaPartitionReader() {
  if (!consumer_) return;
  (void)consumer_->unassign();  // closing either way: close() below leaves whatever is still assigned
  queue_.reset();
  consumer_->close();
}

Result<std::vector<TopicPartition>> KafkaPartitionReader::partitions(const std::vector<std::string>& topics,
                                                                     int timeoutMs) {
  std::vector<TopicPartition> out;
  for (const auto& topic : topics) {
    std::string err;
    std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(consumer_.get(), topic, nullptr, err));
    if (!handle) return Error{"kafka: topic " + topic + ": " + err};
    RdKafka::Metadata* raw = nullptr;
    const auto e = consumer_->metadata(false, handle.get(), &raw, timeoutMs);
    std::unique_ptr<RdKafka::Metadata> md(raw);
    if (e != RdKafka::ERR_NO_ERROR) return Error{"kafka: metadata of topic " + topic + ": " + RdKafka::err2str(e)};
    for (const auto* t : *md->topics()) {
      if (t->err() != RdKafka::ERR_NO_ERROR)
        return Error{"kafka: topic " + topic + ": " + RdKafka::err2str(t->err()), static_cast<int>(t->err())};
      for (const auto* p : *t->partitions()) out.push_back({topic, p->id()});
    }
  }
  return out;
}

Result<Watermarks> KafkaPartitionReader::watermarks(const TopicPartition& tp, int timeoutMs) {
  Watermarks w;
  const auto e = consumer_->query_watermark_offsets(tp.topic, tp.partition, &w.low, &w.high, timeoutMs);
  if (e != RdKafka::ERR_NO_ERROR)
    return Error{"kafka: watermarks of " + tp.topic + "[" + std::to_string(tp.partition) + "]: " + RdKafka::err2str(e),
                 static_cast<int>(e)};
  return w;
}

Status KafkaPartitionReader::assign(const std::vector<std::pair<TopicPartition, int64_t>>& starts) {
  const PartitionList parts(starts);
  const auto e = consumer_->assign(parts.list);
  if (e != RdKafka::ERR_NO_ERROR) return Error{"kafka: assign: " + RdKafka::err2str(e), static_cast<int>(e)};
  return {};
}

Status KafkaPartitionReader::add(const std::vector<std::pair<TopicPartition, int64_t>>& starts) {
  const PartitionList parts(starts);
  std::unique_ptr<RdKafka::Error> e(consumer_->incremental_assign(parts.list));
  if (e) return Error{"kafka: assign added partitions: " + e->str(), static_cast<int>(e->code())};
  return {};
}

size_t KafkaPartitionReader::poll(int timeoutMs, size_t max, std::vector<Message>& out) {
  return consumeBatch(queue_.get(), timeoutMs, max, batch_, out);
}

}  // namespace ew::runtime
