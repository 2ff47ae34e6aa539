#pragma once
// In-memory idempotency store: event ids that were done, bounded by CAPACITY
// (least recently used evicted first) and by TTL. Pure: the caller passes the
// current time. Not thread-safe.

#include <chrono>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

namespace ew::runtime {

class SeenIds {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  SeenIds(size_t capacity, std::chrono::milliseconds ttl) : capacity_(capacity), ttl_(ttl) {}

  // True when ID was remembered less than ttl ago (and refreshes its recency).
  bool contains(const std::string& id, TimePoint now);
  // Remembers ID as done at NOW.
  void remember(const std::string& id, TimePoint now);
  size_t size() const { return index_.size(); }

 private:
  struct Entry {
    std::string id;
    TimePoint at;
  };
  size_t capacity_;
  std::chrono::milliseconds ttl_;
  std::list<Entry> order_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace ew::runtime
