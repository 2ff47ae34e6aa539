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
}

std::optional<uint32_t> StreamLayout::indexOf(const TopicPartition& tp) const {
  auto it = std::lower_bound(parts_.begin(), parts_.end(), tp, byTopic);
  if (it == parts_.end() || !(*it == tp)) return std::nullopt;
  return static_cast<uint32_t>(it - parts_.begin());
}

std::string StreamLayout::token(const std::string& stream, const Position& pos) const {
  ResumeToken t{stream, {}};
  for (size_t i = 0; i < parts_.size(); ++i) t.next.emplace(parts_[i], pos[i]);
  return encodeResumeToken(t);
}

Position StreamLayout::position(const PositionMap& next, int64_t missing) const {
  Position pos(parts_.size(), missing);
  for (size_t i = 0; i < parts_.size(); ++i)
    if (auto it = next.find(parts_[i]); it != next.end()) pos[i] = it->second;
  return pos;
}

}  // namespace ew::runtime
