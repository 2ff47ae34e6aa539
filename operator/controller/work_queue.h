#pragma once
// A rate-limited work queue of object keys, shaped after client-go's
// workqueue: a key added while queued is stored once; a key being processed is
// never handed to a second worker — re-adds during processing are replayed
// when done() is called; failures are retried with per-key exponential backoff
// (base .. cap) and an overall token bucket; delayed adds wait until their time.
//
// Thread-safe. Time comes from the injected TimeSource so tests need no sleeps.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "ew/time_source.h"

namespace ew::controller {

struct BackoffPolicy {
  std::chrono::milliseconds base{5};
  std::chrono::milliseconds cap{1000 * 1000};  // 1000 s
  // And all keys together: at most retriesPerSecond retries a second, in
  // bursts of retryBurst (client-go's default controller limiter: 10, 100).
  // Without it, every key of a fleet retries within milliseconds when the
  // API server goes away, and each retry costs a new TLS connection.
  double retriesPerSecond = 10;
  double retryBurst = 100;
};

// Pure: the delay before retry number `failures` (1-based): base * 2^(failures-1), capped.
std::chrono::milliseconds backoffDelay(const BackoffPolicy& policy, int failures);

class WorkQueue {
 public:
  using TimePoint = MonoTime;

  explicit WorkQueue(const TimeSource& clock, BackoffPolicy policy = {});

  // Queues key now (no-op when already queued).
  void add(const std::string& key);
  // Queues key at now + delay (an earlier pending time wins).
  void addAfter(const std::string& key, std::chrono::milliseconds delay);
  // Drops key's pending delayed add, if any (a later reconcile asked for none).
  void cancelDelayed(const std::string& key);
  // Queues key after its per-key backoff; counts a failure for the key.
  void addRateLimited(const std::string& key);
  // Clears key's failure count (call after a successful reconcile).
  void forget(const std::string& key);
  int failures(const std::string& key) const;

  // Non-blocking: a key that is ready at now() and not being processed, or
  // nullopt. The caller must call done(key) when finished.
  std::optional<std::string> tryGet();
  // Blocking: waits (on the real clock, up to maxWait) for a ready key, or
  // nullopt on timeout or after shutDown().
  std::optional<std::string> get(std::chrono::milliseconds maxWait);
  // Marks key finished; if it was re-added meanwhile it becomes ready again.
  void done(const std::string& key);

  // Wakes all get() callers; afterwards get() returns nullopt.
  void shutDown();
  bool shuttingDown() const;

  size_t depth() const;  // keys ready or waiting, not counting in-flight ones
  // Time of the earliest delayed key, if any (for a driver that sleeps).
  std::optional<TimePoint> nextDelayed() const;

 private:
  void promoteDueLocked();
  void enqueueLocked(const std::string& key);

  const TimeSource& clock_;
  BackoffPolicy policy_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> ready_;
  std::set<std::string> queued_;              // in ready_ (dedupe)
  std::set<std::string> processing_;          // handed out, not yet done()
  std::set<std::string> dirty_;               // re-added while processing
  std::map<std::string, TimePoint> waiting_;  // delayed adds: key -> due time
  std::map<std::string, int> failures_;
  // The retry bucket (BackoffPolicy::retriesPerSecond): tokens may go
  // negative, a debt later retries wait out (golang.org/x/time/rate's Reserve).
  double tokens_;
  TimePoint tokensAt_;
  std::chrono::milliseconds reserveRetryLocked();
  bool shutDown_ = false;
};

}  // namespace ew::controller
