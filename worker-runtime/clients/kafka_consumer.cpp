#include "clients/kafka_consumer.h"

#include <spdlog/spdlog.h>

#include "clients/kafka_config.h"
#include "clients/kafka_message.h"

namespace ew::runtime {
namespace {

using TpList = std::vector<RdKafka::TopicPartition*>;

// Owns a librdkafka partition list.
struct TpListGuard {
  TpList list;
  ~TpListGuard() { RdKafka::TopicPartition::destroy(list); }
};

std::vector<TopicPartition> toParts(const TpList& list) {
  std::vector<TopicPartition> out;
  for (auto* tp : list) out.push_back({tp->topic(), tp->partition()});
  return out;
}

TpListGuard toList(const std::vector<TopicPartition>& parts) {
  TpListGuard g;
  for (const auto& p : parts) g.list.push_back(RdKafka::TopicPartition::create(p.topic, p.partition));
  return g;
}

TpListGuard toList(const std::vector<CommitPoint>& points) {
  TpListGuard g;
  for (const auto& p : points) {
    g.list.push_back(RdKafka::TopicPartition::create(p.tp.topic, p.tp.partition));
    g.list.back()->set_offset(p.offset);
  }
  return g;
}

}  // namespace

class KafkaConsumer::RebalanceCb : public RdKafka::RebalanceCb {
 public:
  RebalanceCb(RebalanceListener* listener, KafkaConsumer* owner) : listener_(listener), owner_(owner) {}

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err, TpList& parts) override {
    const auto list = toParts(parts);
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      listener_->onAssigned(list);
      if (auto e = consumer->incremental_assign(parts)) {
        spdlog::error("kafka: incremental_assign failed: {}", e->str());
        delete e;
      }
      spdlog::info("kafka: assigned {} partition(s)", list.size());
      return;
    }
    const bool lost = consumer->assignment_lost();
    auto points = listener_->onRevoking(list, lost);
    if (!lost && !points.empty()) {
      // Stored too: unassigning commits the partitions' stored offsets
      // again (auto commit), which must not be older than these.
      if (auto s = owner_->store(points); !s) spdlog::warn("kafka: {}", s.error().message);
      if (auto s = owner_->commit(points); !s) spdlog::warn("kafka: commit on revoke failed: {}", s.error().message);
    }
    if (auto e = consumer->incremental_unassign(parts)) {
      spdlog::error("kafka: incremental_unassign failed: {}", e->str());
      delete e;
    }
    spdlog::info("kafka: revoked {} partition(s){}", list.size(), lost ? " (lost)" : "");
  }

 private:
  RebalanceListener* listener_;
  KafkaConsumer* owner_;
};

// The results of the commits librdkafka's timer sends (and of commit()).
class KafkaConsumer::CommitCb : public RdKafka::OffsetCommitCb {
 public:
  explicit CommitCb(KafkaConsumer* owner) : owner_(owner) {}
  void offset_commit_cb(RdKafka::ErrorCode err, std::vector<RdKafka::TopicPartition*>& offsets) override {
    if (err == RdKafka::ERR__NO_OFFSET) return;  // nothing new was stored
    if (err == RdKafka::ERR_NO_ERROR) {
      for (auto* tp : offsets)
        if (tp->err() != RdKafka::ERR_NO_ERROR) err = tp->err();
    }
    if (err == RdKafka::ERR_NO_ERROR) {
      owner_->timerCommits_.fetch_add(1);
      return;
    }
    owner_->timerCommitErrors_.fetch_add(1);
    spdlog::warn("kafka: commit of {} partition(s) failed: {}", offsets.size(), RdKafka::err2str(err));
  }

 private:
  KafkaConsumer* owner_;
};

