// One event through the handler: envelope, idempotency claim, the call and
// its verdict, and dead letters (loops/dispatcher.h).
#include <spdlog/spdlog.h>

#include "loops/dispatch_work.h"

namespace ew::runtime {

Dispatcher::Verdict Dispatcher::process(Sub& s, Work& w) {
  if (w.pendingDeadLetter) return deadLetter(s, w, *w.pendingDeadLetter, w.lastError);
  if (!w.malformed.empty()) return deadLetter(s, w, DeadLetterReason::Malformed, w.malformed);
  HandlerRequest req;
  req.route = s.config.route;
  if (deps_.handler->needsBody() || s.config.requireCloudEvent || s.store) {
    auto env = buildEnvelope(w.message, s.envelope);
    if (!env) return deadLetter(s, w, DeadLetterReason::Malformed, env.error().message);
    req.eventId = std::move(env->id);
    req.body = std::move(env->body);
  } else if (static_cast<int64_t>(w.message.value.size()) > s.config.maxEventBytes) {
    return deadLetter(s, w, DeadLetterReason::Malformed,
                      "oversized: " + std::to_string(w.message.value.size()) + " bytes > maxEventBytes " +
                          std::to_string(s.config.maxEventBytes));
  }
  if (s.store) {
    // Store down: handle the event anyway (at-least-once; a duplicate is
    // possible, a loss is not), count it and log it at most every 30 s.
    auto claim = s.store->claim(req.eventId, recordId(w.message));
    if (!claim) {
      storeFailed(s, "claim", claim.error());
    } else if (*claim == Claim::Duplicate) {
      s.duplicate->inc();
      w.outcome = DeliveryOutcome::Duplicate;
      return Verdict::Done;
    } else if (*claim == Claim::Busy) {
      // Another runtime is handling it: ask again later (not an attempt).
      w.delayOverride = std::max(s.config.retry.initialBackoff, Millis(100));
      return Verdict::Retry;
    }
  }
  for (const auto& [k, v] : w.message.headers)
    if (k == "traceparent" || k == "tracestate") req.headers.emplace_back(k, v);

  ++w.attempts;
  const auto start = deps_.time->now();
  const HandlerResult r = deps_.handler->handle(req);
  w.call = deps_.time->now() - start;
  s.duration->observe(std::chrono::duration<double>(w.call).count());
  switch (r.outcome) {
    case Outcome::Done:
      if (s.store)
        if (auto st = s.store->done(req.eventId); !st) storeFailed(s, "done", st.error());
      s.done->inc();
      return Verdict::Done;
    case Outcome::Retry:
      s.errors->inc();
      w.lastError = r.detail;
      if (s.retry.shouldRetry(w.attempts)) {
        s.retries->inc();
        return Verdict::Retry;
      }
      if (s.store)
        if (auto st = s.store->release(req.eventId, recordId(w.message)); !st) storeFailed(s, "release", st.error());
      return deadLetter(s, w, DeadLetterReason::Exhausted, r.detail);
    case Outcome::Reject:
      s.errors->inc();
      if (s.store)
        if (auto st = s.store->release(req.eventId, recordId(w.message)); !st) storeFailed(s, "release", st.error());
      return deadLetter(s, w, DeadLetterReason::Rejected, r.detail);
  }
  return Verdict::Done;
}

void Dispatcher::storeFailed(Sub& s, const char* operation, const Error& error) {
  s.errors->inc();
  s.storeErrors->inc();
  std::lock_guard g(s.storeLogMu);
  if (auto left = s.storeLog.admit(deps_.time->now()))
    spdlog::warn("dispatch: {}: idempotency store {} failed, events are handled without de-duplication{}: {}",
                 s.config.name, operation,
                 *left ? " (" + std::to_string(*left) + " more failures since the last report)" : std::string(),
                 error.message);
}

Dispatcher::Verdict Dispatcher::deadLetter(Sub& s, Work& w, DeadLetterReason reason, const std::string& error) {
  const auto& m = w.message;
  if (w.onDone) {
    // The sender dead-letters it (Dapr: the DROP reply; daprd publishes it to
    // the subscription's dead-letter topic, or drops it when there is none).
    spdlog::warn("dispatch: {} delivery {}[{}]@{} given up after {} attempt(s) ({}): {}", s.config.name, m.tp.topic,
                 m.tp.partition, m.offset, w.attempts, toString(reason), error);
    s.deadLetterCounter(reason)->inc();
    s.deadLettered->inc();
    w.outcome = DeliveryOutcome::GivenUp;
    return Verdict::Done;
  }
  if (s.config.deadLetterTopic.empty() || !deps_.deadLetters) {
    spdlog::warn("dispatch: {} {}[{}]@{} given up ({}): {} (no deadLetterTopic: committed)", s.config.name, m.tp.topic,
                 m.tp.partition, m.offset, toString(reason), error);
    s.deadLetterCounter(reason)->inc();
    s.deadLettered->inc();
    return Verdict::Done;
  }
  const Headers h = deadLetterHeaders(m, w.attempts, reason, error, config_.worker, s.config.name);
  if (auto st = deps_.deadLetters->send(s.config.deadLetterTopic, m, h); !st) {
    spdlog::warn("dispatch: dead letter for {}[{}]@{} failed, will retry: {}", m.tp.topic, m.tp.partition, m.offset,
                 st.error().message);
    if (stopping_.load()) return Verdict::Abandon;
    w.pendingDeadLetter = reason;
    w.lastError = error;
    w.delayOverride = Millis(1000);
    return Verdict::Retry;
  }
  spdlog::info("dispatch: {}[{}]@{} dead-lettered to {} ({}): {}", m.tp.topic, m.tp.partition, m.offset,
               s.config.deadLetterTopic, toString(reason), error);
  s.deadLetterCounter(reason)->inc();
  s.deadLettered->inc();
  return Verdict::Done;
}

}  // namespace ew::runtime
