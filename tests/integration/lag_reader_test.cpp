// The lag reader against the real broker: exact log start / end / committed
// offsets per partition (checked against librdkafka's watermark query too),
// owners from a live consumer, a missing topic failing only its own group
// (and not being auto-created), an unreachable cluster failing within the
// timeout, reads across a broker restart, and the pool sharing one client per
// cluster. SERIAL: one test restarts the shared broker.
#include "kafka/lag_reader.h"

#include <arpa/inet.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_env.h"

using namespace ew::autoscale;
using namespace std::chrono_literals;
using ew::testing::serverEnv;
using ew::testing::uniqueName;

namespace {

using Clock = std::chrono::steady_clock;

std::unique_ptr<RdKafka::Conf> conf(std::initializer_list<std::pair<const char*, std::string>> kv) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : kv)
    if (c->set(k, v, err) != RdKafka::Conf::CONF_OK) FAIL(k << ": " << err);
  return c;
}

// Waits for one admin result of TYPE on Q; fails the test on a request error.
rd_kafka_event_t* adminResult(rd_kafka_queue_t* q, rd_kafka_event_type_t type) {
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  REQUIRE(ev != nullptr);
  REQUIRE(rd_kafka_event_type(ev) == type);
  INFO(rd_kafka_event_error_string(ev));
  REQUIRE(rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR);
  return ev;
}

// The test's own producer and admin client.
class Broker {
 public:
  Broker() : bootstrap_(serverEnv("EW_KAFKA_BOOTSTRAP")) {
    std::string err;
    auto c = conf({{"bootstrap.servers", bootstrap_}, {"linger.ms", "5"}});
    producer_.reset(RdKafka::Producer::create(c.get(), err));
    REQUIRE(producer_);
  }
  const std::string& bootstrap() const { return bootstrap_; }

  void createTopic(const std::string& topic, int partitions) {
    rd_kafka_t* rk = producer_->c_ptr();
    char err[256];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
    REQUIRE(nt != nullptr);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
    rd_kafka_event_t* ev = adminResult(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT);
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    REQUIRE(n == 1);
    INFO(rd_kafka_topic_result_error_string(res[0]));
    CHECK(rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_NewTopic_destroy(nt);
  }

  void produce(const std::string& topic, int partition, int count) {
    for (int i = 0; i < count; ++i) {
      const std::string value = "m" + std::to_string(i);
      RdKafka::ErrorCode rc;
      while ((rc = producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                                      value.size(), nullptr, 0, 0, nullptr)) == RdKafka::ERR__QUEUE_FULL)
        producer_->poll(10);
      REQUIRE(rc == RdKafka::ERR_NO_ERROR);
    }
  }

  void flush() {
    REQUIRE(producer_->flush(30000) == RdKafka::ERR_NO_ERROR);
    REQUIRE(producer_->outq_len() == 0);
  }

  // Deletes the records of TOPIC[PARTITION] before BEFORE (moves its log start).
  void deleteRecordsBefore(const std::string& topic, int partition, int64_t before) {
    rd_kafka_t* rk = producer_->c_ptr();
    rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(offsets, topic.c_str(), partition)->offset = before;
    rd_kafka_DeleteRecords_t* del = rd_kafka_DeleteRecords_new(offsets);
    rd_kafka_topic_partition_list_destroy(offsets);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteRecords(rk, &del, 1, nullptr, q);
    rd_kafka_event_t* ev = adminResult(q, RD_KAFKA_EVENT_DELETERECORDS_RESULT);
    const rd_kafka_topic_partition_list_t* result =
        rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(ev));
    REQUIRE(result->cnt == 1);
    CHECK(result->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR);
    CHECK(result->elems[0].offset == before);
    rd_kafka_event_destroy(ev);
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteRecords_destroy(del);
  }

  // librdkafka's own per-partition query, to check the batched reads against.
  std::pair<int64_t, int64_t> watermarks(const std::string& topic, int partition) {
    int64_t low = -1, high = -1;
    REQUIRE(producer_->query_watermark_offsets(topic, partition, &low, &high, 10000) == RdKafka::ERR_NO_ERROR);
    return {low, high};
  }

 private:
  std::string bootstrap_;
  std::unique_ptr<RdKafka::Producer> producer_;
};

