#pragma once
// Idempotency stores (a subscription's `idempotency`): the dispatcher claims an
// event id before handling it, and records it as done afterwards or releases
// it when the event is given up. MemoryIdStore (per process) wraps SeenIds;
// RedisIdStore (clients/redis_id_store.h) shares ids between runtimes.

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/seen_ids.h"
#include "ew/duration.h"
#include "ew/result.h"

namespace ew::runtime {

enum class Claim {
  Claimed,    // nobody handled it yet, or HOLDER's own earlier attempt did not finish: handle it
  Duplicate,  // done before, within the ttl: skip it
  Busy,       // another holder is handling it right now: ask again later
};

// HOLDER names the delivery that claims an id (the record's topic, partition
// and offset), so that a retry of the same record is not taken for a copy.
// Thread-safety: every method may be called from many threads at once.
class IdStore {
 public:
  virtual ~IdStore() = default;
  // An Error means the store could not answer; the caller decides the policy.
  virtual Result<Claim> claim(const std::string& id, const std::string& holder) = 0;
  // ID was handled: later claims of it are Duplicate for the ttl.
  virtual Status done(const std::string& id) = 0;
  // HOLDER gives ID up (dead-lettered): a later copy may be handled.
  virtual Status release(const std::string& id, const std::string& holder) = 0;
};
using IdStorePtr = std::shared_ptr<IdStore>;

// SeenIds behind a mutex. Never Busy: within one process the same id on two
// lanes may run at once (as with no store). NOW is the clock.
class MemoryIdStore : public IdStore {
 public:
  MemoryIdStore(size_t capacity, Millis ttl, std::function<SeenIds::TimePoint()> now);
  Result<Claim> claim(const std::string& id, const std::string& holder) override;
  Status done(const std::string& id) override;
  Status release(const std::string&, const std::string&) override { return {}; }

 private:
  std::function<SeenIds::TimePoint()> now_;
  std::mutex mu_;
  SeenIds seen_;  // guarded by mu_
};

}  // namespace ew::runtime
