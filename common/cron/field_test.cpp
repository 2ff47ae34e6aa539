#include "ew/cron/field.h"

#include <array>
#include <catch2/catch.hpp>
#include <vector>

using ew::cron::FieldSet;
using ew::cron::FieldSpec;
using ew::cron::parseField;

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                      "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kDays = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

const FieldSpec kMinute{1, "minute", 0, 59, {}, {}, false};
const FieldSpec kMonth{4, "month", 1, 12, kMonths, "month name (JAN-DEC)", false};
const FieldSpec kWeekday{5, "day-of-week", 0, 7, kDays, "weekday name (SUN-SAT)", true};

std::vector<int> values(const FieldSet& set) {
  std::vector<int> out;
  for (int v = 0; v < 64; ++v) {
    if (set.has(v)) out.push_back(v);
  }
  return out;
}

std::vector<int> parsed(std::string_view text, const FieldSpec& spec) {
  auto r = parseField(text, spec);
  INFO(text << ": " << (r ? "" : r.error().message));
  REQUIRE(r.ok());
  return values(*r);
}

}  // namespace

TEST_CASE("field: single values, ranges, lists") {
  CHECK(parsed("5", kMinute) == std::vector<int>{5});
  CHECK(parsed("1-4", kMinute) == std::vector<int>{1, 2, 3, 4});
  CHECK(parsed("1,3,58-59", kMinute) == std::vector<int>{1, 3, 58, 59});
  CHECK(parsed("*", kMinute).size() == 60);
}

TEST_CASE("field: steps") {
  CHECK(parsed("*/15", kMinute) == std::vector<int>{0, 15, 30, 45});
  CHECK(parsed("10-20/5", kMinute) == std::vector<int>{10, 15, 20});
  CHECK(parsed("50/4", kMinute) == std::vector<int>{50, 54, 58});  // a/n means a-max/n
  CHECK(parsed("*/7", kMonth) == std::vector<int>{1, 8});
}

TEST_CASE("field: month and weekday names, any case") {
  CHECK(parsed("JAN,mar,Dec", kMonth) == std::vector<int>{1, 3, 12});
  CHECK(parsed("feb-apr", kMonth) == std::vector<int>{2, 3, 4});
  CHECK(parsed("MON-FRI", kWeekday) == std::vector<int>{1, 2, 3, 4, 5});
  CHECK(parsed("sun,sat", kWeekday) == std::vector<int>{0, 6});
}

TEST_CASE("field: 0 and 7 are both Sunday") {
  CHECK(parsed("7", kWeekday) == std::vector<int>{0});
  CHECK(parsed("0", kWeekday) == std::vector<int>{0});
  CHECK(parsed("5-7", kWeekday) == std::vector<int>{0, 5, 6});
  CHECK(parsed("*", kWeekday) == std::vector<int>{0, 1, 2, 3, 4, 5, 6});
  CHECK(parsed("*/2", kWeekday) == std::vector<int>{0, 2, 4, 6});
}

TEST_CASE("field: star marks unrestricted day fields, and ? is allowed only there") {
  CHECK(parseField("*", kWeekday)->star);
  CHECK(parseField("*/2", kWeekday)->star);
  CHECK(parseField("?", kWeekday)->star);
  CHECK_FALSE(parseField("1-5", kWeekday)->star);
  auto r = parseField("?", kMinute);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message == "field 1 (minute): \"?\" is not a number");
}

TEST_CASE("field: errors name the field and the token") {
  struct Case {
    std::string_view text;
    const FieldSpec* spec;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"60", &kMinute, "field 1 (minute): 60 is out of range 0-59"},
      {"1,,2", &kMinute, "field 1 (minute): empty list item"},
      {"x", &kMinute, "field 1 (minute): \"x\" is not a number"},
      {"FOO", &kMonth, "field 4 (month): \"FOO\" is not a number or a month name (JAN-DEC)"},
      {"9-8", &kWeekday, "field 5 (day-of-week): 9 is out of range 0-7"},
  };
  for (const Case& c : cases) {
    auto r = parseField(c.text, *c.spec);
    INFO(c.text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == c.message);
  }
}
