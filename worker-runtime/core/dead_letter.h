#pragma once
// Headers of a dead-lettered record: where it came from and why it failed.
// The original key, value and headers are kept; these are appended. Pure.

#include <string>

#include "core/message.h"

namespace ew::runtime {

enum class DeadLetterReason { Malformed, Exhausted, Rejected };

const char* toString(DeadLetterReason r);

inline constexpr size_t kMaxErrorHeaderBytes = 1024;

// ORIGINAL's headers followed by ew-origin-topic, ew-origin-partition,
// ew-origin-offset, ew-attempts, ew-reason, ew-error (truncated to
// kMaxErrorHeaderBytes), ew-worker and ew-subscription.
Headers deadLetterHeaders(const Message& original, int attempts, DeadLetterReason reason, const std::string& error,
                          const std::string& worker, const std::string& subscription);

}  // namespace ew::runtime

#include "ew/result.h"

namespace ew::runtime {

// Where dead letters go. Thread-safety: send() is called concurrently.
class DeadLetterSink {
 public:
  virtual ~DeadLetterSink() = default;
  // Produces ORIGINAL's key and value with HEADERS to TOPIC; returns only once
  // the broker acknowledged it (or it failed).
  virtual Status send(const std::string& topic, const Message& original, const Headers& headers) = 0;
};

}  // namespace ew::runtime
