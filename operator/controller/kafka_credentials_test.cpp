// The operator's Kafka credentials come only from a Secret of its own
// namespace that allows the EventWorker's namespace; errors name the Secret
// and the key, never a value.
#include "controller/kafka_credentials.h"

#include <catch2/catch.hpp>

using namespace ew;
using namespace ew::controller;
using Json = nlohmann::json;
using Catch::Matchers::Contains;

namespace {

KafkaAccess scram() {
  KafkaAccess a;
  a.bootstrapServers = "k1:9093,k2:9093";
  a.protocol = "SASL_SSL";
  a.saslMechanism = "SCRAM-SHA-512";
  a.secretName = "shop-kafka";
  a.workerNamespace = "shop";
  return a;
}

// "hunter2" is c2VjcmV0LWh1bnRlcjI= ("secret-hunter2"); ca.crt "CA PEM".
Json secret(const std::string& namespaces = "shop, billing") {
  return {{"metadata",
           {{"name", "shop-kafka"},
            {"namespace", "eventworker-system"},
            {"labels", {{kKafkaCredentialsLabel, "true"}}},
            {"annotations", {{kKafkaNamespacesAnnotation, namespaces}}}}},
          {"data", {{"username", "ZXctb3BlcmF0b3I="}, {"password", "c2VjcmV0LWh1bnRlcjI="}, {"ca.crt", "Q0EgUEVN"}}}};
}

std::string errorOf(const Result<autoscale::KafkaCluster>& r) { return r ? "" : r.error().message; }

}  // namespace

TEST_CASE("PLAINTEXT needs no Secret") {
  KafkaAccess a;
  a.bootstrapServers = "k1:9092";
  auto c = kafkaCluster(a, std::nullopt, "eventworker-system");
  REQUIRE(c);
  CHECK(c->bootstrapServers == "k1:9092");
  CHECK(c->properties.empty());
}

TEST_CASE("a SCRAM Secret that allows the namespace becomes the client's SASL and CA settings") {
  auto c = kafkaCluster(scram(), secret(), "eventworker-system");
  REQUIRE(c);
  CHECK(c->properties == std::map<std::string, std::string>{{"security.protocol", "SASL_SSL"},
                                                            {"sasl.mechanisms", "SCRAM-SHA-512"},
                                                            {"sasl.username", "ew-operator"},
                                                            {"sasl.password", "secret-hunter2"},
                                                            {"ssl.ca.pem", "CA PEM"}});
}

TEST_CASE("an mTLS Secret becomes the client's certificate settings, in memory") {
  KafkaAccess a = scram();
  a.protocol = "SSL";
  a.saslMechanism.clear();
  a.clientCertificate = true;
  Json s = secret("*");
  s["data"] = {{"ca.crt", "Q0EgUEVN"}, {"tls.crt", "Q0VSVA=="}, {"tls.key", "S0VZ"}};
  auto c = kafkaCluster(a, s, "eventworker-system");
  REQUIRE(c);
  CHECK(c->properties == std::map<std::string, std::string>{{"security.protocol", "SSL"},
                                                            {"ssl.ca.pem", "CA PEM"},
                                                            {"ssl.certificate.pem", "CERT"},
                                                            {"ssl.key.pem", "KEY"}});
}

TEST_CASE("without operatorSecretRef a secured cluster is not read, saying what to set") {
  KafkaAccess a = scram();
  a.secretName.clear();
  CHECK_THAT(errorOf(kafkaCluster(a, std::nullopt, "eventworker-system")),
             Contains("set spec.source.kafka.security.operatorSecretRef to a Secret in the operator's namespace "
                      "eventworker-system"));
}

TEST_CASE("a Secret the operator does not see is named, with the label it needs") {
  CHECK(errorOf(kafkaCluster(scram(), std::nullopt, "eventworker-system")) ==
        "Secret eventworker-system/shop-kafka (spec.source.kafka.security.operatorSecretRef): not found, or not "
        "labelled eventworker.dev/kafka-credentials=true");
}

TEST_CASE("a Secret that does not list the namespace is not used for it") {
  for (const char* list : {"billing", "shopping, billing", ""}) {
    INFO(list);
    CHECK(
        errorOf(kafkaCluster(scram(), secret(list), "eventworker-system")) ==
        "Secret eventworker-system/shop-kafka: its annotation eventworker.dev/namespaces does not list namespace shop");
  }
  Json noAnnotation = secret();
  noAnnotation["metadata"].erase("annotations");
  CHECK_THAT(errorOf(kafkaCluster(scram(), noAnnotation, "eventworker-system")),
             Contains("does not list namespace shop"));
}

TEST_CASE("a missing or undecodable key is named, never a value") {
  Json s = secret();
  s["data"].erase("password");
  CHECK(errorOf(kafkaCluster(scram(), s, "eventworker-system")) ==
        "Secret eventworker-system/shop-kafka: no key password (SASL_SSL with SCRAM-SHA-512 needs username and "
        "password)");
  s = secret();
  s["data"]["password"] = "c2VjcmV0LWh1bnRlcjI";  // not a multiple of 4
  const std::string e = errorOf(kafkaCluster(scram(), s, "eventworker-system"));
  CHECK(e == "Secret eventworker-system/shop-kafka: key password: not valid base64");
  KafkaAccess mtls = scram();
  mtls.protocol = "SSL";
  mtls.clientCertificate = true;
  CHECK_THAT(errorOf(kafkaCluster(mtls, secret(), "eventworker-system")),
             Contains("no key tls.crt (clientCertificate needs tls.crt and tls.key)"));
}

TEST_CASE("without ca.crt the system trust store verifies the brokers") {
  Json s = secret();
  s["data"].erase("ca.crt");
  auto c = kafkaCluster(scram(), s, "eventworker-system");
  REQUIRE(c);
  CHECK_FALSE(c->properties.contains("ssl.ca.pem"));
}

TEST_CASE("the lookup is asked by the Secret's name, only for secured clusters") {
  std::vector<std::string> asked;
  OperatorSecrets secrets{"eventworker-system", [&](const std::string& name) -> std::optional<Json> {
                            asked.push_back(name);
                            return secret();
                          }};
  KafkaAccess plain;
  plain.bootstrapServers = "k1:9092";
  CHECK(kafkaCluster(plain, secrets));
  CHECK(asked.empty());
  CHECK(kafkaCluster(scram(), secrets));
  CHECK(asked == std::vector<std::string>{"shop-kafka"});
}
