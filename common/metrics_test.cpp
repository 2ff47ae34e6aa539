#include "ew/metrics.h"

#include <catch2/catch.hpp>

TEST_CASE("counters, gauges and histograms render in Prometheus text format") {
  ew::MetricsRegistry r;
  r.counter("jobs_total", "Jobs.", {{"status", "ok"}}).inc();
  r.counter("jobs_total", "Jobs.", {{"status", "ok"}}).inc(2);
  r.counter("jobs_total", "Jobs.", {{"status", "fail\"x"}}).inc();
  r.gauge("queue", "Queue.").set(7);
  auto& h = r.histogram("dur_seconds", "Duration.", {}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const std::string text = r.render();
  CHECK_THAT(text, Catch::Contains("# TYPE jobs_total counter\n"));
  CHECK_THAT(text, Catch::Contains("jobs_total{status=\"ok\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("jobs_total{status=\"fail\\\"x\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("# TYPE queue gauge\nqueue 7\n"));
  CHECK_THAT(text, Catch::Contains("dur_seconds_bucket{le=\"0.10000000000000001\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("dur_seconds_bucket{le=\"1\"} 2\n"));
  CHECK_THAT(text, Catch::Contains("dur_seconds_bucket{le=\"+Inf\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("dur_seconds_sum 5.5499999999999998\n"));
  CHECK_THAT(text, Catch::Contains("dur_seconds_count 3\n"));
}

TEST_CASE("one name cannot be two types") {
  ew::MetricsRegistry r;
  r.counter("x", "X.");
  CHECK_THROWS_AS(r.gauge("x", "X."), std::logic_error);
}

TEST_CASE("a forgotten gauge series is no longer rendered, the others stay") {
  ew::MetricsRegistry r;
  r.gauge("lag", "Lag.", {{"name", "a"}}).set(5);
  r.gauge("lag", "Lag.", {{"name", "b"}}).set(7);
  r.forgetGauge("lag", {{"name", "a"}});
  r.forgetGauge("absent", {{"name", "a"}});
  const std::string text = r.render();
  CHECK(text.find("lag{name=\"a\"}") == std::string::npos);
  CHECK(text.find("lag{name=\"b\"} 7") != std::string::npos);
}

TEST_CASE("a forgotten counter series is no longer rendered, the others stay") {
  ew::MetricsRegistry r;
  r.counter("fails_total", "Fails.", {{"name", "a"}}).inc(3);
  r.counter("fails_total", "Fails.", {{"name", "b"}}).inc(4);
  r.forgetCounter("fails_total", {{"name", "a"}});
  r.forgetCounter("absent_total", {{"name", "a"}});
  const std::string text = r.render();
  CHECK(text.find("fails_total{name=\"a\"}") == std::string::npos);
  CHECK(text.find("fails_total{name=\"b\"} 4") != std::string::npos);
}

TEST_CASE("a state set renders a gauge line per state, 1 for the current one, its label among the others in order") {
  ew::MetricsRegistry r;
  const std::vector<std::string> states = {"Waiting", "Running", "Done"};
  auto& s = r.stateSet("phase_of", "Phase.", "phase", states, {{"name", "a"}, {"zone", "z"}});
  s.set(1);
  r.stateSet("phase_of", "Phase.", "phase", states, {{"name", "b"}, {"zone", "z"}});  // no state yet
  r.stateSet("first", "F.", "a", states, {{"name", "c"}}).set(2);
  r.stateSet("last", "L.", "z", states, {{"name", "c"}}).set(0);
  r.stateSet("bare", "B.", "phase", states).set(2);
  const std::string text = r.render();
  CHECK_THAT(text, Catch::Contains("# TYPE phase_of gauge\n"
                                   "phase_of{name=\"a\",phase=\"Done\",zone=\"z\"} 0\n"
                                   "phase_of{name=\"a\",phase=\"Running\",zone=\"z\"} 1\n"
                                   "phase_of{name=\"a\",phase=\"Waiting\",zone=\"z\"} 0\n"
                                   "phase_of{name=\"b\",phase=\"Done\",zone=\"z\"} 0\n"
                                   "phase_of{name=\"b\",phase=\"Running\",zone=\"z\"} 0\n"
                                   "phase_of{name=\"b\",phase=\"Waiting\",zone=\"z\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("first{a=\"Done\",name=\"c\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("last{name=\"c\",z=\"Waiting\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("last{name=\"c\",z=\"Running\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("bare{phase=\"Done\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("bare{phase=\"Waiting\"} 0\n"));
}

TEST_CASE("a forgotten state set renders none of its lines, the others stay") {
  ew::MetricsRegistry r;
  const std::vector<std::string> states = {"Off", "On"};
  r.stateSet("power", "Power.", "state", states, {{"name", "a"}}).set(1);
  r.stateSet("power", "Power.", "state", states, {{"name", "b"}}).set(0);
  r.forgetStateSet("power", {{"name", "a"}});
  r.forgetStateSet("absent", {{"name", "a"}});
  const std::string text = r.render();
  CHECK(text.find("name=\"a\"") == std::string::npos);
  CHECK_THAT(text, Catch::Contains("power{name=\"b\",state=\"Off\"} 1\n"));
}
