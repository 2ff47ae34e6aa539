#include "streams/stream_layout.h"

#include <algorithm>

namespace ew::runtime {
namespace {

bool byTopic(const TopicPartition& a, const TopicPartition& b) {
  return a.topic != b.topic ? a.topic < b.topic : a.partition < b.partition;
}

}  // namespace

StreamLayout::StreamLayout(std::vector<TopicPartition> parts) : parts_(std::move(parts)) {
  std::sort(parts_.begin(), parts_.end(), byTopic);
  index();
}

StreamLayout StreamLayout::withAdded(std::vector<TopicPartition> added) const {
  std::sort(added.begin(), added.end(), byTopic);
  StreamLayout out;
  out.parts_ = parts_;
  out.parts_.insert(out.parts_.end(), added.begin(), added.end());
  out.index();
  return out;
}

void StreamLayout::index() {
  sorted_.resize(parts_.size());
  for (uint32_t i = 0; i < sorted_.size(); ++i) sorted_[i] = i;
  std::sort(sorted_.begin(), sorted_.end(), [this](uint32_t a, uint32_t b) { return byTopic(parts_[a], parts_[b]); });
}

std::optional<uint32_t> StreamLayout::indexOf(const TopicPartition& tp) const {
  auto it = std::lower_bound(sorted_.begin(), sorted_.end(), tp,
                             [this](uint32_t i, const TopicPartition& t) { return byTopic(parts_[i], t); });
  if (it == sorted_.end() || !(parts_[*it] == tp)) return std::nullopt;
  return *it;
}

std::string StreamLayout::token(const std::string& stream, const Position& pos) const {
  ResumeToken t{stream, {}};
  for (size_t i = 0; i < std::min(parts_.size(), pos.size()); ++i) t.next.emplace(parts_[i], pos[i]);
  return encodeResumeToken(t);
}

Position StreamLayout::position(const PositionMap& next, int64_t missing) const {
  Position pos(parts_.size(), missing);
  for (size_t i = 0; i < parts_.size(); ++i)
    if (auto it = next.find(parts_[i]); it != next.end()) pos[i] = it->second;
  return pos;
}

}  // namespace ew::runtime
