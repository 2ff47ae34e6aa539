#include "core/duration.h"

#include <cctype>
#include <limits>

namespace ew::runtime {

Result<Millis> parseDuration(const std::string& text, const std::string& field) {
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  const std::string digits = text.substr(0, i), unit = text.substr(i);
  auto bad = [&](const std::string& why) {
    return Error{field + ": invalid duration \"" + text + "\": " + why};
  };
  if (digits.empty()) return bad("expected <number><unit>, e.g. 30s");
  if (digits.size() > 12) return bad("too large");
  const int64_t n = std::stoll(digits);
  if (unit == "ms") return Millis(n);
  if (unit == "s") return Millis(n * 1000);
  if (unit == "m") return Millis(n * 60'000);
  if (unit == "h") return Millis(n * 3'600'000);
  return bad("unit must be one of ms, s, m, h");
}

std::string formatDuration(Millis d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace ew::runtime
