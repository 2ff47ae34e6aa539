#include "loops/dapr_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <optional>
#include <random>
#include <unordered_set>

#include "core/dapr_app.h"

namespace ew::runtime {
namespace {

constexpr std::string_view kJson = "application/json";

// Largest bulk daprd sends unless told otherwise (Dapr's default maxMessagesCount).
constexpr int64_t kDefaultBulkCount = 100;
constexpr int64_t kMaxBodyBytes = int64_t(1) << 30;
constexpr size_t kServerThreads = 2;

int64_t msSinceEpoch(MonoTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

DaprStatus statusFor(DeliveryOutcome o) {
  switch (o) {
    case DeliveryOutcome::Handled:
    case DeliveryOutcome::Duplicate:
      return DaprStatus::Success;
    case DeliveryOutcome::GivenUp:
      return DaprStatus::Drop;
    case DeliveryOutcome::Abandoned:
      return DaprStatus::Retry;
  }
  return DaprStatus::Retry;
}

// Room for a bulk of the largest events, with JSON and base64 overhead.
size_t maxBodyBytes(const RuntimeConfig& c) {
  int64_t event = 1;
  for (const auto& s : c.subscriptions) event = std::max(event, s.maxEventBytes);
  const auto& bulk = c.source.dapr->bulkSubscribe;
  const int64_t count = std::max<int64_t>(kDefaultBulkCount, bulk.maxMessagesCount);
  return static_cast<size_t>(std::min(kMaxBodyBytes, event * 2 * count + (int64_t(1) << 20)));
}

// A start for made-up offsets that no earlier process used: wrapped payloads
// without "__offset" get ids "<topic>--1-<offset>" (core/cloud_event.h),
// which must not repeat what an idempotency store may still hold.
int64_t randomOffsetBase() {
  std::random_device rd;
  return static_cast<int64_t>(((uint64_t(rd()) << 32) | rd()) >> 2);
}

}  // namespace

struct DaprSource::SubMetrics {
  Counter* replies[3];  // by DaprStatus
};

// One request waiting for the outcomes of its events.
struct DaprSource::Pending {
  HttpReplyFn reply;
  bool bulk = false;
  bool tooLarge = false;  // the body was not read: answered 404, which daprd takes as a drop of every event
  std::vector<std::string> entryIds;
  std::shared_ptr<SubMetrics> metrics;
  std::mutex mu;
  std::vector<std::optional<DaprStatus>> statuses;  // guarded by mu
  size_t left = 0;                                  // guarded by mu
  bool answered = false;                            // guarded by mu

  // REQUIRES: mu held and !answered. Events without an outcome are RETRY.
  HttpServerReply answerLocked() {
    answered = true;
    std::vector<DaprStatus> final;
    for (const auto& s : statuses) {
      final.push_back(s.value_or(DaprStatus::Retry));
      metrics->replies[static_cast<int>(final.back())]->inc();
    }
    if (tooLarge) return {404, renderDaprReply(DaprStatus::Drop), std::string(kJson)};
    if (!bulk) return {200, renderDaprReply(final[0]), std::string(kJson)};
    std::vector<std::pair<std::string, DaprStatus>> list;
    for (size_t i = 0; i < final.size(); ++i) list.emplace_back(entryIds[i], final[i]);
    return {200, renderDaprBulkReply(list), std::string(kJson)};
  }
};

// The requests not answered yet. Thread-safe.
struct DaprSource::Inflight {
  void add(const std::shared_ptr<Pending>& p) {
    std::lock_guard l(mu);
    pending.insert(p);
  }

  // Records the outcome of event I of P; answers P once all are known.
  void complete(const std::shared_ptr<Pending>& p, size_t i, DaprStatus status) {
    std::optional<HttpServerReply> reply;
    {
      std::lock_guard l(p->mu);
      if (p->answered) return;
      p->statuses[i] = status;
      if (--p->left == 0) reply = p->answerLocked();
    }
    if (reply) finish(p, std::move(*reply));
  }

  // Answers every request now: RETRY for events without an outcome.
  void answerAll() {
    std::vector<std::shared_ptr<Pending>> all;
    {
      std::lock_guard l(mu);
      all.assign(pending.begin(), pending.end());
    }
    for (const auto& p : all) {
      std::optional<HttpServerReply> reply;
      {
        std::lock_guard l(p->mu);
        if (!p->answered) reply = p->answerLocked();
      }
      if (reply) finish(p, std::move(*reply));
    }
  }

