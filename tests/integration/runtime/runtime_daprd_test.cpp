// The Dapr path end to end through the real sidecar: the real daprd
// (hack/build-daprd.sh) with a pubsub.kafka Component on the real broker and a
// dapr.io/v2alpha1 Subscription file, delivering to the real runtime
// (source.kind: dapr), which calls a ledger handler.
//
// daprd is built on request only (about half an hour on two cores), so when
// it is not in the cache every case here exits with code 77, which ctest
// counts as skipped (SKIP_RETURN_CODE), after printing why and how to get it.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "ew/process_exit.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kSkipped = 77;  // SKIP_RETURN_CODE in CMakeLists.txt

// DAPR_VERSION from hack/versions.env, the one place it is pinned.
std::string daprVersion() {
  std::ifstream in(std::string(EW_SOURCE_DIR) + "/hack/versions.env");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("DAPR_VERSION=", 0) == 0) return line.substr(13);
  return "";
}

// $EW_DAPRD, else the binary hack/build-daprd.sh caches (either flavour).
std::string daprdPath(std::string& looked) {
  if (const char* p = std::getenv("EW_DAPRD"); p && *p) {
    looked = p;
    return ::access(p, X_OK) == 0 ? p : "";
  }
  std::string cache;
  if (const char* c = std::getenv("EW_CACHE"); c && *c)
    cache = c;
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    cache = std::string(x) + "/eventworker";
  else
    cache = std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") + "/.cache/eventworker";
  const std::string dir = cache + "/daprd-v" + daprVersion();
  looked = dir + "/daprd";
  for (const char* name : {"/daprd", "/daprd-stablecomponents", "/daprd-kafka"})
    if (::access((dir + name).c_str(), X_OK) == 0) return dir + name;
  return "";
}

// The daprd binary, or a counted skip with the reason.
std::string daprdOrSkip() {
  std::string looked;
  std::string path = daprdPath(looked);
  if (path.empty()) {
    std::cout << "SKIPPED: daprd v" << daprVersion() << " is not built (looked for " << looked
              << "); build it with: bash hack/build-daprd.sh (about 30 minutes on two cores), or set EW_DAPRD"
              << std::endl;
    ew::exitProcess(kSkipped);
  }
  return path;
}

// One daprd in standalone mode (no placement, no scheduler), its resources in
// a directory of its own; killed on destruction, or by the kernel should the
// test process die first.
class Daprd {
 public:
  Daprd(const std::string& bin, const std::string& appId, int appPort, const std::string& resources) {
    dir_ = "/tmp/ew-daprd-" + ew::testing::uniqueName(appId);
    fs::create_directories(dir_ + "/resources");
    std::ofstream(dir_ + "/resources/resources.yaml") << resources;
    logPath_ = dir_ + "/daprd.log";
    httpPort_ = freePort();
    const std::vector<std::string> args = {bin,
                                           "--mode", "standalone",
                                           "--app-id", appId,
                                           "--app-port", std::to_string(appPort),
                                           "--app-channel-address", "127.0.0.1",
                                           "--resources-path", dir_ + "/resources",
                                           "--dapr-http-port", std::to_string(httpPort_),
                                           "--dapr-grpc-port", std::to_string(freePort()),
                                           "--dapr-internal-grpc-port", std::to_string(freePort()),
                                           "--metrics-port", std::to_string(freePort()),
                                           "--dapr-listen-addresses", "127.0.0.1",
                                           "--placement-host-address", "",
                                           "--scheduler-host-address", "",
                                           "--log-level", "info"};
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int fd = ::open(logPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Daprd() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);  // its resources and log (a failing check has shown the log already)
  }
  // daprd answers its health endpoint (204) once its components and the app
  // channel are up.
  bool ready(std::chrono::seconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (httpRequest(httpPort_, "GET", "/v1.0/healthz", "", "", {}, 1s).status == 204) return true;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return false;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  std::string logTail() const {
    std::ifstream in(logPath_);
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
  }

 private:
  std::string dir_, logPath_;
  int httpPort_ = 0;
  pid_t pid_ = -1;
};

// A pubsub.kafka Component on the test broker and one Subscription of TOPIC
// to /events (with DLQ as its dead-letter topic, and bulk delivery of up to
// BULK events when BULK > 0).
std::string resources(const std::string& group, const std::string& topic, const std::string& dlq, int bulk) {
  std::ostringstream y;
  y << "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: pubsub}\nspec:\n"
    << "  type: pubsub.kafka\n  version: v1\n  metadata:\n"
    << "  - {name: brokers, value: \"" << ew::testing::serverEnv("EW_KAFKA_BOOTSTRAP") << "\"}\n"
    << "  - {name: consumerGroup, value: " << group << "}\n"
    << "  - {name: clientID, value: " << group << "}\n"
    << "  - {name: authType, value: none}\n"
    << "  - {name: initialOffset, value: oldest}\n"
    << "---\napiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata: {name: " << topic << "}\nspec:\n"
    << "  pubsubname: pubsub\n  topic: " << topic << "\n  routes: {default: /events}\n"
    << "  deadLetterTopic: " << dlq << "\n";
  if (bulk > 0) y << "  bulkSubscribe: {enabled: true, maxMessagesCount: " << bulk << ", maxAwaitDurationMs: 40}\n";
  return y.str();
}

// Kafka topic, dead-letter topic, runtime (source dapr, ledger handler) and
// daprd in front of it.
struct Stack {
  std::string topic, dlq, group;
  std::unique_ptr<RuntimeProcess> runtime;
  std::unique_ptr<Daprd> daprd;

