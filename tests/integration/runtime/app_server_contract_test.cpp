// The Dapr source's app server (worker-runtime/clients/app_server.h) over
// real HTTP on loopback and in memory (clients/memory_app_server.h), with
// the same observable results: the replies daprd would act on for single and
// bulk deliveries, the probes, and a stop whose grace period ends with an
// event running. The unit tests of the Dapr source (loops/dapr_source_test.cpp)
// rely on the in-memory server acting like this.
#include <catch2/catch.hpp>

#include <future>
#include <nlohmann/json.hpp>

#include "clients/memory_app_server.h"
#include "loops/dapr_source.h"
#include "loops/fake_handler.h"
#include "loops/test_support.h"
#include "runtime_harness.h"

using namespace ew;
using namespace ew::runtime;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// One request and its reply: "<status> <body>" (status 0: no reply).
using Send = std::function<std::string(const std::string& method, const std::string& path,
                                       const std::string& contentType, const std::string& body)>;

// The scenario against the server SERVERS makes; SEND_VIA reaches the one
// made (given its port).
std::vector<std::string> scenario(AppServerFactory servers, const std::function<Send(int port)>& sendVia) {
  const RuntimeConfig cfg = testConfig(
      "  kind: dapr\n  dapr: {appPort: " + std::to_string(rttest::freePort()) + "}\n",
      "  concurrency: 4\n  ordering: key\n  retry: {maxAttempts: 3, initialBackoff: 10ms, maxBackoff: 20ms}\n",
      "server: {gracePeriod: 1s}\n");
  auto handler = std::make_shared<FakeHandler>();
  MetricsRegistry metrics;
  auto dispatcher = testDispatcher(cfg, handler, metrics, systemTime());
  DaprSource source(
      cfg, *dispatcher, metrics, [] { return true; }, std::move(servers), systemTime());
  REQUIRE(source.open());
  dispatcher->start();
  SourceLoop loop(source);
  const Send send = sendVia(source.port());

  std::vector<std::string> out;
  const std::string events = "/events/orders";
  out.push_back(send("POST", events, "application/json", fakeEvent("a", 1)));
  out.push_back(send("POST", events, "application/json", fakeEvent("b", 2, "reject")));
  json entries = json::array();
  entries.push_back(
      {{"entryId", "ok"}, {"event", json::parse(fakeEvent("c", 3))}, {"contentType", "application/json"}});
  entries.push_back({{"entryId", "retried"},
                     {"event", json::parse(fakeEvent("d", 4, "retry:1"))},
                     {"contentType", "application/json"}});
  entries.push_back({{"entryId", "malformed"},
                     {"event", {{"specversion", "1.0"}, {"type", "t"}, {"source", "s"}}},
                     {"contentType", "application/cloudevents+json"}});
  out.push_back(send("POST", events, "application/json",
                     json{{"type", "com.dapr.event.sent.bulk"}, {"topic", "orders"}, {"entries", entries}}.dump()));
  out.push_back(send("GET", "/healthz", "", ""));
  out.push_back(send("GET", "/dapr/subscribe", "", ""));
  out.push_back(send("POST", "/elsewhere", "application/json", fakeEvent("e", 5)));
  // An event still running when the grace period ends is answered RETRY.
  auto running = std::async(std::launch::async,
                            [&] { return send("POST", events, "application/json", fakeEvent("f", 6, "block")); });
  REQUIRE(handler->waitBlocked(10s));
  source.requestStop();
  out.push_back(running.get());
  loop.join();
  out.push_back(loop.drained() ? "drained" : "not drained");
  handler->release();
  dispatcher->stop();
  return out;
}

}  // namespace

TEST_CASE("the in-memory app server gives the Dapr source what real HTTP gives it") {
  const auto overHttp = scenario(httpAppServers(), [](int port) -> Send {
    return [port](const std::string& method, const std::string& path, const std::string& contentType,
                  const std::string& body) {
      const rttest::HttpResult r = rttest::httpRequest(port, method, path, contentType, body, {}, 30s);
      return std::to_string(r.status) + " " + r.body;
    };
  });
  MemoryAppServer* server = nullptr;
  const auto inMemory = scenario(MemoryAppServer::factory(&server), [&](int) -> Send {
    return [&](const std::string& method, const std::string& path, const std::string& contentType,
               const std::string& body) {
      HttpServerRequest r;
      r.method = method;
      r.target = path;
      r.contentType = contentType;
      r.body = body;
      const auto reply = server->send(std::move(r))->wait(30s);
      return reply ? std::to_string(reply->status) + " " + reply->body : std::string("0 ");
    };
  });
  CHECK(inMemory == overHttp);
  CHECK(
      overHttp ==
      std::vector<std::string>{
          R"(200 {"status":"SUCCESS"})",
          R"(200 {"status":"DROP"})",
          R"(200 {"statuses":[{"entryId":"ok","status":"SUCCESS"},{"entryId":"retried","status":"SUCCESS"},{"entryId":"malformed","status":"DROP"}]})",
          "200 ok\n",
          "404 ",
          R"(404 {"status":"DROP"})",
          R"(200 {"status":"RETRY"})",
          "not drained",
      });
}
