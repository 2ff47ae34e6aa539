// The streams Deployment's policy on connected clients (streams_policy.h):
// validation, fast up, calm down (deadband and stabilization window), bounds,
// failed and partial reads, never zero.
#include "autoscale/streams_policy.h"

#include <catch2/catch.hpp>

using namespace ew::autoscale;
using namespace std::chrono_literals;

namespace {

StreamsPolicyConfig config(int min = 2, int max = 10, std::int64_t target = 1000, int window = 300) {
  return {min, max, target, window};
}

// Polls in a row, each with the pods' clients; keeps the state and applies
// each decision as the new current count (as the reconciler does).
struct Run {
  StreamsPolicyConfig cfg;
  StreamsPolicyState state{};
  int current = 2;
  Millis now{0};
  StreamsDecision poll(std::vector<std::optional<std::int64_t>> pods, Millis after = 15s) {
    now += after;
    auto step = streamsPoll(state, cfg, {now, current, std::move(pods)});
    state = step.state;
    current = step.decision.desiredReplicas;
    return step.decision;
  }
};

}  // namespace

TEST_CASE("streams scaling: validate accepts the defaults and names each invalid field") {
  CHECK(validate(StreamsPolicyConfig{}).ok());
  auto field = [](auto mutate) {
    StreamsPolicyConfig c;
    mutate(c);
    auto s = validate(c);
    return s.ok() ? std::string("ok") : s.error().message;
  };
  CHECK(field([](auto& c) { c.minReplicas = 0; }) == "streamsScaling.minReplicas: must be at least 1");
  CHECK(field([](auto& c) { c.minReplicas = 11; }) == "streamsScaling.minReplicas: must not exceed maxReplicas");
  CHECK(field([](auto& c) { c.targetClientsPerReplica = 0; }) ==
        "streamsScaling.targetClientsPerReplica: must be at least 1");
  CHECK(field([](auto& c) { c.scaleDownStabilizationSeconds = -1; }) ==
        "streamsScaling.scaleDownStabilizationSeconds: must be at least 0");
}

TEST_CASE("streams scaling: more clients than the target per replica scale up at once, to the size they need") {
  Run r{config()};
  auto d = r.poll({1000, 1500});
  CHECK(d.desiredReplicas == 3);
  CHECK(d.reason == StreamsReason::Clients);
  CHECK(d.clients == 2500);
  CHECK(d.message == "2500 clients on 2 pods, target 1000 per replica: 3 replicas");
  // A surge goes in one step, not one pod per poll.
  d = r.poll({3000, 3000, 1500});
  CHECK(d.desiredReplicas == 8);
}

TEST_CASE("streams scaling: the bounds clamp the size and say so") {
  Run r{config(2, 4)};
  auto d = r.poll({9000, 9000});
  CHECK(d.desiredReplicas == 4);
  CHECK(d.reason == StreamsReason::Bounds);
  CHECK(d.message == "18000 clients on 2 pods, target 1000 per replica: 4 replicas (the bounds)");
  Run idle{config(2, 4)};
  d = idle.poll({0, 0});
  CHECK(d.desiredReplicas == 2);
  CHECK(d.reason == StreamsReason::Clients);
}

TEST_CASE("streams scaling: a scale-down waits for the stabilization window, then goes to the window's highest") {
  Run r{config(1, 10, 1000, 300)};
  r.current = 6;
  CHECK(r.poll({1000, 1000, 1000, 1000, 1000, 1000}).desiredReplicas == 6);
  // Clients leave: 1,500 would fit 2 replicas, but 6,000 were seen within the window.
  auto d = r.poll({300, 200, 250, 250, 250, 250});
  CHECK(d.desiredReplicas == 6);
  CHECK(d.reason == StreamsReason::Stabilizing);
  // The 6,000 leave the window after 300 s; the lows stay.
  for (int i = 0; i < 18; ++i) d = r.poll({300, 200, 250, 250, 250, 250});
  CHECK(d.desiredReplicas == 6);
  d = r.poll({300, 200, 250, 250, 250, 250});
  CHECK(d.desiredReplicas == 2);
  CHECK(d.reason == StreamsReason::Clients);
}

TEST_CASE("streams scaling: a dip shorter than the window moves nothing") {
  Run r{config(1, 10, 1000, 120)};
  r.current = 4;
  CHECK(r.poll({900, 900, 900, 900}).desiredReplicas == 4);
  // A fleet of browsers reconnecting after a deploy: a few polls with few clients.
  for (int i = 0; i < 5; ++i) CHECK(r.poll({10, 10, 10, 10}).desiredReplicas == 4);
  CHECK(r.poll({900, 900, 900, 900}).desiredReplicas == 4);
}

