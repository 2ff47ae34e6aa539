// The Dapr source (loops/dapr_source.h) with its app channel in memory
// (clients/memory_app_server.h) and a manual clock: order per key within a
// bulk, replies that wait for every event, the statuses daprd acts on, retry
// timing, and a stop that answers RETRY for what still runs. No daprd, no
// ports; waits are on conditions, and time moves only when a test moves it.
#include "loops/dapr_source.h"

#include <catch2/catch.hpp>

#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "clients/memory_app_server.h"
#include "loops/fake_handler.h"
#include "loops/test_support.h"

using namespace ew;
using namespace ew::runtime;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

RuntimeConfig config(const std::string& retry = "initialBackoff: 10ms, maxBackoff: 20ms") {
  return testConfig("  kind: dapr\n  dapr: {appPort: 5005}\n",
                    "  concurrency: 8\n  ordering: key\n  retry: {maxAttempts: 3, " + retry + "}\n",
                    "server: {gracePeriod: 10s}\n");
}

// A bulk entry's event, or a single delivery's body: a plain JSON payload
// (the source wraps it in a CloudEvent whose data FakeHandler reads).
json entry(const std::string& id, const std::string& key, int64_t seq, const std::string& mode = "") {
  return {{"entryId", id},
          {"event", json::parse(fakeEvent(key, seq, mode))},
          {"contentType", "application/json"},
          {"metadata", {{"__key", key}}}};
}

HttpServerRequest post(const std::string& contentType, const std::string& body, HttpHeaders headers = {},
                       const std::string& path = "/events/orders") {
  HttpServerRequest r;
  r.method = "POST";
  r.target = path;
  r.contentType = contentType;
  r.body = body;
  r.headers = std::move(headers);
  return r;
}

HttpServerRequest single(const std::string& key, int64_t seq, const std::string& mode = "") {
  return post("application/json", fakeEvent(key, seq, mode), {{"__key", key}});
}

HttpServerRequest bulk(const json& entries) {
  return post("application/json",
              json{{"type", "com.dapr.event.sent.bulk"}, {"topic", "orders"}, {"entries", entries}}.dump());
}

std::string status(const std::optional<HttpServerReply>& r) {
  if (!r) return "<none>";
  const json j = json::parse(r->body, nullptr, false);
  return j.is_object() && j.contains("status") ? j["status"].get<std::string>() : "<" + r->body + ">";
}

// A dispatcher and a Dapr source on MemoryAppServer, the source's loop on a
// thread of its own from construction until stop().
struct Rig {
  ManualTime time;
  std::shared_ptr<FakeHandler> handler = std::make_shared<FakeHandler>();
  std::atomic<bool> reachable{true};
  MetricsRegistry metrics;
  RuntimeConfig cfg;
  std::unique_ptr<Dispatcher> dispatcher;
  MemoryAppServer* server = nullptr;
  std::unique_ptr<DaprSource> source;
  std::unique_ptr<SourceLoop> loop;

  explicit Rig(RuntimeConfig c) : cfg(std::move(c)) {
    dispatcher = testDispatcher(cfg, handler, metrics, time);
    source = std::make_unique<DaprSource>(
        cfg, *dispatcher, metrics, [this] { return reachable.load(); }, MemoryAppServer::factory(&server), time);
    REQUIRE(source->open());
    dispatcher->start();
    loop = std::make_unique<SourceLoop>(*source);
  }
  ~Rig() { stop(); }

  // Moves the clock by STEP until PRED holds (at most 100 steps). After each
  // step PRED is re-checked every millisecond of real time for up to 50 ms:
  // what the source's threads do after a move of the clock signals nothing.
  bool advanceUntil(std::chrono::nanoseconds step, const std::function<bool()>& pred) {
    for (int i = 0; i < 100; ++i) {
      if (pred()) return true;
      time.advance(step);
      for (int j = 0; j < 50 && !pred(); ++j) std::this_thread::sleep_for(1ms);
    }
    return pred();
  }
  int healthz() {
    HttpServerRequest r;
    r.method = "GET";
    r.target = "/healthz";
    auto reply = server->send(std::move(r))->now();
    return reply ? reply->status : 0;
  }
  void stop() {
    handler->release();
    source->requestStop();
    advanceUntil(1s, [&] { return loop->finished(); });
    loop->join();
  }
};

}  // namespace

TEST_CASE("dapr source: events of one key in a bulk are handled in entry order, and the reply waits for all") {
  Rig r(config());
  json entries = json::array();
  entries.push_back(entry("e0", "k0", 0, "block"));
  for (int i = 1; i < 60; ++i) entries.push_back(entry("e" + std::to_string(i), "k" + std::to_string(i % 5), i));
  auto reply = r.server->send(bulk(entries));
  REQUIRE(r.handler->waitBlocked(10s));
  // Every key but k0 finishes; k0 waits behind its blocked first event, and so does the reply.
  for (int i = 1; i < 60; ++i)
    if (i % 5) REQUIRE(r.handler->waitDone(i, 10s));
  CHECK_FALSE(reply->now());
  CHECK(r.handler->done().size() == 48);
  r.handler->release();
  const auto answer = reply->wait(10s);
  REQUIRE(answer);
  CHECK(answer->status == 200);
  const json statuses = json::parse(answer->body)["statuses"];
  REQUIRE(statuses.size() == 60);
  for (int i = 0; i < 60; ++i) {
    CHECK(statuses[i]["entryId"] == "e" + std::to_string(i));
    CHECK(statuses[i]["status"] == "SUCCESS");
  }
  std::map<std::string, int64_t> last;
  for (const auto& c : r.handler->done()) {
    auto it = last.find(c.key);
    if (it != last.end()) CHECK(it->second < c.seq);
    last[c.key] = c.seq;
  }
  CHECK(r.handler->done().size() == 60);
}

