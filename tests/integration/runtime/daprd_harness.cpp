#include "daprd_harness.h"

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
#include <set>
#include <sstream>

#include "ew/process_exit.h"
#include "test_env.h"

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace ew::rttest {
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

std::string cacheDir() {
  if (const char* c = std::getenv("EW_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/eventworker";
  return std::string(std::getenv("HOME") ? std::getenv("HOME") : "/root") + "/.cache/eventworker";
}

// Starts ARGV (ARGV[0] a path) with stdin from IN_PATH ("" for /dev/null),
// stdout to OUT_PATH and stderr to ERR_PATH ("" for OUT_PATH), and ENV added
// to the environment; the kernel kills it should the test process die first.
pid_t spawn(const std::vector<std::string>& argv, const std::string& inPath, const std::string& outPath,
            const std::string& errPath, const std::vector<std::pair<std::string, std::string>>& env = {}) {
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    ::dup2(::open(inPath.empty() ? "/dev/null" : inPath.c_str(), O_RDONLY), 0);
    const int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(errPath.empty() ? out : ::open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// ---------------------------------------------------------------- brokers

class KafkaBroker : public DaprBroker {
 public:
  std::string type() const override { return "pubsub.kafka"; }
  std::string componentSpec(const std::string& group) const override {
    return "  type: pubsub.kafka\n  version: v1\n  metadata:\n"
           "  - {name: brokers, value: \"" +
           kafka_.bootstrap() +
           "\"}\n"
           "  - {name: consumerGroup, value: " +
           group +
           "}\n"
           "  - {name: clientID, value: " +
           group +
           "}\n"
           "  - {name: authType, value: none}\n"
           "  - {name: initialOffset, value: oldest}\n";
  }
  void createTopic(const std::string& topic, int partitions) override { kafka_.createTopic(topic, partitions); }
  void publish(const std::string& topic, const std::string& key, const std::string& value) override {
    kafka_.produce(topic, key, value);
  }
  void flush(const std::string&) override { kafka_.flush(); }
  std::vector<std::string> readAll(const std::string& topic, size_t count, std::chrono::seconds timeout) override {
    std::vector<std::string> values;
    for (auto& r : kafka_.readAll(topic, count, timeout)) values.push_back(std::move(r.value));
    return values;
  }
  bool keyInMetadata() const override { return true; }

 private:
  Kafka kafka_;
};

// The exit status of PROGRAM ARGS... (stdin from IN, PUBSUB_EMULATOR_HOST
// set) and its stdout and stderr; the test fails when it does not exit
// within TIMEOUT.
struct ToolRun {
  int status = -1;
  std::string out, err;
};
ToolRun runTool(const std::vector<std::string>& argv, const std::string& in, const std::string& emulatorHost,
                std::chrono::seconds timeout) {
  const std::string dir = "/tmp/ew-tool-" + ew::testing::uniqueName("pstest");
  fs::create_directories(dir);
  std::ofstream(dir + "/in") << in;
  const pid_t pid = spawn(argv, dir + "/in", dir + "/out", dir + "/err", {{"PUBSUB_EMULATOR_HOST", emulatorHost}});
  ToolRun run;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(20ms);
  }
  auto slurp = [](const std::string& path) {
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  };
  run.status = status >= 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = slurp(dir + "/out");
  run.err = slurp(dir + "/err");
  std::error_code ec;
  fs::remove_all(dir, ec);
  return run;
}

// Pub/Sub keeps a message only for the subscriptions its topic has when it is
// published: createTopic adds one of the test's own ("<topic>-reader") for
// readAll, and flush waits for daprd's ("<consumerID>-<topic>") before it
// publishes.
class PubsubBroker : public DaprBroker {
 public:
  PubsubBroker()
      : emulator_(ew::testing::serverEnv("EW_PUBSUB_EMULATOR_HOST")), tool_(ew::testing::serverEnv("EW_PSTEST")) {}
  std::string type() const override { return "pubsub.gcp.pubsub"; }
  std::string componentSpec(const std::string& group) const override {
    return "  type: pubsub.gcp.pubsub\n  version: v1\n  metadata:\n"
           "  - {name: projectId, value: " +
           std::string(kProject) +
           "}\n"
           "  - {name: endpoint, value: \"" +
           emulator_ +
           "\"}\n"
           "  - {name: consumerID, value: " +
           group +
           "}\n"
           "  - {name: enableMessageOrdering, value: \"true\"}\n";
  }
  void createTopic(const std::string& topic, int) override {
    pstest("pull", {"-topic", topic, "-subscription", topic + "-reader", "-count", "0"}, "", 30s);
  }
  void publish(const std::string& topic, const std::string& key, const std::string& value) override {
    REQUIRE(value.find('\n') == std::string::npos);
    queued_[topic] += key + "\t" + value + "\n";
  }
  void flush(const std::string& group) override {
    for (const auto& [topic, lines] : queued_)
      pstest("publish", {"-topic", topic, "-wait-subscription", group + "-" + topic}, lines, 120s);
    queued_.clear();
  }
  std::vector<std::string> readAll(const std::string& topic, size_t count, std::chrono::seconds timeout) override {
    auto& seen = read_[topic];  // pulled messages are acked: keep them
    if (seen.size() < count) {
      const std::string out = pstest("pull",
                                     {"-subscription", topic + "-reader", "-count", std::to_string(count - seen.size()),
                                      "-timeout", std::to_string(timeout.count()) + "s"},
                                     "", timeout + 30s);
      std::istringstream lines(out);
      for (std::string line; std::getline(lines, line);)
        seen.push_back(json::parse(line).at("data").get<std::string>());
    }
    return seen;
  }
  bool keyInMetadata() const override { return false; }

 private:
  static constexpr const char* kProject = "ew-test";
  // Runs pstest COMMAND -project ew-test ARGS... and returns its stdout.
  std::string pstest(const std::string& command, const std::vector<std::string>& args, const std::string& in,
                     std::chrono::seconds timeout) const {
    std::vector<std::string> argv = {tool_, command, "-project", kProject};
    argv.insert(argv.end(), args.begin(), args.end());
    const ToolRun run = runTool(argv, in, emulator_, timeout);
    INFO("pstest " << command << " (exit " << run.status << "): " << run.err);
    REQUIRE(run.status == 0);
    return run.out;
  }
  std::string emulator_, tool_;
  std::map<std::string, std::string> queued_;
  std::map<std::string, std::vector<std::string>> read_;
};

// Redis Streams: a topic is a stream; XADD with the "data" field, as daprd's
// component publishes; the component makes its consumer group at the start
// of the stream, so nothing needs to exist before daprd.
class RedisStreamsBroker : public DaprBroker {
 public:
  RedisStreamsBroker(const RedisServer& redis, int concurrency) : redis_(redis), concurrency_(concurrency) {}
  std::string type() const override { return "pubsub.redis"; }
  std::string componentSpec(const std::string& group) const override {
    return "  type: pubsub.redis\n  version: v1\n  metadata:\n"
           "  - {name: redisHost, value: \"" +
           redis_.address() +
           "\"}\n"
           "  - {name: consumerID, value: " +
           group +
           "}\n"
           "  - {name: concurrency, value: \"" +
           std::to_string(concurrency_) + "\"}\n";
  }
  void createTopic(const std::string&, int) override {}
  void publish(const std::string& topic, const std::string&, const std::string& value) override {
    queued_.push_back({"XADD", topic, "*", "data", value});
  }
  void flush(const std::string&) override {
    if (!queued_.empty()) redis_.commands(queued_);
    queued_.clear();
  }
  std::vector<std::string> readAll(const std::string& topic, size_t count, std::chrono::seconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<std::string> values;
    for (;;) {
      values.clear();
      const json entries = redis_.commands({{"XRANGE", topic, "-", "+"}}).at(0);
      for (const auto& entry : entries) {  // [id, [field, value, ...]]
        const auto& fields = entry.at(1);
        for (size_t i = 0; i + 1 < fields.size(); i += 2)
          if (fields[i] == "data") values.push_back(fields[i + 1].get<std::string>());
      }
      if (values.size() >= count || std::chrono::steady_clock::now() >= deadline) return values;
      std::this_thread::sleep_for(100ms);
    }
  }
  bool keyInMetadata() const override { return false; }

 private:
  const RedisServer& redis_;
  int concurrency_;
  std::vector<std::vector<std::string>> queued_;
};

// ---------------------------------------------------------------- cases

// A test event: the CloudEvent cloudEvent() writes, with its key in the
// CloudEvent's partitionkey where the broker does not pass keys to daprd.
std::string event(const DaprBroker& broker, const std::string& id, const std::string& key, int64_t seq) {
  if (broker.keyInMetadata()) return cloudEvent(id, key, seq);
  json ce = json::parse(cloudEvent(id, key, seq));
  ce["partitionkey"] = key;
  return ce.dump();
}

// The Component (named "pubsub") and one Subscription of TOPIC to /events
// with DLQ as its dead-letter topic (bulk delivery of up to BULK events when
// BULK > 0).
std::string resources(const DaprBroker& broker, const std::string& group, const std::string& topic,
                      const std::string& dlq, int bulk) {
  std::ostringstream y;
  y << "apiVersion: dapr.io/v1alpha1\nkind: Component\nmetadata: {name: pubsub}\nspec:\n"
    << broker.componentSpec(group)
    << "---\napiVersion: dapr.io/v2alpha1\nkind: Subscription\nmetadata: {name: " << topic << "}\nspec:\n"
    << "  pubsubname: pubsub\n  topic: " << topic << "\n  routes: {default: /events}\n"
    << "  deadLetterTopic: " << dlq << "\n";
  if (bulk > 0) y << "  bulkSubscribe: {enabled: true, maxMessagesCount: " << bulk << ", maxAwaitDurationMs: 40}\n";
  return y.str();
}

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

void publishBurst(DaprBroker& broker, const DaprdStack& stack, int keys, int perKey) {
  for (int s = 0; s < perKey; ++s)
    for (int k = 0; k < keys; ++k) {
      const std::string key = "k" + std::to_string(k);
      broker.publish(stack.topic, key, event(broker, key + "-" + std::to_string(s), key, s));
    }
  broker.flush(stack.group);
}

}  // namespace

DaprBrokerPtr kafkaBroker() { return std::make_unique<KafkaBroker>(); }
DaprBrokerPtr pubsubBroker() { return std::make_unique<PubsubBroker>(); }
DaprBrokerPtr redisStreamsBroker(const RedisServer& redis, int concurrency) {
  return std::make_unique<RedisStreamsBroker>(redis, concurrency);
}

std::string daprdOrSkip(const std::string& type) {
  if (const char* p = std::getenv("EW_DAPRD"); p && *p) {
    if (::access(p, X_OK) == 0) return p;
    std::cout << "SKIPPED: EW_DAPRD=" << p << " is not an executable" << std::endl;
    ew::exitProcess(kSkipped);
  }
  // hack/build-daprd.sh's variants, and the pubsub components each registers.
  const bool kafka = type == "pubsub.kafka";
  const std::vector<std::pair<const char*, bool>> variants = {
      {"daprd", true}, {"daprd-stablecomponents", true}, {"daprd-brokers", true}, {"daprd-kafka", kafka}};
  const std::string dir = cacheDir() + "/daprd-v" + daprVersion() + "/";
  for (const auto& [name, has] : variants)
    if (has && ::access((dir + name).c_str(), X_OK) == 0) return dir + name;
  std::cout << "SKIPPED: no daprd v" << daprVersion() << " with " << type << " is built (looked in " << dir
            << " for daprd, daprd-stablecomponents, daprd-brokers" << (kafka ? ", daprd-kafka" : "")
            << "); build one with: DAPR_COMPONENTS=" << (kafka ? "kafka" : "brokers")
            << " bash hack/build-daprd.sh (minutes), or set EW_DAPRD" << std::endl;
  ew::exitProcess(kSkipped);
}

Daprd::Daprd(const std::string& bin, const std::string& appId, int appPort, const std::string& resources) {
  dir_ = "/tmp/ew-daprd-" + ew::testing::uniqueName(appId);
  fs::create_directories(dir_ + "/resources");
  std::ofstream(dir_ + "/resources/resources.yaml") << resources;
  logPath_ = dir_ + "/daprd.log";
  httpPort_ = freePort();
  const std::vector<std::string> args = {bin,
                                         "--mode",
                                         "standalone",
                                         "--app-id",
                                         appId,
                                         "--app-port",
                                         std::to_string(appPort),
                                         "--app-channel-address",
                                         "127.0.0.1",
                                         "--resources-path",
                                         dir_ + "/resources",
                                         "--dapr-http-port",
                                         std::to_string(httpPort_),
                                         "--dapr-grpc-port",
                                         std::to_string(freePort()),
                                         "--dapr-internal-grpc-port",
                                         std::to_string(freePort()),
                                         "--metrics-port",
                                         std::to_string(freePort()),
                                         "--dapr-listen-addresses",
                                         "127.0.0.1",
                                         "--placement-host-address",
                                         "",
                                         "--scheduler-host-address",
                                         "",
                                         "--log-level",
                                         "info"};
  pid_ = spawn(args, "", logPath_, "");
}

Daprd::~Daprd() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);  // its resources and log (a failing check has shown the log already)
}

bool Daprd::ready(std::chrono::seconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (httpRequest(httpPort_, "GET", "/v1.0/healthz", "", "", {}, 1s).status == 204) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return false;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

std::string Daprd::logTail() const {
  std::ifstream in(logPath_);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
}

DaprdStack::DaprdStack(DaprBroker& broker, const Ledger& ledger, const std::string& name, int partitions, int bulk) {
  const std::string bin = daprdOrSkip(broker.type());
  topic = ew::testing::uniqueName(name);
  dlq = topic + "-dlq";
  group = topic + "-worker";
  broker.createTopic(topic, partitions);
  broker.createTopic(dlq, 1);
  ConfigSpec spec;
  spec.source = "dapr";
  spec.topic = topic;
  spec.ledgerPort = ledger.port();
  spec.concurrency = 16;
  spec.retry = "{maxAttempts: 3, initialBackoff: 50ms, maxBackoff: 200ms}";
  runtime = std::make_unique<RuntimeProcess>(name, spec);
  daprd = std::make_unique<Daprd>(bin, group, runtime->daprPort(), resources(broker, group, topic, dlq, bulk));
  INFO(logs());
  REQUIRE(daprd->ready(60s));
}

std::string DaprdStack::logs() const { return daprd->logTail() + "\n--- runtime:\n" + runtime->log(); }

void checkBurstInKeyOrder(DaprBroker& broker, const std::string& name, int partitions, int keys, int perKey, int bulk) {
  Ledger ledger;
  DaprdStack stack(broker, ledger, name, partitions, bulk);
  const int total = keys * perKey;
  publishBurst(broker, stack, keys, perKey);

  const bool all = ledger.waitFor([&](const Ledger& l) { return l.distinct() >= static_cast<size_t>(total); }, 120s);
  INFO(stack.logs());
  REQUIRE(all);
  const auto entries = ledger.entries();
  CHECK(ledger.distinct() == static_cast<size_t>(total));
  // Single deliveries of a key come from daprd one at a time (a Kafka
  // partition, a Pub/Sub ordering key, the one worker of a Redis stream), so
  // there order is the whole path's; a bulk can hold several events of a key,
  // which the runtime's lanes keep in order and never run two at once.
  CHECK(keyOrderViolations(entries) == 0);
  CHECK(ledger.overlaps() == 0);
  const std::string metrics = httpGet(stack.runtime->opsPort(), "/metrics");
  CHECK(metricValue(metrics, "worker_jobs_total{status=\"success\",subscription=\"sub\",worker=\"rt\"}") >= total);
  if (bulk == 0) {
    CHECK(metricValue(metrics, "worker_dapr_replies_total{status=\"SUCCESS\",subscription=\"sub\",worker=\"rt\"}") >=
          total);
    WARN(broker.type() << " burst: " << total << " events, " << entries.size() - total << " redeliveries");
    return;
  }
  // Bulk requests arrived (fewer requests than events).
  const double requests = metricValue(metrics, "worker_dapr_deliveries_total{kind=\"bulk\",worker=\"rt\"}");
  INFO(metrics);
  CHECK(requests > 0);
  CHECK(requests < total);
  WARN(broker.type() << " bulk: " << total << " events in " << requests << " bulk deliveries");
}

void checkRetriesAndDeadLetter(DaprBroker& broker, const std::string& name, int partitions) {
  Ledger ledger;
  ledger.setRespond([](const LedgerEntry& e) {
    if (e.id == "poison") return 500;
    if (e.id.rfind("flaky-", 0) == 0) return e.attempt < 3 ? 503 : 200;  // answers "retry" twice
    return 200;
  });
  DaprdStack stack(broker, ledger, name, partitions, 0);
  for (int i = 0; i < 10; ++i)
    broker.publish(stack.topic, "f" + std::to_string(i), event(broker, "flaky-" + std::to_string(i), "f", i));
  broker.publish(stack.topic, "p", event(broker, "poison", "p", 0));
  for (int i = 0; i < 50; ++i) {
    const std::string key = "ok" + std::to_string(i % 5);
    broker.publish(stack.topic, key, event(broker, "ok-" + std::to_string(i), key, i));
  }
  broker.flush(stack.group);

  // The poison event comes back once, on daprd's dead-letter topic.
  const auto dead = broker.readAll(stack.dlq, 1, 90s);
  INFO(stack.logs());
  REQUIRE(dead.size() == 1);
  const json deadEvent = json::parse(dead[0], nullptr, false);
  REQUIRE(deadEvent.is_object());
  CHECK(deadEvent.value("id", "") == "poison");

  // Handled (2xx): the flaky and the ok events; the poison event never is.
  REQUIRE(ledger.waitFor([](const Ledger& l) { return l.distinct() >= 60; }, 60s));
  CHECK(ledger.attempts("poison") == 3);  // retry.maxAttempts, in the runtime; then DROP
  for (int i = 0; i < 10; ++i) CHECK(ledger.attempts("flaky-" + std::to_string(i)) == 3);
  for (int i = 0; i < 50; ++i) CHECK(ledger.attempts("ok-" + std::to_string(i)) >= 1);
  // Nothing but the poison event was dead-lettered.
  CHECK(broker.readAll(stack.dlq, 2, 3s).size() == 1);
  const std::string metrics = httpGet(stack.runtime->opsPort(), "/metrics");
  CHECK(metricValue(metrics, "worker_dapr_replies_total{status=\"DROP\",subscription=\"sub\",worker=\"rt\"}") == 1);
}

}  // namespace ew::rttest
