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
// on). Stop (requestStop): the reader stops, every client gets ew-reconnect
// and is closed within server.gracePeriod, then run() returns.
//
// Thread-safety: open() and run() from the main thread; requestStop(),
// ready(), alive(), clients() from any thread.

#include <atomic>
#include <memory>
#include <vector>

#include "core/config.h"
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

 private:
  bool warmedUp() const;

  const RuntimeConfig& config_;
  MetricsRegistry& metrics_;
  const TimeSource& time_;
  std::unique_ptr<KafkaPartitionReader> reader_;
  std::vector<std::unique_ptr<StreamHub>> hubs_;
  std::vector<std::unique_ptr<BearerAuth>> auths_;
  std::unique_ptr<CatchUps> catchUps_;
  std::unique_ptr<SseServer> server_;
  std::vector<Position> warmUpTargets_;  // per hub: the end offsets at start
  std::atomic<bool> stop_{false}, ready_{false};
  std::atomic<int64_t> lastLoopNs_{0};
};

}  // namespace ew::runtime
