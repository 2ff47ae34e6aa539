#include "cron/cron_event.h"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace ew::cron {
namespace {

std::string rfc3339(TimePoint t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t);
  const auto day = floor<days>(secs);
  const year_month_day ymd{day};
  const hh_mm_ss<seconds> tod{secs - day};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                static_cast<int>(tod.seconds().count()));
  return buf;
}

}  // namespace

CronEvent cronEvent(const std::string& worker, const std::string& ns, const CronJob& job, TimePoint scheduledAt,
                    int attempt) {
  using namespace std::chrono;
  const auto unix = duration_cast<seconds>(scheduledAt.time_since_epoch()).count();
  CronEvent e;
  e.id = worker + "/" + job.config.name + "/" + std::to_string(unix);
  const nlohmann::json body = {
      {"specversion", "1.0"},
      {"id", e.id},
      {"source", "eventworker/" + ns + "/" + worker + "/cron/" + job.config.name},
      {"type", "dev.eventworker.cron"},
      {"time", rfc3339(scheduledAt)},
      {"datacontenttype", "application/json"},
      {"data",
       {{"job", job.config.name},
        {"schedule", job.schedule.text()},
        {"scheduledTime", rfc3339(scheduledAt)},
        {"attempt", attempt}}},
  };
  e.body = body.dump();
  return e;
}

}  // namespace ew::cron
