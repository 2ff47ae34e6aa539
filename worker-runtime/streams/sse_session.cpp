#include "streams/sse_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

#include "streams/bearer_auth.h"
#include "streams/sse_format.h"

namespace ew::runtime {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

constexpr std::chrono::seconds kRequestTimeout{10};
constexpr std::chrono::seconds kCutDeadline{10};
constexpr std::chrono::seconds kDrainRequestWait{2};
constexpr size_t kMaxBatch = 256;
// A Last-Event-ID naming partitions this pod lacks is looked at again every
// kPartitionRetry, kPartitionWaits times (a forged one, or a topic recreated
// with fewer partitions, then resumes without them).
constexpr std::chrono::milliseconds kPartitionRetry{200};
constexpr int kPartitionWaits = 25;
constexpr const char* kDrainMessage = "this gateway is shutting down; reconnect with Last-Event-ID";
constexpr const char* kStreamHeader =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    "X-Accel-Buffering: no\r\nServer: eventworker-runtime\r\n\r\n";

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// The value of query parameter NAME in QUERY ("a=1&b=2"), percent-decoded.
std::optional<std::string> queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) return percentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string reply(int status, const std::string& reason, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n" + extra + "\r\n" + body;
}

std::string overflowMessage(const StreamConfig& config) {
  return "this client fell more than " + std::to_string(config.clientBuffer) +
         " events behind the stream; reconnect with Last-Event-ID to resume";
}

std::string notice(const char* resumed, const std::string& reason) {
  return controlEvent("ew-resume", nlohmann::json{{"resumed", resumed}, {"reason", reason}}.dump());
}

}  // namespace

SseSession::SseSession(Socket socket, SessionContext& context)
    : socket_(std::move(socket)),
      context_(context),
      timer_(socket_.get_executor()),
      deadline_(socket_.get_executor()) {}

SseSession::~SseSession() = default;

void SseSession::start() {
  auto self = shared_from_this();
  {
    std::lock_guard l(context_.mu);
    context_.registry.emplace(this, self);
  }
  parser_.header_limit(16 * 1024);
  closeUnlessReadBy(std::chrono::steady_clock::now() + kRequestTimeout);
  http::async_read(socket_, buffer_, parser_, [self](error_code ec, size_t) { self->onRequest(ec); });
}

void SseSession::closeUnlessReadBy(std::chrono::steady_clock::time_point deadline) {
  timer_.expires_at(deadline);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec && !self->streaming_ && !self->closing_) self->terminate();
  });
}

void SseSession::onRequest(error_code ec) {
  if (closed_) return;
  if (ec) return terminate();
  timer_.cancel();
  const auto& req = parser_.get();
  const std::string_view target(req.target().data(), req.target().size());
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q), query = q == std::string_view::npos ? "" : target.substr(q + 1);
  const StreamRoute* route = nullptr;
  for (const auto& r : context_.routes)
    if (r.hub->config().path == path) route = &r;
  if (!route) return reject(404, "Not Found", "no stream at this path\n");
  if (req.method() != http::verb::get) return reject(405, "Method Not Allowed", "streams are read with GET\n");
  route_ = route;
  if (context_.draining.load()) return reconnectElsewhere();
  std::optional<std::string> lastEventId;
  if (auto it = req.find("Last-Event-ID"); it != req.end() && !it->value().empty())
    lastEventId = std::string(it->value());
  else if (auto v = queryParam(query, "lastEventId"); v && !v->empty())
    lastEventId = std::move(v);
  if (!route->auth) return authorized(*route, std::move(lastEventId));
  std::string token;
  if (auto it = req.find(http::field::authorization); it != req.end()) {
    const std::string_view v(it->value().data(), it->value().size());
    if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) token = std::string(v.substr(7));
  } else if (auto t = queryParam(query, "access_token")) {
    token = *t;
  }
  if (token.empty())
    return reject(401, "Unauthorized", "a bearer token is required (Authorization header or access_token)\n",
                  "WWW-Authenticate: Bearer\r\n");
  route->auth->check(token, [self = shared_from_this(), route, lastEventId](AuthVerdict v) {
    asio::post(self->socket_.get_executor(), [self, route, lastEventId, v] {
      if (self->closed_ || self->closing_) return;  // closing_: told to reconnect by the drain meanwhile
      if (v == AuthVerdict::Allowed) return self->authorized(*route, lastEventId);
      if (v == AuthVerdict::Refused) return self->reject(403, "Forbidden", "the token was refused\n");
      self->reject(503, "Service Unavailable", "the token could not be checked; retry\n", "Retry-After: 2\r\n");
    });
  });
}

void SseSession::authorized(const StreamRoute& route, std::optional<std::string> lastEventId) {
  begin(route, lastEventId);
}

