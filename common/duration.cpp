#include "ew/duration.h"

#include <cctype>

namespace ew {

Result<Millis> parseDuration(const std::string& text, const std::string& field) {
  auto bad = [&](const std::string& why) { return Error{field + ": invalid duration \"" + text + "\": " + why}; };
  if (text.empty()) return bad("expected <number><unit>, e.g. 30s or 1h30m");
  constexpr int64_t kMax = int64_t(1) << 50;  // ~35,000 years in ms: no overflow below
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    const size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start) return bad("expected <number><unit>, e.g. 30s or 1h30m");
    if (i - start > 12) return bad("too large");
    const int64_t n = std::stoll(text.substr(start, i - start));
    int64_t unitMs = 0;
    if (text.compare(i, 2, "ms") == 0) {
      unitMs = 1;
      i += 2;
    } else if (i < text.size() && text[i] == 's') {
      unitMs = 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unitMs = 60'000;
      ++i;
    } else if (i < text.size() && text[i] == 'h') {
      unitMs = 3'600'000;
      ++i;
    } else
      return bad("unit must be one of ms, s, m, h");
    total += n * unitMs;
    if (total > kMax) return bad("too large");
  }
  return Millis(total);
}

std::string formatDuration(Millis d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace ew
