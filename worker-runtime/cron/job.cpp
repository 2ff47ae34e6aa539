#include "cron/job.h"

#include <string>

namespace ew::cron {

Result<std::vector<CronJob>> makeCronJobs(const std::vector<runtime::CronJobConfig>& configs) {
  std::vector<CronJob> jobs;
  jobs.reserve(configs.size());
  for (size_t i = 0; i < configs.size(); ++i) {
    auto schedule = Schedule::parse(configs[i].schedule);
    if (!schedule) {
      return Error{"cron[" + std::to_string(i) + "] (" + configs[i].name + ").schedule: " + schedule.error().message};
    }
    jobs.push_back(CronJob{configs[i], *schedule});
  }
  return jobs;
}

}  // namespace ew::cron
