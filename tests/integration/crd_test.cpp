// The CRDs in crds/ against the real kube-apiserver: they install and are
// served with their descriptions, subresources and printer columns; the
// samples and the valid rows of tests/data/valid are accepted; every row of
// tests/data/invalid is refused with an error that names the field. Server-side
// dry runs with strict field validation (unknown fields are errors).
#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <algorithm>
#include <filesystem>

#include <fstream>
#include <iterator>
#include <sstream>

#include "kube/api.h"
#include "kube_helpers.h"
#include "test_env.h"

namespace fs = std::filesystem;
using ew::kube::Json;
using ew::kube::KubeApi;
using namespace ew::testing;
using namespace std::chrono_literals;

namespace {

const fs::path kSourceDir = EW_SOURCE_DIR;
const fs::path kData = kSourceDir / "tests" / "data";

// A fresh namespace, deleted when the test ends (pass or fail).
class ScopedNamespace {
 public:
  ScopedNamespace() : api_(testKubeClient()), name_(createNamespace(api_, "crd")) {}
  ~ScopedNamespace() { (void)api_.remove(ew::kube::resources::kNamespace, "", name_); }
  const std::string& name() const { return name_; }

 private:
  KubeApi api_;
  std::string name_;
};

std::vector<fs::path> yamlFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The text after "# expect: " on a file's first line; empty when absent.
std::string expectation(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  const std::string tag = "# expect: ";
  return line.rfind(tag, 0) == 0 ? line.substr(tag.size()) : "";
}

struct KubectlRun {
  int rc;
  std::string output;  // stdout and stderr
};

KubectlRun run(const std::string& args) {
  KubectlRun r;
  r.rc = kubectl(args, &r.output);
  return r;
}

KubectlRun dryRunApply(const fs::path& file, const std::string& ns) {
  return run("apply --dry-run=server --validate=strict -n " + ns + " -f '" + file.string() + "'");
}

// A sample names its namespace (shop); this copy names NS instead.
fs::path sampleIn(const fs::path& sample, const std::string& ns) {
  std::string text = readFile(sample);
  const std::string from = "namespace: shop";
  const auto at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), "namespace: " + ns);
  const fs::path copy = fs::temp_directory_path() / (uniqueName("sample") + "-" + sample.filename().string());
  std::ofstream(copy) << text;
  return copy;
}

// Field errors in kubectl's report ("* path: ..." lines, or the single error
// after "is invalid: "), leaving out the API server's note that CEL rules were
// skipped because the schema already failed.
int fieldErrorCount(const std::string& output) {
  int bullets = 0;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("* ", 0) == 0 && line.find("some validation rules were not checked") == std::string::npos) ++bullets;
  return bullets > 0 ? bullets : 1;
}

}  // namespace

TEST_CASE("the EventWorker and Dapr Subscription CRDs install, are Established and explain their fields") {
  installCrds();
  KubeApi api(testKubeClient());
  for (const char* name : {"eventworkers.eventworker.dev", "subscriptions.dapr.io"}) {
    INFO(name);
    auto crd = api.get(ew::kube::resources::kCustomResourceDefinition, "", name);
    REQUIRE(crd.ok());
    bool established = false;
    for (const auto& c : (*crd)["status"].value("conditions", Json::array()))
      established = established || (c["type"] == "Established" && c["status"] == "True");
    CHECK(established);
  }
  auto ew = api.get(ew::kube::resources::kCustomResourceDefinition, "", "eventworkers.eventworker.dev");
  REQUIRE(ew.ok());
  CHECK((*ew)["spec"]["names"]["shortNames"] == Json::array({"ew"}));
  CHECK((*ew)["spec"]["scope"] == "Namespaced");

  // The OpenAPI document is published a moment after the CRD is established.
  KubectlRun explain;
  CHECK(eventually([&] {
    explain = run("explain eventworker.spec.scaling");
    return explain.rc == 0;
  }));
  INFO(explain.output);
  CHECK_THAT(explain.output, Catch::Contains("How the events Deployment follows Kafka consumer lag") &&
                                 Catch::Contains("minReplicas") && Catch::Contains("fallback"));
  auto retry = run("explain eventworker.spec.subscriptions.retry.maxBackoff");
  CHECK(retry.rc == 0);
  CHECK_THAT(retry.output, Catch::Contains("at most 1h"));
}

