#include "streams/catch_up.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "clients/kafka_partition_reader.h"
#include "streams/sse_format.h"

namespace ew::runtime {

constexpr int kKafkaTimeoutMs = 5000;
constexpr int kPollMs = 100;
constexpr size_t kPollMax = 500;

CatchUps::CatchUps(const KafkaSourceConfig& kafka, size_t maxReaders) : kafka_(kafka), maxReaders_(maxReaders) {}

CatchUps::~CatchUps() { stop(); }

bool CatchUps::start(StreamHub& hub, CatchUpSinkPtr sink, Position pos, bool announceExpiry) {
  std::lock_guard l(mu_);
  if (stop_.load()) return false;
  for (size_t i = 0; i < threads_.size();) {
    if (done_[i]->load()) {
      threads_[i].join();
      threads_.erase(threads_.begin() + static_cast<std::ptrdiff_t>(i));
      done_.erase(done_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  if (running_.load() >= maxReaders_) return false;
  ++running_;
  auto done = std::make_shared<std::atomic<bool>>(false);
  done_.push_back(done);
  threads_.emplace_back([this, &hub, sink = std::move(sink), pos = std::move(pos), announceExpiry, done]() mutable {
    run(hub, sink, std::move(pos), announceExpiry);
    --running_;
    done->store(true);
  });
  return true;
}

void CatchUps::stop() {
  stop_.store(true);
  std::lock_guard l(mu_);
  for (auto& t : threads_) t.join();
  threads_.clear();
  done_.clear();
}

Status CatchUps::startAt(KafkaPartitionReader& reader, const StreamLayout& layout, Position& pos, bool& expired) {
  pos.resize(layout.size(), -1);  // -1: a partition the token did not name, or added since
  std::vector<std::pair<TopicPartition, int64_t>> starts;
  for (size_t i = 0; i < layout.size(); ++i) {
    auto w = reader.watermarks(layout.at(i), kKafkaTimeoutMs);
    if (!w) return w.error();
    if (pos[i] < w->low) {
      expired = expired || pos[i] >= 0;
      pos[i] = w->low;
    }
    starts.emplace_back(layout.at(i), pos[i]);
  }
  return reader.assign(starts);
}

void CatchUps::run(StreamHub& hub, const CatchUpSinkPtr& sink, Position pos, bool announceExpiry) {
  const StreamConfig& config = hub.config();
  StreamLayoutPtr layout = hub.layout();
  auto reader = KafkaPartitionReader::create(kafka_, "eventworker-streams-catch-up");
  if (!reader) return sink->fail(reader.error().message);
  bool expired = false;
  if (auto s = startAt(**reader, *layout, pos, expired); !s) return sink->fail(s.error().message);
  if (expired && announceExpiry) {
    const bool newest = config.resumeFallback == ResumeFallback::Newest;
    const nlohmann::json notice = {
        {"resumed", newest ? "newest" : "oldest"},
        {"reason", "Last-Event-ID is older than the topics' retention: records after it were deleted"}};
    if (!sink->push(controlEvent("ew-resume", notice.dump()))) return;
    if (newest) return sink->join(hub.live());
  }
  std::vector<Message> records;
  while (!stop_.load() && !sink->gone()) {
    if (auto cursor = hub.resume(pos)) return sink->join(std::move(*cursor));
    if (auto now = hub.layout(); now->size() > layout->size()) {
      layout = std::move(now);
      bool ignored = false;
      if (auto s = startAt(**reader, *layout, pos, ignored); !s) return sink->fail(s.error().message);
    }
    records.clear();
    (*reader)->poll(kPollMs, kPollMax, records);
    for (const auto& m : records) {
      auto part = layout->indexOf(m.tp);
      if (!part || m.offset < pos[*part]) continue;
      pos[*part] = m.offset + 1;
      auto body = eventBody(m, config);
      if (!body || !*body) continue;
      if (!sink->push(idLine(layout->token(config.name, pos)) + **body)) return;
    }
  }
}

}  // namespace ew::runtime
