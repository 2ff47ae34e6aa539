#include "ew/cron/schedule.h"

#include <array>
#include <bit>
#include <vector>

#include "ew/duration.h"

namespace ew::cron {
namespace {

using namespace std::chrono;

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 8> kWeekdayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};
// Day-of-week names cover 0-6 only; 7 (Sunday again) is numeric.
constexpr std::span<const std::string_view> kWeekdaySpan(kWeekdayNames.data(), 7);

struct Macro {
  std::string_view name;
  std::string_view expression;
};
constexpr std::array<Macro, 7> kMacros = {{{"@yearly", "0 0 1 1 *"},
                                           {"@annually", "0 0 1 1 *"},
                                           {"@monthly", "0 0 1 * *"},
                                           {"@weekly", "0 0 * * 0"},
                                           {"@daily", "0 0 * * *"},
                                           {"@midnight", "0 0 * * *"},
                                           {"@hourly", "0 * * * *"}}};

constexpr std::string_view kFieldsHint =
    "5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first";

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::vector<std::string_view> splitFields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isSpace(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !isSpace(s[j])) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// Smallest value >= from in the set, or -1.
int firstAtOrAfter(const FieldSet& set, int from) {
  if (from >= 64) return -1;
  const uint64_t bits = set.bits & (~uint64_t{0} << from);
  return bits == 0 ? -1 : std::countr_zero(bits);
}

unsigned daysInMonth(int y, unsigned m) { return static_cast<unsigned>((year{y} / month{m} / last).day()); }

}  // namespace

Result<Schedule> Schedule::parse(std::string_view expression) {
  const std::vector<std::string_view> fields = splitFields(expression);
  if (fields.empty()) return Error{"empty schedule (expected " + std::string(kFieldsHint) + ")"};
  if (fields[0].starts_with('@')) return parseMacro(expression, fields);
  if (fields.size() != 5 && fields.size() != 6) {
    return Error{"expected " + std::string(kFieldsHint) + ", got " + std::to_string(fields.size())};
  }
  auto s = parseFields(expression, fields);
  if (!s) return s;
  if (Status st = s->checkCanFire(fields); !st) return st.error();
  return s;
}

Result<Schedule> Schedule::parseMacro(std::string_view expression, std::span<const std::string_view> fields) {
  if (fields[0] == "@every") {
    if (fields.size() != 2) return Error{"@every takes one duration, e.g. \"@every 30s\""};
    auto interval = ew::parseDuration(std::string(fields[1]), "@every");
    if (!interval) return interval.error();
    if (*interval < 1s || *interval % 1s != 0ms) {
      return Error{"@every: " + std::string(fields[1]) + " must be a whole number of seconds, at least 1s"};
    }
    Schedule s;
    s.text_ = std::string(expression);
    s.every_ = duration_cast<seconds>(*interval);
    return s;
  }
  for (const Macro& m : kMacros) {
    if (fields[0] == m.name) {
      if (fields.size() != 1) return Error{std::string(m.name) + " takes no fields"};
      auto s = parse(m.expression);
      if (s) s->text_ = std::string(expression);
      return s;
    }
  }
  return Error{"unknown macro \"" + std::string(fields[0]) +
               "\" (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight, "
               "@hourly or @every <duration>)"};
}

Result<Schedule> Schedule::parseFields(std::string_view expression, std::span<const std::string_view> fields) {
  const bool withSeconds = fields.size() == 6;
  const int offset = withSeconds ? 1 : 0;
  Schedule s;
  s.text_ = std::string(expression);

  auto parseAt = [&](int index, std::string_view name, int min, int max, std::span<const std::string_view> names,
                     std::string_view namesHint, bool question, FieldSet& out) -> Status {
    FieldSpec spec{index + 1, name, min, max, names, namesHint, question};
    auto set = parseField(fields[static_cast<size_t>(index)], spec);
    if (!set) return set.error();
    out = *set;
    return {};
  };
  if (withSeconds) {
    if (Status st = parseAt(0, "second", 0, 59, {}, {}, false, s.seconds_); !st) return st.error();
  } else {
    s.seconds_.bits = 1;  // second 0
  }
  Status st = parseAt(offset + 0, "minute", 0, 59, {}, {}, false, s.minutes_);
  if (st) st = parseAt(offset + 1, "hour", 0, 23, {}, {}, false, s.hours_);
  if (st) st = parseAt(offset + 2, "day-of-month", 1, 31, {}, {}, true, s.daysOfMonth_);
  if (st) st = parseAt(offset + 3, "month", 1, 12, kMonthNames, "month name (JAN-DEC)", false, s.months_);
  if (st) {
    st = parseAt(offset + 4, "day-of-week", 0, 7, kWeekdaySpan, "weekday name (SUN-SAT)", true, s.daysOfWeek_);
  }
  if (!st) return st.error();
  return s;
}