bool SseSession::awaitPartitions(const StreamRoute& route, const std::optional<std::string>& lastEventId,
                                 const ResumeToken& token) {
  if (partitionWaits_ >= kPartitionWaits || context_.draining.load()) return false;
  const StreamLayoutPtr layout = route.hub->layout();
  if (std::all_of(token.next.begin(), token.next.end(), [&](const auto& e) { return layout->indexOf(e.first); }))
    return false;
  ++partitionWaits_;
  route.hub->wantPartitionCheck();
  deadline_.expires_after(kPartitionRetry);
  deadline_.async_wait([self = shared_from_this(), &route, lastEventId](error_code ec) {
    if (!ec && !self->closed_) self->begin(route, lastEventId);
  });
  return true;
}

void SseSession::begin(const StreamRoute& route, const std::optional<std::string>& lastEventId) {
  const StreamConfig& config = route.hub->config();
  std::optional<Result<ResumeToken>> token;
  if (lastEventId) {
    token = decodeResumeToken(*lastEventId, config.name, config.topics);
    if (*token && awaitPartitions(route, lastEventId, **token)) return;
  }
  hub_ = route.hub;
  control_.push_back(kStreamHeader);
  control_.push_back(retryHint(config.reconnectDelay));
  const bool newest = config.resumeFallback == ResumeFallback::Newest;
  bool started = true;
  if (!lastEventId) {
    cursor_ = hub_->live();
  } else if (!*token) {
    control_.push_back(notice(newest ? "newest" : "oldest", "Last-Event-ID not usable: " + token->error().message));
    if (newest)
      cursor_ = hub_->live();
    else
      started = resumeFrom(Position(hub_->layout()->size(), -1), false);
  } else {
    started = resumeFrom(hub_->layout()->position((*token)->next, -1), true);
  }
  if (!started) {
    control_.clear();
    return reject(503, "Service Unavailable", "too many clients are catching up; retry\n", "Retry-After: 2\r\n");
  }
  streaming_ = true;
  hub_->attach(shared_from_this());
  watchPeer();
  if (cursor_) {
    seq_.store(cursor_->seq);
    inRing_.store(true);
  }
  armHeartbeat();
  fill();
}

bool SseSession::resumeFrom(Position pos, bool announceExpiry) {
  if (auto c = hub_->resume(pos)) {
    cursor_ = std::move(*c);
    return true;
  }
  return context_.catchUps && context_.catchUps->start(*hub_, shared_from_this(), std::move(pos), announceExpiry);
}

void SseSession::reject(int status, const std::string& reason, const std::string& body, const std::string& extra) {
  closing_ = true;
  trailer_ = reply(status, reason, body, extra);
  deadline_.expires_after(kCutDeadline);
  deadline_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->terminate();
  });
  fill();
}

void SseSession::wake() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->fill(); });
}

void SseSession::cutForLag(uint64_t behind) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), behind] {
    self->cut("ew-overflow", "overflow", overflowMessage(self->hub_->config()), behind, kCutDeadline);
  });
}

void SseSession::drain(std::chrono::steady_clock::time_point deadline) {
  asio::post(socket_.get_executor(), [self = shared_from_this(), deadline] {
    if (self->closed_ || self->closing_) return;  // its last write is on its way, under its own deadline
    // Its request still being read: onRequest answers it (it sees the
    // drain) if it comes in kDrainRequestWait, as one on its way does.
    if (!self->route_)
      return self->closeUnlessReadBy(std::min(deadline, std::chrono::steady_clock::now() + kDrainRequestWait));
    if (!self->streaming_) return self->reconnectElsewhere();  // waiting for its token's check or its partitions
    self->cut("ew-reconnect", "drain", kDrainMessage, 0, deadline - std::chrono::steady_clock::now());
  });
}

void SseSession::reconnectElsewhere() {
  control_.push_back(kStreamHeader);
  control_.push_back(retryHint(route_->hub->config().reconnectDelay));
  cut("ew-reconnect", "drain", kDrainMessage, 0, kCutDeadline);  // its deadline also ends a wait for partitions
}

void SseSession::close() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->terminate(); });
}

void SseSession::cut(const char* event, const std::string& reason, const std::string& message, uint64_t behind,
                     std::chrono::steady_clock::duration deadline) {
  if (closed_ || closing_) return;
  startCut(event, reason, message, behind, deadline);
  fill();
}

void SseSession::startCut(const char* event, const std::string& reason, const std::string& message, uint64_t behind,
                          std::chrono::steady_clock::duration deadline) {
  closing_ = true;
  cursor_.reset();
  inRing_.store(false);
  gone_.store(true);  // ends a catch-up
  cuCv_.notify_all();
  if (hub_) {
    hub_->cut(reason, behind);
    spdlog::debug("stream {}: client cut off ({}, {} events behind)", hub_->config().name, reason, behind);
  }
  trailer_ = controlEvent(event, nlohmann::json{{"reason", reason}, {"message", message}}.dump());
  deadline_.expires_after(deadline);
  deadline_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->terminate();
  });
}

