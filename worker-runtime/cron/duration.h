#pragma once
// Durations as written in the runtime config and in "@every": one or more
// <integer><unit> terms, unit ms|s|m|h ("250ms", "90s", "1h30m"). Pure.

#include <chrono>
#include <string_view>

#include "ew/result.h"

namespace ew::cron {

// Errors name the text: "\"5x\" is not a duration (expected e.g. 250ms, 30s, 5m, 1h30m)".
Result<std::chrono::milliseconds> parseDuration(std::string_view text);

}  // namespace ew::cron
