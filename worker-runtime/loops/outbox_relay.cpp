#include "loops/outbox_relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace ew::runtime {
namespace {

constexpr Millis kWaitSlice{200};  // how often a wait looks at the stop flag

Labels relayLabels(const OutboxRelayOptions& o) { return {{"worker", o.worker}, {"relay", o.config.name}}; }

}  // namespace

const char* toString(RelayState s) {
  switch (s) {
    case RelayState::Connecting:
      return "connecting";
    case RelayState::Standby:
      return "standby";
    case RelayState::Active:
      return "active";
  }
  return "?";
}

OutboxRelay::OutboxRelay(OutboxRelayOptions options, OutboxStorePtr store, OutboxPublisher& publisher,
                         MetricsRegistry& metrics, const TimeSource& time)
    : o_(std::move(options)),
      store_(std::move(store)),
      publisher_(publisher),
      time_(time),
      published_(metrics.counter("worker_outbox_published_total", "Outbox rows published to Kafka and marked done",
                                 relayLabels(o_))),
      refused_(metrics.counter("worker_outbox_failed_total",
                               "Outbox rows Kafka refused for good, marked failed with the reason", relayLabels(o_))),
      pending_(metrics.gauge("worker_outbox_pending", "Outbox rows waiting to be published (counted every 5 s)",
                             relayLabels(o_))),
      lag_(
          metrics.gauge("worker_outbox_lag_seconds", "Age of the oldest pending outbox row, seconds", relayLabels(o_))),
      active_(metrics.gauge("worker_outbox_active", "1 while this relay holds its table's lock and publishes",
                            relayLabels(o_))),
      latency_(metrics.histogram("worker_outbox_publish_latency_seconds",
                                 "From a row's created-at to Kafka's acknowledgement, seconds", relayLabels(o_))) {}

Millis OutboxRelay::nextBackoff() {
  backoff_ = backoff_.count() == 0 ? o_.backoffInitial : std::min(backoff_ * 2, o_.backoffMax);
  return backoff_;
}

Millis OutboxRelay::failed(const std::string& what, const Error& e) {
  if (state_.load() == RelayState::Active)
    spdlog::warn("outbox {}: {} failed, giving up the lock: {}", o_.config.name, what, e.message);
  else
    spdlog::warn("outbox {}: {} failed: {}", o_.config.name, what, e.message);
  store_->disconnect();
  sessionUp_ = false;
  state_.store(RelayState::Connecting);
  active_.set(0);
  return nextBackoff();
}

void OutboxRelay::updateBacklog(bool force) {
  if (!force && time_.now() < nextBacklog_) return;
  nextBacklog_ = time_.now() + o_.backlogInterval;
  auto b = store_->backlog();
  if (!b) return;  // the next read reports the session error
  pending_.set(static_cast<double>(b->pending));
  lag_.set(b->oldestAgeSeconds);
}

Millis OutboxRelay::step() {
  if (!sessionUp_) {
    if (auto s = store_->connect(); !s) return failed("connect", s.error());
    sessionUp_ = true;
    state_.store(RelayState::Standby);
  }
  if (state_.load() != RelayState::Active) {
    auto locked = store_->tryLock();
    if (!locked) return failed("lock", locked.error());
    if (!*locked) return o_.lockRetry;
    spdlog::info("outbox {}: holding the lock of table {}: publishing", o_.config.name, o_.config.table);
    state_.store(RelayState::Active);
    active_.set(1);
    updateBacklog(true);
  }
  auto rows = store_->readBatch(o_.config.batchSize);
  if (!rows) return failed("read", rows.error());
  if (rows->empty()) {
    backoff_ = Millis(0);
    pending_.set(0);
    lag_.set(0);
    nextBacklog_ = time_.now() + o_.backlogInterval;
    return o_.config.pollInterval;
  }
  const auto reports = publisher_.publish(*rows);
  const BatchSettlement settlement = settleBatch(*rows, reports);
  if (auto s = store_->settle(settlement); !s) return failed("mark", s.error());
  published_.inc(static_cast<double>(settlement.published.size()));
  refused_.inc(static_cast<double>(settlement.refused.size()));
  const double now = std::chrono::duration<double>(time_.wallNow().time_since_epoch()).count();
  size_t next = 0;
  for (const auto& row : *rows) {  // both lists are in id order
    if (next < settlement.published.size() && settlement.published[next] == row.id) {
      latency_.observe(std::max(0.0, now - row.createdAtEpoch));
      ++next;
    }
  }
  for (const auto& [id, reason] : settlement.refused)
    spdlog::warn("outbox {}: row {} refused by Kafka, marked failed: {}", o_.config.name, id, reason);
  updateBacklog(false);
  if (!settlement.held.empty()) {
    const auto it = reports.find(settlement.held.front());
    spdlog::warn("outbox {}: {} row(s) not acknowledged ({}); retrying from row {}", o_.config.name,
                 settlement.held.size(), it == reports.end() ? "no report" : it->second.reason,
                 settlement.held.front());
    return nextBackoff();
  }
  backoff_ = Millis(0);
  return Millis(0);
}

void OutboxRelay::wait(Millis d) {
  const MonoTime deadline = time_.now() + d;
  while (!stop_.load() && time_.now() < deadline) {
    const auto left = std::chrono::duration_cast<Millis>(deadline - time_.now());
    const Millis slice = std::min(left, kWaitSlice);
    if (state_.load() == RelayState::Active) {
      auto notified = store_->waitForNotify(slice);
      if (!notified || *notified) return;  // a row came (or the session broke: the next step says so)
      if (!o_.config.notifyChannel.empty()) continue;
    }
    std::unique_lock lock(mu_);
    time_.waitUntil(cv_, lock, std::min(deadline, time_.now() + slice));
  }
}

void OutboxRelay::run() {
  while (!stop_.load()) {
    const Millis d = step();
    if (d.count() > 0) wait(d);
  }
  if (state_.load() == RelayState::Active)
    spdlog::info("outbox {}: stopped; releasing the lock of table {}", o_.config.name, o_.config.table);
  store_->disconnect();
  sessionUp_ = false;
  state_.store(RelayState::Connecting);
  active_.set(0);
}

void OutboxRelay::requestStop() {
  stop_.store(true);
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

}  // namespace ew::runtime
