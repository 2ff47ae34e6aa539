// eventworker: offline tools for EventWorker resources, no cluster needed.
//   eventworker validate -f FILE       exit 0 when every resource in FILE is valid
//   eventworker render -f FILE [-o yaml|json] [--runtime-image IMAGE]
//   eventworker simulate --trace FILE --policy eventworker|keda [model options] [--csv OUT] [--plot OUT.png]
// FILE may hold several YAML documents ("-" reads standard input). Invalid
// input exits 1 with one "<file>: <name>: <field path>: <message>" line per finding.

#include <unistd.h>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "api/load.h"
#include "autoscale/sim_options.h"
#include "render/render.h"

namespace {

using ew::api::Json;

struct Input {
  std::string file;
  std::vector<Json> documents;
};

bool readInput(const std::string& file, Input& input) {
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
  } else {
    std::ifstream in(file);
    if (!in) {
      std::cerr << "eventworker: cannot read " << file << "\n";
      return false;
    }
    text << in.rdbuf();
  }
  auto docs = ew::api::parseDocuments(text.str());
  if (!docs) {
    std::cerr << file << ": " << docs.error().message << "\n";
    return false;
  }
  if (docs->empty()) {
    std::cerr << file << ": no documents\n";
    return false;
  }
  input = {file, std::move(*docs)};
  return true;
}

std::string displayName(const Json& doc, std::size_t index) {
  if (doc.is_object() && doc.contains("metadata") && doc["metadata"].is_object() &&
      doc["metadata"].value("name", Json()).is_string())
    return doc["metadata"]["name"].get<std::string>();
  return "document " + std::to_string(index + 1);
}

// Loads every document; prints findings and returns false if any is invalid.
bool loadAll(const Input& input, std::vector<ew::api::EventWorker>& out) {
  bool ok = true;
  for (std::size_t i = 0; i < input.documents.size(); ++i) {
    auto result = ew::api::loadEventWorker(input.documents[i]);
    if (auto* errors = std::get_if<ew::api::FieldErrors>(&result)) {
      ok = false;
      for (const auto& e : *errors)
        std::cerr << input.file << ": " << displayName(input.documents[i], i) << ": " << describe(e) << "\n";
    } else {
      out.push_back(std::get<ew::api::Loaded>(result).eventWorker);
    }
  }
  return ok;
}

bool writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  if (!out.flush()) {
    std::cerr << "eventworker: cannot write " << path << "\n";
    return false;
  }
  return true;
}

// Draws the CSV at csvPath into pngPath with gnuplot.
bool plot(const std::string& csvPath, const std::string& pngPath, const std::string& title) {
  FILE* gnuplot = popen("gnuplot", "w");
  if (!gnuplot) {
    std::cerr << "eventworker: --plot needs gnuplot (apt-get install gnuplot-nox)\n";
    return false;
  }
  std::string script = ew::autoscale::gnuplotScript(csvPath, pngPath, title);
  std::fwrite(script.data(), 1, script.size(), gnuplot);
  int status = pclose(gnuplot);
  if (status != 0) {
    std::cerr << "eventworker: gnuplot failed (exit " << status << "); is gnuplot installed (gnuplot-nox)?\n";
    return false;
  }
  return true;
}

