#pragma once
// Per-partition bookkeeping of which consumed offsets are done, so that only
// the contiguous done prefix is ever committed (at-least-once: a crash or a
// rebalance never skips an event that was not finished). Pure.
//
// Offsets must be tracked in increasing order per partition (Kafka delivers
// them so); gaps (compaction, transaction markers) are fine. Not thread-safe.

#include <compare>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ew::runtime {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  bool operator==(const TopicPartition&) const = default;
  // Partition first: in the per-record lookups (maps of one topic's
  // partitions) most comparisons end there, without comparing topic names.
  std::strong_ordering operator<=>(const TopicPartition& o) const {
    if (auto c = partition <=> o.partition; c != 0) return c;
    return topic.compare(o.topic) <=> 0;
  }
};

struct CommitPoint {
  TopicPartition tp;
  int64_t offset = 0;  // the next offset to consume (Kafka's commit convention)
};

class OffsetTracker {
 public:
  // Starts tracking TP (no-op if tracked).
  void assign(const TopicPartition& tp);
  // Forgets TP and everything pending on it.
  void revoke(const TopicPartition& tp);
  bool assigned(const TopicPartition& tp) const { return parts_.count(tp) != 0; }

  // Records that OFFSET was consumed and is in progress.
  // REQUIRES: assigned(tp); OFFSET greater than every offset tracked on TP.
  void track(const TopicPartition& tp, int64_t offset);

  // Records that OFFSET is finished. Returns false (and changes nothing) when
  // TP is not assigned or OFFSET is not pending there (e.g. after a revoke).
  bool markDone(const TopicPartition& tp, int64_t offset);

  // Offsets in progress on TP (0 when not assigned).
  size_t pending(const TopicPartition& tp) const;
  size_t pendingTotal() const;

  // Commit points that moved since the last markCommitted for their partition.
  std::vector<CommitPoint> committable() const;
  // The commit point of TP if anything was ever finished there.
  std::optional<CommitPoint> committable(const TopicPartition& tp) const;
  // The highest offset finished on TP, done prefix or beyond a gap; nullopt
  // when nothing was finished there (or TP is not assigned). Work queued at
  // or below it is what stands between the commit point and everything done.
  std::optional<int64_t> highestDone(const TopicPartition& tp) const;
  // Records that POINT was committed to the broker.
  void markCommitted(const CommitPoint& point);

 private:
  struct Part {
    std::deque<std::pair<int64_t, bool>> inFlight;  // (offset, done), increasing offsets
    int64_t next = -1;                              // commit point: all below are done; -1 = none yet
    int64_t committed = -1;
  };
  static void advance(Part& p);

  std::map<TopicPartition, Part> parts_;
  size_t pendingTotal_ = 0;
};

}  // namespace ew::runtime
