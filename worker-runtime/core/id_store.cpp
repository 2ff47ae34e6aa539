#include "core/id_store.h"

namespace ew::runtime {

MemoryIdStore::MemoryIdStore(size_t capacity, Millis ttl, std::function<SeenIds::TimePoint()> now)
    : now_(std::move(now)), seen_(capacity, ttl) {}

Result<Claim> MemoryIdStore::claim(const std::string& id, const std::string&) {
  std::lock_guard l(mu_);
  return seen_.contains(id, now_()) ? Claim::Duplicate : Claim::Claimed;
}

Status MemoryIdStore::done(const std::string& id) {
  std::lock_guard l(mu_);
  seen_.remember(id, now_());
  return {};
}

}  // namespace ew::runtime
