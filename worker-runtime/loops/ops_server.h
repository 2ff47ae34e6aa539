#pragma once
// The runtime's ops endpoints on server.address: GET /healthz (main loops
// alive), /readyz (partitions assigned or cron scheduled, handler reachable),
// /metrics (Prometheus text), /status (JSON: name, status, jobs processed,
// queue size, assigned partitions; in --mode outbox each relay's state and
// backlog under "outbox", which the operator reads into the EventWorker's
// status.outbox; in --mode streams each stream's connected clients under
// "streams", which the operator scales the streams Deployment on). Probes
// are called from listener threads
// and must be thread-safe.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/outbox_report.h"
#include "core/stream_clients.h"
#include "ew/metrics.h"
#include "ew/result.h"

namespace ew {
class HttpEndpoints;
}

namespace ew::runtime {

struct OpsStatus {
  std::string status;  // running | stopping
  uint64_t processed = 0;
  size_t queueSize = 0;
  size_t assignedPartitions = 0;
  std::vector<OutboxRelayReport> outbox;  // --mode outbox: one per relay
  std::vector<StreamClients> streams;     // --mode streams: one per stream
};

struct OpsProbes {
  std::function<bool()> healthy;
  std::function<bool()> ready;
  std::function<OpsStatus()> status;
};

class OpsServer {
 public:
  OpsServer(const RuntimeConfig& config, MetricsRegistry& metrics);
  ~OpsServer();
  void setProbes(OpsProbes probes);  // before start()
  Status start();
  void stop();

 private:
  const RuntimeConfig& config_;
  MetricsRegistry& metrics_;
  OpsProbes probes_;
  std::unique_ptr<HttpEndpoints> http_;
};

}  // namespace ew::runtime
