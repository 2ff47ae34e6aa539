#pragma once
// Durations in the runtime config: "<number><unit>" with unit ms, s, m or h
// ("250ms", "30s", "5m", "2h"). Pure.

#include <chrono>
#include <string>

#include "ew/result.h"

namespace ew::runtime {

using Millis = std::chrono::milliseconds;

// Parses TEXT; the error names FIELD (e.g. "subscriptions[0].retry.maxBackoff").
Result<Millis> parseDuration(const std::string& text, const std::string& field);

// Formats D in the largest unit that represents it exactly ("1500ms", "30s").
std::string formatDuration(Millis d);

}  // namespace ew::runtime
