#include "migration/migration.h"

#include <catch2/catch.hpp>

using namespace ew;
using namespace ew::migration;
using autoscale::PartitionOffsets;

namespace {

Request request(const std::string& handoff = "pause") {
  Request r;
  r.appId = "customer-api";
  r.handoff = handoff;
  r.settleSeconds = 10;
  r.pubsubName = "pubsub";
  r.topics = {"orders"};
  return r;
}

Observed observed(bool ready, std::int64_t t = 1000) {
  Observed o;
  o.now = "t" + std::to_string(t);
  o.nowSeconds = t;
  o.workerReady = ready;
  o.subscriptions = {{"api-orders", "pubsub", "orders", {"customer-api", "audit"}},
                     {"api-refunds", "pubsub", "refunds", {"customer-api"}},
                     {"other-pubsub", "kafka2", "orders", {"customer-api"}}};
  return o;
}

std::vector<PartitionOffsets> group(std::int64_t c0, std::int64_t c1, bool owned) {
  return {{"orders", 0, 0, 100, c0, owned}, {"orders", 1, 0, 100, c1, owned}};
}

}  // namespace

TEST_CASE("pause handoff: worker ready, API taken off, commits settle, offsets copied, worker scoped in") {
  auto r = request();
  Plan p = step(nullptr, r, observed(false), false);
  CHECK(p.record["phase"] == "Pending");
  CHECK_FALSE(p.workerScopedIn);
  CHECK(p.scopeEdits.empty());
  CHECK(p.migrated->reason == "WaitingForWorker");

  p = step(p.record, r, observed(true), false);
  CHECK(p.record["phase"] == "Paused");
  REQUIRE(p.scopeEdits.size() == 1);  // only the matching topic and pubsub
  CHECK(p.scopeEdits[0].subscription == "api-orders");
  CHECK(p.scopeEdits[0].scopes == std::vector<std::string>{"audit"});
  CHECK(p.record["changed"].size() == 1);
  CHECK(p.keepFinalizer);
  CHECK(wantsApiGroup(p.record));
  CHECK(p.again);  // a reconcile must come back to poll the API's group (no watch event will)

  // Commits still moving: wait.
  auto o = observed(true, 1002);
  o.apiGroup = group(10, 20, true);
  p = step(p.record, r, o, false);
  CHECK(p.record["phase"] == "Paused");
  CHECK(p.again);
  o = observed(true, 1004);
  o.apiGroup = group(15, 20, true);
  p = step(p.record, r, o, false);
  CHECK(p.record["phase"] == "Paused");
  // Still, but a member still owns the partitions: settle first.
  o = observed(true, 1008);
  o.apiGroup = group(15, 20, true);
  p = step(p.record, r, o, false);
  CHECK(p.record["phase"] == "Paused");
  CHECK_FALSE(p.copyOffsets);
  o = observed(true, 1015);
  o.apiGroup = group(15, 20, true);
  p = step(p.record, r, o, false);
  CHECK(p.record["phase"] == "OffsetsCopied");
  REQUIRE(p.copyOffsets);
  CHECK(p.copyOffsets->at({"orders", 0}) == 15);
  CHECK(p.copyOffsets->at({"orders", 1}) == 20);
  CHECK_FALSE(p.workerScopedIn);

  p = step(p.record, r, observed(true, 1016), false);
  CHECK(p.record["phase"] == "Complete");
  CHECK(p.workerScopedIn);
  CHECK(p.migrated->status);
  for (const char* s : {"started", "workerReady", "apiPaused", "apiStopped", "offsetsCopied", "scopedIn", "complete"})
    CHECK(p.record["steps"].contains(s));
  // Complete is stable.
  Plan again = step(p.record, r, observed(true, 2000), false);
  CHECK(again.record == p.record);
  CHECK(again.scopeEdits.empty());
}

TEST_CASE("pause handoff: no owner left and offsets unchanged since the last look copies without settling") {
  auto r = request();
  Json rec = step(step(nullptr, r, observed(true), false).record, r, observed(true), false).record;
  REQUIRE(rec["phase"] == "Paused");
  auto o = observed(true, 1001);
  o.apiGroup = group(7, 8, false);
  rec = step(rec, r, o, false).record;
  o = observed(true, 1002);
  o.apiGroup = group(7, 8, false);
  Plan p = step(rec, r, o, false);
  CHECK(p.record["phase"] == "OffsetsCopied");
  // An unreadable group waits and says why.
  o.apiGroup = Result<std::vector<PartitionOffsets>>(Error{"timed out"});
  Plan q = step(rec, r, o, false);
  CHECK(q.record["phase"] == "Paused");
  CHECK(q.record["message"].get<std::string>().find("timed out") != std::string::npos);
}

