#pragma once
// The partitions of a stream's topics in a fixed order, each with a dense
// index, and positions over them (the next offset per partition). Pure.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "streams/resume_token.h"

namespace ew::runtime {

using Position = std::vector<int64_t>;  // next offset per partition index

class StreamLayout {
 public:
  StreamLayout() = default;
  // Sorts PARTS by topic, then partition.
  explicit StreamLayout(std::vector<TopicPartition> parts);
  size_t size() const { return parts_.size(); }
  const TopicPartition& at(size_t index) const { return parts_[index]; }
  const std::vector<TopicPartition>& parts() const { return parts_; }
  std::optional<uint32_t> indexOf(const TopicPartition& tp) const;

  // The resume token of stream STREAM at POS.
  std::string token(const std::string& stream, const Position& pos) const;
  // The position a decoded token gives: its offset for each partition it
  // names, MISSING for the others (partitions created after it was made).
  Position position(const PositionMap& next, int64_t missing) const;

 private:
  std::vector<TopicPartition> parts_;
};

}  // namespace ew::runtime
