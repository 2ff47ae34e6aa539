#pragma once
// Durations in the runtime config and the EventWorker resource: one or more
// "<number><unit>" terms with unit ms, s, m or h ("250ms", "30s", "5m",
// "1h30m"; the same spelling Go's time.ParseDuration and CEL's duration()
// accept for these units). Pure.

#include <chrono>
#include <string>

#include "ew/result.h"

namespace ew {

using Millis = std::chrono::milliseconds;

// Parses TEXT; the error names FIELD (e.g. "subscriptions[0].retry.maxBackoff").
Result<Millis> parseDuration(const std::string& text, const std::string& field);

// Formats D in the largest unit that represents it exactly ("1500ms", "30s").
std::string formatDuration(Millis d);

}  // namespace ew
