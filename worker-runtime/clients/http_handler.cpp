#include "clients/http_handler.h"

#include <stdexcept>

#include "ew/duration.h"

namespace ew::runtime {

namespace {

constexpr std::string_view kCloudEventsJson = "application/cloudevents+json";

// A readiness probe must answer long before a kubelet gives up on it.
constexpr Millis kProbeTimeout{5000};

template <class T>
T orThrow(Result<T> r) {
  if (!r) throw std::invalid_argument(r.error().message);
  return std::move(*r);
}

}  // namespace

HttpHandler::HttpHandler(const HttpHandlerConfig& config)
    : config_(config), target_(orThrow(parseHttpUrl(config.url))), context_(orThrow(makeHttpClientContext(target_))) {}

HttpHandler::~HttpHandler() = default;

HttpConnectionPtr HttpHandler::acquire(HttpConnection::Clock::time_point deadline) {
  std::unique_lock l(mu_);
  const size_t max = static_cast<size_t>(config_.maxConnections);
  if (!freed_.wait_until(l, deadline, [&] { return !idle_.empty() || lent_ < max; })) return nullptr;
  ++lent_;
  if (idle_.empty()) return std::make_unique<HttpConnection>(context_);
  HttpConnectionPtr c = std::move(idle_.back());
  idle_.pop_back();
  return c;
}

void HttpHandler::release(HttpConnectionPtr connection) {
  {
    std::lock_guard l(mu_);
    --lent_;
    idle_.push_back(std::move(connection));  // closed ones reconnect when next used
  }
  freed_.notify_one();
}

HandlerResult HttpHandler::handle(const HandlerRequest& r) {
  const auto deadline = HttpConnection::Clock::now() + config_.timeout;
  HttpConnectionPtr c = acquire(deadline);
  if (!c)
    return {Outcome::Retry, "http: no free connection (maxConnections " + std::to_string(config_.maxConnections) +
                                ") within the timeout " + formatDuration(config_.timeout)};
  const std::string target = requestTarget(target_, r.route);
  HttpRequestView req;
  req.target = target;
  req.contentType = kCloudEventsJson;
  req.headers = &r.headers;
  req.body = r.body;
  auto reply = c->exchange(req, deadline);
  if (!reply && reply.error().code == kHttpClosedIdle) reply = c->exchange(req, deadline);
  release(std::move(c));
  if (!reply) return {Outcome::Retry, reply.error().message};
  return interpretHttpReply(reply->status, reply->body);
}

bool HttpHandler::reachable() {
  // Its own connection: under load every pooled one may be busy.
  HttpConnection c(context_);
  const std::string target = requestTarget(target_, "/");
  HttpRequestView req;
  req.method = "OPTIONS";
  req.target = target;
  const auto timeout = std::min(config_.timeout, kProbeTimeout);
  return c.exchange(req, HttpConnection::Clock::now() + timeout, /*headerOnly=*/true).ok();  // any reply will do
}

}  // namespace ew::runtime
