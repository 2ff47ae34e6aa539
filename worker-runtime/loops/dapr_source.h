#pragma once
// The Dapr source (source.kind: dapr): the runtime is the Dapr app and daprd
// delivers over HTTP on source.dapr.address:appPort (core/dapr_app.h has the
// contract). Each event of a delivery goes through the dispatcher like a
// consumed record (lanes, retries with backoff, idempotency, metrics); the
// reply waits for all of them, so daprd's own flow control holds:
// handled or duplicate -> SUCCESS, given up (malformed, rejected, retries used
// up) -> DROP (daprd dead-letters it), not finished at shutdown -> RETRY.
//
// Also answers GET /dapr/subscribe (programmatic subscriptions, else 404) and
// GET /healthz (daprd's app health check: 200 while the handler is reachable
// and the source is not stopping).
//
// The HTTP server comes from an injected AppServerFactory
// (clients/app_server.h; ew::HttpServer in production) and the probe
// interval, the grace period and liveness read the injected TimeSource, so
// unit tests deliver in memory on a manual clock.
//
// Thread-safety: as Source. Requests are served on the HTTP server's threads.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "clients/app_server.h"
#include "core/config.h"
#include "core/log_throttle.h"
#include "ew/http_server.h"
#include "ew/metrics.h"
#include "ew/time_source.h"
#include "loops/dispatcher.h"
#include "loops/source.h"

namespace ew::runtime {

class DaprSource : public Source {
 public:
  // HANDLER_REACHABLE is the handler's liveness probe (it may block briefly;
  // it is called from open() and run() only). SERVERS makes the app
  // channel's server at open(). TIME must outlive the source. REQUIRES:
  // config.source.dapr.
  DaprSource(const RuntimeConfig& config, Dispatcher& dispatcher, MetricsRegistry& metrics,
             std::function<bool()> handlerReachable, AppServerFactory servers, const TimeSource& time);
  ~DaprSource() override;

  // Listens on source.dapr.address:appPort.
  Status open() override;
  // Probes the handler for /healthz until requestStop(); then refuses new
  // deliveries (503, which daprd retries), waits for those in flight until
  // the grace period ends, answers what is left RETRY, and closes.
  bool run() override;
  void requestStop() override;
  bool alive() const override;
  bool ready() const override;

  int port() const;  // the bound app port, after open()

 private:
  struct Pending;
  struct Inflight;
  struct SubMetrics;

  void onRequest(HttpServerRequest&& request, HttpReplyFn reply);
  void onDelivery(const std::string& path, HttpServerRequest&& request, HttpReplyFn reply);

  const RuntimeConfig& config_;
  Dispatcher& dispatcher_;
  const std::function<bool()> handlerReachable_;
  const AppServerFactory servers_;
  const TimeSource& time_;
  const std::string subscriptions_;  // the /dapr/subscribe document
  AppServerPtr server_;
  std::shared_ptr<Inflight> inflight_;                          // shared with the dispatcher's completion callbacks
  std::map<std::string, std::shared_ptr<SubMetrics>> metrics_;  // by subscription name
  Counter* unrouted_;
  Counter* deliveries_[2];           // requests from daprd: [0] single event, [1] bulk
  std::atomic<int64_t> nextOffset_;  // offsets of events that carry none ("__offset")
  std::atomic<bool> stopping_{false};
  std::atomic<bool> healthy_{false};
  std::atomic<int64_t> lastLoopMs_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::mutex logMu_;
  LogThrottle unroutedLog_{Millis(10'000)};  // guarded by logMu_
};

}  // namespace ew::runtime
