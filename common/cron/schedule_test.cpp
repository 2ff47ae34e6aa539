#include "ew/cron/schedule.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono;
using ew::cron::Schedule;
using ew::cron::TimePoint;

namespace {

TimePoint utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s};
}

std::string show(std::optional<TimePoint> t) {
  if (!t) return "never";
  const auto day = floor<days>(*t);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> tod{floor<milliseconds>(*t - day)};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02ld:%02ld:%02ld.%03ld", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long>(tod.hours().count()), static_cast<long>(tod.minutes().count()),
                static_cast<long>(tod.seconds().count()), static_cast<long>(tod.subseconds().count()));
  return buf;
}

Schedule parsed(const std::string& expr) {
  auto s = Schedule::parse(expr);
  INFO(expr << ": " << (s ? "" : s.error().message));
  REQUIRE(s.ok());
  return *s;
}

struct NextCase {
  std::string expr;
  TimePoint from;
  TimePoint expected;
};

void checkNext(const std::vector<NextCase>& cases) {
  for (const NextCase& c : cases) {
    INFO(c.expr << " after " << show(c.from));
    CHECK(show(parsed(c.expr).nextAfter(c.from)) == show(c.expected));
  }
}

}  // namespace

TEST_CASE("schedule: valid expressions parse and keep their text") {
  for (const char* expr : {"* * * * *",
                           "*/5 * * * *",
                           "0 9 * * MON-FRI",
                           "0 0 1,15 * *",
                           "30 4 1-7 JAN-MAR,oct sun",
                           "0 22 * * 1-5",
                           "5/10 0-23/2 * * *",
                           "0 0 29 2 *",
                           "0 0 ? * 7",
                           "  0   0  *  *  *  ",
                           "*/2 * * * * *",
                           "0 30 9 * * mon",
                           "@yearly",
                           "@annually",
                           "@monthly",
                           "@weekly",
                           "@daily",
                           "@midnight",
                           "@hourly",
                           "@every 90s",
                           "@every 2h",
                           "@every 1h30m"}) {
    CHECK(parsed(expr).text() == expr);
  }
}

TEST_CASE("schedule: invalid expressions are rejected with messages naming field and token") {
  const std::string fields = "5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty schedule (expected " + fields + ")"},
      {"* * * *", "expected " + fields + ", got 4"},
      {"* * * * * * *", "expected " + fields + ", got 7"},
      {"60 * * * *", "field 1 (minute): 60 is out of range 0-59"},
      {"* 24 * * *", "field 2 (hour): 24 is out of range 0-23"},
      {"* * 0 * *", "field 3 (day-of-month): 0 is out of range 1-31"},
      {"* * 32 * *", "field 3 (day-of-month): 32 is out of range 1-31"},
      {"* * * 13 *", "field 4 (month): 13 is out of range 1-12"},
      {"* * * * 8", "field 5 (day-of-week): 8 is out of range 0-7"},
      {"* * * JANUARY *", "field 4 (month): \"JANUARY\" is not a number or a month name (JAN-DEC)"},
      {"* * * * FUNDAY", "field 5 (day-of-week): \"FUNDAY\" is not a number or a weekday name (SUN-SAT)"},
      {"* * * SUN *", "field 4 (month): \"SUN\" is not a number or a month name (JAN-DEC)"},
      {"*/0 * * * *", "field 1 (minute): step 0 in \"*/0\" must be at least 1"},
      {"*/x * * * *", "field 1 (minute): step \"x\" in \"*/x\" is not a number"},
      {"1/ * * * *", "field 1 (minute): step \"\" in \"1/\" is not a number"},
      {"30-10 * * * *", "field 1 (minute): range 30-10 is backwards (30 > 10)"},
      {"-5 * * * *", "field 1 (minute): range \"-5\" needs a start and an end"},
      {"* * * * MON-", "field 5 (day-of-week): range \"MON-\" needs a start and an end"},
      {"1,,2 * * * *", "field 1 (minute): empty list item"},
      {"5, * * * *", "field 1 (minute): empty list item"},
      {"? * * * *", "field 1 (minute): \"?\" is not a number"},
      {"60 * * * * *", "field 1 (second): 60 is out of range 0-59"},
      {"0 60 * * * *", "field 2 (minute): 60 is out of range 0-59"},
      {"0 0 24 * * *", "field 3 (hour): 24 is out of range 0-23"},
      {"0 0 30 2 *", "field 3 (day-of-month): \"30\" never occurs in month \"2\", so the schedule would never fire"},
      {"0 0 0 31 APR,JUN *",
       "field 4 (day-of-month): \"31\" never occurs in month \"APR,JUN\", so the schedule would "
       "never fire"},
      {"@fortnightly",
       "unknown macro \"@fortnightly\" (expected @yearly, @annually, @monthly, @weekly, @daily, "
       "@midnight, @hourly or @every <duration>)"},
      {"@hourly *", "@hourly takes no fields"},
      {"@every", "@every takes one duration, e.g. \"@every 30s\""},
      {"@every 5 minutes", "@every takes one duration, e.g. \"@every 30s\""},
      {"@every 5x", "@every: invalid duration \"5x\": unit must be one of ms, s, m, h"},
      {"@every 500ms", "@every: 500ms must be a whole number of seconds, at least 1s"},
      {"@every 1500ms", "@every: 1500ms must be a whole number of seconds, at least 1s"},
  };
  for (const auto& [expr, message] : cases) {
    INFO("expression: \"" << expr << "\"");
    auto s = Schedule::parse(expr);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message == message);
  }
}

