#pragma once
// Keeps a Store in sync with one resource type (reflector/watcher shape):
// list, then watch from the list's resourceVersion with bookmarks; resume from
// the last seen resourceVersion after a disconnect; relist on 410 Gone;
// exponential backoff with jitter between failed attempts. Every object key
// that may have changed is passed to onChange (also after a relist).
//
// run() blocks until stop(); stop() is safe from any thread. onChange runs on
// the run() thread and must not block for long.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>

#include "kube/api.h"
#include "kube/store.h"

namespace ew::kube {

struct WatcherOptions {
  std::string ns;  // "" = all namespaces
  std::string labelSelector;
  int timeoutSeconds = 290;  // server-side end of each watch request
  std::chrono::milliseconds backoffBase{200};
  std::chrono::milliseconds backoffCap{30000};
  // Start by watching from this resourceVersion without listing first, as
  // after a disconnect (for tests of the resume and 410 paths).
  std::string resumeFrom;
};

struct WatcherStats {
  uint64_t lists = 0;          // full lists (initial + after 410)
  uint64_t goneRelists = 0;    // 410 Gone → relist
  uint64_t watchRestarts = 0;  // watch requests after the first
  uint64_t failures = 0;       // transport or API errors (each followed by backoff)
  uint64_t events = 0;         // ADDED/MODIFIED/DELETED applied
};

// Pure: min(cap, base * 2^attempt) scaled by a jitter factor in [0.5, 1.0)
// drawn from random01 in [0, 1).
std::chrono::milliseconds jitteredBackoff(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                          double random01);

class Watcher {
 public:
  using OnChange = std::function<void(const std::string& key)>;

  Watcher(Api& api, ResourceType type, WatcherOptions options, Store& store, OnChange onChange,
          std::function<double()> random01);

  void run();
  void stop();
  bool synced() const { return synced_.load(); }
  WatcherStats stats() const;
  const std::string& name() const { return type_.resource; }

 private:
  bool list(std::string& resourceVersion);
  // Returns true when the watch ended with 410 Gone.
  bool watchOnce(std::string& resourceVersion, bool& failed);
  void backoff(int attempt);

  Api& api_;
  ResourceType type_;
  WatcherOptions options_;
  Store& store_;
  OnChange onChange_;
  std::function<double()> random01_;
  std::atomic<bool> stopped_{false};
  std::atomic<bool> synced_{false};
  StreamCancel cancel_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  WatcherStats stats_;
};

}  // namespace ew::kube
