#pragma once
// When to wake librdkafka's fetcher. librdkafka before 2.3 (Debian bookworm
// ships 2.0.2) stops fetching for a partition while the consumer queue holds
// queued.min.messages records, and looks at the queue again only when its
// broker thread next wakes up: about once a second when no request is in
// flight (2.3 made that interval tunable, fetch.queue.backoff.ms). A consumer
// that is slower than its fetcher fills the queue, drains it in a fraction of
// that second and then waits out the rest (librdkafka issue #2879).
//
// Any request to a broker wakes its thread, which then decides again at once.
// FetchStallGuard is fed the queue length after each poll and says when to
// send one: the queue held at least half the threshold (fetching may have
// stopped) and has drained below a quarter of it since. A consumer that keeps
// up never gets near the threshold and never asks. Pure, not thread-safe.

#include <cstddef>

namespace ew::runtime {

class FetchStallGuard {
 public:
  // THRESHOLD: librdkafka's queued.min.messages.
  explicit FetchStallGuard(size_t threshold)
      : high_(threshold / 2 ? threshold / 2 : 1), low_(threshold / 4 ? threshold / 4 : 1) {}

  // QUEUED: records in the consumer queue now. True: wake the fetcher.
  bool observe(size_t queued) {
    if (queued >= high_) {
      armed_ = true;
      return false;
    }
    if (armed_ && queued < low_) {
      armed_ = false;
      return true;
    }
    return false;
  }

 private:
  size_t high_;
  size_t low_;
  bool armed_ = false;
};

}  // namespace ew::runtime