// Commits OFFSETS (partition -> offset of TOPIC) for GROUP without joining it.
void commit(const std::string& bootstrap, const std::string& group, const std::string& topic,
            const std::map<int, int64_t>& offsets) {
  std::string err;
  auto c = conf({{"bootstrap.servers", bootstrap}, {"group.id", group}, {"enable.auto.commit", "false"}});
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), err));
  REQUIRE(consumer);
  std::vector<RdKafka::TopicPartition*> parts;
  for (const auto& [p, offset] : offsets) parts.push_back(RdKafka::TopicPartition::create(topic, p, offset));
  CHECK(consumer->commitSync(parts) == RdKafka::ERR_NO_ERROR);
  RdKafka::TopicPartition::destroy(parts);
  consumer->close();
}

// A member of GROUP subscribed to TOPIC, once it holds PARTITIONS partitions.
std::unique_ptr<RdKafka::KafkaConsumer> joinedConsumer(const std::string& bootstrap, const std::string& group,
                                                       const std::string& topic, size_t partitions) {
  std::string err;
  auto c = conf({{"bootstrap.servers", bootstrap},
                 {"group.id", group},
                 {"enable.auto.commit", "false"},
                 {"auto.offset.reset", "latest"}});
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), err));
  REQUIRE(consumer);
  REQUIRE(consumer->subscribe({topic}) == RdKafka::ERR_NO_ERROR);
  const auto deadline = Clock::now() + 30s;
  std::vector<RdKafka::TopicPartition*> assigned;
  while (Clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    RdKafka::TopicPartition::destroy(assigned);
    REQUIRE(consumer->assignment(assigned) == RdKafka::ERR_NO_ERROR);
    if (assigned.size() == partitions) break;
  }
  CHECK(assigned.size() == partitions);
  RdKafka::TopicPartition::destroy(assigned);
  return consumer;
}

// A 127.0.0.1 port that nothing listens on.
int closedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  close(fd);
  return ntohs(addr.sin_port);
}

std::unique_ptr<LagReader> reader(const std::string& bootstrap, Millis timeout = kDefaultLagReadTimeout) {
  auto created = LagReader::create({bootstrap, {}}, timeout);
  INFO((created ? "" : created.error().message));
  REQUIRE(created.ok());
  return std::move(created).value();
}

}  // namespace

TEST_CASE("exact log start, end and committed offsets of a 12-partition topic for two groups in one read") {
  Broker broker;
  const std::string topic = uniqueName("lag-offsets");
  const std::string committing = uniqueName("lag-committing");
  const std::string idle = uniqueName("lag-idle");
  constexpr int kPartitions = 12;
  broker.createTopic(topic, kPartitions);
  for (int p = 0; p < kPartitions; ++p) broker.produce(topic, p, 10 + p);  // 186 messages in all
  broker.flush();
  broker.deleteRecordsBefore(topic, 0, 4);
  broker.deleteRecordsBefore(topic, 1, 2);
  // Partitions 0..5 committed (partition 0 at 3, below its log start 4); 6..11 not.
  commit(broker.bootstrap(), committing, topic, {{0, 3}, {1, 5}, {2, 5}, {3, 5}, {4, 12}, {5, 15}});

  auto lag = reader(broker.bootstrap());
  const auto results = lag->readMany({{committing, {topic}}, {idle, {topic}}});
  REQUIRE(results.size() == 2);
  for (const auto& result : results) {
    INFO((result ? "" : result.error().message));
    REQUIRE(result.ok());
    REQUIRE(result->size() == kPartitions);
  }

  const std::map<int, int64_t> committed{{0, 3}, {1, 5}, {2, 5}, {3, 5}, {4, 12}, {5, 15}};
  int64_t total = 0;
  for (int p = 0; p < kPartitions; ++p) {
    INFO("partition " << p);
    const PartitionOffsets& got = (*results[0])[p];
    CHECK(got.topic == topic);
    CHECK(got.partition == p);
    CHECK(got.logStart == (p == 0 ? 4 : p == 1 ? 2 : 0));
    CHECK(got.end == 10 + p);
    total += got.end;
    if (p < 6)
      CHECK(got.committed == std::optional<int64_t>(committed.at(p)));
    else
      CHECK_FALSE(got.committed.has_value());
    CHECK_FALSE(got.hasOwner);

    // The batched EARLIEST/LATEST lookups agree with librdkafka's per-partition query.
    const auto [low, high] = broker.watermarks(topic, p);
    CHECK(got.logStart == low);
    CHECK(got.end == high);

    const PartitionOffsets& none = (*results[1])[p];
    CHECK(none.partition == p);
    CHECK(none.logStart == got.logStart);
    CHECK(none.end == got.end);
    CHECK_FALSE(none.committed.has_value());
    CHECK_FALSE(none.hasOwner);
  }
  CHECK(total == 186);
}

