// The SSE gateway (--mode streams): the real runtime binary on the real
// broker, its clients on loopback sockets (sse_client.h). Resume after a
// reconnect (from the replay ring, from Kafka by a catch-up reader, across a
// restart), the filter, a slow client cut off beside a fast one, the drain on
// SIGTERM, bearer auth against a loopback token endpoint, unusable
// Last-Event-IDs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <set>
#include <thread>

#include "runtime_harness.h"
#include "sse_client.h"
#include "test_env.h"

using namespace ew::rttest;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

ConfigSpec streamsSpec(const std::string& streams) {
  ConfigSpec s;
  s.mode = "streams";
  s.group = "unused";
  s.streams = streams;
  s.gracePeriod = "5s";
  return s;
}

// Waits until /readyz answers 200 (the replay warmed up, the listener open).
void requireReady(RuntimeProcess& rt) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (httpGet(rt.opsPort(), "/readyz").find("200") == std::string::npos) {
    INFO(rt.log());
    REQUIRE(rt.running());
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(50ms);
  }
}

// (partition, offset) of an event of a stream exposing topic, partition and offset.
std::pair<int, int64_t> where(const SseEvent& e) {
  const json d = json::parse(e.data);
  return {d.at("partition").get<int>(), d.at("offset").get<int64_t>()};
}

// An event as a failure message shows it: id, event type, data, and where()
// when its data has a partition and an offset.
std::string describe(const SseEvent& e) {
  std::string out = "id=" + e.id + " event=" + (e.event.empty() ? "(message)" : e.event) + " data=" + e.data;
  const json d = json::parse(e.data, nullptr, false);
  if (d.is_object() && d.contains("partition") && d.contains("offset"))
    out += " where=" + std::to_string(d["partition"].get<int>()) + "@" + std::to_string(d["offset"].get<int64_t>());
  return out;
}

void produceMany(Kafka& kafka, const std::string& topic, int from, int to, const std::string& type = "order.completed",
                 size_t padding = 0) {
  for (int i = from; i < to; ++i) {
    json ce = json::parse(cloudEvent("e-" + std::to_string(i), "k" + std::to_string(i % 7), i));
    ce["type"] = type;
    if (padding) ce["data"]["pad"] = std::string(padding, 'x');
    kafka.produce(topic, "k" + std::to_string(i % 7), ce.dump());
  }
  kafka.flush();
}

// Events of CLIENT until COUNT (no control events among them).
std::vector<SseEvent> events(SseClient& client, size_t count, std::chrono::milliseconds timeout = 20s) {
  auto got = client.take(count, timeout);
  for (const auto& e : got) CHECK(e.event.empty());
  return got;
}

}  // namespace

