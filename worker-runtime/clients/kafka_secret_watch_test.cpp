// What a change of the mounted Kafka Secret asks of the runtime's clients.
// (The kubelet's ..data symlink swap itself: runtime_secret_rotation_test.)
#include "clients/kafka_secret_watch.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

using namespace ew::runtime;
using Catch::Matchers::Contains;

namespace {

struct SecretDir {
  std::filesystem::path dir;
  SecretDir() {
    dir = std::filesystem::temp_directory_path() / ("ew-secret-watch-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
  }
  ~SecretDir() { std::filesystem::remove_all(dir); }
  std::string put(const std::string& name, const std::string& text) const {
    std::ofstream((dir / name).string(), std::ios::trunc) << text;
    return (dir / name).string();
  }
};

KafkaSecretContents contents(std::string user, std::string password, std::string cert) {
  return {std::move(user), std::move(password), "CA", std::move(cert), "KEY"};
}

}  // namespace

TEST_CASE("a new username or password asks for new SASL credentials, a new TLS file for new clients") {
  const auto before = contents("u", "p1", "C1");
  CHECK(kafkaSecretChange(before, before) == KafkaSecretChange::None);
  CHECK(kafkaSecretChange(before, contents("u", "p2", "C1")) == KafkaSecretChange::Sasl);
  CHECK(kafkaSecretChange(before, contents("u2", "p1", "C1")) == KafkaSecretChange::Sasl);
  CHECK(kafkaSecretChange(before, contents("u", "p1", "C2")) == KafkaSecretChange::Tls);
  CHECK(kafkaSecretChange(before, contents("u", "p2", "C2")) == KafkaSecretChange::Tls);  // new clients read both
  auto ca = before;
  ca.ca = "CA2";
  CHECK(kafkaSecretChange(before, ca) == KafkaSecretChange::Tls);
}

TEST_CASE("the watch reports each change of the files once, and takes the new contents") {
  SecretDir d;
  KafkaSecurityConfig sec;
  sec.protocol = "SASL_SSL";
  sec.saslMechanism = "SCRAM-SHA-512";
  sec.usernameFile = d.put("username", "ew-worker");
  sec.passwordFile = d.put("password", "first\n");
  sec.caFile = d.put("ca.crt", "CA1");
  auto start = readKafkaSecret(sec);
  REQUIRE(start);
  CHECK(start->password == "first");  // as the clients read it: without the trailing newline
  KafkaSecretWatch watch(sec, *start);
  CHECK(*watch.check() == KafkaSecretChange::None);

  d.put("password", "second");
  CHECK(*watch.check() == KafkaSecretChange::Sasl);
  CHECK(watch.current().password == "second");
  CHECK(*watch.check() == KafkaSecretChange::None);

  d.put("ca.crt", "CA2");
  CHECK(*watch.check() == KafkaSecretChange::Tls);
  CHECK(*watch.check() == KafkaSecretChange::None);
}

TEST_CASE("a Secret file that disappears is an error naming the field, and the current contents stay") {
  SecretDir d;
  KafkaSecurityConfig sec;
  sec.protocol = "SSL";
  sec.caFile = d.put("ca.crt", "CA1");
  sec.certFile = d.put("tls.crt", "CERT");
  sec.keyFile = d.put("tls.key", "SECRET-KEY");
  KafkaSecretWatch watch(sec, *readKafkaSecret(sec));
  std::filesystem::remove(d.dir / "tls.key");
  auto r = watch.check();
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Contains("source.kafka.security.keyFile: cannot read " + sec.keyFile));
  CHECK(watch.current().key == "SECRET-KEY");
  d.put("tls.key", "SECRET-KEY");
  CHECK(*watch.check() == KafkaSecretChange::None);
}
