// The real eventworker-runtime binary in --mode cron and --mode all: a
// 6-field every-2-seconds job calls a local HTTP handler (the ledger) on time,
// /metrics counts the runs, SIGTERM stops it cleanly; in --mode all the same
// process also consumes a topic.
#include <signal.h>

#include <catch2/catch.hpp>

#include "runtime_harness.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace std::chrono_literals;
using ew::testing::uniqueName;

namespace {

constexpr const char* kEveryTwoSeconds = R"([{name: tick, schedule: "*/2 * * * * *", route: /jobs/tick, timeout: 5s}])";

std::vector<LedgerEntry> cronRuns(const Ledger& ledger) {
  std::vector<LedgerEntry> out;
  for (const auto& e : ledger.entries())
    if (e.route == "/jobs/tick") out.push_back(e);
  return out;
}

// The scheduled unix second, from a cron run's id "<worker>/<job>/<unix>".
int64_t scheduledSecond(const LedgerEntry& e) { return std::stoll(e.id.substr(e.id.rfind('/') + 1)); }

}  // namespace

TEST_CASE("cron mode (--mode cron): a 6-field every-2-seconds job runs on time and is counted in /metrics") {
  Ledger ledger;
  ConfigSpec s;
  s.group = uniqueName("grp");
  s.topic = uniqueName("unused");  // cron mode never connects to Kafka
  s.ledgerPort = ledger.port();
  s.cron = kEveryTwoSeconds;
  s.mode = "cron";
  RuntimeProcess rt("cron", s);

  constexpr size_t kRuns = 5;
  const bool ran = ledger.waitFor([](const Ledger& l) { return cronRuns(l).size() >= kRuns; }, 20s);
  INFO(rt.log());
  REQUIRE(ran);
  const auto runs = cronRuns(ledger);
  for (size_t i = 1; i < runs.size(); ++i) {
    INFO("run " << i << ": " << runs[i].id);
    CHECK(scheduledSecond(runs[i]) % 2 == 0);
    CHECK(scheduledSecond(runs[i]) - scheduledSecond(runs[i - 1]) == 2);  // none skipped, none doubled
    const auto gap = runs[i].at - runs[i - 1].at;
    CHECK(gap > 1500ms);
    CHECK(gap < 2500ms);
  }
  CHECK(ledger.overlaps() == 0);

  const std::string metrics = httpGet(rt.opsPort(), "/metrics");
  INFO(metrics);
  CHECK(metricValue(metrics, R"(worker_cron_runs_total{job="tick",status="succeeded",worker="rt"})") >= kRuns - 1);
  CHECK(metricValue(metrics, R"(worker_cron_runs_total{job="tick",status="failed",worker="rt"})") == 0);
  CHECK(metricValue(metrics, R"(worker_cron_last_success_timestamp_seconds{job="tick",worker="rt"})") >
        double(scheduledSecond(runs.front())));
  CHECK(httpGet(rt.opsPort(), "/readyz").find("200") != std::string::npos);
  requireCleanExit(rt);
}

TEST_CASE("all mode (--mode all): one process consumes a topic and runs the cron job") {
  Kafka kafka;
  const std::string topic = uniqueName("all");
  kafka.createTopic(topic, 2);
  constexpr int kEvents = 500;
  for (int i = 0; i < kEvents; ++i) kafka.produce(topic, "k" + std::to_string(i % 10), payload("k", i));
  kafka.flush();

  Ledger ledger;
  ConfigSpec s;
  s.group = uniqueName("grp");
  s.topic = topic;
  s.ledgerPort = ledger.port();
  s.cron = kEveryTwoSeconds;
  s.mode = "all";
  RuntimeProcess rt("all", s);
  const bool both = ledger.waitFor(
      [](const Ledger& l) { return cronRuns(l).size() >= 2 && l.distinct() >= kEvents + cronRuns(l).size(); }, 60s);
  INFO(rt.log());
  REQUIRE(both);

  const std::string metrics = httpGet(rt.opsPort(), "/metrics");
  INFO(metrics);
  CHECK(metricValue(metrics, R"(worker_jobs_total{status="success",subscription="sub",worker="rt"})") == kEvents);
  CHECK(metricValue(metrics, R"(worker_cron_runs_total{job="tick",status="succeeded",worker="rt"})") >= 1);
  requireCleanExit(rt);
}
