#include "controller/pod_status.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>

// Which pods the monitors ask, and a poll's reads in waves. The HTTP read of
// a real runtime's /status is covered by outbox_status_live_test and
// streams_scaling_live_test.

using namespace ew;
using namespace ew::controller;
using Json = nlohmann::json;

TEST_CASE("runningPods keeps the component's running pods with an IP") {
  auto pod = [](const std::string& name, const std::string& component, const std::string& ip, bool deleting) {
    Json p = {{"metadata", {{"name", name}, {"labels", {{"eventworker.dev/component", component}}}}},
              {"status", Json::object()}};
    if (!ip.empty()) p["status"]["podIP"] = ip;
    if (deleting) p["metadata"]["deletionTimestamp"] = "2026-12-06T12:00:00Z";
    return p;
  };
  const std::vector<Json> all = {
      pod("w-outbox-a", "outbox", "10.244.0.5", false), pod("w-events-a", "events", "10.244.0.7", false),
      pod("w-outbox-b", "outbox", "", false), pod("w-outbox-c", "outbox", "10.244.0.8", true),
      pod("w-streams-a", "streams", "10.244.0.9", false)};
  const auto outbox = runningPods(all, "outbox");
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].name == "w-outbox-a");
  CHECK(outbox[0].ip == "10.244.0.5");
  const auto streams = runningPods(all, "streams");
  REQUIRE(streams.size() == 1);
  CHECK(streams[0].name == "w-streams-a");
}

TEST_CASE("readPodStatuses answers every request in order, at most PARALLEL at a time, a throw as an Error") {
  std::atomic<int> running{0}, most{0};
  const PodStatusReadFn read = [&](const std::string& ip, int port) -> Result<Json> {
    const int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {}
    --running;
    if (ip == "bad") throw std::runtime_error("boom");
    return Json{{"ip", ip}, {"port", port}};
  };
  std::vector<PodStatusRequest> requests;
  for (int i = 0; i < 10; ++i) requests.push_back({i == 4 ? "bad" : "10.0.0." + std::to_string(i), 9000 + i});
  const auto got = readPodStatuses(read, requests, 3);
  REQUIRE(got.size() == 10);
  CHECK((*got[0])["ip"] == "10.0.0.0");
  CHECK((*got[9])["port"] == 9009);
  REQUIRE_FALSE(got[4]);
  CHECK(got[4].error().message == "read failed: boom");
  CHECK(most.load() <= 3);
}
