#include "loops/outbox_relay.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>

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
                                 "From a row's created-at to Kafka's acknowledgement, seconds", relayLabels(o_))),
      horizonWaits_(metrics.counter("worker_outbox_horizon_waits_total",
                                    "Reads whose rows all waited for a transaction writing a lower id to end",
                                    relayLabels(o_))),
      metrics_(metrics) {}

void OutboxRelay::observePhase(const char* phase, MonoTime since) {
  Labels l = relayLabels(o_);
  l["phase"] = phase;
  metrics_
      .histogram("worker_outbox_phase_seconds",
                 "Time a batch spends in each phase: read (SELECT; what is left of it when it ran ahead), produce "
                 "(enqueue), wait (for the delivery "
                 "reports, while later batches are read and produced), settle (the marking transaction, on the second "
                 "session while the next batches are read and produced)",
                 l, {0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 5})
      .observe(std::chrono::duration<double>(time_.now() - since).count());
}

Millis OutboxRelay::nextBackoff() {
  backoff_ = backoff_.count() == 0 ? o_.backoffInitial : std::min(backoff_ * 2, o_.backoffMax);
  return backoff_;
}

void OutboxRelay::abandonInFlight() {
  // Their reports no longer matter: the rows stay unmarked, and the next lock
  // holder publishes them again (at least once).
  for (const auto& batch : inFlight_) (void)publisher_.collect(batch);
  inFlight_.clear();
  marking_.reset();    // it may have committed or not: either way its rows were delivered
  readAhead_ = false;  // gone with the session
  horizon_.resetCandidates();
}

Millis OutboxRelay::failed(const std::string& what, const Error& e) {
  if (state_.load() == RelayState::Active)
    spdlog::warn("outbox {}: {} failed, giving up the lock: {}", o_.config.name, what, e.message);
  else
    spdlog::warn("outbox {}: {} failed: {}", o_.config.name, what, e.message);
  abandonInFlight();  // nothing of them is marked: the next holder of the lock publishes them again
  store_->disconnect();
  sessionUp_ = false;
  state_.store(RelayState::Connecting);
  active_.set(0);
  setCounted(std::nullopt);
  return nextBackoff();
}

void OutboxRelay::setCounted(std::optional<OutboxBacklog> b) {
  std::lock_guard lock(mu_);
  counted_ = b;
}

OutboxRelayReport OutboxRelay::report() const {
  OutboxRelayReport r;
  r.name = o_.config.name;
  r.state = toString(state_.load());
  std::lock_guard lock(mu_);
  if (counted_ && state_.load() == RelayState::Active) {
    r.counted = true;
    r.backlog = *counted_;
  }
  return r;
}

void OutboxRelay::updateBacklog(bool force) {
  if (!force && time_.now() < nextBacklog_) return;
  nextBacklog_ = time_.now() + o_.backlogInterval;
  auto b = store_->backlog();
  if (!b) return;  // the next read reports the session error
  pending_.set(static_cast<double>(b->pending));
  lag_.set(b->oldestAgeSeconds);
  setCounted(*b);
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
  if (static_cast<int>(inFlight_.size()) < std::max(1, o_.pipelineDepth)) {
    auto read = topUp();
    if (!read) return failed("read", read.error());
    lastRead_ = *read;
    if (*read != Read::Waiting) horizonWait_ = Millis(0);
    if (*read == Read::Full) return Millis(0);
  }
  if (inFlight_.empty()) {
    if (auto s = finishMarking(); !s) return failed("mark", s.error());
    if (lastRead_ == Read::Waiting) {  // 5 ms, doubling up to the poll interval while the writer stays
      horizonWait_ = std::min(horizonWait_.count() ? horizonWait_ * 2 : o_.horizonRetry,
                              std::max(o_.horizonRetry, o_.config.pollInterval));
      return horizonWait_;
    }
    backoff_ = Millis(0);
    pending_.set(0);
    lag_.set(0);
    setCounted(OutboxBacklog{});
    nextBacklog_ = time_.now() + o_.backlogInterval;
    return o_.config.pollInterval;
  }
  return settleOldest();
}

std::optional<int64_t> OutboxRelay::readAfter() const {
  if (!inFlight_.empty()) return inFlight_.back().back().id;
  if (marking_ && !marking_->rows.empty()) return marking_->rows.back().id;
  return std::nullopt;
}

