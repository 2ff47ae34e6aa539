#include "clients/memory_app_server.h"

namespace ew::runtime {

std::optional<HttpServerReply> MemoryAppServer::Reply::wait(std::chrono::milliseconds within) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, within, [&] { return reply_.has_value(); });
  return reply_;
}

std::optional<HttpServerReply> MemoryAppServer::Reply::now() {
  std::lock_guard l(mu_);
  return reply_;
}

AppServerFactory MemoryAppServer::factory(MemoryAppServer** made) {
  return [made](HttpServerOptions, HttpServerHandler handler) -> AppServerPtr {
    auto s = std::make_unique<MemoryAppServer>(std::move(handler));
    *made = s.get();
    return s;
  };
}

Status MemoryAppServer::start() {
  std::lock_guard l(state_->mu);
  state_->started = state_->accepting = true;
  return {};
}

void MemoryAppServer::stopAccepting() {
  std::lock_guard l(state_->mu);
  state_->accepting = false;
}

size_t MemoryAppServer::pending() const {
  std::lock_guard l(state_->mu);
  return state_->pending;
}

void MemoryAppServer::stop() {
  std::lock_guard l(state_->mu);
  state_->accepting = false;
  state_->stopped = true;
}

bool MemoryAppServer::accepting() const {
  std::lock_guard l(state_->mu);
  return state_->accepting;
}

MemoryAppServer::ReplyPtr MemoryAppServer::send(HttpServerRequest request) {
  auto reply = std::make_shared<Reply>();
  {
    std::lock_guard l(state_->mu);
    if (!state_->started || state_->stopped) {
      reply->reply_ = HttpServerReply{0, "", "", true};  // refused
      return reply;
    }
    ++state_->pending;
  }
  handler_(std::move(request), [state = state_, reply](HttpServerReply r) {
    {
      std::lock_guard l(state->mu);
      if (state->stopped) return;  // the connection is gone
      --state->pending;
    }
    std::lock_guard l(reply->mu_);
    reply->reply_ = std::move(r);
    reply->cv_.notify_all();
  });
  return reply;
}

}  // namespace ew::runtime