TEST_CASE("a live consumer owns its partitions, and no partition has an owner after it leaves") {
  Broker broker;
  const std::string subscribed = uniqueName("lag-owned");
  const std::string other = uniqueName("lag-unowned");
  const std::string group = uniqueName("lag-live");
  broker.createTopic(subscribed, 12);
  broker.createTopic(other, 3);
  broker.produce(subscribed, 0, 5);
  broker.flush();

  auto lag = reader(broker.bootstrap());
  auto consumer = joinedConsumer(broker.bootstrap(), group, subscribed, 12);

  auto live = lag->read({group, {subscribed, other}});
  INFO((live ? "" : live.error().message));
  REQUIRE(live.ok());
  REQUIRE(live->size() == 15);
  for (const auto& p : *live) {
    INFO(p.topic << "[" << p.partition << "]");
    CHECK(p.hasOwner == (p.topic == subscribed));
  }

  consumer->close();
  consumer.reset();
  // Leaving is immediate for the last member; allow the group a moment to settle.
  bool owned = true;
  const auto deadline = Clock::now() + 15s;
  while (owned && Clock::now() < deadline) {
    auto left = lag->read({group, {subscribed, other}});
    INFO((left ? "" : left.error().message));
    REQUIRE(left.ok());
    owned = std::any_of(left->begin(), left->end(), [](const PartitionOffsets& p) { return p.hasOwner; });
    if (owned) std::this_thread::sleep_for(200ms);
  }
  CHECK_FALSE(owned);
}

TEST_CASE("a missing topic fails only its own group, and is not created") {
  Broker broker;
  const std::string topic = uniqueName("lag-present");
  const std::string missing = uniqueName("lag-missing");
  const std::string good = uniqueName("lag-good");
  const std::string bad = uniqueName("lag-bad");
  broker.createTopic(topic, 3);
  broker.produce(topic, 2, 7);
  broker.flush();

  auto lag = reader(broker.bootstrap());
  for (int round = 0; round < 2; ++round) {  // the second read proves the first created nothing
    INFO("round " << round);
    const auto results = lag->readMany({{bad, {topic, missing}}, {good, {topic}}});
    REQUIRE(results.size() == 2);
    REQUIRE_FALSE(results[0].ok());
    CHECK(results[0].error().message == "kafka " + broker.bootstrap() + ": topic " + missing + " does not exist");
    INFO((results[1] ? "" : results[1].error().message));
    REQUIRE(results[1].ok());
    REQUIRE(results[1]->size() == 3);
    CHECK((*results[1])[2].end == 7);
  }
}

TEST_CASE("an unreachable cluster fails every group within the timeout") {
  const std::string bootstrap = "127.0.0.1:" + std::to_string(closedPort());
  constexpr Millis kTimeout = 1500ms;
  const auto start = Clock::now();
  {
    auto lag = reader(bootstrap, kTimeout);
    const auto results = lag->readMany({{"g1", {"t1"}}, {"g2", {"t2"}}});
    const auto elapsed = Clock::now() - start;
    CHECK(elapsed < 3 * kTimeout);
    REQUIRE(results.size() == 2);
    for (const auto& result : results) {
      REQUIRE_FALSE(result.ok());
      CHECK(result.error().message == "kafka " + bootstrap + ": no broker reachable within 1500ms");
    }
  }
  CHECK(Clock::now() - start < 3 * kTimeout + 5s);  // closing the client does not hang either
}

