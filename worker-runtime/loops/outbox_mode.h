#pragma once
// --mode outbox: one OutboxRelay (loops/outbox_relay.h) per config.outbox
// entry, each on its own thread with its own database session and producer.
// open() makes the producers (and fails on bad Kafka settings); run() blocks
// until requestStop(), after which every relay settles its batch in flight
// and lets its lock go.
//
// Thread-safety: ready() and requestStop() from any thread.

#include <memory>
#include <vector>

#include "core/config.h"
#include "core/outbox_report.h"
#include "ew/metrics.h"
#include "ew/result.h"
#include "ew/time_source.h"

namespace ew::runtime {

class OutboxRelay;
class OutboxPublisher;

class OutboxMode {
 public:
  OutboxMode(const RuntimeConfig& config, MetricsRegistry& metrics, const TimeSource& time);
  ~OutboxMode();
  Status open();
  void run();
  void requestStop();
  // Every relay has a database session (active or standing by).
  bool ready() const;
  size_t activeRelays() const;
  std::vector<OutboxRelayReport> reports() const;

 private:
  const RuntimeConfig& config_;
  MetricsRegistry& metrics_;
  const TimeSource& time_;
  std::vector<std::unique_ptr<OutboxPublisher>> publishers_;
  std::vector<std::unique_ptr<OutboxRelay>> relays_;
};

}  // namespace ew::runtime
