// The worker runtime binary over the test broker's secured listeners
// (hack/servers-up.sh): SASL_SSL with SCRAM-SHA-512 and SSL with client
// certificates required, credentials read from files laid out as the mounted
// Secret is. It consumes, commits and dead-letters over each; a wrong
// password, an unknown CA, an expired or an untrusted client certificate each
// end it within seconds with a line saying which, and no secret in its log.
// Needs only Kafka: EW_SERVERS=kafka ctest -R runtime_secured_kafka runs it
// without the node.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "kube_helpers.h"
#include "runtime_harness.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using ew::testing::readFile;
using ew::testing::serverEnv;
using ew::testing::uniqueName;

namespace {

// source.kafka.security for the SCRAM user ew-worker, files from DIR.
std::string scram(const std::string& dir) {
  return "{protocol: SASL_SSL, saslMechanism: SCRAM-SHA-512, usernameFile: " + dir + "/username, passwordFile: " + dir +
         "/password, caFile: " + dir + "/ca.crt}";
}

std::string mtls(const std::string& ca, const std::string& cert, const std::string& key) {
  return "{protocol: SSL, caFile: " + ca + ", certFile: " + cert + ", keyFile: " + key + "}";
}

// A copy of the worker's SCRAM Secret directory with PASSWORD in it.
struct SecretDir {
  std::filesystem::path dir;
  explicit SecretDir(const std::string& password) {
    dir = std::filesystem::temp_directory_path() / uniqueName("ew-secret");
    std::filesystem::create_directories(dir);
    const std::string from = serverEnv("EW_KAFKA_SCRAM_WORKER_DIR");
    std::filesystem::copy_file(from + "/username", dir / "username");
    std::filesystem::copy_file(from + "/ca.crt", dir / "ca.crt");
    std::ofstream(dir / "password") << password;
  }
  ~SecretDir() { std::filesystem::remove_all(dir); }
};

// Events through the runtime over BROKERS with SECURITY: every one handled,
// those keyed "bad" dead-lettered, all committed. The test's own clients use
// the PLAINTEXT listener of the same broker.
void consumeCommitDeadLetter(const std::string& name, const std::string& brokers, const std::string& security) {
  Kafka kafka;
  const std::string topic = uniqueName(name), dlq = topic + ".dlq";
  kafka.createTopic(topic, 3);
  kafka.createTopic(dlq, 1);
  constexpr int kEvents = 300, kBad = 10;
  for (int i = 0; i < kEvents; ++i) {
    const std::string key = i % (kEvents / kBad) == 0 ? "bad" : "k" + std::to_string(i % 7);
    kafka.produce(topic, key, payload(key, i));
  }
  kafka.flush();

  Ledger ledger;
  ledger.setRespond([](const LedgerEntry& e) { return e.key == "bad" ? 404 : 200; });  // 404: dead letter at once
  ConfigSpec s;
  s.topic = topic;
  s.group = uniqueName("grp");
  s.ledgerPort = ledger.port();
  s.brokers = brokers;
  s.security = security;
  s.deadLetterTopic = dlq;
  RuntimeProcess rt(name, s);
  // distinct(): the events handled (2xx); count(): every request, the rejected too.
  const bool all =
      ledger.waitFor([&](const Ledger& l) { return l.distinct() >= kEvents - kBad && l.count() >= kEvents; }, 60s);
  INFO(rt.log());
  REQUIRE(all);
  auto dead = kafka.readAll(dlq, kBad, 30s);
  CHECK(dead.size() == kBad);
  REQUIRE(ledger.waitFor([&](const Ledger&) { return kafka.committedTotal(s.group, topic, 3) == kEvents; }, 30s));
  rt.signal(SIGTERM);
  auto status = rt.wait(15s);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}

// Starts the runtime with SECURITY on BROKERS and expects it to exit 1 within
// 20 s; returns its log.
std::string failedStart(const std::string& name, const std::string& brokers, const std::string& security) {
  Kafka kafka;
  const std::string topic = uniqueName(name);
  kafka.createTopic(topic, 1);
  ConfigSpec s;
  s.topic = topic;
  s.group = uniqueName("grp");
  s.brokers = brokers;
  s.security = security;
  const auto t0 = std::chrono::steady_clock::now();
  RuntimeProcess rt(name, s);
  auto status = rt.wait(20s);
  const std::string log = rt.log();
  INFO(log);
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 1);
  CHECK(std::chrono::steady_clock::now() - t0 < 15s);
  return log;
}

}  // namespace