TEST_CASE("schedule: next fire within the hour and day") {
  checkNext({
      {"*/15 * * * *", utc(2024, 1, 1, 10, 7, 30), utc(2024, 1, 1, 10, 15)},
      {"*/15 * * * *", utc(2024, 1, 1, 10, 15), utc(2024, 1, 1, 10, 30)},  // strictly after
      {"*/15 * * * *", utc(2024, 1, 1, 10, 50), utc(2024, 1, 1, 11, 0)},
      {"5/10 0-23/2 * * *", utc(2024, 1, 1, 1, 0), utc(2024, 1, 1, 2, 5)},
      {"0 22 * * *", utc(2024, 1, 1, 22, 0, 1), utc(2024, 1, 2, 22, 0)},
      {"* * * * *", utc(2024, 1, 1, 23, 59, 59) + 999ms, utc(2024, 1, 2, 0, 0)},
  });
}

TEST_CASE("schedule: next fire across month and year boundaries") {
  checkNext({
      {"0 0 1 1 *", utc(2024, 12, 31, 23, 59, 59), utc(2025, 1, 1)},
      {"59 23 31 12 *", utc(2024, 12, 31, 23, 59), utc(2025, 12, 31, 23, 59)},
      {"0 0 31 * *", utc(2024, 4, 1), utc(2024, 5, 31)},  // April has no 31st
      {"0 0 1 * *", utc(2024, 1, 31, 12), utc(2024, 2, 1)},
      {"0 12 * JAN,JUL *", utc(2024, 7, 31, 12), utc(2025, 1, 1, 12)},
      {"0 9 * * MON-FRI", utc(2024, 12, 27, 10), utc(2024, 12, 30, 9)},  // Fri -> Mon
      {"30 4 * FEB *", utc(2023, 2, 28, 4, 30), utc(2024, 2, 1, 4, 30)},
  });
}

TEST_CASE("schedule: leap days") {
  checkNext({
      {"0 0 29 2 *", utc(2024, 2, 28, 12), utc(2024, 2, 29)},
      {"0 0 29 2 *", utc(2024, 3, 1), utc(2028, 2, 29)},
      {"0 0 29 2 *", utc(2096, 3, 1), utc(2104, 2, 29)},  // 2100 is not a leap year
      {"0 0 28-29 2 *", utc(2023, 2, 28), utc(2024, 2, 28)},
      {"@daily", utc(2024, 2, 28, 23), utc(2024, 2, 29)},
  });
}

TEST_CASE("schedule: day-of-month OR day-of-week when both are restricted") {
  // 2024-09-01 is a Sunday; Mondays are 2, 9, 16, 23, 30; the 13th is a Friday.
  checkNext({
      {"0 0 13 * MON", utc(2024, 9, 1), utc(2024, 9, 2)},    // the Monday
      {"0 0 13 * MON", utc(2024, 9, 9), utc(2024, 9, 13)},   // the 13th, a Friday
      {"0 0 13 * MON", utc(2024, 9, 13), utc(2024, 9, 16)},  // next Monday
      {"0 0 13 * FRI", utc(2024, 9, 1), utc(2024, 9, 6)},
  });
}

