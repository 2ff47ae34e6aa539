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
