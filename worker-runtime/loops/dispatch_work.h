#pragma once
// The dispatcher's private records (loops/dispatcher.h): an admitted event
// (Work) and a subscription's queues, budget and metrics (Sub). Shared by
// dispatcher.cpp (admission, lanes, workers, revocation) and
// dispatch_event.cpp (one event through envelope, idempotency, the handler
// and dead letters). Not for other includers.

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/admission_budget.h"
#include "core/cloud_event.h"
#include "core/log_throttle.h"
#include "loops/dispatcher.h"

namespace ew::runtime {

struct Dispatcher::Work {
  Message message;
  std::chrono::nanoseconds call{0};  // of the handler call made by process(), until observed; 0: none
  size_t bytes = 0;                  // sizeOf(message), counted against kAdmitBytes
  LaneKey lane;
  uint64_t generation = 0;
  int attempts = 0;                                   // handler calls so far
  std::optional<DeadLetterReason> pendingDeadLetter;  // set while the dead letter itself is being retried
  std::string lastError;
  std::optional<Millis> delayOverride;
  // Deliveries only (Dispatcher::deliver): not offset-tracked.
  std::function<void(DeliveryOutcome)> onDone;
  std::string malformed;
  DeliveryOutcome outcome = DeliveryOutcome::Handled;  // when it finishes done
};

struct Dispatcher::Sub {
  // Registers the subscription's metrics in M.
  Sub(const SubscriptionConfig& c, const Handler& handler, Millis gracePeriod, const std::string& worker,
      const std::string& source, Uniform01 random, MetricsRegistry& m);

  Counter* deadLetterCounter(DeadLetterReason r) {
    return r == DeadLetterReason::Malformed ? malformed : r == DeadLetterReason::Exhausted ? exhausted : rejected;
  }

  SubscriptionConfig config;
  AdmissionBudget admission;                          // guarded by Dispatcher::mu_
  KeyLanes<WorkPtr> lanes;                            // guarded by Dispatcher::mu_
  size_t admittedBytes = 0;                           // of the works admitted to lanes; guarded by mu_
  std::deque<WorkPtr> ready;                          // runnable now; guarded by mu_
  std::multimap<Clock::time_point, WorkPtr> delayed;  // backing off; guarded by mu_
  std::condition_variable wake;
  size_t sleeping = 0;  // workers waiting on wake; guarded by mu_
  size_t waking = 0;    // notifications sent and not yet consumed; guarded by mu_
  RetrySchedule retry;  // called under mu_
  EnvelopeOptions envelope;
  IdStorePtr store;  // null: no idempotency
  std::mutex storeLogMu;
  LogThrottle storeLog{Millis(30'000)};  // guarded by storeLogMu
  Counter *done, *duplicate, *deadLettered, *errors, *storeErrors, *retries, *malformed, *exhausted, *rejected;
  Histogram* duration;
  Gauge* queue;
};

}  // namespace ew::runtime
