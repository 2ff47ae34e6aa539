#pragma once
// One stream in a pod: its replay ring (replay_ring.h) fed by the pod's
// Kafka reader, the clients connected to it, and its metrics. The hub is the
// only place clients and the reader meet: the reader formats each event once
// (outside any lock) and appends it under a short exclusive lock; clients take
// events under a shared lock; a client with nothing to take parks and is
// woken (once) after the reader's next batch. The reader never waits for a
// client: a client more than clientBuffer events behind is cut off by tick().
// Partitions added to the stream's topics (addPartitions()) grow the layout
// and the ring together, under the ring's exclusive lock; the layout only
// grows (streams/stream_layout.h), so a snapshot of it stays valid.
//
// Thread-safety: onRecords/tick from the reader thread; everything else from
// any thread.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/message.h"
#include "ew/metrics.h"
#include "streams/replay_ring.h"

namespace ew::runtime {

// What the hub needs of a connected client (streams/sse_session.h).
class StreamClient {
 public:
  virtual ~StreamClient() = default;
  // Both post to the client's own executor and return at once.
  virtual void wake() = 0;
  virtual void cutForLag(uint64_t behind) = 0;
  // Where the client is (read from other threads).
  virtual uint64_t cursorSeq() const = 0;
  virtual bool inRing() const = 0;  // taking from the ring (not connecting, not caught up by Kafka, not cut)
};
using StreamClientPtr = std::shared_ptr<StreamClient>;
using StreamLayoutPtr = std::shared_ptr<const StreamLayout>;

class StreamHub {
 public:
  // START: the position the reader starts this stream's partitions at.
  StreamHub(const StreamConfig& config, StreamLayout layout, const Position& start, const std::string& worker,
            MetricsRegistry& metrics);

  const StreamConfig& config() const { return config_; }
  // The partitions known now (a snapshot: later ones take the next indexes).
  StreamLayoutPtr layout() const;

  // Reader thread: takes a batch of records (any topics; the hub keeps its
  // own), then wakes the parked clients.
  void onRecords(const std::vector<Message>& records);
  // Reader thread, every kTickInterval: cuts off clients that lag (the rule
  // in replay_ring.h: lagging()), sets the lag gauge.
  void tick();
  static constexpr std::chrono::milliseconds kTickInterval{250};
  static constexpr int kStallTicks = 4;
  // Reader thread, before the reader reads them: ADDED (partitions of this
  // stream's topics not in its layout) are read from the given offsets, their
  // log start. A position without them (a token made before) resumes them
  // from there.
  void addPartitions(const std::vector<std::pair<TopicPartition, int64_t>>& added);
  // Any thread: a client's token names a partition of the stream's topics
  // that the layout lacks (another pod picked it up first): the reader
  // checks for added partitions at once (takeCheckWanted(), reader thread).
  void wantPartitionCheck() { checkWanted_.store(true); }
  bool takeCheckWanted() { return checkWanted_.exchange(false); }
  // The reader's position on this stream (reader thread only).
  const Position& readerHead() const { return readerHead_; }

  // The sequence number after the newest event in the ring.
  uint64_t end() const { return end_.load(); }
  ClientCursor live() const;
  // A cursor resuming from POS when the ring still covers it. An entry of -1
  // (a partition the client's token did not name) is the partition's log
  // start: covered when the reader started it there (an added partition).
  std::optional<ClientCursor> resume(const Position& pos) const;
  TakeOutcome take(ClientCursor& cursor, size_t max, std::vector<OutgoingEvent>& out) const;
  // Parks CLIENT until the ring holds more than SEQ; false (not parked) when
  // it already does.
  bool park(const StreamClientPtr& client, uint64_t seq);

  void attach(const StreamClientPtr& client);
  void detach(const StreamClient* client);
  size_t clients() const;

  // Counts written and cut-off events.
  void sent(size_t events) { sent_.inc(static_cast<double>(events)); }
  void cut(const std::string& reason, uint64_t behind);

 private:
  StreamEventPtr format(const Message& m, uint32_t part);

  const StreamConfig& config_;
  StreamLayoutPtr layout_;  // written under ringMu_ by the reader thread
  const std::string worker_;
  MetricsRegistry& metrics_;
  Counter& records_;
  Counter& skipped_;
  Counter& sent_;
  Counter& dropped_;
  Gauge& clientsGauge_;
  Gauge& lag_;

  Position readerHead_;  // reader thread only
  mutable std::shared_mutex ringMu_;
  ReplayRing ring_;                 // guarded by ringMu_
  std::vector<bool> fromLogStart_;  // guarded by ringMu_: per partition, the reader started it at its log start
  std::atomic<uint64_t> end_{0};
  std::atomic<bool> checkWanted_{false};

  std::mutex parkedMu_;
  std::vector<std::weak_ptr<StreamClient>> parked_;  // guarded by parkedMu_

  struct Attached {
    std::weak_ptr<StreamClient> client;
    LagWatch lag;  // the tick's
  };
  mutable std::mutex clientsMu_;
  std::unordered_map<const StreamClient*, Attached> clients_;  // guarded by clientsMu_
};

}  // namespace ew::runtime
