#include "cron/cron_event.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace std::chrono;

TEST_CASE("cron event: a structured CloudEvent whose id is stable across retries") {
  ew::runtime::CronJobConfig c;
  c.name = "price-sync";
  c.schedule = "*/5 * * * *";
  c.route = "/jobs/price-sync";
  auto jobs = ew::cron::makeCronJobs({c});
  REQUIRE(jobs.ok());
  const ew::cron::TimePoint at = sys_days{year{2024} / 9 / 1} + 12h + 5min;
  const auto first = ew::cron::cronEvent("w", "shop", jobs->front(), at, 1);
  const auto retry = ew::cron::cronEvent("w", "shop", jobs->front(), at, 2);
  CHECK(first.id == "w/price-sync/1725192300");
  CHECK(retry.id == first.id);
  const auto body = nlohmann::json::parse(first.body);
  CHECK(body["specversion"] == "1.0");
  CHECK(body["id"] == first.id);
  CHECK(body["type"] == "dev.eventworker.cron");
  CHECK(body["source"] == "eventworker/shop/w/cron/price-sync");
  CHECK(body["time"] == "2024-09-01T12:05:00Z");
  CHECK(body["data"]["schedule"] == "*/5 * * * *");
  CHECK(nlohmann::json::parse(retry.body)["data"]["attempt"] == 2);
}
