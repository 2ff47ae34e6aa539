#include "controller/outbox_status.h"

#include <catch2/catch.hpp>

#include "controller/desired_state.h"

// The shaping of status.outbox and OutboxBacklog from the outbox pods'
// /status replies. Reading real pods is covered against the real runtime
// (runtime_outbox_test).

using namespace ew;
using namespace ew::controller;
using Json = nlohmann::json;

namespace {

Json relay(const std::string& name, const std::string& state, std::optional<int64_t> pending = std::nullopt,
           double age = 0) {
  Json r = {{"name", name}, {"state", state}};
  if (pending) {
    r["pending"] = *pending;
    r["oldestPendingAgeSeconds"] = age;
  }
  return r;
}

OutboxPodRead pod(const std::string& name, Json relays) {
  return {name, Json{{"name", "w"}, {"status", "running"}, {"outbox", std::move(relays)}}};
}

OutboxPodRead unreadable(const std::string& name) {
  return {name, Error{"GET http://10.244.0.9:9090/status: connection refused"}};
}

const std::vector<std::string> kRelays = {"orders", "payments"};

}  // namespace

TEST_CASE("the figures of each relay come from the pod that holds its table's lock") {
  const auto v = observeOutbox(
      {}, kRelays,
      {pod("w-outbox-a", Json::array({relay("orders", "standby"), relay("payments", "active", 3, 0.4)})),
       pod("w-outbox-b", Json::array({relay("orders", "active", 12, 2.5), relay("payments", "standby")}))},
      "2026-12-06T12:00:00Z");
  REQUIRE(v.size() == 2);
  CHECK(v[0].name == "orders");
  REQUIRE(v[0].figures);
  CHECK(v[0].figures->pendingRows == 12);
  CHECK(v[0].figures->oldestPendingAgeSeconds == 2.5);
  CHECK(v[0].figures->pod == "w-outbox-b");
  CHECK(v[0].staleReason.empty());
  CHECK(v[1].figures->pod == "w-outbox-a");
  const auto c = outboxBacklogCondition(v);
  CHECK(c.status == "False");
  CHECK(c.reason == "Flowing");
  CHECK(c.message == "orders: 12 rows pending, oldest 2.5 s; payments: 3 rows pending, oldest 0.4 s");
  const Json s = outboxStatusJson(v);
  CHECK(s[0] == Json{{"name", "orders"},
                     {"stale", false},
                     {"pendingRows", 12},
                     {"oldestPendingAgeSeconds", 2},
                     {"activePod", "w-outbox-b"},
                     {"observedAt", "2026-12-06T12:00:00Z"}});
}

TEST_CASE("a pending row older than a minute turns OutboxBacklog True, naming the relay and its figures") {
  const auto v =
      observeOutbox({}, {"orders"}, {pod("w-outbox-a", Json::array({relay("orders", "active", 4200, 75.2)}))},
                    "2026-12-06T12:00:00Z");
  const auto c = outboxBacklogCondition(v);
  CHECK(c.status == "True");
  CHECK(c.reason == "OldRowsPending");
  CHECK(c.message == "orders: 4200 rows pending, oldest 75.2 s (a row pending longer than 60 s)");
}

TEST_CASE("a pod that cannot be read leaves the last figures, marked stale with the reason") {
  const auto before = observeOutbox(
      {}, {"orders"}, {pod("w-outbox-a", Json::array({relay("orders", "active", 7, 1.0)}))}, "2026-12-06T12:00:00Z");
  const auto after = observeOutbox(before, {"orders"}, {unreadable("w-outbox-a")}, "2026-12-06T12:00:10Z");
  REQUIRE(after[0].figures);
  CHECK(after[0].figures->pendingRows == 7);
  CHECK(after[0].figures->observedAt == "2026-12-06T12:00:00Z");
  CHECK(after[0].staleReason == kStatusUnreadable);
  CHECK_THAT(after[0].staleMessage, Catch::Contains("pod w-outbox-a: GET http://10.244.0.9:9090/status"));
  const auto c = outboxBacklogCondition(after);
  CHECK(c.status == "Unknown");
  CHECK(c.reason == "StatusUnreadable");
  const Json s = outboxStatusJson(after);
  CHECK(s[0]["stale"] == true);
  CHECK(s[0]["staleReason"] == "StatusUnreadable");
  CHECK(s[0]["pendingRows"] == 7);
  // A stale backlog still says so: the last figures were old rows.
  const auto old = observeOutbox({}, {"orders"}, {pod("a", Json::array({relay("orders", "active", 7, 90)}))}, "t0");
  CHECK(outboxBacklogCondition(observeOutbox(old, {"orders"}, {unreadable("a")}, "t1")).status == "True");
}