TEST_CASE("every sample is accepted by the API server") {
  installCrds();
  ScopedNamespace ns;
  const auto samples = yamlFiles(kSourceDir / "manifests" / "samples");
  REQUIRE(samples.size() == 3);
  for (const auto& sample : samples) {
    const fs::path copy = sampleIn(sample, ns.name());
    auto r = run("apply --dry-run=server --validate=strict -f '" + copy.string() + "'");
    fs::remove(copy);
    INFO(sample.filename().string() << ":\n" << r.output);
    CHECK(r.rc == 0);
    CHECK_THAT(r.output, Catch::Contains("created (server dry run)"));
  }
}

TEST_CASE("a stored sample gets the contract's defaults, scales through the scale subresource and prints its columns") {
  installCrds();
  ScopedNamespace ns;
  const fs::path copy = sampleIn(kSourceDir / "manifests" / "samples" / "customer-worker.yaml", ns.name());
  auto created = run("apply --validate=strict -f '" + copy.string() + "'");
  fs::remove(copy);
  INFO(created.output);
  REQUIRE(created.rc == 0);

  KubeApi api(testKubeClient(), "crd-test");
  auto stored = api.get(ew::kube::resources::kEventWorker, ns.name(), "customer-worker");
  REQUIRE(stored.ok());
  const Json& spec = (*stored)["spec"];
  const Json& cancelled = spec["subscriptions"][1];  // declares only name, topic, route, deadLetterTopic
  CHECK(cancelled["name"] == "order-cancelled");
  CHECK(cancelled["concurrency"] == 16);
  CHECK(cancelled["ordering"] == "key");
  CHECK(cancelled["retry"] == Json({{"maxAttempts", 5}, {"initialBackoff", "200ms"}, {"maxBackoff", "30s"}}));
  CHECK(cancelled["maxEventBytes"] == 1048576);
  CHECK(cancelled["requireCloudEvent"] == false);
  CHECK(cancelled["idempotency"]["kind"] == "none");
  CHECK(spec["handler"]["kind"] == "http");
  CHECK(spec["handler"]["host"] == "127.0.0.1");
  CHECK(spec["handler"]["allowNonLoopback"] == false);
  CHECK(spec["handler"]["timeout"] == "30s");
  CHECK(spec["source"]["kafka"]["offsetReset"] == "earliest");
  CHECK(spec["scaling"]["pollIntervalSeconds"] == 5);
  CHECK(spec["scaling"]["enabled"] == true);
  CHECK(spec["scaling"]["cooldownSeconds"] == 300);
  CHECK(spec["scaling"]["maxScaleDownPercent"] == 75);
  CHECK(spec["scaling"]["allowIdleConsumers"] == false);
  CHECK_FALSE(spec.contains("replicas"));

  auto scaled = run("scale ew customer-worker -n " + ns.name() + " --replicas=3");
  INFO(scaled.output);
  REQUIRE(scaled.rc == 0);
  stored = api.get(ew::kube::resources::kEventWorker, ns.name(), "customer-worker");
  REQUIRE(stored.ok());
  CHECK((*stored)["spec"]["replicas"] == 3);

  const Json status = {{"apiVersion", "eventworker.dev/v1alpha1"},
                       {"kind", "EventWorker"},
                       {"metadata", {{"name", "customer-worker"}, {"namespace", ns.name()}}},
                       {"status",
                        {{"replicas", 3},
                         {"desiredReplicas", 4},
                         {"selector", "eventworker.dev/name=customer-worker"},
                         {"lag", {{"total", 5120}, {"byTopic", {{"order.completed", 5120}}}}},
                         {"conditions",
                          {{{"type", "Ready"},
                            {"status", "True"},
                            {"reason", "Available"},
                            {"lastTransitionTime", "2026-01-01T00:00:00Z"},
                            {"message", ""}}}}}}};
  auto written = api.apply(ew::kube::resources::kEventWorker, ns.name(), "customer-worker", status, /*status=*/true);
  INFO((written.ok() ? std::string() : written.error().message));
  REQUIRE(written.ok());

  auto scale =
      run("get --raw /apis/eventworker.dev/v1alpha1/namespaces/" + ns.name() + "/eventworkers/customer-worker/scale");
  INFO(scale.output);
  REQUIRE(scale.rc == 0);
  const Json s = Json::parse(scale.output);
  CHECK(s["spec"]["replicas"] == 3);
  CHECK(s["status"]["replicas"] == 3);
  CHECK(s["status"]["selector"] == "eventworker.dev/name=customer-worker");

  auto table = run("get ew -n " + ns.name());
  INFO(table.output);
  REQUIRE(table.rc == 0);
  std::istringstream rows(table.output);
  std::string header, row;
  std::getline(rows, header);
  std::getline(rows, row);
  std::istringstream headerWords(header), rowWords(row);
  std::vector<std::string> columns{std::istream_iterator<std::string>(headerWords), {}};
  std::vector<std::string> values{std::istream_iterator<std::string>(rowWords), {}};
  CHECK(columns == std::vector<std::string>{"NAME", "READY", "REPLICAS", "DESIRED", "LAG", "AGE"});
  REQUIRE(values.size() == 6);
  CHECK(std::vector<std::string>(values.begin(), values.end() - 1) ==
        std::vector<std::string>{"customer-worker", "True", "3", "4", "5120"});
}

