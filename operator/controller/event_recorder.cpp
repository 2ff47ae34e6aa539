#include "controller/event_recorder.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

namespace ew::controller {

EventRecorder::EventRecorder(kube::Api& api, std::string component, size_t maxQueued)
    : api_(api), component_(std::move(component)), maxQueued_(maxQueued), sender_([this] { sendLoop(); }) {}

EventRecorder::~EventRecorder() {
  flush(std::chrono::seconds(5));
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  sender_.join();
}

void EventRecorder::record(const kube::Json& involved, const std::string& type, const std::string& reason,
                           const std::string& message, const std::string& now) {
  const auto& meta = involved.at("metadata");
  const std::string ns = meta.value("namespace", "default");
  char suffix[40];
  std::snprintf(suffix, sizeof suffix, ".%x%llx", static_cast<unsigned>(::getpid()),
                static_cast<unsigned long long>(++seq_));
  kube::Json event = {{"apiVersion", "v1"},
                      {"kind", "Event"},
                      {"metadata", {{"name", meta.value("name", "object") + suffix}, {"namespace", ns}}},
                      {"involvedObject",
                       {{"apiVersion", involved.value("apiVersion", "")},
                        {"kind", involved.value("kind", "")},
                        {"name", meta.value("name", "")},
                        {"namespace", ns},
                        {"uid", meta.value("uid", "")},
                        {"resourceVersion", meta.value("resourceVersion", "")}}},
                      {"reason", reason},
                      {"message", message.substr(0, 1024)},
                      {"type", type},
                      {"source", {{"component", component_}}},
                      {"reportingComponent", component_},
                      {"firstTimestamp", now},
                      {"lastTimestamp", now},
                      {"count", 1}};
  // Invalid UTF-8 (a message cut inside a character) becomes U+FFFD, where
  // the client's dump would throw on the sender thread.
  std::string text = event.dump(-1, ' ', false, kube::Json::error_handler_t::replace);
  text.shrink_to_fit();  // dump() grows its buffer by doubling
  {
    std::lock_guard l(mu_);
    if (queue_.size() >= maxQueued_) {
      if (dropped_.fetch_add(1) % 100 == 0)
        spdlog::warn("events: queue full ({} waiting); dropping Event {} about {}/{}", queue_.size(), reason, ns,
                     meta.value("name", ""));
      return;
    }
    queue_.emplace_back(ns, std::move(text));
  }
  cv_.notify_one();
}

bool EventRecorder::flush(std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  return idleCv_.wait_for(l, timeout, [this] { return queue_.empty() && !sending_; });
}

void EventRecorder::sendLoop() {
  std::unique_lock l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, nothing left
    auto [ns, text] = std::move(queue_.front());
    queue_.pop_front();
    sending_ = true;
    l.unlock();
    const kube::Json event = kube::Json::parse(text);
    // Best effort: an Event is a hint for kubectl describe, not retried.
    if (auto r = api_.create(kube::resources::kEvent, ns, event); !r && failed_.fetch_add(1) % 100 == 0)
      spdlog::warn("events: cannot record Event {} about {}/{}: {}", event.value("reason", ""), ns,
                   event["involvedObject"].value("name", ""), r.error().message);
    l.lock();
    sending_ = false;
    if (queue_.empty()) idleCv_.notify_all();
  }
}

}  // namespace ew::controller