TEST_CASE(
    "a reconnecting client resumes after its Last-Event-ID with no gap and no duplicate, from the ring and "
    "from Kafka") {
  Kafka kafka;
  const std::string topic = ew::testing::uniqueName("streams-resume");
  kafka.createTopic(topic, 3);
  // "recent" holds 1000 events in its ring; "short" 50, so a resume 500 back is caught up from Kafka.
  RuntimeProcess rt(
      "streams-resume",
      streamsSpec(
          "[{name: recent, topics: [" + topic +
          "], path: /recent, fields: [id, data, partition, offset], replayEvents: 1000, heartbeatInterval: 300ms}, "
          "{name: short, topics: [" +
          topic +
          "], path: /short, fields: [id, data, partition, offset], replayEvents: 50, "
          "clientBuffer: 50, heartbeatInterval: 300ms}]"));
  requireReady(rt);
  int base = 0;  // each path's records carry seq (data.seq) from base, 1000 apart
  for (const std::string path : {"/recent", "/short"}) {
    INFO(path);
    auto first = std::make_unique<SseClient>(rt.streamsPort(), path);
    REQUIRE(first->status() == 200);
    produceMany(kafka, topic, base, base + 600);
    // The first client starts live, at its stream's head: the next 600
    // records, after any records of the path before that its stream's hub had
    // not yet taken when the client connected. The pod's one reader hands each
    // batch to the hubs one after the other, so the other path's client can
    // have had the whole batch before this hub takes it (under load, long
    // enough to connect here). Those few come first and are none of this
    // path's 600.
    std::vector<SseEvent> before;
    int earlier = 0;
    while (before.size() < 200) {
      auto e = first->next(20s);
      REQUIRE(e);
      CHECK(e->event.empty());
      if (json::parse(e->data).at("data").at("seq").get<int>() < base)
        ++earlier;
      else
        before.push_back(std::move(*e));
    }
    CHECK(earlier <= 10);  // at most the previous path's last batch
    CHECK(first->retryHint() == 2000);
    const std::string lastId = before.back().id;
    first.reset();  // the client goes away after 200 events
    SseClient again(rt.streamsPort(), path, {{"Last-Event-ID", lastId}});
    REQUIRE(again.status() == 200);
    auto after = events(again, 400);
    REQUIRE(after.size() == 400);
    std::set<std::pair<int, int64_t>> seen;
    for (const auto& e : before) seen.insert(where(e));
    for (const auto& e : after) {
      CHECK(json::parse(e.data).at("data").at("seq").get<int>() >= base);
      CHECK(seen.insert(where(e)).second);
    }
    CHECK(seen.size() == 600);
    // Nothing more: when something comes, say what it was (a duplicate, a
    // control event, a record from elsewhere).
    if (auto extra = again.next(500ms)) {
      const json d = json::parse(extra->data, nullptr, false);
      const bool duplicate = extra->event.empty() && d.is_object() && d.contains("offset") && seen.count(where(*extra));
      FAIL_CHECK("one more event after the 600" << (duplicate ? " (a duplicate)" : "") << ": " << describe(*extra)
                                                << "\nresumed from " << lastId);
    }
    // The next records reach the resumed client live.
    produceMany(kafka, topic, base + 600, base + 610);
    CHECK(events(again, 10).size() == 10);
    base += 1000;
  }
  // Both clients of each stream are gone: the heartbeat finds the closed sockets.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::string metrics;
  do {
    std::this_thread::sleep_for(100ms);
    metrics = httpGet(rt.opsPort(), "/metrics");
  } while (metricValue(metrics, "worker_stream_clients{stream=\"short\",worker=\"rt\"}") != 0 &&
           std::chrono::steady_clock::now() < deadline);
  CHECK(metricValue(metrics, "worker_stream_clients{stream=\"recent\",worker=\"rt\"}") == 0);
  CHECK(metricValue(metrics, "worker_stream_clients{stream=\"short\",worker=\"rt\"}") == 0);
  // A write counts once it completes: the first client's last write may fail
  // when it leaves after 200 events (under load all 600 go in one write), so
  // only the resumed client's 400 + 10 are certain.
  CHECK(metricValue(metrics, "worker_stream_events_sent_total{stream=\"recent\",worker=\"rt\"}") >= 410);
  requireCleanExit(rt);
}

TEST_CASE("a stream carries only the records its filter lists") {
  Kafka kafka;
  const std::string topic = ew::testing::uniqueName("streams-filter");
  kafka.createTopic(topic, 2);
  RuntimeProcess rt("streams-filter",
                    streamsSpec("[{name: f, topics: [" + topic +
                                "], path: /f, fields: [type, key, data], filter: {types: [order.completed], keys: [k1, "
                                "k2]}}]"));
  requireReady(rt);
  SseClient c(rt.streamsPort(), "/f");
  REQUIRE(c.status() == 200);
  produceMany(kafka, topic, 0, 140, "order.completed");
  produceMany(kafka, topic, 140, 280, "order.cancelled");
  // Keys k1 and k2 of the completed ones: 140 records, i % 7 in {1, 2}.
  auto got = events(c, 40, 10s);
  CHECK(got.size() == 40);
  for (const auto& e : got) {
    const json d = json::parse(e.data);
    CHECK(d["type"] == "order.completed");
    CHECK((d["key"] == "k1" || d["key"] == "k2"));
    CHECK(d["data"]["seq"].get<int>() < 140);
  }
  CHECK_FALSE(c.next(1s));
  requireCleanExit(rt);
}