int simulate(ew::autoscale::SimulationOptions options, const std::string& traceFile, const std::string& csvOut,
             const std::string& plotOut) {
  std::ifstream in(traceFile);
  if (!in) {
    std::cerr << "eventworker: cannot read " << traceFile << "\n";
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto trace = ew::autoscale::parseTrace(text.str());
  if (!trace) {
    std::cerr << traceFile << ": " << trace.error().message << "\n";
    return 1;
  }
  options.model.initialReplicas = options.minReplicas;
  if (auto s = ew::autoscale::validateModel(options.model); !s.ok()) {
    std::cerr << "eventworker simulate: " << s.error().message << "\n";
    return 1;
  }
  auto autoscaler = ew::autoscale::makeAutoscaler(options);
  if (!autoscaler) {
    std::cerr << "eventworker simulate: " << autoscaler.error().message << "\n";
    return 1;
  }
  auto result = ew::autoscale::simulate(*trace, options.model, **autoscaler);
  std::cout << "trace " << traceFile << "\npolicy " << options.policy << "\nlag_threshold " << options.lagThreshold
            << "\n"
            << ew::autoscale::summaryText(result.summary);
  std::string csvPath = csvOut;
  if (csvPath.empty() && !plotOut.empty()) {
    char tmp[] = "/tmp/eventworker-simulate-XXXXXX";
    int fd = mkstemp(tmp);
    if (fd < 0) {
      std::cerr << "eventworker: cannot create a temporary file\n";
      return 1;
    }
    close(fd);
    csvPath = tmp;
  }
  if (!csvPath.empty() && !writeFile(csvPath, ew::autoscale::toCsv(result))) return 1;
  bool ok = plotOut.empty() || plot(csvPath, plotOut, traceFile + " - " + options.policy);
  if (csvOut.empty() && !csvPath.empty()) std::remove(csvPath.c_str());
  return ok ? 0 : 1;
}

// The flags of `eventworker simulate`.
struct SimulateFlags {
  ew::autoscale::SimulationOptions sim;
  std::string traceFile, csvOut, plotOut;
  int stuckPartition = -1, stuckFrom = 0, stuckUntil = INT_MAX;
};

CLI::App* addSimulate(CLI::App& app, SimulateFlags& f) {
  auto& sim = f.sim;
  auto* simulate = app.add_subcommand("simulate", "replay an arrival-rate trace through a scaling policy");
  simulate->add_option("--trace", f.traceFile, "CSV rows t_seconds,produce_rate")->required();
  simulate->add_option("--policy", sim.policy, "eventworker or keda (KEDA's Kafka scaler under the HPA)")
      ->check(CLI::IsMember({"eventworker", "keda"}))
      ->capture_default_str();
  simulate->add_option("--partitions", sim.model.partitions, "partitions of the topic")->capture_default_str();
  simulate->add_option("--per-replica-rate", sim.model.perReplicaRate, "messages/s one replica processes")
      ->capture_default_str();
  simulate->add_option("--pod-start", sim.model.podStartSeconds, "seconds from scale-up to consuming")
      ->capture_default_str();
  simulate
      ->add_option("--rebalance-pause", sim.model.rebalancePauseSeconds,
                   "seconds the group stops on each membership change")
      ->capture_default_str();
  simulate
      ->add_option("--commit-interval", sim.model.commitIntervalSeconds, "seconds between the group's offset commits")
      ->capture_default_str();
  simulate->add_option("--lag-threshold", sim.lagThreshold, "lagThreshold of both policies")->capture_default_str();
  simulate->add_option("--activation-lag-threshold", sim.activationLagThreshold, "activationLagThreshold")
      ->capture_default_str();
  simulate->add_option("--min-replicas", sim.minReplicas, "minReplicas (and the replicas at t=0)")
      ->capture_default_str();
  simulate->add_option("--max-replicas", sim.maxReplicas, "maxReplicas")->capture_default_str();
  simulate->add_option("--cooldown", sim.cooldownSeconds, "idle seconds before scaling to zero (minReplicas 0)")
      ->capture_default_str();
  simulate->add_option("--target-drain", sim.targetDrainSeconds, "eventworker: targetDrainSeconds (0: lag mode only)")
      ->capture_default_str();
  simulate->add_option("--stabilization", sim.stabilizationSeconds, "eventworker: scaleDownStabilizationSeconds")
      ->capture_default_str();
  simulate->add_option("--poll-interval", sim.pollIntervalSeconds, "eventworker: seconds between polls")
      ->capture_default_str();
  simulate
      ->add_option("--max-scale-down-percent", sim.maxScaleDownPercent,
                   "eventworker: largest scale-down step, % of replicas")
      ->capture_default_str();
  simulate->add_option("--predictive", sim.predictive, "eventworker: scale ahead of recurring bursts")
      ->capture_default_str();
  simulate->add_option("--stuck-partition", f.stuckPartition, "a partition whose handler is stuck (poison message)");
  simulate->add_option("--stuck-from", f.stuckFrom, "second the stuck partition stops")->capture_default_str();
  simulate->add_option("--stuck-until", f.stuckUntil, "second it resumes");
  simulate->add_option("--csv", f.csvOut, "write one row per simulated second");
  simulate->add_option("--plot", f.plotOut, "draw lag and replicas into a PNG (needs gnuplot)");
  return simulate;
}

// validate (RENDER false) or render FILE; the exit code.
int validateOrRender(const std::string& file, bool render, const std::string& output,
                     const ew::render::RenderOptions& options) {
  Input input;
  if (!readInput(file, input)) return 1;
  std::vector<ew::api::EventWorker> workers;
  if (!loadAll(input, workers)) return 1;

  if (!render) {
    for (const auto& w : workers) std::cout << input.file << ": " << w.metadata.name << ": valid\n";
    return 0;
  }
  Json items = Json::array();
  for (const auto& w : workers)
    for (auto& o : ew::render::render(w, options).objects) items.push_back(std::move(o));
  if (output == "json") {
    std::cout << Json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump(2) << "\n";
  } else {
    for (std::size_t i = 0; i < items.size(); ++i) std::cout << (i ? "---\n" : "") << ew::api::toYaml(items[i]);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"eventworker: validate and render EventWorker resources offline"};
  app.require_subcommand(1);

  std::string file, output = "yaml";
  ew::render::RenderOptions options;
  auto* validate = app.add_subcommand("validate", "check resources as the API server and the operator would");
  validate->add_option("-f,--filename", file, "file with one or more EventWorkers (- for stdin)")->required();
  auto* render = app.add_subcommand("render", "print the objects the operator creates for each EventWorker");
  render->add_option("-f,--filename", file, "file with one or more EventWorkers (- for stdin)")->required();
  render->add_option("-o,--output", output, "yaml or json")->check(CLI::IsMember({"yaml", "json"}));
  render->add_option("--runtime-image", options.runtimeImage, "the eventworker-runtime image")->capture_default_str();
  SimulateFlags sim;
  auto* simulate = addSimulate(app, sim);
  CLI11_PARSE(app, argc, argv);

  if (*simulate) {
    if (sim.stuckPartition >= 0)
      sim.sim.model.stuck = ew::autoscale::StuckPartition{sim.stuckPartition, sim.stuckFrom, sim.stuckUntil};
    return ::simulate(sim.sim, sim.traceFile, sim.csvOut, sim.plotOut);
  }
  return validateOrRender(file, !*validate, output, options);
}
