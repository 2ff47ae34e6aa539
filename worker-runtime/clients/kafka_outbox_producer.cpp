#include "clients/kafka_outbox_producer.h"

#include <spdlog/spdlog.h>

#include "clients/kafka_config.h"

namespace ew::runtime {

// Delivery reports of the batch in flight, by row id (the message opaque).
class KafkaOutboxProducer::DeliveryCb : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    const auto id = static_cast<int64_t>(reinterpret_cast<intptr_t>(m.msg_opaque()));
    DeliveryReport& r = (*reports)[id];
    if (m.err() == RdKafka::ERR_NO_ERROR)
      r = {Delivery::Delivered, ""};
    else
      r = {refusedForGood(m.err()) ? Delivery::Refused : Delivery::Transient, RdKafka::err2str(m.err())};
    ++reported;
  }
  std::map<int64_t, DeliveryReport>* reports = nullptr;
  size_t reported = 0;
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
           {"enable.idempotence", "true"}, {"enable.gapless.guarantee", "true"}, {"acks", "all"}, {"linger.ms", "5"}})
    if (auto s = setConf(**conf, k, v); !s) return s.error();
  if (!config_.properties.count("message.timeout.ms"))
    if (auto s = setConf(**conf, "message.timeout.ms", "30000"); !s) return s.error();
  std::string err;
  if ((*conf)->set("dr_cb", deliveryCb_.get(), err) != RdKafka::Conf::CONF_OK) return Error{"kafka: dr_cb: " + err};
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf->get(), err));
  if (!p) return Error{"kafka: cannot create the outbox producer: " + err};
  if (producer_) producer_->flush(1000);
  producer_ = std::move(p);
  return {};
}

KafkaOutboxProducer::~KafkaOutboxProducer() {
  if (producer_) producer_->flush(5000);
}

std::map<int64_t, DeliveryReport> KafkaOutboxProducer::publish(const std::vector<OutboxRow>& rows) {
  std::map<int64_t, DeliveryReport> reports;
  deliveryCb_->reports = &reports;
  deliveryCb_->reported = 0;
  size_t produced = 0;
  for (const auto& row : rows) {
    if (row.topic.empty()) {
      reports[row.id] = {Delivery::Refused, "the row has no topic"};
      continue;
    }
    const OutboxMessage m = outboxMessage(row, source_);
    RdKafka::Headers* h = RdKafka::Headers::create();
    for (const auto& [k, v] : m.headers) h->add(k, v.data(), v.size());
    RdKafka::ErrorCode rc;
    for (;;) {
      rc = producer_->produce(m.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                              const_cast<char*>(m.value.data()), m.value.size(), m.key ? m.key->data() : nullptr,
                              m.key ? m.key->size() : 0, 0, h, reinterpret_cast<void*>(static_cast<intptr_t>(row.id)));
      if (rc != RdKafka::ERR__QUEUE_FULL) break;
      producer_->poll(20);
    }
    if (rc != RdKafka::ERR_NO_ERROR) {  // not enqueued: the headers are still ours
      delete h;
      reports[row.id] = {refusedForGood(rc) ? Delivery::Refused : Delivery::Transient, RdKafka::err2str(rc)};
      continue;
    }
    ++produced;
  }
  // Every enqueued message gets a report within message.timeout.ms.
  while (deliveryCb_->reported < produced) producer_->poll(10);
  deliveryCb_->reports = nullptr;
  std::string why;
  if (producer_->fatal_error(why) != RdKafka::ERR_NO_ERROR) {
    spdlog::warn("outbox producer: fatal error ({}); making it anew", why);
    if (auto s = renew(); !s) spdlog::error("outbox producer: {}", s.error().message);
  }
  return reports;
}

}  // namespace ew::runtime