TEST_CASE("every valid control case in tests/data/valid is accepted") {
  installCrds();
  ScopedNamespace ns;
  const auto files = yamlFiles(kData / "valid");
  REQUIRE(files.size() >= 5);
  for (const auto& file : files) {
    auto r = dryRunApply(file, ns.name());
    INFO(file.filename().string() << ":\n" << r.output);
    CHECK(r.rc == 0);
    CHECK_THAT(r.output, Catch::Contains("created (server dry run)"));
  }
}

TEST_CASE("every invalid resource in tests/data/invalid is refused with an error naming its field") {
  installCrds();
  ScopedNamespace ns;
  const auto files = yamlFiles(kData / "invalid");
  REQUIRE(files.size() >= 22);
  for (const auto& file : files) {
    const std::string expected = expectation(file);
    auto r = dryRunApply(file, ns.name());
    INFO(file.filename().string() << " expects \"" << expected << "\"; kubectl said:\n" << r.output);
    REQUIRE_FALSE(expected.empty());
    CHECK(r.rc != 0);
    CHECK_THAT(r.output, Catch::Contains(expected));
    CHECK(fieldErrorCount(r.output) == 1);  // the row shows one mistake, not several
  }
}

// `eventworker validate -f FILE`: the offline judge.
KubectlRun validateOffline(const fs::path& file) {
  KubectlRun r;
  const std::string cmd = std::string(EW_CLI_BIN) + " validate -f '" + file.string() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The field path of an expectation: "spec.scaling: Invalid value..." -> "spec.scaling",
// and kubectl's strict-decoding form 'unknown field "spec.x"' -> "spec.x".
std::string fieldOf(const std::string& expected) {
  const std::string unknown = "unknown field \"";
  if (expected.rfind(unknown, 0) == 0)
    return expected.substr(unknown.size(), expected.find('"', unknown.size()) - unknown.size());
  return expected.substr(0, expected.find(": "));
}

TEST_CASE("eventworker validate refuses offline every row the API server refuses, at the same field") {
  const auto files = yamlFiles(kData / "invalid");
  REQUIRE(files.size() >= 22);
  for (const auto& file : files) {
    const std::string field = fieldOf(expectation(file));
    auto r = validateOffline(file);
    INFO(file.filename().string() << " expects a finding at " << field << "; validate said:\n" << r.output);
    CHECK(r.rc != 0);
    CHECK_THAT(r.output, Catch::Contains(": " + field + ": ") || Catch::Contains(": " + field + "."));
  }
  for (const auto& file : yamlFiles(kData / "valid")) {
    auto r = validateOffline(file);
    INFO(file.filename().string() << ": " << r.output);
    CHECK(r.rc == 0);
  }
}

// Rows that the schema and CEL cannot judge (cron field ranges, a topic read
// by two subscriptions, port clashes, quantities, ...) live in
// tests/data/invalid-operator/. The API server accepts them; `eventworker
// validate` (and so the operator, which reports a Degraded condition) refuses
// each with the row's "# expect:" text.
TEST_CASE("rows only the operator can judge are accepted by the API server and refused by eventworker validate") {
  installCrds();
  ScopedNamespace ns;
  const auto files = yamlFiles(kData / "invalid-operator");
  REQUIRE(files.size() >= 7);
  for (const auto& file : files) {
    auto r = dryRunApply(file, ns.name());
    INFO(file.filename().string() << ":\n" << r.output);
    CHECK_FALSE(expectation(file).empty());
    CHECK(r.rc == 0);
    auto v = validateOffline(file);
    INFO("validate said:\n" << v.output);
    CHECK(v.rc != 0);
    CHECK_THAT(v.output, Catch::Contains(expectation(file)));
  }
}
