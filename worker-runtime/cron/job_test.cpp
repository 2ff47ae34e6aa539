#include "cron/job.h"

#include <catch2/catch.hpp>

using ew::cron::makeCronJobs;
using ew::runtime::CronJobConfig;

namespace {

CronJobConfig config(std::string name, std::string schedule) {
  CronJobConfig c;
  c.name = std::move(name);
  c.schedule = std::move(schedule);
  c.route = "/jobs/" + c.name;
  return c;
}

}  // namespace

TEST_CASE("job: schedules are parsed, config kept") {
  auto jobs = makeCronJobs({config("a", "*/5 * * * *"), config("b", "@hourly")});
  REQUIRE(jobs.ok());
  REQUIRE(jobs->size() == 2);
  CHECK((*jobs)[1].config.route == "/jobs/b");
  CHECK((*jobs)[1].schedule.text() == "@hourly");
}

TEST_CASE("job: a bad schedule is an error naming the job and the field") {
  auto jobs = makeCronJobs({config("a", "@daily"), config("price-sync", "0 24 * * *")});
  REQUIRE_FALSE(jobs.ok());
  CHECK(jobs.error().message == "cron[1] (price-sync).schedule: field 2 (hour): 24 is out of range 0-23");
}

TEST_CASE("job: cancel token is a sticky flag") {
  ew::cron::CancelToken token;
  CHECK_FALSE(token.cancelled());
  token.requestCancel();
  CHECK(token.cancelled());
}
