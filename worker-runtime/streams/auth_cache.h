#pragma once
// The verdicts of a stream's bearer-token check, reused for a short TTL so
// that a reconnect storm does not become a storm of calls to the API
// service. Only definite verdicts (allowed, refused) are kept; a failed call
// is not. Bounded: past MAX_ENTRIES the expired entries go, then the oldest.
// Pure (time comes from the caller); not thread-safe.

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>

#include "ew/time_source.h"

namespace ew::runtime {

enum class AuthVerdict { Allowed, Refused, Unavailable };

class AuthCache {
 public:
  AuthCache(std::chrono::milliseconds ttl, size_t maxEntries) : ttl_(ttl), maxEntries_(maxEntries) {}
  std::optional<AuthVerdict> find(const std::string& token, MonoTime now) const;
  // Keeps Allowed and Refused until NOW + ttl; ignores Unavailable.
  void put(const std::string& token, AuthVerdict verdict, MonoTime now);
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    AuthVerdict verdict;
    MonoTime expires;
  };
  std::chrono::milliseconds ttl_;
  size_t maxEntries_;
  std::unordered_map<std::string, Entry> entries_;
  std::multimap<MonoTime, std::string> byExpiry_;
};

}  // namespace ew::runtime
