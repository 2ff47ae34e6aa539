#include "streams/stream_hub.h"

#include <spdlog/spdlog.h>

#include "streams/sse_format.h"

namespace ew::runtime {

StreamHub::StreamHub(const StreamConfig& config, StreamLayout layout, const Position& start, const std::string& worker,
                     MetricsRegistry& metrics)
    : config_(config),
      layout_(std::make_shared<const StreamLayout>(std::move(layout))),
      worker_(worker),
      metrics_(metrics),
      records_(metrics.counter("worker_stream_records_total", "Records the stream's reader took from Kafka.",
                               {{"worker", worker}, {"stream", config.name}})),
      skipped_(metrics.counter("worker_stream_records_skipped_total",
                               "Records that cannot be events (empty or oversized values), left out of the stream.",
                               {{"worker", worker}, {"stream", config.name}})),
      sent_(metrics.counter("worker_stream_events_sent_total", "Events written to clients (one per client per event).",
                            {{"worker", worker}, {"stream", config.name}})),
      dropped_(metrics.counter("worker_stream_events_dropped_total",
                               "Events a client did not get because it was cut off (its lag when it was).",
                               {{"worker", worker}, {"stream", config.name}})),
      clientsGauge_(metrics.gauge("worker_stream_clients", "Clients connected to the stream.",
                                  {{"worker", worker}, {"stream", config.name}})),
      lag_(
          metrics.gauge("worker_stream_client_lag_events",
                        "Events the furthest-behind client of the stream (taking from the replay ring) has yet to get.",
                        {{"worker", worker}, {"stream", config.name}})),
      readerHead_(start),
      ring_(static_cast<size_t>(config.replayEvents), start),
      fromLogStart_(start.size(), false) {}

StreamLayoutPtr StreamHub::layout() const {
  std::shared_lock l(ringMu_);
  return layout_;
}

void StreamHub::addPartitions(const std::vector<std::pair<TopicPartition, int64_t>>& added) {
  std::vector<TopicPartition> parts;
  for (const auto& [tp, offset] : added) parts.push_back(tp);
  auto grown = std::make_shared<const StreamLayout>(layout_->withAdded(std::move(parts)));
  Position origin(added.size());
  for (const auto& [tp, offset] : added) origin[*grown->indexOf(tp) - layout_->size()] = offset;
  readerHead_.insert(readerHead_.end(), origin.begin(), origin.end());
  std::unique_lock l(ringMu_);
  ring_.grow(origin);
  fromLogStart_.resize(grown->size(), true);
  layout_ = std::move(grown);
}

StreamEventPtr StreamHub::format(const Message& m, uint32_t part) {
  auto body = eventBody(m, config_);
  if (!body) {
    skipped_.inc();
    spdlog::debug("stream {}: {}[{}]@{} skipped: {}", config_.name, m.tp.topic, m.tp.partition, m.offset,
                  body.error().message);
    return nullptr;
  }
  if (!*body) return nullptr;
  auto e = std::make_shared<StreamEvent>();
  e->part = part;
  e->offset = m.offset;
  e->after = readerHead_;
  e->idLine = idLine(layout_->token(config_.name, e->after));  // reader thread: layout_ is its own
  e->body = std::move(**body);
  e->timestampMs = m.timestampMs;
  return e;
}

void StreamHub::onRecords(const std::vector<Message>& records) {
  struct Taken {
    uint32_t part;
    int64_t offset;
    StreamEventPtr event;
  };
  std::vector<Taken> batch;
  for (const auto& m : records) {
    auto part = layout_->indexOf(m.tp);
    if (!part || m.offset < readerHead_[*part]) continue;
    readerHead_[*part] = m.offset + 1;
    records_.inc();
    batch.push_back({*part, m.offset, format(m, *part)});
  }
  if (batch.empty()) return;
  {
    std::unique_lock l(ringMu_);
    for (auto& t : batch) ring_.take(t.part, t.offset, std::move(t.event));
    end_.store(ring_.end());
  }
  std::vector<std::weak_ptr<StreamClient>> woken;
  {
    std::lock_guard l(parkedMu_);
    woken.swap(parked_);
  }
  for (auto& w : woken)
    if (auto c = w.lock()) c->wake();
}

void StreamHub::tick() {
  const uint64_t end = end_.load();
  uint64_t worst = 0;
  std::vector<std::pair<StreamClientPtr, uint64_t>> late;
  {
    std::lock_guard l(clientsMu_);
    for (auto& [raw, a] : clients_) {
      auto c = a.client.lock();
      if (!c || !c->inRing()) continue;
      const uint64_t seq = c->cursorSeq();
      const uint64_t behind = end > seq ? end - seq : 0;
      worst = std::max(worst, behind);
      if (lagging(a.lag, behind, static_cast<uint64_t>(config_.clientBuffer), kStallTicks))
        late.emplace_back(std::move(c), behind);
    }
  }
  lag_.set(static_cast<double>(worst));
  for (auto& [c, behind] : late) c->cutForLag(behind);
}

ClientCursor StreamHub::live() const {
  std::shared_lock l(ringMu_);
  return liveCursor(ring_);
}

std::optional<ClientCursor> StreamHub::resume(const Position& pos) const {
  std::shared_lock l(ringMu_);
  Position at = pos;
  for (size_t i = 0; i < at.size(); ++i)
    if (at[i] < 0 && fromLogStart_[i]) at[i] = ring_.origin()[i];
  if (!ring_.covers(at)) return std::nullopt;
  return resumeCursor(ring_, std::move(at));
}

TakeOutcome StreamHub::take(ClientCursor& cursor, size_t max, std::vector<OutgoingEvent>& out) const {
  std::shared_lock l(ringMu_);
  return takeEvents(ring_, cursor, max, out,
                    [this](const Position& pos) { return idLine(layout_->token(config_.name, pos)); });
}

bool StreamHub::park(const StreamClientPtr& client, uint64_t seq) {
  std::lock_guard l(parkedMu_);
  // end_ is stored before the reader takes parkedMu_: either this sees the
  // new end, or the reader sees this client parked.
  if (end_.load() > seq) return false;
  parked_.push_back(client);
  return true;
}

void StreamHub::attach(const StreamClientPtr& client) {
  std::lock_guard l(clientsMu_);
  clients_.emplace(client.get(), Attached{client, {}});
  clientsGauge_.set(static_cast<double>(clients_.size()));
}

void StreamHub::detach(const StreamClient* client) {
  std::lock_guard l(clientsMu_);
  clients_.erase(client);
  clientsGauge_.set(static_cast<double>(clients_.size()));
}

size_t StreamHub::clients() const {
  std::lock_guard l(clientsMu_);
  return clients_.size();
}

void StreamHub::cut(const std::string& reason, uint64_t behind) {
  dropped_.inc(static_cast<double>(behind));
  metrics_
      .counter("worker_stream_disconnects_total", "Clients the stream cut off, by reason.",
               {{"worker", worker_}, {"stream", config_.name}, {"reason", reason}})
      .inc();
}

}  // namespace ew::runtime