TEST_CASE("a client that stops reading is cut off with ew-overflow while a fast one gets every event") {
  Kafka kafka;
  const std::string topic = ew::testing::uniqueName("streams-slow");
  kafka.createTopic(topic, 2);
  RuntimeProcess rt("streams-slow", streamsSpec("[{name: s, topics: [" + topic +
                                                "], path: /s, fields: [data, partition, offset], clientBuffer: 200, "
                                                "replayEvents: 1000}]"));
  requireReady(rt);
  SseClient slow(rt.streamsPort(), "/s", {}, 4096);
  SseClient fast(rt.streamsPort(), "/s");
  REQUIRE(slow.status() == 200);
  REQUIRE(fast.status() == 200);
  // 5000 events of ~2 KB at 1,000 a second: more than the slow client's
  // socket buffers hold, at a pace a reading client keeps up with.
  const int n = 5000;
  std::thread producer([&] {
    for (int i = 0; i < n; i += 100) {
      produceMany(kafka, topic, i, i + 100, "order.completed", 2000);
      std::this_thread::sleep_for(100ms);
    }
  });
  auto got = events(fast, n, 30s);
  producer.join();
  CHECK(got.size() == static_cast<size_t>(n));
  std::set<std::pair<int, int64_t>> seen;
  for (const auto& e : got) seen.insert(where(e));
  CHECK(seen.size() == static_cast<size_t>(n));
  // The slow client now reads: what it was sent ends with the reason, then the stream ends.
  std::optional<SseEvent> last;
  size_t slowEvents = 0;
  while (auto e = slow.next(15s)) {
    if (!e->event.empty())
      last = e;
    else
      ++slowEvents;
  }
  CHECK(slow.ended());
  REQUIRE(last);
  CHECK(last->event == "ew-overflow");
  CHECK(json::parse(last->data)["reason"] == "overflow");
  CHECK(slowEvents < static_cast<size_t>(n));
  const std::string metrics = httpGet(rt.opsPort(), "/metrics");
  CHECK(metricValue(metrics, "worker_stream_disconnects_total{reason=\"overflow\",stream=\"s\",worker=\"rt\"}") == 1);
  CHECK(metricValue(metrics, "worker_stream_clients{stream=\"s\",worker=\"rt\"}") == 1);
  requireCleanExit(rt);
}