  size_t size() {
    std::lock_guard l(mu);
    return pending.size();
  }

 private:
  void finish(const std::shared_ptr<Pending>& p, HttpServerReply reply) {
    p->reply(std::move(reply));
    std::lock_guard l(mu);
    pending.erase(p);
  }

  std::mutex mu;
  std::unordered_set<std::shared_ptr<Pending>> pending;  // guarded by mu
};

DaprSource::DaprSource(const RuntimeConfig& config, Dispatcher& dispatcher, MetricsRegistry& metrics,
                       std::function<bool()> handlerReachable, AppServerFactory servers, const TimeSource& time)
    : config_(config),
      dispatcher_(dispatcher),
      handlerReachable_(std::move(handlerReachable)),
      servers_(std::move(servers)),
      time_(time),
      subscriptions_(renderDaprSubscriptions(config)),
      inflight_(std::make_shared<Inflight>()),
      nextOffset_(randomOffsetBase()) {
  for (const auto& s : config.subscriptions) {
    auto m = std::make_shared<SubMetrics>();
    for (DaprStatus st : {DaprStatus::Success, DaprStatus::Retry, DaprStatus::Drop})
      m->replies[static_cast<int>(st)] =
          &metrics.counter("worker_dapr_replies_total", "Events answered to daprd, by reply status",
                           {{"worker", config.worker}, {"subscription", s.name}, {"status", toString(st)}});
    metrics_[s.name] = std::move(m);
  }
  unrouted_ = &metrics.counter("worker_dapr_unrouted_total",
                               "Deliveries from daprd to a route no subscription has (answered 404)",
                               {{"worker", config.worker}});
  for (int bulk : {0, 1})
    deliveries_[bulk] =
        &metrics.counter("worker_dapr_deliveries_total", "Delivery requests from daprd, by kind (single event or bulk)",
                         {{"worker", config.worker}, {"kind", bulk ? "bulk" : "single"}});
}

DaprSource::~DaprSource() {
  if (server_) server_->stop();
}

Status DaprSource::open() {
  const DaprSourceConfig& d = *config_.source.dapr;
  HttpServerOptions o;
  o.address = d.address;
  o.port = d.appPort;
  o.maxBodyBytes = maxBodyBytes(config_);
  o.threads = kServerThreads;
  healthy_.store(handlerReachable_());  // what /healthz answers until run() probes again
  server_ =
      servers_(o, [this](HttpServerRequest&& r, HttpReplyFn reply) { onRequest(std::move(r), std::move(reply)); });
  if (auto st = server_->start(); !st) return Error{"dapr app port: " + st.error().message};
  spdlog::info("dapr: app channel on {}:{} ({} subscriptions)", d.address, server_->port(),
               d.subscribe == DaprSubscribe::Programmatic ? "programmatic" : "declarative");
  return {};
}

int DaprSource::port() const { return server_ ? server_->port() : 0; }

void DaprSource::requestStop() {
  std::lock_guard l(mu_);
  stop_ = true;
  wake_.notify_all();
}

bool DaprSource::alive() const { return msSinceEpoch(time_.now()) - lastLoopMs_.load() < 10'000; }

bool DaprSource::ready() const { return server_ && !stopping_.load(); }

void DaprSource::onRequest(HttpServerRequest&& request, HttpReplyFn reply) {
  const std::string path = request.target.substr(0, request.target.find('?'));
  if (request.method == "POST") return onDelivery(path, std::move(request), std::move(reply));
  if (request.method != "GET") return reply({405, "", "text/plain"});
  if (path == "/dapr/subscribe") {
    // Declarative: daprd takes the subscriptions from Subscription objects (made by the operator).
    if (config_.source.dapr->subscribe == DaprSubscribe::Programmatic) return reply({200, subscriptions_});
    return reply({404, "", "text/plain"});
  }
  if (path == "/healthz") {
    const bool ok = healthy_.load() && !stopping_.load();
    return reply({ok ? 200 : 503, ok ? "ok\n" : "not healthy: handler unreachable or stopping\n", "text/plain"});
  }
  reply({404, "", "text/plain"});
}

void DaprSource::onDelivery(const std::string& path, HttpServerRequest&& request, HttpReplyFn reply) {
  if (stopping_.load()) return reply({503, renderDaprReply(DaprStatus::Retry), std::string(kJson), true});
  DaprRequest parsed;
  if (request.bodyTooLarge) {
    DaprEvent e;
    e.malformed = "oversized: request body over " + std::to_string(maxBodyBytes(config_)) + " bytes";
    parsed.events.push_back(std::move(e));
  } else {
    DaprMetadata metadata(request.headers.begin(), request.headers.end());
    parsed = parseDaprRequest(request.contentType, request.body, metadata);
  }
  std::string topic;
  for (const auto& e : parsed.events)
    if (!e.topic.empty()) {
      topic = e.topic;
      break;
    }
  const SubscriptionConfig* sub = daprSubscriptionFor(config_, path, topic);
  if (!sub) {
    unrouted_->inc();
    std::lock_guard l(logMu_);
    if (auto left = unroutedLog_.admit(time_.now()))
      spdlog::warn("dapr: delivery to {} (topic \"{}\") matches no subscription route; answered 404{}", path, topic,
                   *left ? " (" + std::to_string(*left) + " more since the last report)" : std::string());
    return reply({404, renderDaprReply(DaprStatus::Drop), std::string(kJson)});
  }
  deliveries_[parsed.bulk ? 1 : 0]->inc();
  if (parsed.events.empty()) return reply({200, renderDaprBulkReply({}), std::string(kJson)});

  auto pending = std::make_shared<Pending>();
  pending->reply = std::move(reply);
  pending->bulk = parsed.bulk;
  pending->tooLarge = request.bodyTooLarge;
  pending->entryIds = std::move(parsed.entryIds);
  pending->metrics = metrics_.at(sub->name);
  pending->statuses.resize(parsed.events.size());
  pending->left = parsed.events.size();
  inflight_->add(pending);

  std::vector<Delivery> batch;
  batch.reserve(parsed.events.size());
  for (size_t i = 0; i < parsed.events.size(); ++i) {
    DaprEvent& e = parsed.events[i];
    Delivery d;
    d.message.tp = {sub->topic, e.partition.value_or(-1)};
    d.message.offset = e.offset ? *e.offset : nextOffset_.fetch_add(1);
    d.message.key = std::move(e.key);
    d.message.value = std::move(e.value);
    d.message.headers = std::move(e.headers);
    d.message.timestampMs = e.timestampMs;
    d.malformed = std::move(e.malformed);
    d.onDone = [inflight = inflight_, pending, i](DeliveryOutcome o) { inflight->complete(pending, i, statusFor(o)); };
    batch.push_back(std::move(d));
  }
  dispatcher_.deliver(std::move(batch));
}

bool DaprSource::run() {
  std::unique_lock l(mu_);
  while (!stop_) {
    lastLoopMs_.store(msSinceEpoch(time_.now()));
    l.unlock();
    healthy_.store(handlerReachable_());
    dispatcher_.queueSize();  // refreshes worker_queue_size
    l.lock();
    time_.wait(wake_, l, time_.now() + std::chrono::seconds(1), [&] { return stop_; });
  }
  // New deliveries (503) go back to daprd; those in flight finish within the grace period.
  const auto deadline = time_.now() + config_.server.gracePeriod;
  stopping_.store(true);
  server_->stopAccepting();
  spdlog::info("shutdown: draining {} dapr deliveries ({} event(s)), grace period {}", inflight_->size(),
               dispatcher_.queueSize(), formatDuration(config_.server.gracePeriod));
  auto settled = [&] { return inflight_->size() == 0 && server_->pending() == 0; };
  while (!settled() && time_.now() < deadline) {
    lastLoopMs_.store(msSinceEpoch(time_.now()));
    time_.waitUntil(wake_, l, std::min(deadline, time_.now() + std::chrono::milliseconds(20)));
  }
  const bool drained = settled();
  if (!drained) {
    // Unfinished events go back to daprd for redelivery (their handler calls may still complete: at-least-once).
    inflight_->answerAll();
    const auto flush = time_.now() + std::chrono::seconds(1);
    while (server_->pending() != 0 && time_.now() < flush)
      time_.waitUntil(wake_, l, std::min(flush, time_.now() + std::chrono::milliseconds(20)));
  }
  l.unlock();
  dispatcher_.stop();
  server_->stop();
  spdlog::info("shutdown: {}", drained ? "every dapr delivery answered" : "grace period over; the rest answered RETRY");
  return drained;
}

}  // namespace ew::runtime