bool SseSession::push(std::string frame) {
  std::unique_lock l(cuMu_);
  const size_t bound = static_cast<size_t>(hub_->config().clientBuffer);
  cuCv_.wait(l, [&] { return gone_.load() || cuQueue_.size() < bound; });
  if (gone_.load()) return false;
  const bool wasEmpty = cuQueue_.empty();
  cuQueue_.push_back(std::move(frame));
  l.unlock();
  if (wasEmpty) wake();
  return true;
}

void SseSession::join(ClientCursor cursor) {
  {
    std::lock_guard l(cuMu_);
    pendingJoin_ = std::move(cursor);
  }
  wake();
}

void SseSession::fail(const std::string& reason) {
  spdlog::warn("stream {}: catch-up failed: {}", hub_->config().name, reason);
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->cut("ew-reconnect", "catch-up-failed", "the stream could not be read from this position now; reconnect", 0,
              kCutDeadline);
  });
}

void SseSession::fill() {
  if (writing_ || closed_) return;
  outText_.clear();
  outEvents_.clear();
  buffers_.clear();
  size_t events = 0;
  while (!control_.empty()) {
    outText_.push_back(std::move(control_.front()));
    control_.pop_front();
  }
  if (streaming_ && !closing_) {
    {
      std::lock_guard l(cuMu_);
      while (!cuQueue_.empty() && events < kMaxBatch) {
        outText_.push_back(std::move(cuQueue_.front()));
        cuQueue_.pop_front();
        ++events;
      }
      if (cuQueue_.empty() && pendingJoin_) {
        cursor_ = std::move(*pendingJoin_);
        pendingJoin_.reset();
        seq_.store(cursor_->seq);
        inRing_.store(true);
      }
    }
    cuCv_.notify_all();
    if (cursor_ && events < kMaxBatch) {
      const TakeOutcome outcome = hub_->take(*cursor_, kMaxBatch - events, outEvents_);
      seq_.store(cursor_->seq);
      if (outcome == TakeOutcome::Lost) {
        // A burst pushed the client's next events out of the ring (it is not
        // stuck, or the tick would have cut it): Kafka still has them.
        const uint64_t end = hub_->end(), behind = end > cursor_->seq ? end - cursor_->seq : 0;
        Position pos = std::move(cursor_->pos);
        cursor_.reset();
        inRing_.store(false);
        if (!context_.catchUps || !context_.catchUps->start(*hub_, shared_from_this(), std::move(pos), true))
          startCut("ew-overflow", "lost",
                   "events this client had not had left the replay window; reconnect with Last-Event-ID to resume",
                   behind, kCutDeadline);
      }
    }
  }
  if (closing_ && !trailer_.empty() && !finalWrite_) {
    outText_.push_back(std::move(trailer_));
    trailer_.clear();
    finalWrite_ = true;
  }
  for (const auto& t : outText_) buffers_.emplace_back(asio::buffer(t));
  for (const auto& e : outEvents_) {
    buffers_.emplace_back(asio::buffer(e.ownId.empty() ? e.event->idLine : e.ownId));
    buffers_.emplace_back(asio::buffer(e.event->body));
  }
  if (buffers_.empty()) {
    if (cursor_ && streaming_ && !closing_ && !hub_->park(shared_from_this(), cursor_->seq)) wake();
    return;
  }
  writing_ = true;
  wroteSinceBeat_ = true;
  eventsInFlight_ = events + outEvents_.size();
  asio::async_write(socket_, buffers_, [self = shared_from_this()](error_code ec, size_t) { self->onWrite(ec); });
}

void SseSession::onWrite(error_code ec) {
  writing_ = false;
  outEvents_.clear();
  if (ec) return terminate();
  if (hub_ && eventsInFlight_) hub_->sent(eventsInFlight_);
  eventsInFlight_ = 0;
  if (finalWrite_) {
    error_code ignored;
    socket_.shutdown(Socket::shutdown_send, ignored);
    return terminate();
  }
  fill();
}

void SseSession::armHeartbeat() {
  timer_.expires_after(hub_->config().heartbeatInterval);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || self->closed_) return;
    if (!self->wroteSinceBeat_ && !self->closing_) {
      self->control_.push_back(kHeartbeat);
      self->fill();
    }
    self->wroteSinceBeat_ = false;
    self->armHeartbeat();
  });
}

// A stream's client sends nothing after its request, so a read completes
// only when it leaves (EOF or reset): it stops counting at once, not when the
// next heartbeat or event fails to write. Bytes it does send are dropped.
void SseSession::watchPeer() {
  socket_.async_read_some(asio::buffer(peerBytes_), [self = shared_from_this()](error_code ec, size_t) {
    if (self->closed_) return;
    if (ec) return self->terminate();
    self->watchPeer();
  });
}

void SseSession::terminate() {
  if (closed_) return;
  closed_ = true;
  gone_.store(true);
  inRing_.store(false);
  cuCv_.notify_all();
  error_code ignored;
  socket_.close(ignored);
  timer_.cancel();
  deadline_.cancel();
  if (hub_ && streaming_) hub_->detach(this);
  std::lock_guard l(context_.mu);
  context_.registry.erase(this);
}

}  // namespace ew::runtime