TEST_CASE("overlap handoff: the worker is scoped in first, the API comes off once the worker is ready") {
  auto r = request("overlap");
  Plan p = step(nullptr, r, observed(false), false);
  CHECK(p.workerScopedIn);
  CHECK(p.scopeEdits.empty());
  p = step(p.record, r, observed(true), false);
  CHECK(p.record["phase"] == "Complete");
  CHECK(p.scopeEdits.size() == 1);
  CHECK_FALSE(p.copyOffsets);
  CHECK(p.migrated->status);
}

TEST_CASE("a Subscription without scopes blocks the migration with an actionable message") {
  auto r = request();
  auto o = observed(true);
  o.subscriptions.push_back({"everyone-orders", "pubsub", "orders", {}});
  Plan p = step(nullptr, r, o, false);
  CHECK(p.record["phase"] == "Pending");
  CHECK(p.scopeEdits.empty());
  REQUIRE(p.problem);
  CHECK(p.problem->find("everyone-orders") != std::string::npos);
  CHECK(p.migrated->reason == "Blocked");
}

TEST_CASE("removing migrateFrom, deleting, or naming another app gives back exactly the recorded scopes") {
  auto r = request();
  Json rec = step(step(nullptr, r, observed(true), false).record, r, observed(true), false).record;
  auto o = observed(true);
  o.subscriptions[0].scopes = {"audit"};  // as the migration left it
  for (int how = 0; how < 3; ++how) {
    std::optional<Request> req = r;
    if (how == 0) req.reset();
    if (how == 2) req->appId = "other-api";
    Plan p = step(rec, req, o, how == 1);
    CHECK(p.record.is_null());
    CHECK_FALSE(p.keepFinalizer);
    REQUIRE(p.scopeEdits.size() == 1);
    CHECK(p.scopeEdits[0].subscription == "api-orders");
    CHECK(p.scopeEdits[0].scopes == std::vector<std::string>{"audit", "customer-api"});
  }
  // Already given back (or the Subscription is gone): nothing to do.
  CHECK(step(rec, std::nullopt, observed(true), false).scopeEdits.empty());
  o.subscriptions.erase(o.subscriptions.begin());
  CHECK(step(rec, std::nullopt, o, false).scopeEdits.empty());
  CHECK(step(nullptr, std::nullopt, o, false).record.is_null());
}

TEST_CASE("scope helpers keep order and never duplicate") {
  CHECK(withoutScope({"a", "b", "a"}, "a") == std::vector<std::string>{"b"});
  CHECK(withScope({"b"}, "a") == std::vector<std::string>{"b", "a"});
  CHECK(withScope({"a"}, "a") == std::vector<std::string>{"a"});
  // Dapr reads [] as every app: the last app out leaves the no-app scope, which the next app in replaces.
  CHECK(withoutScope({"a"}, "a") == std::vector<std::string>{kNoAppScope});
  CHECK(withoutScope({kNoAppScope}, "a") == std::vector<std::string>{kNoAppScope});
  CHECK(withScope({kNoAppScope}, "a") == std::vector<std::string>{"a"});
}

TEST_CASE("programmatic subscriptions: the API's Deployments get subscribe disabled, and get back what they had") {
  auto r = request();
  r.programmatic = true;
  auto o = observed(true);
  o.deployments = {{"customer-api", std::nullopt},
                   {"customer-api-canary", std::string("config")},
                   {"already", std::string("config,subscribe")}};
  Plan p = step(nullptr, r, o, false);
  REQUIRE(p.annotationEdits.size() == 2);
  CHECK(p.annotationEdits[0].deployment == "customer-api");
  CHECK(p.annotationEdits[0].value == std::optional<std::string>("subscribe"));
  CHECK(p.annotationEdits[1].value == std::optional<std::string>("config,subscribe"));
  CHECK(p.record["changed"].size() == 3);  // one Subscription, two Deployments
  // Rolled back: each annotation as it was (removed where there was none).
  auto after = o;
  after.deployments = {{"customer-api", std::string("subscribe")},
                       {"customer-api-canary", std::string("config,subscribe")},
                       {"already", std::string("config,subscribe")}};
  Plan back = step(p.record, std::nullopt, after, false);
  REQUIRE(back.annotationEdits.size() == 2);
  CHECK(back.annotationEdits[0].value == std::nullopt);
  CHECK(back.annotationEdits[1].value == std::optional<std::string>("config"));
  // Without the request nothing is touched.
  r.programmatic = false;
  CHECK(step(nullptr, r, o, false).annotationEdits.empty());
}
