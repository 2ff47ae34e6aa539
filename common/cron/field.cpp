#include "ew/cron/field.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace ew::cron {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

class FieldParser {
 public:
  explicit FieldParser(const FieldSpec& spec) : spec_(spec) {}

  Error error(const std::string& what) const {
    return Error{"field " + std::to_string(spec_.position) + " (" + std::string(spec_.name) + "): " + what};
  }

  // A single value: a number or a name, range-checked.
  Result<int> value(std::string_view token) const {
    if (token.empty()) return error("missing value");
    int v = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
    if (ec == std::errc() && end == token.data() + token.size()) {
      if (v < spec_.min || v > spec_.max) {
        return error(std::string(token) + " is out of range " + std::to_string(spec_.min) + "-" +
                     std::to_string(spec_.max));
      }
      return v;
    }
    const std::string name = upper(token);
    for (size_t i = 0; i < spec_.names.size(); ++i) {
      if (spec_.names[i] == name) return spec_.min + static_cast<int>(i);
    }
    std::string what = "\"" + std::string(token) + "\" is not a number";
    if (!spec_.namesHint.empty()) what += " or a " + std::string(spec_.namesHint);
    return error(what);
  }

  Result<int> step(std::string_view token, std::string_view item) const {
    int v = 0;
    auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), v);
    if (token.empty() || ec != std::errc() || end != token.data() + token.size()) {
      return error("step \"" + std::string(token) + "\" in \"" + std::string(item) + "\" is not a number");
    }
    if (v < 1) return error("step " + std::string(token) + " in \"" + std::string(item) + "\" must be at least 1");
    return v;
  }

  // One comma-separated item; adds its values to set.
  Status item(std::string_view item, FieldSet& set) const {
    if (item.empty()) return error("empty list item");
    std::string_view rangePart = item;
    std::optional<int> stepValue;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      rangePart = item.substr(0, slash);
      auto s = step(item.substr(slash + 1), item);
      if (!s) return s.error();
      stepValue = *s;
    }
    int lo = spec_.min;
    int hi = spec_.max;
    if (rangePart == "*" || (rangePart == "?" && spec_.questionMarkAllowed)) {
      if (spec_.max == 7) hi = 6;  // day-of-week: * is 0-6 (7 is Sunday again)
    } else if (auto dash = rangePart.find('-'); dash != std::string_view::npos) {
      if (dash == 0 || dash + 1 == rangePart.size()) {
        return error("range \"" + std::string(rangePart) + "\" needs a start and an end");
      }
      auto a = value(rangePart.substr(0, dash));
      if (!a) return a.error();
      auto b = value(rangePart.substr(dash + 1));
      if (!b) return b.error();
      if (*a > *b) {
        return error("range " + std::string(rangePart) + " is backwards (" + std::to_string(*a) + " > " +
                     std::to_string(*b) + ")");
      }
      lo = *a;
      hi = *b;
    } else {
      auto a = value(rangePart);
      if (!a) return a.error();
      lo = *a;
      hi = stepValue ? spec_.max : *a;
    }
    for (int v = lo; v <= hi; v += stepValue.value_or(1)) set.bits |= uint64_t{1} << v;
    return {};
  }

 private:
  const FieldSpec& spec_;
};

}  // namespace

Result<FieldSet> parseField(std::string_view text, const FieldSpec& spec) {
  FieldParser parser(spec);
  FieldSet set;
  set.star = !text.empty() && (text[0] == '*' || (text[0] == '?' && spec.questionMarkAllowed));
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view item =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (Status s = parser.item(item, set); !s) return s.error();
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (spec.max == 7 && set.has(7)) {  // day-of-week: 7 is Sunday
    set.bits = (set.bits & ~(uint64_t{1} << 7)) | 1U;
  }
  return set;
}

}  // namespace ew::cron