  Stack(Kafka& kafka, const Ledger& ledger, const std::string& name, int partitions, int bulk) {
    const std::string bin = daprdOrSkip();
    topic = ew::testing::uniqueName(name);
    dlq = topic + "-dlq";
    group = topic + "-worker";
    kafka.createTopic(topic, partitions);
    kafka.createTopic(dlq, 1);
    ConfigSpec spec;
    spec.source = "dapr";
    spec.topic = topic;
    spec.ledgerPort = ledger.port();
    spec.concurrency = 16;
    spec.retry = "{maxAttempts: 3, initialBackoff: 50ms, maxBackoff: 200ms}";
    runtime = std::make_unique<RuntimeProcess>(name, spec);
    daprd = std::make_unique<Daprd>(bin, group, runtime->daprPort(), resources(group, topic, dlq, bulk));
    INFO(daprd->logTail() << "\n--- runtime:\n" << runtime->log());
    REQUIRE(daprd->ready(60s));
  }
};

// Per key, the first delivery of each seq arrives in increasing seq order.
int keyOrderViolations(const std::vector<LedgerEntry>& entries) {
  std::map<std::string, int64_t> last;
  std::set<std::string> seen;
  int violations = 0;
  for (const auto& e : entries) {
    if (!seen.insert(e.id).second) continue;  // a redelivery
    auto [it, first] = last.try_emplace(e.key, e.seq);
    if (!first) {
      if (e.seq < it->second) ++violations;
      it->second = e.seq;
    }
  }
  return violations;
}

void produceBurst(Kafka& kafka, const std::string& topic, int keys, int perKey) {
  for (int s = 0; s < perKey; ++s)
    for (int k = 0; k < keys; ++k) {
      const std::string key = "k" + std::to_string(k);
      kafka.produce(topic, key, cloudEvent(key + "-" + std::to_string(s), key, s));
    }
  kafka.flush();
}

}  // namespace

TEST_CASE("daprd: a burst produced to Kafka reaches the handler through the real daprd at least once and in key order") {
  Kafka kafka;
  Ledger ledger;
  Stack stack(kafka, ledger, "daprd-burst", 4, 0);
  constexpr int kKeys = 50, kPerKey = 40, kTotal = kKeys * kPerKey;
  produceBurst(kafka, stack.topic, kKeys, kPerKey);

  const bool all = ledger.waitFor([&](const Ledger& l) { return l.distinct() >= kTotal; }, 120s);
  INFO(stack.daprd->logTail() << "\n--- runtime:\n" << stack.runtime->log());
  REQUIRE(all);
  const auto entries = ledger.entries();
  CHECK(ledger.distinct() == kTotal);
  // daprd delivers one record of a partition at a time, so here order is the
  // whole path's; the bulk case below is where the runtime's lanes (keyed by
  // daprd's __key metadata) keep it.
  CHECK(keyOrderViolations(entries) == 0);
  CHECK(ledger.overlaps() == 0);
  WARN("daprd burst: " << kTotal << " events, " << entries.size() - kTotal << " redeliveries");
  CHECK(metricValue(httpGet(stack.runtime->opsPort(), "/metrics"),
                    "worker_dapr_replies_total{status=\"SUCCESS\",subscription=\"sub\",worker=\"rt\"}") >= kTotal);
}

