#include "clients/kafka_producer.h"

#include <atomic>
#include <mutex>

#include "clients/kafka_config.h"

namespace ew::runtime {
namespace {

// One in-flight delivery; shared between the sender and the delivery callback.
struct Delivery {
  std::atomic<bool> done{false};
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
};

}  // namespace

class KafkaDeadLetterProducer::DeliveryCb : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    auto* d = static_cast<std::shared_ptr<Delivery>*>(m.msg_opaque());
    (*d)->err = m.err();
    (*d)->done.store(true, std::memory_order_release);
    delete d;
  }
};

Result<std::unique_ptr<RdKafka::Producer>> KafkaDeadLetterProducer::newProducer(const KafkaSourceConfig& config,
                                                                                DeliveryCb* cb) {
  auto conf = kafkaClientConf(config);
  if (!conf) return conf.error();
  for (const auto& [k, v] : std::initializer_list<std::pair<const char*, std::string>>{
           {"enable.idempotence", "true"}, {"acks", "all"}, {"linger.ms", "5"}, {"message.timeout.ms", "30000"}})
    if (auto s = setConf(**conf, k, v); !s) return s.error();
  std::string err;
  if ((*conf)->set("dr_cb", cb, err) != RdKafka::Conf::CONF_OK) return Error{"kafka: dr_cb: " + err};
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf->get(), err));
  if (!producer) return Error{"kafka: cannot create dead-letter producer: " + err};
  return producer;
}

Result<std::unique_ptr<KafkaDeadLetterProducer>> KafkaDeadLetterProducer::create(const KafkaSourceConfig& config) {
  std::unique_ptr<KafkaDeadLetterProducer> self(new KafkaDeadLetterProducer());
  self->deliveryCb_ = std::make_unique<DeliveryCb>();
  auto producer = newProducer(config, self->deliveryCb_.get());
  if (!producer) return producer.error();
  self->producer_ = std::move(*producer);
  return self;
}

Status KafkaDeadLetterProducer::setSaslCredentials(const SaslCredentials& credentials) {
  std::shared_lock lock(mu_);
  return runtime::setSaslCredentials(*producer_, credentials);
}

Status KafkaDeadLetterProducer::reopen(const KafkaSourceConfig& config) {
  auto fresh = newProducer(config, deliveryCb_.get());
  if (!fresh) return fresh.error();
  std::unique_lock lock(mu_);  // after every send() in flight returned: its delivery report was served
  producer_->flush(5000);
  producer_ = std::move(*fresh);
  return {};
}

KafkaDeadLetterProducer::~KafkaDeadLetterProducer() {
  if (producer_) producer_->flush(5000);
}

Status KafkaDeadLetterProducer::send(const std::string& topic, const Message& m, const Headers& headers) {
  std::shared_lock lock(mu_);
  RdKafka::Headers* h = RdKafka::Headers::create();
  for (const auto& [k, v] : headers) h->add(k, v.data(), v.size());
  auto delivery = std::make_shared<Delivery>();
  auto* opaque = new std::shared_ptr<Delivery>(delivery);
  const void* keyData = m.key ? m.key->data() : nullptr;
  const size_t keyLen = m.key ? m.key->size() : 0;
  RdKafka::ErrorCode rc;
  for (int tries = 0;; ++tries) {
    rc = producer_->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                            const_cast<char*>(m.value.data()), m.value.size(), keyData, keyLen, 0, h, opaque);
    if (rc != RdKafka::ERR__QUEUE_FULL || tries > 100) break;
    producer_->poll(50);
  }
  if (rc != RdKafka::ERR_NO_ERROR) {  // not enqueued: headers and opaque are still ours
    delete h;
    delete opaque;
    return Error{"dead letter to " + topic + ": " + RdKafka::err2str(rc), static_cast<int>(rc)};
  }
  // message.timeout.ms bounds the wait: a delivery report always comes.
  while (!delivery->done.load(std::memory_order_acquire)) producer_->poll(20);
  if (delivery->err != RdKafka::ERR_NO_ERROR)
    return Error{"dead letter to " + topic + ": " + RdKafka::err2str(delivery->err), static_cast<int>(delivery->err)};
  return {};
}

}  // namespace ew::runtime
