// runCronMode (loops/cron_mode.h): the cron engine wired to the runtime's
// handler and metrics. The HTTP/exec handlers take no cancel token, so an
// attempt that is cancelled (timeout, Replace, shutdown) still ends only when
// the handler call returns (bounded by the handler's own timeout).

#include "loops/cron_mode.h"

#include <spdlog/spdlog.h>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "cron/cron_event.h"
#include "cron/scheduler.h"

namespace ew::runtime {
namespace {

constexpr std::chrono::milliseconds kPollInterval{200};

double unixSeconds(cron::TimePoint t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

// Mirrors JobStats snapshots into the registry (counters advance by deltas).
class CronMetrics {
 public:
  CronMetrics(MetricsRegistry& metrics, std::string worker) : metrics_(metrics), worker_(std::move(worker)) {}

  void update(const std::vector<cron::JobStats>& stats) {
    for (const cron::JobStats& s : stats) {
      cron::JobStats& prev = previous_[s.name];
      for (size_t o = 0; o < cron::kRunOutcomeCount; ++o) {
        runs(s.name, cron::toString(static_cast<cron::RunOutcome>(o))).inc(double(s.runs[o] - prev.runs[o]));
      }
      runs(s.name, "skipped").inc(double(s.skipped - prev.skipped));
      runs(s.name, "missed").inc(double(s.missed - prev.missed));
      const Labels l{{"worker", worker_}, {"job", s.name}};
      metrics_.counter("worker_cron_retries_total", "Cron attempts after the first", l)
          .inc(double(s.retries - prev.retries));
      metrics_.gauge("worker_cron_active_runs", "Cron runs in progress", l).set(s.active);
      if (s.lastSuccess) {
        metrics_.gauge("worker_cron_last_success_timestamp_seconds", "End of the latest successful run", l)
            .set(unixSeconds(*s.lastSuccess));
      }
      if (s.lastRun) {
        metrics_.gauge("worker_cron_last_run_timestamp_seconds", "Start of the latest run", l)
            .set(unixSeconds(*s.lastRun));
      }
      metrics_.gauge("worker_cron_next_run_timestamp_seconds", "Next fire time (0: none)", l)
          .set(s.nextRun ? unixSeconds(*s.nextRun) : 0);
      prev = s;
    }
  }

 private:
  Counter& runs(const std::string& job, const std::string& status) {
    return metrics_.counter("worker_cron_runs_total",
                            "Cron runs by outcome; skipped (concurrencyPolicy) and missed (startingDeadlineSeconds) "
                            "fire times included",
                            {{"worker", worker_}, {"job", job}, {"status", status}});
  }

  MetricsRegistry& metrics_;
  const std::string worker_;
  std::map<std::string, cron::JobStats> previous_;
};

}  // namespace

Status runCronMode(const RuntimeConfig& config, HandlerPtr handler, MetricsRegistry& metrics,
                   const std::atomic<bool>& stop, const TimeSource& time) {
  auto jobs = cron::makeCronJobs(config.cron);
  if (!jobs) return jobs.error();

  auto invoker = [&config, handler](const cron::CronAttempt& a) -> HandlerResult {
    const cron::CronEvent event = cron::cronEvent(config.worker, config.namespace_, a.job, a.scheduledAt, a.attempt);
    HandlerRequest request;
    request.route = a.job.config.route;
    request.eventId = event.id;
    request.body = event.body;
    HandlerResult result = handler->handle(request);
    if (result.outcome != Outcome::Done) {
      spdlog::warn("cron {}: attempt {} of run {}: {}: {}", a.job.config.name, a.attempt, event.id,
                   toString(result.outcome), result.detail);
    }
    return result;
  };
  std::mt19937_64 rng{std::random_device{}()};
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  cron::CronScheduler scheduler(std::move(*jobs), invoker, time, [&] { return uniform(rng); });
  CronMetrics cronMetrics(metrics, config.worker);

  scheduler.start();
  spdlog::info("cron: {} job(s) scheduled", config.cron.size());
  while (!stop.load()) {
    cronMetrics.update(scheduler.stats());
    std::this_thread::sleep_for(kPollInterval);  // only waits: for STOP, and to refresh the metrics
  }
  scheduler.stop(config.server.gracePeriod);
  cronMetrics.update(scheduler.stats());
  return {};
}

}  // namespace ew::runtime