TEST_CASE("reads across a broker restart fail cleanly within the timeout and then recover") {
  Broker broker;
  const std::string topic = uniqueName("lag-restart");
  const std::string group = uniqueName("lag-restart-group");
  broker.createTopic(topic, 3);
  broker.produce(topic, 0, 4);
  broker.flush();
  commit(broker.bootstrap(), group, topic, {{0, 3}});
  constexpr Millis kTimeout = 2s;
  auto lag = reader(broker.bootstrap(), kTimeout);
  REQUIRE(lag->read({group, {topic}}).ok());

  // Reads run on while the broker is killed, down and starting again (its
  // group coordinator loading: NOT_COORDINATOR and the like).
  std::atomic<bool> stop{false};
  std::vector<std::string> errors;
  Clock::duration slowest{};
  std::thread reads([&] {
    while (!stop) {
      const auto start = Clock::now();
      auto result = lag->read({group, {topic}});
      slowest = std::max(slowest, Clock::now() - start);
      if (!result) errors.push_back(result.error().message);
      std::this_thread::sleep_for(50ms);
    }
  });
  const std::string restart =
      "bash " EW_SOURCE_DIR "/hack/server-restart.sh " + serverEnv("EW_STATE_DIR") + " kafka 2 kill >&2";
  const int rc = std::system(restart.c_str());
  stop = true;
  reads.join();
  REQUIRE(rc == 0);
  CHECK(slowest < 3 * kTimeout);
  CHECK_FALSE(errors.empty());  // the reads did see the outage
  for (const auto& error : errors) {
    INFO(error);
    CHECK(error.rfind("kafka " + broker.bootstrap() + ": ", 0) == 0);
  }

  ew::Result<std::vector<PartitionOffsets>> after = ew::Error{"not read"};
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline && !(after = lag->read({group, {topic}})).ok()) std::this_thread::sleep_for(200ms);
  INFO((after ? "" : after.error().message));
  REQUIRE(after.ok());
  CHECK((*after)[0].committed == std::optional<int64_t>(3));
  CHECK((*after)[0].end == 4);
}

TEST_CASE("the pool shares one client per cluster") {
  Broker broker;
  const std::string topic = uniqueName("lag-pool");
  broker.createTopic(topic, 2);
  broker.produce(topic, 1, 3);
  broker.flush();
  const std::string a = uniqueName("lag-pool-a"), b = uniqueName("lag-pool-b");
  commit(broker.bootstrap(), a, topic, {{1, 2}});

  LagReaderPool pool(5s);
  const KafkaCluster cluster{broker.bootstrap(), {}};
  auto first = pool.reader(cluster);
  auto second = pool.reader(cluster);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->get() == second->get());
  CHECK(pool.clientCount() == 1);

  auto ra = (*first)->read({a, {topic}});
  auto rb = (*second)->read({b, {topic}});
  REQUIRE(ra.ok());
  REQUIRE(rb.ok());
  CHECK((*ra)[1].committed == std::optional<int64_t>(2));
  CHECK_FALSE((*rb)[1].committed.has_value());
  CHECK(pool.clientCount() == 1);

  // Other properties (say, other credentials) are another client.
  const KafkaCluster tuned{broker.bootstrap(), {{"socket.keepalive.enable", "true"}}};
  auto third = pool.reader(tuned);
  REQUIRE(third.ok());
  CHECK(third->get() != first->get());
  CHECK(pool.clientCount() == 2);

  pool.retainOnly({tuned});
  CHECK(pool.clientCount() == 1);
  CHECK((*first)->read({a, {topic}}).ok());  // a reader handed out stays usable
}

TEST_CASE("a rejected property names its key and never its value") {
  auto invalid = LagReader::create({"127.0.0.1:9", {{"socket.timeout.ms", "s3cret-not-a-number"}}});
  REQUIRE_FALSE(invalid.ok());
  CHECK(invalid.error().message.find("socket.timeout.ms") != std::string::npos);
  CHECK(invalid.error().message.find("s3cret") == std::string::npos);

  auto unknown = LagReader::create({"127.0.0.1:9", {{"sasl.pasword", "s3cret"}}});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message == "kafka 127.0.0.1:9: unknown librdkafka property sasl.pasword");
}
