#include "streams/bearer_auth.h"

#include <spdlog/spdlog.h>

#include "clients/http_connection.h"
#include "core/http_target.h"

namespace ew::runtime {

constexpr std::chrono::seconds kAuthTimeout{5};
constexpr size_t kMaxCachedTokens = 100000;

struct BearerAuth::Client {
  HttpTarget target;
  HttpClientContextPtr context;
  std::string requestTarget;
};

BearerAuth::BearerAuth(const StreamConfig& stream, const TimeSource& time)
    : stream_(stream), time_(time), cache_(stream.authCacheTTL, kMaxCachedTokens) {}

BearerAuth::~BearerAuth() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  for (auto& j : jobs_) j.done(AuthVerdict::Unavailable);
}

Status BearerAuth::start(size_t threads) {
  auto target = parseHttpUrl(stream_.authUrl);
  if (!target) return Error{"stream " + stream_.name + ": auth.url: " + target.error().message};
  auto context = makeHttpClientContext(*target);
  if (!context) return Error{"stream " + stream_.name + ": auth.url: " + context.error().message};
  client_ = std::make_unique<Client>();
  client_->target = *target;
  client_->context = *context;
  client_->requestTarget =
      (target->basePath.empty() ? "/" : target->basePath) + (target->baseQuery.empty() ? "" : "?" + target->baseQuery);
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
  return {};
}

void BearerAuth::check(const std::string& token, Done done) {
  std::unique_lock l(mu_);
  if (auto v = cache_.find(token, time_.now())) {
    l.unlock();
    done(*v);
    return;
  }
  jobs_.push_back({token, std::move(done)});
  l.unlock();
  cv_.notify_one();
}

void BearerAuth::loop() {
  HttpConnection connection(client_->context);
  std::unique_lock l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    // Another thread may have judged the same token meanwhile.
    std::optional<AuthVerdict> verdict = cache_.find(job.token, time_.now());
    l.unlock();
    if (!verdict) {
      Headers headers{{"Authorization", "Bearer " + job.token}};
      HttpRequestView request;
      request.method = "GET";
      request.target = client_->requestTarget;
      request.headers = &headers;
      auto reply = connection.exchange(request, HttpConnection::Clock::now() + kAuthTimeout);
      if (!reply) {
        spdlog::warn("stream {}: auth check failed: {}", stream_.name, reply.error().message);
        verdict = AuthVerdict::Unavailable;
      } else if (reply->status >= 200 && reply->status < 300) {
        verdict = AuthVerdict::Allowed;
      } else if (reply->status == 401 || reply->status == 403) {
        verdict = AuthVerdict::Refused;
      } else {
        spdlog::warn("stream {}: auth check answered {}", stream_.name, reply->status);
        verdict = AuthVerdict::Unavailable;
      }
      l.lock();
      cache_.put(job.token, *verdict, time_.now());
      l.unlock();
    }
    job.done(*verdict);
    l.lock();
  }
}

}  // namespace ew::runtime