TEST_CASE(
    "no pod holding the lock, or no pod at all, is NoActiveRelay, and an active pod wins over an unreadable one") {
  const auto standby = observeOutbox(
      {}, {"orders"},
      {pod("a", Json::array({relay("orders", "standby")})), pod("b", Json::array({relay("orders", "connecting")}))},
      "t");
  CHECK(standby[0].staleReason == kNoActiveRelay);
  CHECK(standby[0].staleMessage == "no outbox pod holds the table's lock (a standby, b connecting)");
  CHECK_FALSE(standby[0].figures);
  CHECK(outboxBacklogCondition(standby).reason == "NoActiveRelay");
  CHECK(outboxStatusJson(standby)[0] == Json{{"name", "orders"}, {"stale", true}, {"staleReason", "NoActiveRelay"}});
  CHECK(observeOutbox({}, {"orders"}, {}, "t")[0].staleMessage == "no outbox pod is running");
  const auto mixed =
      observeOutbox({}, {"orders"}, {unreadable("a"), pod("b", Json::array({relay("orders", "active", 0, 0)}))}, "t");
  CHECK(mixed[0].staleReason.empty());
  CHECK(outboxBacklogCondition(mixed).message == "orders: 0 rows pending");
}

TEST_CASE("the fingerprint moves with the condition, staleness and the active pod, not with each figure") {
  const auto a = observeOutbox({}, {"orders"}, {pod("p", Json::array({relay("orders", "active", 5, 1)}))}, "t0");
  const auto b = observeOutbox(a, {"orders"}, {pod("p", Json::array({relay("orders", "active", 9, 2)}))}, "t1");
  const auto drained = observeOutbox(b, {"orders"}, {pod("p", Json::array({relay("orders", "active", 0, 0)}))}, "t2");
  const auto moved = observeOutbox(b, {"orders"}, {pod("q", Json::array({relay("orders", "active", 9, 2)}))}, "t2");
  const auto stale = observeOutbox(b, {"orders"}, {unreadable("p")}, "t2");
  CHECK(outboxFingerprint(a) == outboxFingerprint(b));
  CHECK(outboxFingerprint(b) != outboxFingerprint(drained));
  CHECK(outboxFingerprint(b) != outboxFingerprint(moved));
  CHECK(outboxFingerprint(b) != outboxFingerprint(stale));
}

TEST_CASE("desiredStatus writes status.outbox and OutboxBacklog while relays are declared, and drops them after") {
  StatusInputs in;
  in.generation = 2;
  in.now = "2026-12-06T12:00:00Z";
  in.outboxDeclared = true;
  in.outbox = observeOutbox({}, {"orders"}, {pod("p", Json::array({relay("orders", "active", 5, 1)}))}, in.now);
  const Json with = desiredStatus(in, Json::object());
  CHECK(with["outbox"][0]["pendingRows"] == 5);
  bool found = false;
  for (const auto& c : with["conditions"])
    if (c["type"] == "OutboxBacklog") {
      found = true;
      CHECK(c["status"] == "False");
      CHECK(c["reason"] == "Flowing");
    }
  CHECK(found);
  // Declared, not polled yet (an operator restart): what status said stays.
  in.outbox.reset();
  const Json kept = desiredStatus(in, with);
  CHECK(kept["outbox"] == with["outbox"]);
  CHECK(sameStatus(kept, with));
  // No longer declared: both go.
  in.outboxDeclared = false;
  const Json without = desiredStatus(in, with);
  CHECK_FALSE(without.contains("outbox"));
  for (const auto& c : without["conditions"]) CHECK(c["type"] != "OutboxBacklog");
}
