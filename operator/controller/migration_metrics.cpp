#include "controller/migration_metrics.h"

#include <algorithm>

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
  if (!ew) {
    metrics.forgetStateSet("eventworker_migration_phase", labels);
    return;
  }
  std::string current = "None";
  const auto status = ew->find("status");
  if (status != ew->end() && status->is_object()) {
    const auto record = status->find("migration");
    if (record != status->end() && record->is_object() && record->contains("phase") && (*record)["phase"].is_string())
      current = (*record)["phase"].get<std::string>();
  }
  const auto& names = migrationPhaseNames();
  const auto at = std::find(names.begin(), names.end(), current);
  metrics
      .stateSet("eventworker_migration_phase",
                "1 for the EventWorker's status.migration.phase (None: no migration), 0 for the other phases.", "phase",
                names, labels)
      .set(at == names.end() ? -1 : static_cast<int>(at - names.begin()));
}

}  // namespace ew::controller
