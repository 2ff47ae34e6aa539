#include "clients/kafka_outbox_producer.h"

#include <spdlog/spdlog.h>

#include <unordered_map>
#include <unordered_set>

#include "clients/kafka_config.h"

namespace ew::runtime {
namespace {

// How long produce() waits for the metadata of a topic it has not seen.
constexpr int kTopicLookupMs = 1000;

}  // namespace

// Delivery reports of the rows in flight, by row id (the message opaque),
// until collect() takes them. Called from poll() and flush() on the relay's
// thread only.
class KafkaOutboxProducer::DeliveryCb : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    const auto id = static_cast<int64_t>(reinterpret_cast<intptr_t>(m.msg_opaque()));
    if (!inFlight.erase(id)) return;  // a row already reported transient by renewAfterFatal()
    if (m.err() == RdKafka::ERR_NO_ERROR)
      reports[id] = {Delivery::Delivered, ""};
    else
      reports[id] = {refusedForGood(m.err()) ? Delivery::Refused : Delivery::Transient, RdKafka::err2str(m.err())};
  }
  std::unordered_set<int64_t> inFlight;  // produced, not reported
  std::unordered_map<int64_t, DeliveryReport> reports;
};

bool refusedForGood(RdKafka::ErrorCode err) {
  switch (err) {
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_RECORD_LIST_TOO_LARGE:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR__UNKNOWN_PARTITION:
    case RdKafka::ERR_INVALID_RECORD:
    case RdKafka::ERR_TOPIC_EXCEPTION:
    case RdKafka::ERR_INVALID_MSG:
      return true;
    default:
      return false;
  }
}

Result<std::unique_ptr<KafkaOutboxProducer>> KafkaOutboxProducer::create(const KafkaSourceConfig& config,
                                                                         std::string source) {
  std::unique_ptr<KafkaOutboxProducer> self(new KafkaOutboxProducer());
  self->config_ = config;
  self->source_ = std::move(source);
  self->deliveryCb_ = std::make_unique<DeliveryCb>();
  if (auto s = self->renew(); !s) return s.error();
  return self;
}

Status KafkaOutboxProducer::renew() {
  auto conf = kafkaClientConf(config_);
  if (!conf) return conf.error();
  for (const auto& [k, v] : std::initializer_list<std::pair<const char*, const char*>>{
           {"enable.idempotence", "true"}, {"enable.gapless.guarantee", "true"}, {"acks", "all"}})
    if (auto s = setConf(**conf, k, v); !s) return s.error();
  // Defaults that source.kafka.properties may change. linger.ms 1: a batch is
  // enqueued at once, so waiting longer adds latency and little batching
  // (commit -> readable p50 12.8 -> 5.1 ms, hack/bench/outbox_latency.sh).
  for (const auto& [k, v] :
       std::initializer_list<std::pair<const char*, const char*>>{{"message.timeout.ms", "30000"}, {"linger.ms", "1"}})
    if (!config_.properties.count(k))
      if (auto s = setConf(**conf, k, v); !s) return s.error();
  std::string err;
  if ((*conf)->set("dr_cb", deliveryCb_.get(), err) != RdKafka::Conf::CONF_OK) return Error{"kafka: dr_cb: " + err};
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf->get(), err));
  if (!p) return Error{"kafka: cannot create the outbox producer: " + err};
  if (producer_) producer_->flush(1000);
  producer_ = std::move(p);
  knownTopics_.clear();
  return {};
}

KafkaOutboxProducer::~KafkaOutboxProducer() {
  if (producer_) producer_->flush(5000);
}

