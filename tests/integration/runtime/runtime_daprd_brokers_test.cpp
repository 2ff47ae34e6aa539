// The brokers of the project's source documents beside Kafka, through the real
// daprd to the real runtime (source.kind: dapr): Google Cloud Pub/Sub on the
// test servers' pstest (pubsub.gcp.pubsub, message ordering on) and Redis
// Streams on a redis-server of the test's own (pubsub.redis). The same cases
// as runtime_daprd_test's over Kafka (daprd_harness). Neither broker hands
// daprd a message key, so the publisher names it in the CloudEvent's
// partitionkey, which the runtime keys its lanes by.
//
// When no daprd with these components is built (DAPR_COMPONENTS=brokers
// bash hack/build-daprd.sh) every case exits 77: a counted skip, with why.
#include <catch2/catch.hpp>

#include "daprd_harness.h"

using namespace ew::rttest;

TEST_CASE(
    "daprd pubsub: a burst published to Pub/Sub with ordering keys reaches the handler at least once and in key "
    "order") {
  // One ordering key's messages are handed to daprd one at a time (the
  // client's ordered receive, pstest's ordered delivery).
  checkBurstInKeyOrder(*pubsubBroker(), "daprd-ps-burst", 1, 50, 40);
}

TEST_CASE("daprd pubsub: bulk deliveries from Pub/Sub are answered per entry and every event is handled in key order") {
  checkBurstInKeyOrder(*pubsubBroker(), "daprd-ps-bulk", 1, 20, 50, 50);
}

TEST_CASE(
    "daprd pubsub: retries happen in the runtime and an exhausted event reaches daprd's dead-letter topic on Pub/Sub") {
  checkRetriesAndDeadLetter(*pubsubBroker(), "daprd-ps-retry", 1);
}

TEST_CASE(
    "daprd redis: a burst added to a Redis stream reaches the handler at least once and in key order with one delivery "
    "worker") {
  // Redis Streams have no keys: stream order is kept only by the component's
  // single worker (concurrency 1; its default of 10 hands daprd ten messages
  // of the stream at once, and a key's events, five apart here, overtake
  // each other: 18 of 1,000 did in one run).
  RedisServer redis;
  checkBurstInKeyOrder(*redisStreamsBroker(redis, 1), "daprd-rs-burst", 1, 5, 200);
}

TEST_CASE("daprd redis: retries happen in the runtime and an exhausted event reaches daprd's dead-letter stream") {
  RedisServer redis;
  checkRetriesAndDeadLetter(*redisStreamsBroker(redis, 1), "daprd-rs-retry", 1);
}
