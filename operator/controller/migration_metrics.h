#pragma once
// The migration phase of each EventWorker as a Prometheus state set (the
// convention of kube-state-metrics' *_phase series):
// eventworker_migration_phase{namespace, name, phase} is 1 for the phase in
// status.migration.phase and 0 for every other phase, with phase "None" while
// no migration is recorded. Every EventWorker has the series, so "held in one
// phase for N minutes" is a plain `for:` on `== 1` (the MigrationBlocked
// alert) and a dashboard shows workers that never migrate as None.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "ew/metrics.h"

namespace ew::controller {

// The phases the series carry: "None", then migration::Phase's names in order.
const std::vector<std::string>& migrationPhaseNames();

// Exports the phase of the EventWorker KEY (namespace/name) from EW, its
// object as stored; nullopt (it is gone) drops every series of KEY.
// Thread-safe (the registry is).
void exportMigrationPhase(MetricsRegistry& metrics, const std::string& key, const std::optional<nlohmann::json>& ew);

}  // namespace ew::controller
