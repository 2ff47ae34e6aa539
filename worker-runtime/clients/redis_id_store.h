#pragma once
// The Redis idempotency store (`idempotency.kind: redis`), shared by every
// runtime that uses the same Redis, worker and subscription.
//
// An id is claimed with `SET <prefix><id> pending:<token>/<holder> NX PX
// <lease>`; the
// claim is turned into `SET <prefix><id> done EX <ttl>` once the handler is
// done, and deleted (if still ours) when the event is given up. So an id that
// is done, or being handled by another runtime, is never handled twice, while
// a runtime that dies mid-call holds its ids only until the lease ends (then
// the redelivered event is handled: at-least-once, never dropped).
// claim() answers: key absent → Claimed; "done" → Duplicate; this holder's
// own claim (a retry, or a restart of the same member) → Claimed with the
// lease renewed; anything else → Busy.
//
// Connections: a pool of at most maxConnections, each used by one thread at a
// time, opened lazily; one that fails is closed and reopened on demand. After
// a connection failure the store answers Errors without dialling for
// `backoff` so a Redis outage costs no time per event. Thread-safe.

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/id_store.h"
#include "ew/duration.h"
#include "ew/time_source.h"

struct redisContext;

namespace ew::runtime {

struct RedisIdStoreOptions {
  std::string address;    // host:port (validated by the config parser)
  std::string keyPrefix;  // see redisKeyPrefix()
  Millis ttl{24 * 3'600'000};
  Millis lease{35'000};  // how long a claim outlives a runtime that died while handling
  Millis timeout{1000};  // connect and per-command timeout
  Millis backoff{1000};  // after a connection failure, no dialling for this long
  size_t maxConnections = 16;
  // Names this group member stably across restarts, e.g. "<hostname>/<group>",
  // so a restarted member takes its own claims back at once.
  std::string token;
};

// "ew:idem:<namespace>/<worker>/<subscription>:": ids of different workers or
// subscriptions never collide.
std::string redisKeyPrefix(const std::string& ns, const std::string& worker, const std::string& subscription);

class RedisIdStore : public IdStore {
 public:
  // TIME times the back-off after a connection failure; it must outlive the store.
  explicit RedisIdStore(RedisIdStoreOptions options, const TimeSource& time = systemTime());
  ~RedisIdStore() override;

  Result<Claim> claim(const std::string& id, const std::string& holder) override;
  Status done(const std::string& id) override;
  Status release(const std::string& id, const std::string& holder) override;

 private:
  class Lease;  // a pooled connection, returned on destruction
  Result<redisContext*> acquire();
  void giveBack(redisContext* c, bool healthy);
  Error failed(const std::string& what, redisContext* c);

  const RedisIdStoreOptions options_;
  const TimeSource& time_;
  const std::string claimPrefix_;  // "pending:<token>/"
  std::string host_;
  int port_ = 0;
  std::mutex mu_;
  std::vector<redisContext*> idle_;  // guarded by mu_
  MonoTime downUntil_{};             // guarded by mu_
  std::string lastFailure_;          // guarded by mu_
};

}  // namespace ew::runtime
