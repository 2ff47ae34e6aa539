// The Dapr path end to end through the real sidecar over Kafka: the real daprd
// (hack/build-daprd.sh) with a pubsub.kafka Component on the real broker and a
// dapr.io/v2alpha1 Subscription file, delivering to the real runtime
// (source.kind: dapr), which calls a ledger handler. The cases are
// daprd_harness's, shared with the other brokers (runtime_daprd_brokers_test).
//
// daprd is built on request only, so when it is not in the cache every case
// here exits with code 77, which ctest counts as skipped (SKIP_RETURN_CODE),
// after printing why and how to get it.
#include <catch2/catch.hpp>

#include "daprd_harness.h"

using namespace ew::rttest;

TEST_CASE(
    "daprd: a burst produced to Kafka reaches the handler through the real daprd at least once and in key order") {
  // daprd delivers one record of a partition at a time; the bulk case is where
  // the runtime's lanes (keyed by daprd's __key metadata) keep the order.
  checkBurstInKeyOrder(*kafkaBroker(), "daprd-burst", 4, 50, 40);
}

TEST_CASE("daprd: bulk deliveries through the real daprd are answered per entry and every event is handled") {
  checkBurstInKeyOrder(*kafkaBroker(), "daprd-bulk", 4, 20, 50, 50);
}

TEST_CASE(
    "daprd: a handler that asks for retries is retried in the runtime and an exhausted event reaches daprd's "
    "dead-letter topic") {
  checkRetriesAndDeadLetter(*kafkaBroker(), "daprd-retry", 2);
}
