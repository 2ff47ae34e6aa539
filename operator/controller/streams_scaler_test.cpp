#include "controller/streams_scaler.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <mutex>

#include "controller/pod_status_test_support.h"

// The streams scaler's reads, decisions and publishing, driven through
// pollDue() with scripted pod replies and a manual clock. The HTTP read of a
// real runtime's /status with real SSE clients is streams_scaling_live_test.

using namespace ew;
using namespace ew::controller;
using Json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

struct Rig : ew::controller::testing::ScriptedPodStatus {
  ManualTime time;
  std::vector<RunningPod> pods = {{"w-streams-a", "10.244.0.5"}, {"w-streams-b", "10.244.0.6"}};
  std::optional<int> replicas = 2;
  std::vector<std::string> changes;
  MetricsRegistry metrics;
  StreamsScaler scaler{reader(),
                       [this](const std::string&) { return pods; },
                       [this](const std::string&) { return replicas; },
                       [this](const std::string& key) { changes.push_back(key); },
                       metrics,
                       time};

  void clients(const std::string& ip, int64_t orders, int64_t vip = 0) {
    replies.insert_or_assign(ip, Json{{"status", "running"},
                                      {"streams", Json::array({{{"name", "orders"}, {"clients", orders}},
                                                               {{"name", "vip"}, {"clients", vip}}})}});
  }
  // Polls once, as the loop would, and applies the decision to the Deployment.
  autoscale::StreamsDecision poll() {
    (void)scaler.pollDue();
    const auto d = scaler.view("shop/w")->decision;
    replicas = d.desiredReplicas;
    time.advance(StreamsScaler::kPollInterval);
    return d;
  }
};

const StreamsTarget kTarget{9090, {1, 10, 1000, 60}};

