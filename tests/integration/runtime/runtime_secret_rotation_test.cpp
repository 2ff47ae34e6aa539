// The runtime follows its mounted Kafka Secret without a restart, against the
// real broker's secured listeners (hack/servers-up.sh). The Secret is laid
// out as the kubelet mounts one (files behind the ..data symlink, swapped
// atomically on update). A SCRAM password rotated at the broker and in the
// Secret: the runtime's connections re-authenticate with the new one (the
// SASL_SSL listener ends sessions after 20 s, connections.max.reauth.ms), so
// consuming, committing and dead-lettering go on. A client certificate
// rotated: the runtime drains, commits, reconnects with it, and no event is
// lost or handled twice. TLS files the broker refuses are not taken.
// Needs only Kafka (EW_SERVERS=kafka).

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "runtime_harness.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using ew::testing::readFile;
using ew::testing::serverEnv;
using ew::testing::uniqueName;
namespace fs = std::filesystem;

namespace {

// A Secret volume as the kubelet writes it: DIR/..<n>/ holds the files,
// DIR/..data points there, and DIR/<key> -> ..data/<key>. update() writes a
// new ..<n+1>/ and renames a new symlink over ..data (one atomic swap), then
// removes the old directory, as the kubelet's atomic writer does.
class MountedSecret {
 public:
  explicit MountedSecret(const std::map<std::string, std::string>& files)
      : dir_(fs::temp_directory_path() / uniqueName("ew-mounted-secret")) {
    fs::create_directories(dir_);
    update(files);
    for (const auto& [key, text] : files) fs::create_symlink(fs::path("..data") / key, dir_ / key);
  }
  ~MountedSecret() { fs::remove_all(dir_); }
  std::string path(const std::string& key) const { return (dir_ / key).string(); }

  void update(const std::map<std::string, std::string>& files) {
    const std::string version = "..v" + std::to_string(++version_);
    fs::create_directories(dir_ / version);
    for (const auto& [key, text] : files) std::ofstream((dir_ / version / key).string()) << text;
    fs::create_symlink(version, dir_ / "..data_tmp");
    fs::rename(dir_ / "..data_tmp", dir_ / "..data");
    if (version_ > 1) fs::remove_all(dir_ / ("..v" + std::to_string(version_ - 1)));
  }

 private:
  fs::path dir_;
  int version_ = 0;
};

// Waits up to TIMEOUT for RT's log to contain TEXT.
bool logShows(const RuntimeProcess& rt, const std::string& text, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (rt.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(100ms);
  }
  return rt.log().find(text) != std::string::npos;
}

// Events FROM..TO-1; every tenth keyed "bad" (the ledger answers 404: dead letter at once).
void produceRange(Kafka& kafka, const std::string& topic, int from, int to) {
  for (int i = from; i < to; ++i) {
    const std::string key = i % 10 == 0 ? "bad" : "k" + std::to_string(i % 7);
    kafka.produce(topic, key, payload(key, i));
  }
  kafka.flush();
}

// The runtime's log must never hold any of SECRETS.
void checkNoSecrets(const std::string& log, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) CHECK_THAT(log, !Contains(s));
}

std::map<std::string, std::string> mtlsFiles(const std::string& client) {
  const std::string pki = serverEnv("EW_KAFKA_PKI");
  return {{"ca.crt", readFile(pki + "/ca.crt")},
          {"tls.crt", readFile(pki + "/" + client + ".crt")},
          {"tls.key", readFile(pki + "/" + client + ".key")}};
}

// The runtime's config for TOPIC over the mTLS listener with SECRET's files,
// delivering to the ledger on LEDGER_PORT.
ConfigSpec mtlsSpec(const MountedSecret& secret, const std::string& topic, int ledgerPort) {
  ConfigSpec s;
  s.topic = topic;
  s.group = uniqueName("grp");
  s.ledgerPort = ledgerPort;
  s.brokers = serverEnv("EW_KAFKA_MTLS_BOOTSTRAP");
  s.security = "{protocol: SSL, caFile: " + secret.path("ca.crt") + ", certFile: " + secret.path("tls.crt") +
               ", keyFile: " + secret.path("tls.key") + "}";
  return s;
}

}  // namespace

