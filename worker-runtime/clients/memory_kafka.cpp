#include "clients/memory_kafka.h"

#include <cassert>

namespace ew::runtime {

MemoryKafka::MemoryKafka(const TimeSource& time) : time_(time) {}

MemoryKafka::~MemoryKafka() { assert(members_.empty()); }

void MemoryKafka::createTopic(const std::string& topic, int partitions) {
  std::lock_guard l(mu_);
  topics_[topic].resize(static_cast<size_t>(partitions));
}

int64_t MemoryKafka::produce(const std::string& topic, int partition, const std::optional<std::string>& key,
                             const std::string& value, const Headers& headers) {
  std::lock_guard l(mu_);
  auto& log = topics_.at(topic).at(static_cast<size_t>(partition));
  Message& m = log.emplace_back();
  m.tp = {topic, partition};
  m.offset = static_cast<int64_t>(log.size()) - 1;
  m.key = key;
  m.value = value;
  m.headers = headers;
  changed();
  return m.offset;
}

std::optional<int64_t> MemoryKafka::committed(const std::string& group, const TopicPartition& tp) const {
  std::lock_guard l(mu_);
  auto it = committed_.find({group, tp});
  if (it == committed_.end()) return std::nullopt;
  return it->second;
}

int64_t MemoryKafka::endOffset(const TopicPartition& tp) const {
  std::lock_guard l(mu_);
  return static_cast<int64_t>(topics_.at(tp.topic).at(static_cast<size_t>(tp.partition)).size());
}

ConsumerFactory MemoryKafka::consumers() {
  return [this](const KafkaSourceConfig& config, const std::vector<std::string>& topics,
                RebalanceListener* listener) -> Result<ConsumerPtr> {
    {
      std::lock_guard l(mu_);
      if (members_.count(config.consumerGroup))
        return Error{"memory kafka: group " + config.consumerGroup + " has a member already (one member per group)"};
      for (const auto& t : topics)
        if (!topics_.count(t)) return Error{"memory kafka: unknown topic " + t};
    }
    return ConsumerPtr(std::make_unique<MemoryConsumer>(*this, config, topics, listener));
  };
}

MemoryConsumer* MemoryKafka::member(const std::string& group) const {
  std::lock_guard l(mu_);
  auto it = members_.find(group);
  return it == members_.end() ? nullptr : it->second;
}

bool MemoryKafka::waitFor(const std::function<bool()>& pred, std::chrono::milliseconds within) const {
  const auto deadline = std::chrono::steady_clock::now() + within;
  std::unique_lock l(mu_);
  for (;;) {
    const uint64_t seen = changes_;
    l.unlock();
    if (pred()) return true;
    l.lock();
    if (!cv_.wait_until(l, deadline, [&] { return changes_ != seen; })) {
      l.unlock();
      return pred();
    }
  }
}

void MemoryKafka::changed() const {
  ++changes_;
  cv_.notify_all();
}

MemoryConsumer::MemoryConsumer(MemoryKafka& kafka, const KafkaSourceConfig& config,
                               const std::vector<std::string>& topics, RebalanceListener* listener)
    : kafka_(kafka),
      group_(config.consumerGroup),
      offsetReset_(config.offsetReset),
      commitInterval_(config.commitInterval),
      listener_(listener) {
  std::lock_guard l(kafka_.mu_);
  kafka_.members_[group_] = this;
  // Joining the group: every partition of the topics (the only member).
  Rebalance join{true, false, {}};
  for (const auto& t : topics)
    for (size_t p = 0; p < kafka_.topics_.at(t).size(); ++p) join.parts.push_back({t, static_cast<int32_t>(p)});
  rebalances_.push_back(std::move(join));
  nextCommit_ = kafka_.time_.now() + commitInterval_;
}

MemoryConsumer::~MemoryConsumer() { close(); }

size_t MemoryConsumer::poll(int timeoutMs, size_t max, std::vector<Message>& out) {
  serveRebalances();
  std::unique_lock l(kafka_.mu_);
  ++polls_;
  kafka_.changed();
  // librdkafka's commit timer: what was stored and is not committed yet.
  if (const MonoTime now = kafka_.time_.now(); now >= nextCommit_) {
    bool any = false;
    for (const auto& [tp, offset] : stored_) {
      auto it = kafka_.committed_.find({group_, tp});
      if (it != kafka_.committed_.end() && it->second == offset) continue;
      commitLocked(tp, offset);
      any = true;
    }
    if (any) ++timerCommits_;
    nextCommit_ = now + commitInterval_;
  }
  size_t n = takeLocked(max, out);
  if (n == 0 && timeoutMs > 0) {
    const uint64_t seen = kafka_.changes_;
    kafka_.cv_.wait_for(l, std::chrono::milliseconds(timeoutMs), [&] { return kafka_.changes_ != seen; });
    l.unlock();
    serveRebalances();
    l.lock();
    n = takeLocked(max, out);
  }
  return n;
}

size_t MemoryConsumer::takeLocked(size_t max, std::vector<Message>& out) {
  size_t n = 0;
  for (const auto& tp : assigned_) {
    if (paused_.count(tp)) continue;
    const auto& log = kafka_.topics_.at(tp.topic).at(static_cast<size_t>(tp.partition));
    int64_t& pos = position_[tp];
    for (; n < max && pos < static_cast<int64_t>(log.size()); ++pos, ++n) out.push_back(log[static_cast<size_t>(pos)]);
  }
  return n;
}

void MemoryConsumer::serveRebalances() {
  std::vector<Rebalance> todo;
  {
    std::lock_guard l(kafka_.mu_);
    if (rebalances_.empty()) return;
    todo.swap(rebalances_);
    serving_ = true;
  }
  for (const auto& r : todo) {
    if (r.assign)
      assignNow(r.parts);
    else
      revokeNow(r.parts, r.lost);
  }
  std::lock_guard l(kafka_.mu_);
  serving_ = false;
  kafka_.changed();
}

void MemoryConsumer::assignNow(const std::vector<TopicPartition>& parts) {
  listener_->onAssigned(parts);
  std::lock_guard l(kafka_.mu_);
  for (const auto& tp : parts) {
    assigned_.insert(tp);
    stored_.erase(tp);
    auto it = kafka_.committed_.find({group_, tp});
    position_[tp] = it != kafka_.committed_.end() ? it->second
                    : offsetReset_ == "latest"
                        ? static_cast<int64_t>(kafka_.topics_.at(tp.topic).at(static_cast<size_t>(tp.partition)).size())
                        : 0;
  }
}

void MemoryConsumer::revokeNow(const std::vector<TopicPartition>& parts, bool lost) {
  const auto points = listener_->onRevoking(parts, lost);
  std::lock_guard l(kafka_.mu_);
  for (const auto& tp : parts) {
    if (!assigned_.count(tp)) continue;
    if (!lost) {
      // onRevoking's points are stored and committed; unassigning commits
      // what is stored (KafkaConsumer's rebalance callback, librdkafka's unassign).
      for (const auto& p : points)
        if (p.tp == tp) stored_[tp] = p.offset;
      if (auto it = stored_.find(tp); it != stored_.end()) commitLocked(tp, it->second);
    }
    assigned_.erase(tp);
    position_.erase(tp);
    stored_.erase(tp);
  }
}

void MemoryConsumer::commitLocked(const TopicPartition& tp, int64_t offset) {
  kafka_.committed_[{group_, tp}] = offset;
  kafka_.changed();
}

Status MemoryConsumer::store(const std::vector<CommitPoint>& points) {
  std::lock_guard l(kafka_.mu_);
  for (const auto& p : points)
    if (assigned_.count(p.tp)) stored_[p.tp] = p.offset;
  kafka_.changed();
  return {};
}

uint64_t MemoryConsumer::timerCommits() const {
  std::lock_guard l(kafka_.mu_);
  return timerCommits_;
}

void MemoryConsumer::pause(const std::vector<TopicPartition>& parts) {
  std::lock_guard l(kafka_.mu_);
  for (const auto& tp : parts) {
    paused_.insert(tp);
    // What was fetched and not returned is dropped: fetching resumes after
    // the last record returned (as librdkafka's pause purges its queues).
  }
  kafka_.changed();
}

void MemoryConsumer::resume(const std::vector<TopicPartition>& parts) {
  std::lock_guard l(kafka_.mu_);
  for (const auto& tp : parts) paused_.erase(tp);
  kafka_.changed();
}

void MemoryConsumer::close() {
  if (closed_) return;
  closed_ = true;
  std::vector<TopicPartition> all;
  {
    std::lock_guard l(kafka_.mu_);
    rebalances_.clear();
    all.assign(assigned_.begin(), assigned_.end());
  }
  if (!all.empty()) revokeNow(all, false);
  std::lock_guard l(kafka_.mu_);
  kafka_.members_.erase(group_);
  kafka_.changed();
}

void MemoryConsumer::revoke(const std::vector<TopicPartition>& parts, bool lost) {
  std::lock_guard l(kafka_.mu_);
  rebalances_.push_back({false, lost, parts});
  kafka_.changed();
}

void MemoryConsumer::assign(const std::vector<TopicPartition>& parts) {
  std::lock_guard l(kafka_.mu_);
  rebalances_.push_back({true, false, parts});
  kafka_.changed();
}

std::set<TopicPartition> MemoryConsumer::assignment() const {
  std::lock_guard l(kafka_.mu_);
  return assigned_;
}

std::set<TopicPartition> MemoryConsumer::paused() const {
  std::lock_guard l(kafka_.mu_);
  return paused_;
}

std::optional<int64_t> MemoryConsumer::stored(const TopicPartition& tp) const {
  std::lock_guard l(kafka_.mu_);
  auto it = stored_.find(tp);
  if (it == stored_.end()) return std::nullopt;
  return it->second;
}

uint64_t MemoryConsumer::polls() const {
  std::lock_guard l(kafka_.mu_);
  return polls_;
}

bool MemoryConsumer::rebalancesServed() const {
  std::lock_guard l(kafka_.mu_);
  return rebalances_.empty() && !serving_;
}

}  // namespace ew::runtime
