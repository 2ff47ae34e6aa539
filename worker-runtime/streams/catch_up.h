#pragma once
// Catching up a client whose position the replay ring no longer covers: a
// Kafka reader of its own (clients/kafka_partition_reader.h: the stream's
// partitions from the client's offsets, no consumer group) feeds it until the
// ring covers its position, then it joins the ring like any client.
//
// Why a reader per such client: its events are in Kafka, not in memory, and
// a reader holds only a fetch buffer however far back it starts, so memory
// stays bounded (the client's queue is bounded by clientBuffer, and the
// reader waits for it). Readers cost a librdkafka handle each (a few
// threads and connections), so a pod runs at most maxReaders at once and
// refuses more (503 with the retry hint): catching up is the exception
// (a client away for longer than the ring holds), the ring the rule.
//
// A partition added to the stream's topics while a client catches up is read
// from its log start as soon as the hub has it (the catch-up's reader is
// assigned again).
//
// Positions below a partition's log start (deleted by retention) are
// "expired": the stream's resumeFallback says whether the client starts at
// the oldest retained record or at the newest, and its first event
// (ew-resume) says so.
//
// Thread-safety: start/stop from any thread; each catch-up runs on a thread
// of its own.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "streams/stream_hub.h"

namespace ew::runtime {

// The client side of a catch-up (streams/sse_session.h).
class KafkaPartitionReader;

class CatchUpSink {
 public:
  virtual ~CatchUpSink() = default;
  // Queues FRAME (an event, or an ew-resume notice) for the client; blocks
  // while clientBuffer frames are queued. False when the client is gone.
  virtual bool push(std::string frame) = 0;
  // The catch-up is over: after the queued frames the client takes from the
  // ring at CURSOR.
  virtual void join(ClientCursor cursor) = 0;
  // The catch-up failed (Kafka): the client is told REASON and disconnected.
  virtual void fail(const std::string& reason) = 0;
  virtual bool gone() const = 0;
};
using CatchUpSinkPtr = std::shared_ptr<CatchUpSink>;

class CatchUps {
 public:
  CatchUps(const KafkaSourceConfig& kafka, size_t maxReaders);
  ~CatchUps();  // stop()
  // Catches SINK up on HUB from POS. ANNOUNCE_EXPIRY: tell the client when
  // POS has expired (false when it was already told its Last-Event-ID was
  // unusable). False, with nothing started, when maxReaders are running.
  bool start(StreamHub& hub, CatchUpSinkPtr sink, Position pos, bool announceExpiry);
  // Ends every catch-up and joins their threads.
  void stop();
  size_t running() const { return running_.load(); }

 private:
  void run(StreamHub& hub, const CatchUpSinkPtr& sink, Position pos, bool announceExpiry);
  // Reads LAYOUT's partitions from POS (an entry below the log start, or
  // missing, from the log start). True in EXPIRED when an entry was below.
  Status startAt(KafkaPartitionReader& reader, const StreamLayout& layout, Position& pos, bool& expired);

  const KafkaSourceConfig& kafka_;
  const size_t maxReaders_;
  std::atomic<size_t> running_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::thread> threads_;                      // guarded by mu_; finished ones joined at the next start()
  std::vector<std::shared_ptr<std::atomic<bool>>> done_;  // guarded by mu_, one per thread
};

}  // namespace ew::runtime