TEST_CASE("a client that closes its connection stops counting at once, not at the next heartbeat or event") {
  Kafka kafka;
  const std::string topic = ew::testing::uniqueName("streams-leave");
  kafka.createTopic(topic, 1);
  // A heartbeat far beyond the wait below, and no events: before, only a
  // failed write found a closed socket, so the pod (and the operator scaling
  // on it) counted a gone client for up to a heartbeat.
  RuntimeProcess rt("streams-leave", streamsSpec("[{name: s, topics: [" + topic +
                                                 "], path: /s, fields: [data], heartbeatInterval: 120s}]"));
  requireReady(rt);
  const std::string clients = "worker_stream_clients{stream=\"s\",worker=\"rt\"}";
  auto clientsOnceAt = [&](double want) {  // the count once it is want, or after 5 s
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    double got = -1;
    while ((got = metricValue(httpGet(rt.opsPort(), "/metrics"), clients)) != want &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(50ms);
    return got;
  };
  SseClient staying(rt.streamsPort(), "/s");
  auto leaving = std::make_unique<SseClient>(rt.streamsPort(), "/s");
  REQUIRE(staying.status() == 200);
  REQUIRE(leaving->status() == 200);
  CHECK(clientsOnceAt(2) == 2);
  leaving.reset();  // closes its socket
  CHECK(clientsOnceAt(1) == 1);
  // The one that stayed still streams.
  produceMany(kafka, topic, 0, 5);
  CHECK(events(staying, 5).size() == 5);
  CHECK(clientsOnceAt(1) == 1);
  requireCleanExit(rt);
}

TEST_CASE("SIGTERM tells every client to reconnect, and a new pod resumes them where they were") {
  Kafka kafka;
  const std::string topic = ew::testing::uniqueName("streams-drain");
  kafka.createTopic(topic, 2);
  const ConfigSpec spec =
      streamsSpec("[{name: d, topics: [" + topic + "], path: /d, fields: [data, partition, offset]}]");
  auto rt = std::make_unique<RuntimeProcess>("streams-drain", spec);
  requireReady(*rt);
  SseClient a(rt->streamsPort(), "/d"), b(rt->streamsPort(), "/d");
  REQUIRE(a.status() == 200);
  REQUIRE(b.status() == 200);
  produceMany(kafka, topic, 0, 100);
  auto gotA = events(a, 100);
  REQUIRE(gotA.size() == 100);
  REQUIRE(events(b, 100).size() == 100);
  rt->signal(SIGTERM);
  for (SseClient* c : {&a, &b}) {
    auto e = c->next(10s);
    REQUIRE(e);
    CHECK(e->event == "ew-reconnect");
    CHECK_FALSE(c->next(5s));
    CHECK(c->ended());
  }
  const auto status = rt->wait(15s);
  REQUIRE(status);
  CHECK(WEXITSTATUS(*status) == 0);
  produceMany(kafka, topic, 100, 150);  // while no pod runs
  rt = std::make_unique<RuntimeProcess>("streams-drain-2", spec);
  requireReady(*rt);
  SseClient back(rt->streamsPort(), "/d", {{"Last-Event-ID", gotA.back().id}});
  REQUIRE(back.status() == 200);
  auto rest = events(back, 50);
  REQUIRE(rest.size() == 50);
  std::set<int> seqs;
  for (const auto& e : rest) seqs.insert(json::parse(e.data)["data"]["seq"].get<int>());
  CHECK(seqs.size() == 50);
  CHECK(*seqs.begin() == 100);
  CHECK(*seqs.rbegin() == 149);
  CHECK_FALSE(back.next(500ms));
  requireCleanExit(*rt);
}

namespace {

// A connection on 127.0.0.1:PORT that sends what it is given, when it is told.
struct RawConnection {
  int fd = -1;
  explicit RawConnection(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  }
  ~RawConnection() { ::close(fd); }
  void send(const std::string& s) { REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size())); }
  // Everything until the server closes, or until TIMEOUT.
  std::string readToEnd(std::chrono::milliseconds timeout) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }
};

}  // namespace

