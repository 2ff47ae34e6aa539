#include "streams/streams_mode.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <thread>

#include "clients/kafka_partition_reader.h"
#include "streams/bearer_auth.h"
#include "streams/catch_up.h"
#include "streams/sse_server.h"
#include "streams/stream_hub.h"

namespace ew::runtime {

namespace {

constexpr int kKafkaTimeoutMs = 10000;
constexpr int kCheckTimeoutMs = 2000;  // the reader thread waits this long at most per request
constexpr int kPollMs = 50;
constexpr size_t kPollMax = 2000;
constexpr size_t kMaxCatchUps = 16;
constexpr size_t kServerThreads = 2;

// Metadata and watermarks of a topic created a moment ago can fail for a
// while (no leader yet): asked again until kStartupDeadline.
constexpr std::chrono::seconds kStartupDeadline{30};

template <typename F>
auto retried(const TimeSource& time, F ask) -> decltype(ask()) {
  const MonoTime deadline = time.now() + kStartupDeadline;
  for (;;) {
    auto r = ask();
    if (r || time.now() >= deadline) return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int64_t nanos(MonoTime t) { return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count(); }

}  // namespace

StreamsMode::StreamsMode(const RuntimeConfig& config, MetricsRegistry& metrics, const TimeSource& time)
    : config_(config), metrics_(metrics), time_(time) {}

StreamsMode::~StreamsMode() {
  if (server_) server_->stop();
  if (catchUps_) catchUps_->stop();
}

Status StreamsMode::open() {
  const KafkaSourceConfig& kafka = *config_.source.kafka;
  auto reader = KafkaPartitionReader::create(kafka, "eventworker-streams-" + config_.worker);
  if (!reader) return reader.error();
  reader_ = std::move(*reader);
  std::map<TopicPartition, int64_t> starts;  // the earliest start any stream needs
  std::vector<StreamRoute> routes;
  for (const auto& s : config_.streams) {
    auto parts = retried(time_, [&] { return reader_->partitions(s.topics, kKafkaTimeoutMs); });
    if (!parts) return Error{"stream " + s.name + ": " + parts.error().message};
    StreamLayout layout(std::move(*parts));
    Position start(layout.size()), end(layout.size());
    const int64_t back = (s.replayEvents + static_cast<int64_t>(layout.size()) - 1) /
                         std::max<int64_t>(1, static_cast<int64_t>(layout.size()));
    for (size_t i = 0; i < layout.size(); ++i) {
      auto w = retried(time_, [&] { return reader_->watermarks(layout.at(i), kKafkaTimeoutMs); });
      if (!w) return Error{"stream " + s.name + ": " + w.error().message};
      start[i] = std::max(w->low, w->high - back);
      end[i] = w->high;
      auto [it, fresh] = starts.emplace(layout.at(i), start[i]);
      if (!fresh) it->second = std::min(it->second, start[i]);
    }
    spdlog::info("stream {}: {} on {} partition(s) of {} topic(s), replaying up to {} events", s.name, s.path,
                 layout.size(), s.topics.size(), s.replayEvents);
    hubs_.push_back(std::make_unique<StreamHub>(s, std::move(layout), start, config_.worker, metrics_));
    warmUpTargets_.push_back(std::move(end));
    BearerAuth* auth = nullptr;
    if (s.authMode == StreamAuthMode::Bearer) {
      auths_.push_back(std::make_unique<BearerAuth>(s, time_));
      if (auto st = auths_.back()->start(); !st) return st;
      auth = auths_.back().get();
    }
    routes.push_back({hubs_.back().get(), auth});
  }
  std::vector<std::pair<TopicPartition, int64_t>> assignment(starts.begin(), starts.end());
  if (auto s = reader_->assign(assignment); !s) return s;
  std::set<std::string> topics;
  for (const auto& [tp, offset] : assignment) {
    read_.insert(tp);
    topics.insert(tp.topic);
  }
  topics_.assign(topics.begin(), topics.end());
  catchUps_ = std::make_unique<CatchUps>(kafka, kMaxCatchUps);
  SseServerOptions o;
  o.address = config_.server.streamsAddress;
  o.threads = kServerThreads;
  o.routes = std::move(routes);
  o.catchUps = catchUps_.get();
  server_ = std::make_unique<SseServer>(std::move(o));
  return server_->bind();
}

bool StreamsMode::warmedUp() const {
  for (size_t h = 0; h < hubs_.size(); ++h) {
    const Position& head = hubs_[h]->readerHead();  // longer than the targets once partitions were added
    for (size_t i = 0; i < warmUpTargets_[h].size(); ++i)
      if (head[i] < warmUpTargets_[h][i]) return false;
  }
  return true;
}

bool StreamsMode::run() {
  std::vector<Message> records;
  MonoTime nextTick = time_.now(), lastCheck = time_.now(), nextCheck = lastCheck + kPartitionCheck;
  while (!stop_.load()) {
    lastLoopNs_.store(nanos(time_.now()));
    records.clear();
    reader_->poll(kPollMs, kPollMax, records);
    for (auto& hub : hubs_) hub->onRecords(records);
    if (!ready_.load() && warmedUp()) {
      server_->startAccepting();
      ready_.store(true);
      spdlog::info("streams: replay warmed up; serving on {}", config_.server.streamsAddress);
    }
    if (time_.now() >= nextTick) {
      for (auto& hub : hubs_) hub->tick();
      nextTick = time_.now() + StreamHub::kTickInterval;
    }
    bool wanted = false;
    for (auto& hub : hubs_) wanted = hub->takeCheckWanted() || wanted;
    if (wanted) nextCheck = std::min(nextCheck, lastCheck + kEarliestCheck);
    if (time_.now() >= nextCheck) {
      pickUpPartitions();
      lastCheck = time_.now();
      nextCheck = lastCheck + kPartitionCheck;
    }
  }
  ready_.store(false);
  size_t clients = 0;
  for (auto& hub : hubs_) clients += hub->clients();
  spdlog::info("streams: stopping; telling {} client(s) to reconnect", clients);
  const size_t left = server_->drain(std::chrono::steady_clock::now() + config_.server.gracePeriod);
  catchUps_->stop();
  server_->stop();
  return left == 0;
}

void StreamsMode::pickUpPartitions() {
  auto warn = [&](const std::string& what) {
    if (auto left = checkFailures_.admit(time_.now()))
      spdlog::warn("streams: checking for added partitions: {} ({} more failures not logged)", what, *left);
  };
  auto parts = reader_->partitions(topics_, kCheckTimeoutMs);
  if (!parts) return warn(parts.error().message);
  std::vector<std::pair<TopicPartition, int64_t>> added;
  for (const auto& tp : *parts) {
    if (read_.count(tp)) continue;
    // No leader yet, or the broker is away: the rest at the next check (the
    // reader thread waits at most one timeout per request that fails).
    auto w = reader_->watermarks(tp, kCheckTimeoutMs);
    if (!w) {
      warn(w.error().message);
      break;
    }
    added.emplace_back(tp, w->low);
  }
  if (added.empty()) return;
  // No poll() comes between: no record of an added partition reaches a hub before it has grown.
  if (auto s = reader_->add(added); !s) return warn(s.error().message);
  for (auto& hub : hubs_) {
    const auto& topics = hub->config().topics;
    std::vector<std::pair<TopicPartition, int64_t>> mine;
    for (const auto& a : added)
      if (std::find(topics.begin(), topics.end(), a.first.topic) != topics.end()) mine.push_back(a);
    if (!mine.empty()) hub->addPartitions(mine);
  }
  for (const auto& [tp, offset] : added) {
    read_.insert(tp);
    spdlog::info("streams: reading added partition {}[{}] from offset {}", tp.topic, tp.partition, offset);
  }
}

std::vector<StreamClients> StreamsMode::clients() const {
  std::vector<StreamClients> out;
  for (const auto& hub : hubs_) out.push_back({hub->config().name, hub->clients()});
  return out;
}

bool StreamsMode::alive() const {
  const int64_t last = lastLoopNs_.load();
  return last == 0 || nanos(time_.now()) - last < std::chrono::nanoseconds(std::chrono::seconds(30)).count();
}

int StreamsMode::port() const { return server_ ? server_->port() : 0; }

}  // namespace ew::runtime
