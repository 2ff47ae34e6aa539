#include "cron/duration.h"

#include <charconv>
#include <cstdint>
#include <string>

namespace ew::cron {

Result<std::chrono::milliseconds> parseDuration(std::string_view text) {
  const Error bad{"\"" + std::string(text) +
                  "\" is not a duration (expected e.g. 250ms, 30s, 5m, 1h30m)"};
  if (text.empty()) return bad;
  constexpr int64_t kMaxMs = int64_t{100} * 365 * 24 * 3600 * 1000;  // 100 years
  int64_t totalMs = 0;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  while (p != end) {
    int64_t n = 0;
    auto [next, ec] = std::from_chars(p, end, n);
    if (ec != std::errc() || next == p || n < 0) return bad;
    p = next;
    int64_t unitMs = 0;
    const std::string_view rest(p, static_cast<size_t>(end - p));
    if (rest.starts_with("ms")) {
      unitMs = 1;
      p += 2;
    } else if (rest.starts_with("s")) {
      unitMs = 1000;
      p += 1;
    } else if (rest.starts_with("m")) {
      unitMs = 60 * 1000;
      p += 1;
    } else if (rest.starts_with("h")) {
      unitMs = 3600 * 1000;
      p += 1;
    } else {
      return bad;
    }
    if (n > kMaxMs / unitMs) return bad;
    totalMs += n * unitMs;
    if (totalMs > kMaxMs) return bad;
  }
  return std::chrono::milliseconds(totalMs);
}

}  // namespace ew::cron