void KafkaOutboxProducer::produce(const std::vector<OutboxRow>& rows) {
  // Every message is written first and then enqueued in one burst, so that
  // linger.ms (1) sends the batch in a few produce requests, not one per
  // millisecond of writing.
  // messages_ keeps its buffer from batch to batch: freeing a block this
  // large made malloc consolidate its free lists every batch (perf).
  auto& messages = messages_;
  messages.clear();
  messages.reserve(rows.size());
  for (const auto& row : rows) {
    if (row.topic.empty()) {
      deliveryCb_->reports[row.id] = {Delivery::Refused, "the row has no topic"};
    } else {
      messages.emplace_back(row.id, outboxMessage(row, source_));
      if (!knownTopics_.count(row.topic)) learnTopic(row.topic);
    }
  }
  for (const auto& [id, m] : messages) {
    RdKafka::Headers* h = RdKafka::Headers::create();
    for (const auto& [k, v] : m.headers) h->add(k, v.data(), v.size());
    RdKafka::ErrorCode rc;
    for (;;) {
      rc = producer_->produce(m.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                              const_cast<char*>(m.value.data()), m.value.size(), m.key ? m.key->data() : nullptr,
                              m.key ? m.key->size() : 0, 0, h, reinterpret_cast<void*>(static_cast<intptr_t>(id)));
      if (rc != RdKafka::ERR__QUEUE_FULL) break;
      producer_->poll(20);
    }
    if (rc != RdKafka::ERR_NO_ERROR) {  // not enqueued: the headers are still ours
      delete h;
      deliveryCb_->reports[id] = {refusedForGood(rc) ? Delivery::Refused : Delivery::Transient, RdKafka::err2str(rc)};
      continue;
    }
    deliveryCb_->inFlight.insert(id);
  }
  messages.clear();
  producer_->poll(0);  // serve the reports already in
}

void KafkaOutboxProducer::learnTopic(const std::string& topic) {
  // librdkafka looks a topic it has not seen up on its own only about once a
  // second: the first batch of each topic waited ~1 s for its leaders (958 ms
  // in a drain of 1.5 s). Asked here, it waits one metadata round trip.
  // Asked once per producer, answered or not: while the broker is down each
  // ask waits the whole kTopicLookupMs, and a batch of 500 rows naming the
  // topic would have asked 500 times. Unanswered, librdkafka keeps looking.
  knownTopics_.insert(topic);
  std::string err;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(producer_.get(), topic, nullptr, err));
  if (!handle) return;  // produce() reports what is wrong with it
  RdKafka::Metadata* raw = nullptr;
  producer_->metadata(false, handle.get(), &raw, kTopicLookupMs);
  std::unique_ptr<RdKafka::Metadata> md(raw);
}

std::map<int64_t, DeliveryReport> KafkaOutboxProducer::collect(const std::vector<OutboxRow>& rows) {
  // Every enqueued message gets a report within message.timeout.ms. Reports
  // stay until taken below, so the rows before NEXT need no second look.
  size_t next = 0;
  auto missing = [&] {
    while (next < rows.size() && deliveryCb_->reports.count(rows[next].id)) ++next;
    return next < rows.size();
  };
  std::string why;
  while (missing()) {
    producer_->poll(10);
    if (producer_->fatal_error(why) != RdKafka::ERR_NO_ERROR) {
      renewAfterFatal(why);
      break;
    }
  }
  if (producer_->fatal_error(why) != RdKafka::ERR_NO_ERROR) renewAfterFatal(why);
  std::map<int64_t, DeliveryReport> out;
  for (const auto& row : rows) {
    auto it = deliveryCb_->reports.find(row.id);
    if (it == deliveryCb_->reports.end()) continue;  // counts as Unreported
    out.emplace_hint(out.end(), row.id, std::move(it->second));
    deliveryCb_->reports.erase(it);
  }
  return out;
}

void KafkaOutboxProducer::renewAfterFatal(const std::string& why) {
  spdlog::warn("outbox producer: fatal error ({}); making it anew", why);
  if (auto s = renew(); !s) spdlog::error("outbox producer: {}", s.error().message);
  for (const auto id : deliveryCb_->inFlight)
    deliveryCb_->reports.emplace(id, DeliveryReport{Delivery::Transient, "producer made anew after: " + why});
  deliveryCb_->inFlight.clear();
}

}  // namespace ew::runtime
