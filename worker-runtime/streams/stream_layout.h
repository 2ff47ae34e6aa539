#pragma once
// The partitions of a stream's topics, each with a dense index, and positions
// over them (the next offset per partition). Pure.
//
// Indexes never change: the partitions found at start are sorted by topic,
// then partition; a partition added to a topic later (the reader's periodic
// metadata check) takes the next index (withAdded()). A position made before
// a partition was added is shorter than the layout: a missing entry means the
// holder has had nothing of that partition.

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
  // This layout with ADDED (sorted, none already here) at the next indexes.
  StreamLayout withAdded(std::vector<TopicPartition> added) const;

  // The resume token of stream STREAM at POS (its first POS.size() partitions
  // when POS is shorter than the layout).
  std::string token(const std::string& stream, const Position& pos) const;
  // The position a decoded token gives: its offset for each partition it
  // names, MISSING for the others (partitions created after it was made).
  Position position(const PositionMap& next, int64_t missing) const;

 private:
  void index();

  std::vector<TopicPartition> parts_;
  std::vector<uint32_t> sorted_;  // indexes of parts_ in topic, partition order
};

}  // namespace ew::runtime