TEST_CASE("a SCRAM password rotated at the broker and in the mounted Secret is used without a restart") {
  Kafka kafka;
  const std::string user = uniqueName("ew-rotating");
  const std::string first = "first-" + uniqueName("pw"), second = "second-" + uniqueName("pw");
  kafka.setScramPassword(user, first);
  std::this_thread::sleep_for(2s);  // the new user reaches the broker's credential cache through the metadata log
  MountedSecret secret({{"username", user},
                        {"password", first},
                        {"ca.crt", readFile(serverEnv("EW_KAFKA_SCRAM_WORKER_DIR") + "/ca.crt")}});
  const std::string topic = uniqueName("rotate-scram"), dlq = topic + ".dlq";
  kafka.createTopic(topic, 3);
  kafka.createTopic(dlq, 1);
  Ledger ledger;
  ledger.setRespond([](const LedgerEntry& e) { return e.key == "bad" ? 404 : 200; });
  ConfigSpec s;
  s.topic = topic;
  s.group = uniqueName("grp");
  s.deadLetterTopic = dlq;
  s.ledgerPort = ledger.port();
  s.brokers = serverEnv("EW_KAFKA_SASL_BOOTSTRAP");
  s.security = "{protocol: SASL_SSL, saslMechanism: SCRAM-SHA-512, usernameFile: " + secret.path("username") +
               ", passwordFile: " + secret.path("password") + ", caFile: " + secret.path("ca.crt") + "}";
  RuntimeProcess rt("rotate-scram", s);
  produceRange(kafka, topic, 0, 100);
  REQUIRE(ledger.waitFor([](const Ledger& l) { return l.count() >= 100; }, 60s));

  // The broker first, then the Secret (SCRAM keeps one password per user:
  // between the two, new connections are refused and librdkafka retries).
  kafka.setScramPassword(user, second);
  secret.update({{"username", user},
                 {"password", second},
                 {"ca.crt", readFile(serverEnv("EW_KAFKA_SCRAM_WORKER_DIR") + "/ca.crt")}});
  INFO(rt.log());
  REQUIRE(logShows(rt,
                   "kafka: new SASL credentials in " + secret.path("username") + " and " + secret.path("password") +
                       ": used from the next authentication on",
                   15s));
  // Every connection's session ends within 20 s of its last authentication:
  // past that, each one has re-authenticated with what the runtime holds
  // now (with the old password the broker would have closed it).
  std::this_thread::sleep_for(22s);
  produceRange(kafka, topic, 100, 200);
  const bool all = ledger.waitFor([](const Ledger& l) { return l.count() >= 200 && l.distinct() >= 180; }, 60s);
  INFO(rt.log());
  REQUIRE(all);
  CHECK(kafka.readAll(dlq, 20, 30s).size() == 20);  // dead letters of both halves, the second after the rotation
  CHECK(ledger.waitFor([&](const Ledger&) { return kafka.committedTotal(s.group, topic, 3) == 200; }, 30s));
  CHECK(rt.running());
  requireCleanExit(rt);
  const std::string log = rt.log();
  CHECK_THAT(log, !Contains("Authentication failed"));
  checkNoSecrets(log, {first, second});
}

TEST_CASE("a rotated client certificate is used after a drain and a commit, with no event lost or handled twice") {
  Kafka kafka;
  MountedSecret secret(mtlsFiles("kafka-client"));
  const std::string topic = uniqueName("rotate-cert");
  kafka.createTopic(topic, 3);
  Ledger ledger;
  ledger.setDelay(100ms);  // about 10 s of work: events are in flight when the certificate changes
  ConfigSpec s = mtlsSpec(secret, topic, ledger.port());
  s.concurrency = 4;
  s.gracePeriod = "30s";  // the drain waits for every admitted event
  RuntimeProcess rt("rotate-cert", s);
  constexpr int kBefore = 400, kAfter = 200;
  for (int i = 0; i < kBefore; ++i) kafka.produce(topic, "k" + std::to_string(i % 13), payload("k", i));
  kafka.flush();
  REQUIRE(ledger.waitFor([](const Ledger& l) { return l.count() >= 50; }, 60s));

  secret.update(mtlsFiles("kafka-client-rotated"));
  INFO(rt.log());
  REQUIRE(logShows(rt,
                   "kafka: the TLS files changed (caFile " + secret.path("ca.crt") + ", certFile " +
                       secret.path("tls.crt") + ", keyFile " + secret.path("tls.key") + "): draining",
                   15s));
  CHECK_THAT(rt.log(), !Contains("draining 0 event(s)"));
  REQUIRE(logShows(rt,
                   "kafka: reconnected with the changed TLS files (every admitted event had finished and was "
                   "committed)",
                   30s));
  for (int i = kBefore; i < kBefore + kAfter; ++i) kafka.produce(topic, "k" + std::to_string(i % 13), payload("k", i));
  kafka.flush();
  const bool all = ledger.waitFor([](const Ledger& l) { return l.distinct() >= kBefore + kAfter; }, 90s);
  INFO(rt.log());
  REQUIRE(all);
  CHECK(
      ledger.waitFor([&](const Ledger&) { return kafka.committedTotal(s.group, topic, 3) == kBefore + kAfter; }, 30s));
  CHECK(ledger.count() == ledger.distinct());  // none handled twice
  std::istringstream lines(rt.log());
  for (std::string line; std::getline(lines, line);)
    if (line.find("TLS files") != std::string::npos) std::cout << "rotate-cert: " << line << "\n";
  requireCleanExit(rt);
  checkNoSecrets(rt.log(), {readFile(serverEnv("EW_KAFKA_PKI") + "/kafka-client-rotated.key")});
}

TEST_CASE("TLS files the broker refuses are not taken, and the running clients go on consuming") {
  Kafka kafka;
  MountedSecret secret(mtlsFiles("kafka-client"));
  const std::string topic = uniqueName("rotate-bad");
  kafka.createTopic(topic, 3);
  Ledger ledger;
  const ConfigSpec s = mtlsSpec(secret, topic, ledger.port());
  RuntimeProcess rt("rotate-bad", s);
  for (int i = 0; i < 50; ++i) kafka.produce(topic, "k" + std::to_string(i % 5), payload("k", i));
  kafka.flush();
  REQUIRE(ledger.waitFor([](const Ledger& l) { return l.distinct() >= 50; }, 60s));

  secret.update(mtlsFiles("kafka-client-other-ca"));
  INFO(rt.log());
  REQUIRE(logShows(rt,
                   "do not work, the clients keep the ones they have: kafka SSL " + s.brokers +
                       ": the broker rejected the client certificate in " + secret.path("tls.crt"),
                   20s));
  for (int i = 50; i < 100; ++i) kafka.produce(topic, "k" + std::to_string(i % 5), payload("k", i));
  kafka.flush();
  const bool all = ledger.waitFor([](const Ledger& l) { return l.distinct() >= 100; }, 30s);
  INFO(rt.log());
  CHECK(all);
  CHECK_THAT(rt.log(), !Contains("draining"));
  CHECK(rt.running());
}