TEST_CASE("streams scaling: no flapping at a boundary (the smaller group must run below 90% of its target)") {
  Run r{config(1, 10, 1000, 0)};
  r.current = 3;
  // 2,001 clients need 3 replicas; 1,950 would run 2 replicas at 97.5%: they stay 3.
  CHECK(r.poll({700, 650, 600}).desiredReplicas == 3);
  CHECK(r.poll({700, 650, 651}).desiredReplicas == 3);
  auto d = r.poll({600, 600, 650});
  CHECK(d.desiredReplicas == 3);
  CHECK(d.reason == StreamsReason::Stabilizing);
  CHECK(d.message ==
        "1850 clients on 3 pods, target 1000 per replica: 3 replicas (2 would do; a scale-down waits until the "
        "smaller group would run at most 90% of its target for 0s)");
  // 1,800 run 2 replicas at 90%: down.
  CHECK(r.poll({600, 600, 600}).desiredReplicas == 2);
}

TEST_CASE("streams scaling: when no pod answers the current count is held, never zero") {
  Run r{config(1, 10)};
  r.current = 5;
  auto d = r.poll({std::nullopt, std::nullopt});
  CHECK(d.desiredReplicas == 5);
  CHECK(d.reason == StreamsReason::Unreadable);
  CHECK(d.message == "no streams pod answered (2 asked): holding 5 replicas");
  d = r.poll({});
  CHECK(d.desiredReplicas == 5);
  CHECK(d.message == "no streams pod runs yet: holding 5 replicas");
  // A Deployment someone scaled to zero comes back to minReplicas.
  r.current = 0;
  CHECK(r.poll({}).desiredReplicas == 1);
}

TEST_CASE("streams scaling: a partial read scales up on the clients it counted, never down") {
  Run r{config(1, 10)};
  r.current = 4;
  auto d = r.poll({100, std::nullopt, 50, 0});
  CHECK(d.desiredReplicas == 4);
  CHECK(d.reason == StreamsReason::PartialRead);
  CHECK(d.message ==
        "150 clients on 3 of 4 pods (the others did not answer), target 1000 per replica: holding 4 replicas until "
        "every pod answers");
  d = r.poll({3000, std::nullopt, 2500, 0});
  CHECK(d.desiredReplicas == 6);
  CHECK(d.reason == StreamsReason::Clients);
  // Its clients are a floor for the window: a full read of few clients right
  // after it waits as after any other.
  d = r.poll({10, 10, 0, 0, 0, 0});
  CHECK(d.desiredReplicas == 6);
  CHECK(d.reason == StreamsReason::Stabilizing);
}

TEST_CASE("streams scaling: clients connected never leave the gateway without a pod") {
  // minReplicas is at least 1 (validate), and every answer is within the bounds.
  Run r{config(1, 3, 1000, 0)};
  r.current = 3;
  for (std::int64_t clients : {1, 0, 5, 0}) {
    const auto d = r.poll({clients, 0, 0});
    CHECK(d.desiredReplicas >= 1);
  }
  CHECK(r.current == 1);
}

TEST_CASE(
    "streams scaling: an operator restart does not shrink the group at once (the size found counts for the window)") {
  Run r{config(1, 10, 1000, 60)};
  r.current = 5;
  auto d = r.poll({10, 10, 10, 10, 10});
  CHECK(d.desiredReplicas == 5);
  CHECK(d.reason == StreamsReason::Stabilizing);
  for (int i = 0; i < 3; ++i) CHECK(r.poll({10, 10, 10, 10, 10}).desiredReplicas == 5);
  CHECK(r.poll({10, 10, 10, 10, 10}).desiredReplicas == 1);
}

TEST_CASE("streams scaling: without a decision the live count is kept, within the bounds") {
  const auto c = config(2, 6);
  CHECK(streamsReplicas(std::nullopt, std::nullopt, c) == 2);
  CHECK(streamsReplicas(std::nullopt, 5, c) == 5);
  CHECK(streamsReplicas(std::nullopt, 9, c) == 6);
  CHECK(streamsReplicas(std::nullopt, 0, c) == 2);
  StreamsDecision d;
  d.desiredReplicas = 4;
  CHECK(streamsReplicas(d, 5, c) == 4);
}
