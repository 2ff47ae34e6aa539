// Kafka client configuration errors name the property, never its value.
#include "clients/kafka_config.h"

#include <catch2/catch.hpp>

using namespace ew::runtime;

TEST_CASE("a rejected Kafka property value is not repeated in the error (it may be a secret)") {
  KafkaSourceConfig c;
  c.brokers = {"127.0.0.1:9092"};
  // An enum property: librdkafka's own message for it is
  // Invalid value "hunter2-secret" for configuration property "security.protocol".
  c.properties = {{"security.protocol", "hunter2-secret"}};
  auto conf = kafkaClientConf(c);
  REQUIRE_FALSE(conf);
  const std::string& message = conf.error().message;
  CHECK(message.find("source.kafka.properties.") == 0);
  CHECK(message.find("hunter2") == std::string::npos);
  CHECK(message.find("invalid value") != std::string::npos);
}

TEST_CASE("an unknown Kafka property is named in the error") {
  KafkaSourceConfig c;
  c.brokers = {"127.0.0.1:9092"};
  c.properties = {{"no.such.property", "x"}};
  auto conf = kafkaClientConf(c);
  REQUIRE_FALSE(conf);
  CHECK(conf.error().message ==
        "source.kafka.properties.no.such.property: kafka property no.such.property: unknown librdkafka property");
}

TEST_CASE("valid Kafka properties build a configuration") {
  KafkaSourceConfig c;
  c.brokers = {"a:9092", "b:9092"};
  c.properties = {{"fetch.min.bytes", "1"}};
  auto conf = kafkaClientConf(c);
  REQUIRE(conf);
  std::string brokers;
  REQUIRE((*conf)->get("bootstrap.servers", brokers) == RdKafka::Conf::CONF_OK);
  CHECK(brokers == "a:9092,b:9092");
}