Status Schedule::checkCanFire(std::span<const std::string_view> fields) const {
  // With AND semantics the day-of-month must exist in some allowed month
  // (February counts 29 days); otherwise the schedule can never fire.
  if (!daysOfMonth_.star && !daysOfWeek_.star) return {};
  const int offset = fields.size() == 6 ? 1 : 0;
  for (unsigned m = 1; m <= 12; ++m) {
    if (!months_.has(static_cast<int>(m))) continue;
    const unsigned maxDay = m == 2 ? 29 : daysInMonth(2001, m);
    for (unsigned d = 1; d <= maxDay; ++d)
      if (daysOfMonth_.has(static_cast<int>(d))) return {};
  }
  return Error{"field " + std::to_string(offset + 3) + " (day-of-month): \"" +
               std::string(fields[static_cast<size_t>(offset + 2)]) + "\" never occurs in month \"" +
               std::string(fields[static_cast<size_t>(offset + 3)]) + "\", so the schedule would never fire"};
}

bool Schedule::dayMatches(unsigned dayOfMonth, unsigned weekday) const {
  const bool dom = daysOfMonth_.has(static_cast<int>(dayOfMonth));
  const bool dow = daysOfWeek_.has(static_cast<int>(weekday));
  if (daysOfMonth_.star || daysOfWeek_.star) return dom && dow;
  return dom || dow;
}

std::optional<seconds> Schedule::timeOfDayAtOrAfter(int hour, int minute, int second) const {
  for (int h = firstAtOrAfter(hours_, hour); h >= 0 && h <= 23; h = firstAtOrAfter(hours_, h + 1)) {
    const int minuteFrom = h == hour ? minute : 0;
    for (int m = firstAtOrAfter(minutes_, minuteFrom); m >= 0 && m <= 59; m = firstAtOrAfter(minutes_, m + 1)) {
      const int secondFrom = (h == hour && m == minute) ? second : 0;
      const int s = firstAtOrAfter(seconds_, secondFrom);
      if (s >= 0 && s <= 59) return hours{h} + minutes{m} + seconds{s};
    }
  }
  return std::nullopt;
}

std::optional<TimePoint> Schedule::nextAfter(TimePoint t) const {
  if (every_) return floor<seconds>(t) + *every_;

  const sys_seconds start = floor<seconds>(t) + 1s;
  const sys_days startDay = floor<days>(start);
  const year_month_day startDate{startDay};
  const hh_mm_ss<seconds> startTime{start - startDay};
  const int y0 = static_cast<int>(startDate.year());
  const unsigned m0 = static_cast<unsigned>(startDate.month());
  const unsigned d0 = static_cast<unsigned>(startDate.day());

  // The Gregorian calendar (dates and weekdays) repeats every 400 years, so a
  // schedule with no fire time in that span never fires.
  for (int y = y0; y <= y0 + 400; ++y) {
    for (unsigned m = (y == y0 ? m0 : 1); m <= 12; ++m) {
      if (!months_.has(static_cast<int>(m))) continue;
      const bool startMonth = y == y0 && m == m0;
      const unsigned lastDay = daysInMonth(y, m);
      for (unsigned d = startMonth ? d0 : 1; d <= lastDay; ++d) {
        const sys_days date{year{y} / month{m} / day{d}};
        if (!dayMatches(d, weekday{date}.c_encoding())) continue;
        const bool startDayHere = startMonth && d == d0;
        const auto timeOfDay = startDayHere ? timeOfDayAtOrAfter(static_cast<int>(startTime.hours().count()),
                                                                 static_cast<int>(startTime.minutes().count()),
                                                                 static_cast<int>(startTime.seconds().count()))
                                            : timeOfDayAtOrAfter(0, 0, 0);
        if (timeOfDay) return TimePoint{date + *timeOfDay};
      }
    }
  }
  return std::nullopt;
}

}  // namespace ew::cron