Result<OutboxRelay::Read> OutboxRelay::topUp() {
  MonoTime t0 = time_.now();
  if (!readAhead_)
    if (auto s = store_->startRead(o_.config.batchSize, readAfter()); !s) return s.error();
  readAhead_ = false;
  auto read = store_->finishRead();
  if (!read) return read.error();
  observePhase("read", t0);
  auto& rows = read->rows;
  if (rows.empty()) return Read::Empty;
  const size_t count = rows.size();
  const int64_t horizon = horizon_.observe(read->fence, rows.back().id);
  while (!rows.empty() && rows.back().id > horizon) rows.pop_back();  // read again once final below them
  if (rows.empty()) {
    horizonWaits_.inc();
    return Read::Waiting;
  }
  const bool full = static_cast<int>(count) >= o_.config.batchSize && rows.size() == count;
  if (full) {  // more are likely: the database reads them while this batch is produced
    if (auto s = store_->startRead(o_.config.batchSize, rows.back().id); !s) return s.error();
    readAhead_ = true;
  }
  t0 = time_.now();
  publisher_.produce(rows);
  observePhase("produce", t0);
  inFlight_.push_back(std::move(rows));
  return full && static_cast<int>(inFlight_.size()) < o_.pipelineDepth ? Read::Full : Read::Partial;
}

Millis OutboxRelay::settleOldest() {
  MonoTime t0 = time_.now();
  std::vector<OutboxRow> rows = std::move(inFlight_.front());
  inFlight_.pop_front();
  std::map<int64_t, DeliveryReport> reports = publisher_.collect(rows);
  BatchSettlement settlement = settleBatch(rows, reports);
  if (!settlement.held.empty() && !inFlight_.empty()) {
    // Held rows: the later batches are settled with this one, as one batch
    // (their rows of a held key stay pending), and the pipeline starts again.
    for (auto& batch : inFlight_) {
      reports.merge(publisher_.collect(batch));
      rows.insert(rows.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
    }
    inFlight_.clear();
    settlement = settleBatch(rows, reports);
  }
  observePhase("wait", t0);
  if (!settlement.held.empty()) {
    if (auto s = dropReadAhead(); !s) return failed("read", s.error());
    const auto it = reports.find(settlement.held.front());
    spdlog::warn("outbox {}: {} row(s) not acknowledged ({}); retrying from row {}", o_.config.name,
                 settlement.held.size(), it == reports.end() ? "no report" : it->second.reason,
                 settlement.held.front());
  }
  if (auto s = finishMarking(); !s) return failed("mark", s.error());
  updateBacklog(false);  // on the marking session, idle between two marks
  if (auto s = store_->startSettle(settlement); !s) return failed("mark", s.error());
  const bool held = !settlement.held.empty();
  marking_ = Marking{std::move(rows), std::move(settlement), time_.now()};
  // Held rows: the next read starts again from the first pending row, so it
  // must see this mark.
  if (held)
    if (auto s = finishMarking(); !s) return failed("mark", s.error());
  if (held) return nextBackoff();
  backoff_ = Millis(0);
  return Millis(0);
}

Status OutboxRelay::dropReadAhead() {
  if (!readAhead_) return {};
  readAhead_ = false;
  auto read = store_->finishRead();
  if (!read) return read.error();
  return {};
}

Status OutboxRelay::finishMarking() {
  if (!marking_) return {};
  Marking m = std::move(*marking_);
  marking_.reset();
  if (auto s = store_->finishSettle(); !s) return s;
  observePhase("settle", m.started);
  const BatchSettlement& settlement = m.settlement;
  published_.inc(static_cast<double>(settlement.published.size()));
  refused_.inc(static_cast<double>(settlement.refused.size()));
  const double now = std::chrono::duration<double>(time_.wallNow().time_since_epoch()).count();
  size_t next = 0;
  for (const auto& row : m.rows) {  // both lists are in id order
    if (next < settlement.published.size() && settlement.published[next] == row.id) {
      latency_.observe(std::max(0.0, now - row.createdAtEpoch));
      ++next;
    }
  }
  for (const auto& [id, reason] : settlement.refused)
    spdlog::warn("outbox {}: row {} refused by Kafka, marked failed: {}", o_.config.name, id, reason);
  return {};
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
  while (!inFlight_.empty()) settleOldest();  // the batches in flight are marked before the lock goes
  if (auto s = finishMarking(); !s)
    spdlog::warn("outbox {}: marking the last batch failed while stopping (its rows are published again): {}",
                 o_.config.name, s.error().message);
  if (state_.load() == RelayState::Active)
    spdlog::info("outbox {}: stopped; releasing the lock of table {}", o_.config.name, o_.config.table);
  store_->disconnect();
  sessionUp_ = false;
  state_.store(RelayState::Connecting);
  active_.set(0);
  setCounted(std::nullopt);
}

void OutboxRelay::requestStop() {
  stop_.store(true);
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

}  // namespace ew::runtime