TEST_CASE("over SASL_SSL with SCRAM-SHA-512 from files the runtime consumes, commits and dead-letters") {
  consumeCommitDeadLetter("scram", serverEnv("EW_KAFKA_SASL_BOOTSTRAP"), scram(serverEnv("EW_KAFKA_SCRAM_WORKER_DIR")));
}

TEST_CASE("over SSL with a client certificate (mTLS) the runtime consumes, commits and dead-letters") {
  const std::string d = serverEnv("EW_KAFKA_MTLS_DIR");
  consumeCommitDeadLetter("mtls", serverEnv("EW_KAFKA_MTLS_BOOTSTRAP"),
                          mtls(d + "/ca.crt", d + "/tls.crt", d + "/tls.key"));
}

TEST_CASE("a wrong SCRAM password ends the runtime at once, saying so, without printing a password") {
  const std::string wrong = "wrong-" + uniqueName("pw");
  SecretDir secret(wrong);
  const std::string log = failedStart("badpw", serverEnv("EW_KAFKA_SASL_BOOTSTRAP"), scram(secret.dir.string()));
  CHECK_THAT(log, Contains("the broker rejected the credentials in " + secret.dir.string() + "/username and " +
                           secret.dir.string() + "/password (SCRAM-SHA-512): wrong username or password"));
  CHECK_THAT(log, !Contains(wrong));
  CHECK_THAT(log, !Contains(readFile(serverEnv("EW_KAFKA_SCRAM_WORKER_DIR") + "/password")));
}

TEST_CASE("a caFile that did not sign the broker's certificate ends the runtime as an unknown CA") {
  const std::string d = serverEnv("EW_KAFKA_SCRAM_WORKER_DIR");
  const std::string otherCa = serverEnv("EW_KAFKA_PKI") + "/other-ca.crt";
  const std::string security = "{protocol: SASL_SSL, saslMechanism: SCRAM-SHA-512, usernameFile: " + d +
                               "/username, passwordFile: " + d + "/password, caFile: " + otherCa + "}";
  const std::string log = failedStart("badca", serverEnv("EW_KAFKA_SASL_BOOTSTRAP"), security);
  CHECK_THAT(log,
             Contains("the broker's certificate could not be verified against caFile " + otherCa + " (unknown CA"));
  CHECK_THAT(log, !Contains(readFile(d + "/password")));
}

TEST_CASE("an expired client certificate ends the runtime before it connects, saying when it expired") {
  const std::string pki = serverEnv("EW_KAFKA_PKI");
  const std::string log =
      failedStart("expired", serverEnv("EW_KAFKA_MTLS_BOOTSTRAP"),
                  mtls(pki + "/ca.crt", pki + "/kafka-client-expired.crt", pki + "/kafka-client-expired.key"));
  CHECK_THAT(log, Contains("source.kafka.security.certFile: the client certificate in " + pki +
                           "/kafka-client-expired.crt (/CN=ew-kafka-client) expired at"));
}

TEST_CASE("a client certificate from a CA the broker does not trust is refused, naming certFile") {
  const std::string pki = serverEnv("EW_KAFKA_PKI");
  const std::string log =
      failedStart("untrusted", serverEnv("EW_KAFKA_MTLS_BOOTSTRAP"),
                  mtls(pki + "/ca.crt", pki + "/kafka-client-other-ca.crt", pki + "/kafka-client-other-ca.key"));
  CHECK_THAT(log, Contains("the broker rejected the client certificate in " + pki + "/kafka-client-other-ca.crt"));
}

TEST_CASE("no client certificate on the mTLS listener is refused, saying none was sent") {
  const std::string pki = serverEnv("EW_KAFKA_PKI");
  const std::string log =
      failedStart("nocert", serverEnv("EW_KAFKA_MTLS_BOOTSTRAP"), "{protocol: SSL, caFile: " + pki + "/ca.crt}");
  CHECK_THAT(log, Contains("the broker rejected no client certificate (certFile not set)"));
}
