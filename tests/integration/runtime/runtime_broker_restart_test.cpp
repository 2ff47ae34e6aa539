// The broker is stopped for 15 s mid-stream and restarted (the same command
// line, hack/server-restart.sh): the runtime recovers by itself and no event
// is lost. SERIAL: nothing else may use the broker meanwhile.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <iostream>

#include "runtime_harness.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace std::chrono_literals;
using ew::testing::serverEnv;
using ew::testing::uniqueName;

TEST_CASE("broker down for 15 s mid-stream: the runtime recovers and no event is lost") {
  Kafka kafka;
  const std::string topic = uniqueName("outage");
  kafka.createTopic(topic, 3);
  constexpr int kBefore = 6000, kAfter = 4000;
  for (int i = 0; i < kBefore; ++i) kafka.produce(topic, "k" + std::to_string(i % 30), payload("k", i));
  kafka.flush();
  Ledger ledger;
  ledger.setDelay(500us);
  ConfigSpec s;
  s.topic = topic;
  s.group = uniqueName("grp");
  s.ledgerPort = ledger.port();
  RuntimeProcess rt("outage", s);
  REQUIRE(ledger.waitFor([](const Ledger& l) { return l.distinct() >= kBefore / 3; }, 60s));

  const std::string state = serverEnv("EW_STATE_DIR");
  const std::string cmd = "bash " EW_SOURCE_DIR "/hack/server-restart.sh " + state + " kafka 15 kill >&2";
  REQUIRE(std::system(cmd.c_str()) == 0);

  Kafka after;  // a fresh producer: the old one may still be reconnecting
  for (int i = kBefore; i < kBefore + kAfter; ++i) after.produce(topic, "k" + std::to_string(i % 30), payload("k", i));
  after.flush();
  const bool all =
      ledger.waitFor([](const Ledger& l) { return l.distinct() >= static_cast<size_t>(kBefore + kAfter); }, 90s);
  INFO(rt.log());
  REQUIRE(all);
  CHECK(rt.running());
  std::cout << "broker outage test: " << kBefore + kAfter << " events, " << ledger.count() - ledger.distinct()
            << " handled more than once\n";
}