TEST_CASE("dapr source: handled is SUCCESS, refused and exhausted are DROP, malformed is DROP without a call") {
  Rig r(config());
  json entries = json::array({entry("ok", "a", 1), entry("refused", "b", 2, "reject"),
                              entry("exhausted", "c", 3, "retry:9"), entry("retried", "d", 4, "retry:1")});
  json noId = {{"specversion", "1.0"}, {"type", "t"}, {"source", "s"}, {"data", json::parse(fakeEvent("e", 5))}};
  entries.push_back({{"entryId", "malformed"}, {"event", noId}, {"contentType", "application/cloudevents+json"}});
  auto reply = r.server->send(bulk(entries));
  // Retries wait for their back-off on the clock.
  REQUIRE(r.advanceUntil(10ms, [&] { return reply->now().has_value(); }));
  const json answer = json::parse(reply->now()->body);
  std::map<std::string, std::string> got;
  for (const auto& s : answer["statuses"]) got[s["entryId"]] = s["status"];
  CHECK(got == std::map<std::string, std::string>{{"ok", "SUCCESS"},
                                                  {"refused", "DROP"},
                                                  {"exhausted", "DROP"},
                                                  {"retried", "SUCCESS"},
                                                  {"malformed", "DROP"}});
  CHECK(r.handler->attempts(3) == 3);  // retry.maxAttempts
  CHECK(r.handler->attempts(4) == 2);
  CHECK(r.handler->attempts(5) == 0);
}

TEST_CASE("dapr source: a retry waits for its back-off on the clock before the reply") {
  // Jitter 0.5 of a one-minute ceiling: the retry is due 30 s after the failure.
  Rig r(config("initialBackoff: 1m, maxBackoff: 1m"));
  auto retried = r.server->send(single("a", 1, "retry:1"));
  auto other = r.server->send(single("b", 2));
  CHECK(status(other->wait(10s)) == "SUCCESS");  // another key does not wait for the back-off
  REQUIRE(r.advanceUntil(0s, [&] { return r.dispatcher->backingOff() == 1; }));
  r.time.advance(29s);
  CHECK_FALSE(retried->wait(50ms));
  CHECK(r.handler->attempts(1) == 1);
  r.time.advance(1s);
  CHECK(status(retried->wait(10s)) == "SUCCESS");
  CHECK(r.handler->attempts(1) == 2);
}

TEST_CASE("dapr source: at stop a new delivery is answered 503, and one still running after the grace period RETRY") {
  Rig r(config());
  auto running = r.server->send(single("a", 1, "block"));
  auto done = r.server->send(single("b", 2));
  REQUIRE(r.handler->waitBlocked(10s));
  CHECK(status(done->wait(10s)) == "SUCCESS");
  r.source->requestStop();
  REQUIRE(r.advanceUntil(0s, [&] { return !r.server->accepting(); }));
  const auto refused = r.server->send(single("c", 3))->now();
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(status(refused) == "RETRY");
  // Within the grace period the running event keeps its delivery open.
  r.time.advance(9s);
  CHECK_FALSE(running->wait(50ms));
  REQUIRE(r.advanceUntil(1s, [&] { return r.loop->finished(); }));
  CHECK_FALSE(r.loop->drained());
  CHECK(status(running->now()) == "RETRY");
  r.handler->release();
  REQUIRE(r.handler->waitDone(1, 10s));
  CHECK(status(running->now()) == "RETRY");  // answered once: a late finish changes nothing
  CHECK(r.handler->attempts(3) == 0);
}

TEST_CASE("dapr source: a delivery to a route no subscription has is answered 404 DROP without a call") {
  Rig r(config());
  const auto reply = r.server->send(post("application/json", fakeEvent("a", 1), {}, "/elsewhere"))->now();
  REQUIRE(reply);
  CHECK(reply->status == 404);
  CHECK(status(reply) == "DROP");
  CHECK(r.handler->calls() == 0);
}

TEST_CASE("dapr source: /healthz follows the handler's probe, taken every second on the clock") {
  Rig r(config());
  CHECK(r.healthz() == 200);
  r.reachable = false;
  CHECK(r.advanceUntil(1s, [&] { return r.healthz() == 503; }));
  r.reachable = true;
  CHECK(r.advanceUntil(1s, [&] { return r.healthz() == 200; }));
  CHECK(r.source->alive());
}
