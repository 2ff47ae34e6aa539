#pragma once
// A parsed cron schedule and its next-fire computation. Pure; immutable after
// parse, so safe to share between threads.
//
// Accepted forms (UTC):
//   5 fields  "minute hour day-of-month month day-of-week"
//   6 fields  "second minute hour day-of-month month day-of-week" (robfig/cron)
//   @yearly @annually @monthly @weekly @daily @midnight @hourly
//   @every <duration>  ("@every 90s", "@every 5m"; whole seconds, at least 1s)
// Fields take *, ?, a-b, */n, a-b/n, a/n and comma lists (see field.h); month
// names JAN-DEC and weekday names SUN-SAT, case-insensitive; 0 and 7 are Sunday.
// Day-of-month and day-of-week follow Vixie cron and robfig/cron: when both
// are restricted (neither starts with * or ?) a day matches when EITHER
// matches; otherwise both must match.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ew/cron/clock.h"
#include "ew/cron/field.h"
#include "ew/result.h"

namespace ew::cron {

class Schedule {
 public:
  // Errors name the field and the token: "field 2 (hour): 24 is out of range
  // 0-23". Schedules that can never fire (e.g. "0 0 30 2 *") are errors too.
  static Result<Schedule> parse(std::string_view expression);

  // The first fire time strictly after t, in whole seconds, or nullopt when the
  // schedule never fires again. For @every, t + interval (t truncated to the
  // second). Cost is bounded: at most a 400-year calendar walk by day, with
  // bit scans for hours, minutes and seconds.
  std::optional<TimePoint> nextAfter(TimePoint t) const;

  // The expression as given.
  const std::string& text() const { return text_; }

 private:
  Schedule() = default;
  // The steps of parse(): "@..." forms; 5 or 6 fields (FIELDS, already
  // counted); whether a day-of-month exists in an allowed month.
  static Result<Schedule> parseMacro(std::string_view expression, std::span<const std::string_view> fields);
  static Result<Schedule> parseFields(std::string_view expression, std::span<const std::string_view> fields);
  Status checkCanFire(std::span<const std::string_view> fields) const;
  bool dayMatches(unsigned dayOfMonth, unsigned weekday) const;
  std::optional<std::chrono::seconds> timeOfDayAtOrAfter(int hour, int minute, int second) const;

  std::string text_;
  FieldSet seconds_, minutes_, hours_, daysOfMonth_, months_, daysOfWeek_;
  std::optional<std::chrono::seconds> every_;
};

}  // namespace ew::cron