Result<std::unique_ptr<KafkaConsumer>> KafkaConsumer::create(const KafkaSourceConfig& config,
                                                             const std::vector<std::string>& topics,
                                                             RebalanceListener* listener) {
  auto conf = kafkaClientConf(config);
  if (!conf) return conf.error();
  std::unique_ptr<KafkaConsumer> self(new KafkaConsumer());
  self->rebalanceCb_ = std::make_unique<RebalanceCb>(listener, self.get());
  self->commitCb_ = std::make_unique<CommitCb>(self.get());
  // Only what store() was given is committed (never a record still in
  // flight), by librdkafka's timer, which skips rebalances (see the header).
  for (const auto& [k, v] : std::initializer_list<std::pair<const char*, std::string>>{
           {"group.id", config.consumerGroup},
           {"enable.auto.commit", "true"},
           {"auto.commit.interval.ms", std::to_string(config.commitInterval.count())},
           {"enable.auto.offset.store", "false"},
           {"auto.offset.reset", config.offsetReset},
           {"partition.assignment.strategy", "cooperative-sticky"},
           {"enable.partition.eof", "false"}})
    if (auto s = setConf(**conf, k, v); !s) return s.error();
  // Bounded prefetch unless the config says otherwise. One fetch brings up to
  // max.partition.fetch.bytes (1 MiB by default) of compressed records per
  // partition, and librdkafka holds every record it decompressed with ~190
  // bytes of bookkeeping each: a backlog of small records on 12 partitions
  // peaked at 254 MiB RSS (190 MiB of it there, heaptrack), enough to get a
  // pod OOM-killed exactly when it has a backlog. 256 KiB per partition
  // peaked at 90 MiB, for about a quarter less noop throughput
  // (hack/bench/runtime_kafka.sh); properties can raise it.
  if (!config.properties.count("max.partition.fetch.bytes"))
    if (auto s = setConf(**conf, "max.partition.fetch.bytes", "262144"); !s) return s.error();
  // A pod that dies without leaving the group (SIGKILL, OOM, node loss)
  // holds its partitions until the group's session times out: librdkafka's
  // 45 s default stopped its partitions for 30-45 s. 10 s moves them in
  // about 10 s; heartbeats come from librdkafka's own thread, so a slow
  // handler does not miss them (max.poll.interval.ms bounds that), but a
  // process starved of CPU for over 10 s is taken for dead and its
  // partitions rebalance. properties can set either.
  if (!config.properties.count("session.timeout.ms"))
    if (auto s = setConf(**conf, "session.timeout.ms", "10000"); !s) return s.error();
  if (!config.properties.count("heartbeat.interval.ms"))
    if (auto s = setConf(**conf, "heartbeat.interval.ms", "3000"); !s) return s.error();
  std::string err;
  std::string minQueued;
  if ((*conf)->get("queued.min.messages", minQueued) != RdKafka::Conf::CONF_OK)
    return Error{"kafka: queued.min.messages: not readable"};
  self->stallGuard_.emplace(std::stoul(minQueued));
  if ((*conf)->set("rebalance_cb", self->rebalanceCb_.get(), err) != RdKafka::Conf::CONF_OK)
    return Error{"kafka: rebalance_cb: " + err};
  if ((*conf)->set("offset_commit_cb", self->commitCb_.get(), err) != RdKafka::Conf::CONF_OK)
    return Error{"kafka: offset_commit_cb: " + err};
  self->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!self->consumer_) return Error{"kafka: cannot create consumer: " + err};
  self->queue_.reset(rd_kafka_queue_get_consumer(self->consumer_->c_ptr()));
  if (auto e = self->consumer_->subscribe(topics); e != RdKafka::ERR_NO_ERROR)
    return Error{"kafka: subscribe: " + RdKafka::err2str(e), static_cast<int>(e)};
  self->waker_ = std::thread([s = self.get()] { s->wakerLoop(); });
  return self;
}

ConsumerFactory KafkaConsumer::factory() {
  return [](const KafkaSourceConfig& config, const std::vector<std::string>& topics,
            RebalanceListener* listener) -> Result<ConsumerPtr> {
    auto c = create(config, topics, listener);
    if (!c) return c.error();
    return ConsumerPtr(std::move(*c));
  };
}

