#include "streams/auth_cache.h"

namespace ew::runtime {

std::optional<AuthVerdict> AuthCache::find(const std::string& token, MonoTime now) const {
  auto it = entries_.find(token);
  if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
  return it->second.verdict;
}

void AuthCache::put(const std::string& token, AuthVerdict verdict, MonoTime now) {
  if (verdict == AuthVerdict::Unavailable || ttl_.count() <= 0) return;
  const MonoTime expires = now + ttl_;
  if (auto it = entries_.find(token); it != entries_.end()) {
    it->second = {verdict, expires};
  } else {
    // Entries leave in expiry order: the expired first, then (when still
    // full) the ones that would expire soonest, which are the oldest.
    while (!byExpiry_.empty() && (entries_.size() >= maxEntries_ || byExpiry_.begin()->first <= now)) {
      auto oldest = byExpiry_.begin();
      if (auto e = entries_.find(oldest->second); e != entries_.end() && e->second.expires == oldest->first)
        entries_.erase(e);
      byExpiry_.erase(oldest);
    }
    entries_.emplace(token, Entry{verdict, expires});
  }
  byExpiry_.emplace(expires, token);
}

}  // namespace ew::runtime
