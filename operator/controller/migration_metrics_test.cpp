#include "controller/migration_metrics.h"

#include <catch2/catch.hpp>

// The migration phase state set, read back from the registry's text.

using namespace ew;
using namespace ew::controller;
using nlohmann::json;

namespace {

std::string series(const std::string& phase, int value) {
  return "eventworker_migration_phase{name=\"orders\",namespace=\"shop\",phase=\"" + phase + "\"} " +
         std::to_string(value) + "\n";
}

bool has(const MetricsRegistry& m, const std::string& line) { return m.render().find(line) != std::string::npos; }

}  // namespace

TEST_CASE("an EventWorker without a migration reports phase None, and each recorded phase in turn") {
  MetricsRegistry m;
  exportMigrationPhase(m, "shop/orders", json{{"metadata", {{"name", "orders"}}}});
  CHECK(has(m, series("None", 1)));
  for (const auto& other : {"Pending", "Paused", "OffsetsCopied", "Complete"}) CHECK(has(m, series(other, 0)));

  exportMigrationPhase(m, "shop/orders", json{{"status", {{"migration", {{"phase", "Paused"}}}}}});
  CHECK(has(m, series("Paused", 1)));
  CHECK(has(m, series("None", 0)));
  CHECK(has(m, series("Pending", 0)));

  exportMigrationPhase(m, "shop/orders", json{{"status", {{"migration", {{"phase", "Complete"}}}}}});
  CHECK(has(m, series("Complete", 1)));
  CHECK(has(m, series("Paused", 0)));
  CHECK(migrationPhaseNames().size() == 5);
}

TEST_CASE("a deleted EventWorker leaves no migration phase series behind, and others keep theirs") {
  MetricsRegistry m;
  exportMigrationPhase(m, "shop/orders", json{{"status", {{"migration", {{"phase", "Pending"}}}}}});
  exportMigrationPhase(m, "shop/billing", json::object());
  exportMigrationPhase(m, "shop/orders", std::nullopt);
  CHECK(m.render().find("name=\"orders\"") == std::string::npos);
  CHECK(has(m, "eventworker_migration_phase{name=\"billing\",namespace=\"shop\",phase=\"None\"} 1\n"));
}
