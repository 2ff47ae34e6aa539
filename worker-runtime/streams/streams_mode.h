#pragma once
// --mode streams: the pod's SSE gateway (DESIGN.md section 10). One Kafka
// reader per pod (clients/kafka_partition_reader.h: every partition of
// every stream's topics assigned, no consumer group, nothing committed; a
// client's position is in its resume token) feeds one hub per stream
// (streams/stream_hub.h); the SSE server (streams/sse_server.h) serves the
// clients on server.streamsAddress.
//
// Start: each partition is read from up to replayEvents/partitions records
// back (what the ring can hold), so a client reconnecting to a fresh pod (a
// rolling update, a drain) resumes from the ring; the server accepts once
// the reader has reached the end offsets it saw at start (ready() from then
// on). Every kPartitionCheck the reader asks for the topics' partitions
// (one metadata request per topic): a partition added to a topic is read from
// its log start (every record in it is newer than the reader's start), each
// hub carrying the topic grows first (streams/stream_hub.h: addPartitions).
// Pods check on their own clocks: a client whose token names a partition
// this pod has not picked up yet (made by a pod that checked first) waits
// while this pod checks at once (StreamHub::wantPartitionCheck; at most one
// check per kEarliestCheck), then resumes with it (streams/sse_session.h).
// Stop (requestStop): the reader stops, every client gets ew-reconnect
// and is closed within server.gracePeriod, then run() returns.
//
// Thread-safety: open() and run() from the main thread; requestStop(),
// ready(), alive(), clients() from any thread.

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/log_throttle.h"
#include "core/stream_clients.h"
#include "ew/metrics.h"
#include "ew/result.h"
#include "ew/time_source.h"
#include "streams/stream_layout.h"

namespace ew::runtime {

class KafkaPartitionReader;
class StreamHub;
class BearerAuth;
class CatchUps;
class SseServer;

class StreamsMode {
 public:
  StreamsMode(const RuntimeConfig& config, MetricsRegistry& metrics, const TimeSource& time);
  ~StreamsMode();
  // Finds the streams' partitions and where to start them, binds the listener.
  Status open();
  // Reads until requestStop(), then drains. Returns false when the grace
  // period ended with clients still open.
  bool run();
  void requestStop() { stop_.store(true); }
  bool ready() const { return ready_.load(); }
  // The reader's loop turned within the last 30 s.
  bool alive() const;
  int port() const;
  // Clients connected now, per stream (in spec order): what /status reports
  // and the operator scales the streams Deployment on.
  std::vector<StreamClients> clients() const;

  static constexpr std::chrono::seconds kPartitionCheck{5};
  static constexpr std::chrono::milliseconds kEarliestCheck{500};

 private:
  bool warmedUp() const;
  // Reader thread: reads the partitions added to the streams' topics.
  void pickUpPartitions();

  const RuntimeConfig& config_;
  MetricsRegistry& metrics_;
  const TimeSource& time_;
  std::unique_ptr<KafkaPartitionReader> reader_;
  std::vector<std::unique_ptr<StreamHub>> hubs_;
  std::vector<std::unique_ptr<BearerAuth>> auths_;
  std::unique_ptr<CatchUps> catchUps_;
  std::unique_ptr<SseServer> server_;
  std::vector<Position> warmUpTargets_;  // per hub: the end offsets at start
  std::vector<std::string> topics_;      // every stream's, once
  std::set<TopicPartition> read_;        // reader thread: the partitions assigned
  LogThrottle checkFailures_{Millis(60000)};
  std::atomic<bool> stop_{false}, ready_{false};
  std::atomic<int64_t> lastLoopNs_{0};
};

}  // namespace ew::runtime