KafkaConsumer::~KafkaConsumer() { close(); }

void KafkaConsumer::QueueDeleter::operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }

size_t KafkaConsumer::poll(int timeoutMs, size_t max, std::vector<Message>& out) {
  const size_t appended = consumeBatch(queue_.get(), timeoutMs, max, batch_, out);
  if (stallGuard_->observe(static_cast<size_t>(rd_kafka_queue_length(queue_.get())))) wakeFetcher();
  return appended;
}

void KafkaConsumer::wakeFetcher() {
  {
    std::lock_guard l(wakeMu_);
    wakeDue_ = true;
  }
  wakeCv_.notify_one();
}

void KafkaConsumer::wakerLoop() {
  std::unique_lock l(wakeMu_);
  for (;;) {
    wakeCv_.wait(l, [&] { return wakeDue_ || wakerStop_; });
    if (wakerStop_) return;
    wakeDue_ = false;
    l.unlock();
    // The latest offsets of every assigned partition: librdkafka sends one
    // ListOffsets request to each partition leader, and each broker thread
    // that receives one looks at its partitions' queues again. The answer
    // itself is not needed.
    TpListGuard g;
    consumer_->assignment(g.list);
    for (auto* tp : g.list) tp->set_offset(RdKafka::Topic::OFFSET_END);
    if (!g.list.empty()) {
      consumer_->offsetsForTimes(g.list, 1000);
      wakeups_.fetch_add(1);
    }
    l.lock();
  }
}

Status KafkaConsumer::store(const std::vector<CommitPoint>& points) {
  auto g = toList(points);
  // A partition revoked since its points were taken answers _STATE: its
  // final offset was committed by the revocation.
  const auto e = consumer_->offsets_store(g.list);
  if (e != RdKafka::ERR_NO_ERROR && e != RdKafka::ERR__STATE)
    return Error{"kafka: store offsets: " + RdKafka::err2str(e), static_cast<int>(e)};
  for (auto* tp : g.list)
    if (tp->err() != RdKafka::ERR_NO_ERROR && tp->err() != RdKafka::ERR__STATE)
      return Error{"kafka: store offset " + tp->topic() + "[" + std::to_string(tp->partition()) +
                       "]: " + RdKafka::err2str(tp->err()),
                   static_cast<int>(tp->err())};
  return {};
}

Status KafkaConsumer::commit(const std::vector<CommitPoint>& points) {
  auto g = toList(points);
  if (auto e = consumer_->commitSync(g.list); e != RdKafka::ERR_NO_ERROR)
    return Error{"kafka: commit: " + RdKafka::err2str(e), static_cast<int>(e)};
  for (auto* tp : g.list)
    if (tp->err() != RdKafka::ERR_NO_ERROR)
      return Error{
          "kafka: commit " + tp->topic() + "[" + std::to_string(tp->partition()) + "]: " + RdKafka::err2str(tp->err()),
          static_cast<int>(tp->err())};
  return {};
}

void KafkaConsumer::pause(const std::vector<TopicPartition>& parts) {
  auto g = toList(parts);
  consumer_->pause(g.list);
}

void KafkaConsumer::resume(const std::vector<TopicPartition>& parts) {
  auto g = toList(parts);
  consumer_->resume(g.list);
}

std::vector<TopicPartition> KafkaConsumer::assignment() {
  TpListGuard g;
  consumer_->assignment(g.list);
  return toParts(g.list);
}

void KafkaConsumer::close() {
  if (waker_.joinable()) {
    {
      std::lock_guard l(wakeMu_);
      wakerStop_ = true;
    }
    wakeCv_.notify_one();
    waker_.join();
  }
  if (closed_ || !consumer_) return;
  closed_ = true;
  consumer_->close();
}

Status KafkaConsumer::setSaslCredentials(const SaslCredentials& credentials) {
  return runtime::setSaslCredentials(*consumer_, credentials);
}

}  // namespace ew::runtime
