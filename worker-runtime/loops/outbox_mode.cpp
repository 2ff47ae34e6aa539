#include "loops/outbox_mode.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "clients/kafka_outbox_producer.h"
#include "clients/pg_outbox_store.h"
#include "loops/outbox_relay.h"

namespace ew::runtime {

OutboxMode::OutboxMode(const RuntimeConfig& config, MetricsRegistry& metrics, const TimeSource& time)
    : config_(config), metrics_(metrics), time_(time) {}

OutboxMode::~OutboxMode() = default;

Status OutboxMode::open() {
  for (const auto& c : config_.outbox) {
    OutboxRelayOptions o;
    o.worker = config_.worker;
    o.source = (config_.namespace_.empty() ? "" : config_.namespace_ + "/") + config_.worker + "/outbox/" + c.table;
    o.config = c;
    auto producer = KafkaOutboxProducer::create(*config_.source.kafka, o.source);
    if (!producer) return Error{"outbox " + c.name + ": " + producer.error().message};
    publishers_.push_back(std::move(*producer));
    relays_.push_back(
        std::make_unique<OutboxRelay>(o, std::make_unique<PgOutboxStore>(c), *publishers_.back(), metrics_, time_));
    spdlog::info("outbox {}: table {}, {} ({}), batches of {}, {}", c.name, c.table,
                 c.topic.empty() ? "topic per row from column " + c.columns.topic : "topic " + c.topic,
                 toString(c.completion), c.batchSize,
                 c.notifyChannel.empty() ? "polling every " + std::to_string(c.pollInterval.count()) + "ms"
                                         : "woken by NOTIFY on " + c.notifyChannel);
  }
  return {};
}

void OutboxMode::run() {
  std::vector<std::thread> threads;
  for (auto& r : relays_) threads.emplace_back([&r] { r->run(); });
  for (auto& t : threads) t.join();
}

void OutboxMode::requestStop() {
  for (auto& r : relays_) r->requestStop();
}

bool OutboxMode::ready() const {
  for (const auto& r : relays_)
    if (!r->connected()) return false;
  return !relays_.empty();
}

size_t OutboxMode::activeRelays() const {
  size_t n = 0;
  for (const auto& r : relays_) n += r->state() == RelayState::Active;
  return n;
}

std::vector<OutboxRelayReport> OutboxMode::reports() const {
  std::vector<OutboxRelayReport> out;
  for (const auto& r : relays_) out.push_back(r->report());
  return out;
}

}  // namespace ew::runtime