TEST_CASE("daprd: bulk deliveries through the real daprd are answered per entry and every event is handled") {
  Kafka kafka;
  Ledger ledger;
  Stack stack(kafka, ledger, "daprd-bulk", 4, 50);
  constexpr int kKeys = 20, kPerKey = 50, kTotal = kKeys * kPerKey;
  produceBurst(kafka, stack.topic, kKeys, kPerKey);

  const bool all = ledger.waitFor([&](const Ledger& l) { return l.distinct() >= kTotal; }, 120s);
  INFO(stack.daprd->logTail() << "\n--- runtime:\n" << stack.runtime->log());
  REQUIRE(all);
  CHECK(ledger.distinct() == kTotal);
  CHECK(keyOrderViolations(ledger.entries()) == 0);
  CHECK(ledger.overlaps() == 0);  // one bulk holds many events of a key: never two at once
  const std::string metrics = httpGet(stack.runtime->opsPort(), "/metrics");
  CHECK(metricValue(metrics, "worker_jobs_total{status=\"success\",subscription=\"sub\",worker=\"rt\"}") >= kTotal);
  // Bulk requests arrived (fewer requests than events).
  const double requests = metricValue(metrics, "worker_dapr_deliveries_total{kind=\"bulk\",worker=\"rt\"}");
  INFO(metrics);
  CHECK(requests > 0);
  CHECK(requests < kTotal);
}

TEST_CASE("daprd: a handler that asks for retries is retried in the runtime and an exhausted event reaches daprd's dead-letter topic") {
  Kafka kafka;
  Ledger ledger;
  std::mutex mu;
  std::map<std::string, int> calls;
  ledger.setRespond([&](const LedgerEntry& e) {
    std::lock_guard l(mu);
    const int n = ++calls[e.id];
    if (e.id == "poison") return 500;
    if (e.id.rfind("flaky-", 0) == 0) return n < 3 ? 503 : 200;  // answers "retry" twice
    return 200;
  });
  Stack stack(kafka, ledger, "daprd-retry", 2, 0);
  for (int i = 0; i < 10; ++i) kafka.produce(stack.topic, "f" + std::to_string(i), cloudEvent("flaky-" + std::to_string(i), "f", i));
  kafka.produce(stack.topic, "p", cloudEvent("poison", "p", 0));
  for (int i = 0; i < 50; ++i) kafka.produce(stack.topic, "ok" + std::to_string(i % 5), cloudEvent("ok-" + std::to_string(i), "ok", i));
  kafka.flush();

  // The poison event comes back once, on daprd's dead-letter topic.
  const auto dead = kafka.readAll(stack.dlq, 1, 90s);
  INFO(stack.daprd->logTail() << "\n--- runtime:\n" << stack.runtime->log());
  REQUIRE(dead.size() == 1);
  const json deadEvent = json::parse(dead[0].value, nullptr, false);
  REQUIRE(deadEvent.is_object());
  CHECK(deadEvent.value("id", "") == "poison");

  // Handled (2xx): the flaky and the ok events; the poison event never is.
  REQUIRE(ledger.waitFor([](const Ledger& l) { return l.distinct() >= 60; }, 60s));
  std::lock_guard l(mu);
  CHECK(calls["poison"] == 3);  // retry.maxAttempts, in the runtime; then DROP
  for (int i = 0; i < 10; ++i) CHECK(calls["flaky-" + std::to_string(i)] == 3);
  int ok = 0;
  for (const auto& [id, n] : calls) ok += id.rfind("ok-", 0) == 0;
  CHECK(ok == 50);
  // Nothing but the poison event was dead-lettered.
  CHECK(kafka.readAll(stack.dlq, 2, 3s).size() == 1);
  const std::string metrics = httpGet(stack.runtime->opsPort(), "/metrics");
  CHECK(metricValue(metrics, "worker_dapr_replies_total{status=\"DROP\",subscription=\"sub\",worker=\"rt\"}") == 1);
}