// The value of SERIES (name{labels}) in the registry's text, nullopt when absent.
std::optional<double> valueOf(const MetricsRegistry& metrics, const std::string& series) {
  const std::string text = metrics.render();
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return std::nullopt;
  return std::stod(text.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("streamClientsOf sums the clients of every stream of a pod, and reads nothing from a reply without them") {
  CHECK(streamClientsOf(Json::parse(R"({"streams": [{"name": "a", "clients": 3}, {"name": "b", "clients": 4}]})")) ==
        7);
  CHECK(streamClientsOf(Json::parse(R"({"streams": []})")) == 0);
  CHECK_FALSE(streamClientsOf(Json::parse(R"({"status": "running"})")));  // not a streams pod (or an older runtime)
  CHECK_FALSE(streamClientsOf(Json::parse(R"({"streams": [{"name": "a"}]})")));
  CHECK_FALSE(streamClientsOf(Result<Json>(Error{"timeout"})));
}

TEST_CASE("the streams pods' clients are read on the runtime port, summed, and the Deployment sized on them") {
  Rig rig;
  rig.clients("10.244.0.5", 1200, 300);
  rig.clients("10.244.0.6", 900);
  rig.scaler.track("shop/w", kTarget);
  CHECK_FALSE(rig.scaler.view("shop/w"));
  CHECK(rig.scaler.pollDue() == StreamsScaler::kPollInterval);
  std::sort(rig.reads.begin(), rig.reads.end());
  CHECK(rig.reads == std::vector<std::string>{"10.244.0.5:9090", "10.244.0.6:9090"});
  CHECK(rig.changes == std::vector<std::string>{"shop/w"});
  const auto v = rig.scaler.view("shop/w");
  REQUIRE(v);
  CHECK(v->decision.clients == 2400);
  CHECK(v->decision.desiredReplicas == 3);
  CHECK(v->decision.reason == autoscale::StreamsReason::Clients);
  CHECK_FALSE(v->observedAt.empty());
}

TEST_CASE("an unchanged decision is published every 30 s, a new replica count at once") {
  Rig rig;
  rig.replicas = 1;
  rig.clients("10.244.0.5", 500);
  rig.clients("10.244.0.6", 400);
  rig.scaler.track("shop/w", kTarget);
  CHECK(rig.poll().desiredReplicas == 1);
  rig.changes.clear();
  rig.clients("10.244.0.6", 450);  // the figure moves, the decision does not
  for (int i = 0; i < 5; ++i) (void)rig.poll();
  CHECK(rig.changes.empty());
  (void)rig.poll();  // 30 s after the last publish
  CHECK(rig.changes.size() == 1);
  CHECK(rig.scaler.view("shop/w")->decision.clients == 950);
  rig.changes.clear();
  rig.clients("10.244.0.6", 4000);
  CHECK(rig.poll().desiredReplicas == 5);
  CHECK(rig.changes == std::vector<std::string>{"shop/w"});
}

TEST_CASE("a pod that stops answering holds the count, and the scaler goes on when it answers again") {
  Rig rig;
  rig.clients("10.244.0.5", 1500);
  rig.clients("10.244.0.6", 1500);
  rig.scaler.track("shop/w", kTarget);
  CHECK(rig.poll().desiredReplicas == 3);
  // Clients leave, but one pod does not answer: no scale-down on a partial count.
  rig.replies.erase("10.244.0.6");
  rig.clients("10.244.0.5", 10);
  for (int i = 0; i < 20; ++i) CHECK(rig.poll().reason == autoscale::StreamsReason::PartialRead);
  CHECK(rig.replicas == 3);
  // Neither answers: held, never zero.
  rig.replies.clear();
  auto d = rig.poll();
  CHECK(d.desiredReplicas == 3);
  CHECK(d.reason == autoscale::StreamsReason::Unreadable);
  // Both answer with few clients: down after the window of 60 s.
  rig.clients("10.244.0.5", 10);
  rig.clients("10.244.0.6", 10);
  for (int i = 0; i < 12; ++i) d = rig.poll();
  CHECK(d.desiredReplicas == 1);
}

TEST_CASE("a worker whose streams Deployment does not exist yet is not polled, and an untracked one is forgotten") {
  Rig rig;
  rig.replicas = std::nullopt;
  rig.scaler.track("shop/w", kTarget);
  (void)rig.scaler.pollDue();
  CHECK(rig.reads.empty());
  CHECK_FALSE(rig.scaler.view("shop/w"));
  rig.replicas = 2;
  rig.time.advance(StreamsScaler::kPollInterval);
  (void)rig.scaler.pollDue();
  CHECK(rig.scaler.view("shop/w"));
  rig.scaler.untrack("shop/w");
  CHECK_FALSE(rig.scaler.view("shop/w"));
}

TEST_CASE(
    "the streams scaler exports each worker's clients, pods read and desired replicas, counts the decisions that "
    "change the replicas by reason, and drops the worker's series when it is untracked") {
  Rig rig;
  rig.clients("10.244.0.5", 1200, 300);
  rig.clients("10.244.0.6", 900);
  rig.scaler.track("shop/w", kTarget);
  rig.scaler.track("shop/v", kTarget);
  (void)rig.poll();  // 2 -> 3 replicas
  const std::string w = "{name=\"w\",namespace=\"shop\"}";
  CHECK(valueOf(rig.metrics, "eventworker_streams_clients" + w) == 2400);
  CHECK(valueOf(rig.metrics, "eventworker_streams_pods_read" + w) == 2);
  CHECK(valueOf(rig.metrics, "eventworker_streams_desired_replicas" + w) == 3);
  const std::string clients =
      "eventworker_streams_scale_events_total{name=\"w\",namespace=\"shop\",reason=\"Clients\"}";
  CHECK(valueOf(rig.metrics, clients) == 1);
  // The same decision again, and a partial read holding the count: no scale event.
  (void)rig.poll();
  rig.replies.erase("10.244.0.6");
  CHECK(rig.poll().reason == autoscale::StreamsReason::PartialRead);
  CHECK(valueOf(rig.metrics, clients) == 1);
  CHECK(valueOf(rig.metrics, "eventworker_streams_pods_read" + w) == 1);
  CHECK(valueOf(rig.metrics, "eventworker_streams_clients" + w) == 1500);
  CHECK_FALSE(valueOf(rig.metrics,
                      "eventworker_streams_scale_events_total{name=\"w\",namespace=\"shop\",reason=\"PartialRead\"}"));
  // Above maxReplicas: one more, by Bounds.
  rig.clients("10.244.0.5", 30000);
  rig.clients("10.244.0.6", 30000);
  CHECK(rig.poll().desiredReplicas == 10);
  CHECK(valueOf(rig.metrics,
                "eventworker_streams_scale_events_total{name=\"w\",namespace=\"shop\",reason=\"Bounds\"}") == 1);
  CHECK(valueOf(rig.metrics, "eventworker_streams_desired_replicas" + w) == 10);
  // Deleted: none of w's series is left; v's are.
  rig.scaler.untrack("shop/w");
  const std::string text = rig.metrics.render();
  CHECK(text.find("name=\"w\"") == std::string::npos);
  CHECK(valueOf(rig.metrics, "eventworker_streams_desired_replicas{name=\"v\",namespace=\"shop\"}") == 10);
}