TEST_CASE("schedule: AND when either day field starts with * or ?") {
  checkNext({
      {"0 0 * * MON", utc(2024, 9, 3), utc(2024, 9, 9)},
      {"0 0 ? * MON", utc(2024, 9, 3), utc(2024, 9, 9)},
      {"0 0 13 * ?", utc(2024, 9, 1), utc(2024, 9, 13)},
      {"0 0 13 * *", utc(2024, 9, 1), utc(2024, 9, 13)},
      {"0 0 */2 * MON", utc(2024, 9, 1), utc(2024, 9, 9)},  // odd days that are Mondays
      {"0 0 */2 * MON", utc(2024, 9, 9), utc(2024, 9, 23)},
  });
}

TEST_CASE("schedule: Sunday is 0, 7 or SUN") {
  for (const char* expr : {"0 0 * * 0", "0 0 * * 7", "0 0 * * sun", "0 0 * * 6-7"}) {
    INFO(expr);
    // From Saturday noon (that midnight has passed): Sunday 2024-09-08.
    CHECK(show(parsed(expr).nextAfter(utc(2024, 9, 7, 12))) == show(utc(2024, 9, 8)));
  }
  CHECK(show(parsed("0 0 * * 6-7").nextAfter(utc(2024, 9, 6, 12))) == show(utc(2024, 9, 7)));
}

TEST_CASE("schedule: six fields, seconds first") {
  checkNext({
      {"*/10 * * * * *", utc(2024, 1, 1, 12, 0, 5) + 500ms, utc(2024, 1, 1, 12, 0, 10)},
      {"* * * * * *", utc(2024, 1, 1, 12, 0, 0) + 999ms, utc(2024, 1, 1, 12, 0, 1)},
      {"30 0 0 * * *", utc(2024, 1, 1, 0, 0, 30), utc(2024, 1, 2, 0, 0, 30)},
      {"0 30 9 * * mon", utc(2024, 9, 2, 9, 30), utc(2024, 9, 9, 9, 30)},
      {"*/2 * * * * *", utc(2024, 12, 31, 23, 59, 58), utc(2025, 1, 1)},
      {"15,45 59 23 31 12 *", utc(2024, 12, 31, 23, 59, 45), utc(2025, 12, 31, 23, 59, 15)},
  });
}

TEST_CASE("schedule: macros") {
  checkNext({
      {"@hourly", utc(2024, 1, 1, 10, 30), utc(2024, 1, 1, 11)},
      {"@daily", utc(2024, 1, 1, 0, 0), utc(2024, 1, 2)},
      {"@midnight", utc(2024, 12, 31, 1), utc(2025, 1, 1)},
      {"@weekly", utc(2024, 9, 4), utc(2024, 9, 8)},  // Wednesday -> Sunday
      {"@monthly", utc(2024, 1, 31), utc(2024, 2, 1)},
      {"@yearly", utc(2024, 6, 1), utc(2025, 1, 1)},
      {"@annually", utc(2024, 6, 1), utc(2025, 1, 1)},
      {"@every 90s", utc(2024, 1, 1, 12) + 700ms, utc(2024, 1, 1, 12, 1, 30)},
      {"@every 90m", utc(2024, 12, 31, 23), utc(2025, 1, 1, 0, 30)},
      {"@every 1h30m", utc(2024, 12, 31, 23), utc(2025, 1, 1, 0, 30)},
  });
}

TEST_CASE("schedule: consecutive fires of a sparse schedule stay cheap and exact") {
  const Schedule leap = parsed("0 0 29 2 *");
  std::optional<TimePoint> t = utc(2000, 1, 1);
  std::vector<std::string> fires;
  for (int i = 0; i < 30 && t; ++i) {
    t = leap.nextAfter(*t);
    fires.push_back(show(t).substr(0, 10));
  }
  CHECK(fires[0] == "2000-02-29");  // 2000 is divisible by 400
  CHECK(fires[24] == "2096-02-29");
  CHECK(fires[25] == "2104-02-29");
}