// EventSource gives up for good on any status but 200 (HTML's "fail the
// connection"): a request that reaches a pod as it drains (sent just before
// the Service dropped it) is answered 200, the retry hint and ew-reconnect,
// so that the browser reconnects, to another pod by then.
TEST_CASE("a request still being read when SIGTERM comes is answered 200 with ew-reconnect, not refused") {
  Kafka kafka;
  const std::string topic = ew::testing::uniqueName("streams-drain-late");
  kafka.createTopic(topic, 1);
  RuntimeProcess rt("streams-drain-late",
                    streamsSpec("[{name: d, topics: [" + topic + "], path: /d, reconnectDelay: 700ms}]"));
  requireReady(rt);
  RawConnection late(rt.streamsPort());
  late.send("GET /d HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // not the blank line that ends it yet
  // Accepted in order: once this one streams, the late one has been accepted too.
  SseClient a(rt.streamsPort(), "/d");
  REQUIRE(a.status() == 200);
  rt.signal(SIGTERM);
  auto e = a.next(10s);
  REQUIRE(e);
  REQUIRE(e->event == "ew-reconnect");  // the drain has begun
  late.send("\r\n");
  const std::string reply = late.readToEnd(10s);
  INFO(reply);
  CHECK(reply.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK_THAT(reply, Catch::Contains("Content-Type: text/event-stream"));
  CHECK_THAT(reply, Catch::Contains("retry: 700\n"));
  CHECK_THAT(reply, Catch::Contains("event: ew-reconnect\n"));
  const auto status = rt.wait(15s);
  REQUIRE(status);
  CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("bearer auth: no token is 401, a refused one 403, an accepted one streams, and verdicts are cached") {
  Kafka kafka;
  const std::string topic = ew::testing::uniqueName("streams-auth");
  kafka.createTopic(topic, 1);
  TokenServer tokens("let-me-in");
  RuntimeProcess rt("streams-auth", streamsSpec("[{name: a, topics: [" + topic +
                                                "], path: /a, auth: {mode: bearer, url: \"http://127.0.0.1:" +
                                                std::to_string(tokens.port()) + "/auth/check\", cacheTTL: 30s}}]"));
  requireReady(rt);
  CHECK(SseClient(rt.streamsPort(), "/a").status() == 401);
  CHECK(SseClient(rt.streamsPort(), "/a", {{"Authorization", "Bearer nope"}}).status() == 403);
  SseClient ok(rt.streamsPort(), "/a", {{"Authorization", "Bearer let-me-in"}});
  REQUIRE(ok.status() == 200);
  SseClient again(rt.streamsPort(), "/a?access_token=let-me-in");
  REQUIRE(again.status() == 200);
  CHECK(tokens.calls() == 2);  // nope, let-me-in; the second let-me-in came from the cache
  produceMany(kafka, topic, 0, 5);
  CHECK(events(ok, 5).size() == 5);
  CHECK(events(again, 5).size() == 5);
  CHECK(SseClient(rt.streamsPort(), "/nowhere").status() == 404);
  requireCleanExit(rt);
}

TEST_CASE("a malformed or foreign Last-Event-ID starts at the stream's fallback and says so first") {
  Kafka kafka;
  const std::string topic = ew::testing::uniqueName("streams-fallback");
  kafka.createTopic(topic, 2);
  produceMany(kafka, topic, 0, 30);
  RuntimeProcess rt(
      "streams-fallback",
      streamsSpec("[{name: old, topics: [" + topic + "], path: /old, fields: [data]}, {name: new, topics: [" + topic +
                  "], path: /new, fields: [data], resumeFallback: newest, heartbeatInterval: 200ms}]"));
  requireReady(rt);
  SseClient old(rt.streamsPort(), "/old", {{"Last-Event-ID", "not-a-token"}});
  REQUIRE(old.status() == 200);
  auto notice = old.next();
  REQUIRE(notice);
  CHECK(notice->event == "ew-resume");
  CHECK(json::parse(notice->data)["resumed"] == "oldest");
  CHECK(events(old, 30).size() == 30);  // every retained record
  SseClient foreign(rt.streamsPort(), "/new", {{"Last-Event-ID", "1:other:" + topic + "=0@3"}});
  REQUIRE(foreign.status() == 200);
  notice = foreign.next();
  REQUIRE(notice);
  CHECK(notice->event == "ew-resume");
  CHECK(json::parse(notice->data)["resumed"] == "newest");
  CHECK_THAT(json::parse(notice->data)["reason"].get<std::string>(), Catch::Contains("another stream"));
  CHECK_FALSE(foreign.next(1s));  // nothing old; heartbeats only
  CHECK(foreign.comments() >= 2);
  produceMany(kafka, topic, 30, 33);
  CHECK(events(foreign, 3).size() == 3);
  requireCleanExit(rt);
}

namespace {

// COUNT records to PARTITION of TOPIC, seq from FROM.
void produceTo(Kafka& kafka, const std::string& topic, int32_t partition, int from, int count) {
  for (int i = from; i < from + count; ++i)
    kafka.produce(topic, "k" + std::to_string(i), cloudEvent("e-" + std::to_string(i), "k", i), partition);
  kafka.flush();
}

// (partition, offset) of each of EVENTS, each once.
std::set<std::pair<int, int64_t>> placesOf(const std::vector<SseEvent>& events) {
  std::set<std::pair<int, int64_t>> out;
  for (const auto& e : events) CHECK(out.insert(where(e)).second);
  return out;
}

}  // namespace

TEST_CASE(
    "partitions added to a topic while the pod runs reach connected clients from their first record, and a "
    "Last-Event-ID made before them resumes them from there (ring and catch-up), one made after them on this pod "
    "once it has them") {
  Kafka kafka;
  const std::string topic = ew::testing::uniqueName("streams-grow");
  kafka.createTopic(topic, 1);
  // "ring" replays from its ring; "kafka" holds 20, so the resume below is a catch-up from Kafka.
  RuntimeProcess rt(
      "streams-grow",
      streamsSpec("[{name: ring, topics: [" + topic +
                  "], path: /ring, fields: [data, partition, offset], replayEvents: 1000}, {name: kafka, "
                  "topics: [" +
                  topic + "], path: /kafka, fields: [data, partition, offset], replayEvents: 20, clientBuffer: 20}]"));
  requireReady(rt);
  SseClient ring(rt.streamsPort(), "/ring"), fromKafka(rt.streamsPort(), "/kafka");
  REQUIRE(ring.status() == 200);
  REQUIRE(fromKafka.status() == 200);
  produceTo(kafka, topic, 0, 0, 50);
  const auto firstRing = events(ring, 50), firstKafka = events(fromKafka, 50);
  REQUIRE(firstRing.size() == 50);
  REQUIRE(firstKafka.size() == 50);
  // Partitions 1 and 2 appear; records go to them at once, before the pod's
  // next check sees them, and to partition 0 besides.
  kafka.addPartitions(topic, 3);
  produceTo(kafka, topic, 1, 100, 30);
  produceTo(kafka, topic, 2, 200, 30);
  produceTo(kafka, topic, 0, 50, 20);
  std::set<std::pair<int, int64_t>> want;
  for (int64_t o = 50; o < 70; ++o) want.emplace(0, o);
  for (int p : {1, 2})
    for (int64_t o = 0; o < 30; ++o) want.emplace(p, o);
  // A client coming from a pod that saw the new partitions first (it had
  // 10 records of each), before this pod's next check: it waits for this pod
  // to check, then gets each record it had not had, once.
  SseClient ahead(rt.streamsPort(), "/ring", {{"Last-Event-ID", "1:ring:" + topic + "=0@50,1@10,2@10"}});
  REQUIRE(ahead.status() == 200);
  std::set<std::pair<int, int64_t>> wantAhead;
  for (const auto& [p, o] : want)
    if (p == 0 || o >= 10) wantAhead.emplace(p, o);
  CHECK(placesOf(events(ahead, 60, 30s)) == wantAhead);
  if (auto extra = ahead.next(500ms)) FAIL_CHECK("one more event after the 60: " << describe(*extra));
  for (SseClient* c : {&ring, &fromKafka}) {
    INFO((c == &ring ? "/ring" : "/kafka") << " live");
    const auto got = events(*c, 80, 30s);
    CHECK(placesOf(got) == want);
    CHECK_FALSE(c->next(500ms));
  }
  // Clients that left after the first 50 come back with an id that names partition 0 alone.
  for (const auto& [path, last] : {std::pair{"/ring", firstRing.back().id}, {"/kafka", firstKafka.back().id}}) {
    INFO(path << " resumed from " << last);
    CHECK(last.find(topic + "=0@50") != std::string::npos);
    SseClient back(rt.streamsPort(), path, {{"Last-Event-ID", last}});
    REQUIRE(back.status() == 200);
    const auto got = events(back, 80, 30s);
    CHECK(placesOf(got) == want);
    if (auto extra = back.next(500ms)) FAIL_CHECK("one more event after the 80: " << describe(*extra));
    // Its ids name the added partitions: a resume from the last one repeats nothing.
    REQUIRE(!got.empty());
    SseClient latest(rt.streamsPort(), path, {{"Last-Event-ID", got.back().id}});
    REQUIRE(latest.status() == 200);
    CHECK_FALSE(latest.next(500ms));
  }
  produceTo(kafka, topic, 2, 230, 5);
  CHECK(placesOf(events(ring, 5)) == std::set<std::pair<int, int64_t>>{{2, 30}, {2, 31}, {2, 32}, {2, 33}, {2, 34}});
  requireCleanExit(rt);
}
