// Proves the test Kafka broker is real and reachable from librdkafka: topic
// creation through the admin API, 10,000 messages produced and consumed back in
// a consumer group, and the group's commit read back from the broker.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <set>
#include <vector>

#include "test_env.h"

using ew::testing::serverEnv;
using ew::testing::uniqueName;

namespace {

std::unique_ptr<RdKafka::Conf> conf(std::initializer_list<std::pair<const char*, std::string>> kv) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : kv)
    if (c->set(k, v, err) != RdKafka::Conf::CONF_OK) FAIL(k << ": " << err);
  return c;
}

void createTopic(RdKafka::Handle& handle, const std::string& topic, int partitions) {
  rd_kafka_t* rk = handle.c_ptr();
  char err[256];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  REQUIRE(nt != nullptr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  REQUIRE(ev != nullptr);
  REQUIRE(rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR);
  size_t n = 0;
  const rd_kafka_topic_result_t** res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
  REQUIRE(n == 1);
  INFO(rd_kafka_topic_result_error_string(res[0]));
  CHECK(rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
}

}  // namespace

TEST_CASE("10,000 messages round-trip through the real broker with a group commit") {
  const std::string bootstrap = serverEnv("EW_KAFKA_BOOTSTRAP");
  const std::string topic = uniqueName("smoke");
  const std::string group = uniqueName("smoke-group");
  constexpr int kMessages = 10000;
  constexpr int kPartitions = 3;
  std::string err;

  auto pconf = conf({{"bootstrap.servers", bootstrap}, {"linger.ms", "5"}, {"enable.idempotence", "true"}});
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), err));
  REQUIRE(producer);
  createTopic(*producer, topic, kPartitions);

  for (int i = 0; i < kMessages; ++i) {
    const std::string key = "k" + std::to_string(i % 97), value = std::to_string(i);
    RdKafka::ErrorCode rc;
    while ((rc = producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                   const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0,
                                   nullptr)) == RdKafka::ERR__QUEUE_FULL)
      producer->poll(10);
    REQUIRE(rc == RdKafka::ERR_NO_ERROR);
  }
  REQUIRE(producer->flush(30000) == RdKafka::ERR_NO_ERROR);
  REQUIRE(producer->outq_len() == 0);

  auto cconf = conf({{"bootstrap.servers", bootstrap},
                     {"group.id", group},
                     {"auto.offset.reset", "earliest"},
                     {"enable.auto.commit", "false"}});
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(cconf.get(), err));
  REQUIRE(consumer);
  REQUIRE(consumer->subscribe({topic}) == RdKafka::ERR_NO_ERROR);

  std::set<int> seen;
  int duplicates = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (static_cast<int>(seen.size()) < kMessages && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(500));
    if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) continue;
    REQUIRE(m->err() == RdKafka::ERR_NO_ERROR);
    int v = std::stoi(std::string(static_cast<const char*>(m->payload()), m->len()));
    if (!seen.insert(v).second) ++duplicates;
  }
  REQUIRE(seen.size() == static_cast<size_t>(kMessages));
  CHECK(*seen.begin() == 0);
  CHECK(*seen.rbegin() == kMessages - 1);
  CHECK(duplicates == 0);
  REQUIRE(consumer->commitSync() == RdKafka::ERR_NO_ERROR);

  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < kPartitions; ++p) parts.push_back(RdKafka::TopicPartition::create(topic, p));
  REQUIRE(consumer->committed(parts, 10000) == RdKafka::ERR_NO_ERROR);
  int64_t committed = 0;
  for (auto* tp : parts) {
    CHECK(tp->err() == RdKafka::ERR_NO_ERROR);
    committed += tp->offset();
  }
  CHECK(committed == kMessages);
  RdKafka::TopicPartition::destroy(parts);
  consumer->close();
}
