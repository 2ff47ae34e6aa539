#include "controller/migration_metrics.h"

#include "migration/migration.h"

namespace ew::controller {

const std::vector<std::string>& migrationPhaseNames() {
  static const std::vector<std::string> names = {
      "None", migration::toString(migration::Phase::Pending), migration::toString(migration::Phase::Paused),
      migration::toString(migration::Phase::OffsetsCopied), migration::toString(migration::Phase::Complete)};
  return names;
}

void exportMigrationPhase(MetricsRegistry& metrics, const std::string& key, const std::optional<nlohmann::json>& ew) {
  const auto slash = key.find('/');
  Labels labels = {{"namespace", key.substr(0, slash)}, {"name", key.substr(slash + 1)}};
  std::string current = "None";
  if (ew) {
    const auto status = ew->find("status");
    if (status != ew->end() && status->is_object()) {
      const auto record = status->find("migration");
      if (record != status->end() && record->is_object() && record->contains("phase") && (*record)["phase"].is_string())
        current = (*record)["phase"].get<std::string>();
    }
  }
  for (const auto& phase : migrationPhaseNames()) {
    labels["phase"] = phase;
    if (!ew) {
      metrics.forgetGauge("eventworker_migration_phase", labels);
      continue;
    }
    metrics
        .gauge("eventworker_migration_phase",
               "1 for the EventWorker's status.migration.phase (None: no migration), 0 for the other phases.", labels)
        .set(phase == current ? 1 : 0);
  }
}

}  // namespace ew::controller
