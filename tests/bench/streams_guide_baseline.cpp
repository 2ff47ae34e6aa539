// ew-streams-guide-baseline: the baseline of hack/bench/streams_fanout.sh,
// the SSE endpoint of the event-driven architecture guide rebuilt in C++ with
// librdkafka (not shipped: a benchmark's stand-in for the guide's API
// service). Every accepted connection gets SSE headers and a Kafka consumer
// of its own in a consumer group of its own (the guide's
// `groupId: sse-${Date.now()}`, made unique with a counter: connections
// accepted in the same millisecond would otherwise share a group and split
// the partitions; how many did is printed), subscribed to TOPIC from the
// latest offset, auto-commit on (kafkajs' defaults); each record is written
// to the socket as `data: <value>\n\n`. A connection that hangs up closes its
// consumer (leaves its group). One thread per connection polls its consumer
// (librdkafka adds its own threads per client).
//
//   ew-streams-guide-baseline BOOTSTRAP TOPIC PORT [PREFIX]
//
// Groups are named PREFIX<ms>-<n> (PREFIX "sse-" by default), so a benchmark
// can count the groups of one run on the broker.
// Prints `ready` once listening. On SIGTERM stops accepting, closes every
// consumer and prints one summary line: connections, consumer groups made,
// same-millisecond connections, join time (accept -> partitions assigned)
// p50/p99/max, connections never assigned, consumer errors, and the peak of
// its threads and open files while it ran.
#include <arpa/inet.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

std::atomic<bool> stopping{false};

using Clock = std::chrono::steady_clock;

struct Totals {
  std::mutex mu;
  std::vector<int64_t> joinMs;  // accept -> first assignment
  int neverAssigned = 0;
  std::atomic<int> errors{0}, live{0}, peakThreads{0}, peakFds{0};
};
Totals totals;

// Counts consumer errors (the broker's or the client's), quietly.
class ErrorCounter : public RdKafka::EventCb {
 public:
  void event_cb(RdKafka::Event& e) override {
    if (e.type() == RdKafka::Event::EVENT_ERROR) ++totals.errors;
  }
};
ErrorCounter errorCounter;

// Records when the consumer was first given partitions.
class JoinClock : public RdKafka::RebalanceCb {
 public:
  explicit JoinClock(Clock::time_point accepted) : accepted_(accepted) {}
  void rebalance_cb(RdKafka::KafkaConsumer* c, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& parts) override {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      c->assign(parts);
      if (!joined && !parts.empty()) {
        joined = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - accepted_).count();
      }
    } else {
      c->unassign();
    }
  }
  int64_t joined = 0;  // 0: never assigned

 private:
  Clock::time_point accepted_;
};

bool hungUp(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

bool sendAll(int fd, const std::string& s) {
  for (size_t off = 0; off < s.size();) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// One SSE connection of the guide's design.
void serve(int fd, const std::string& bootstrap, const std::string& topic, const std::string& group,
           Clock::time_point accepted) {
  ++totals.live;
  char req[4096];
  (void)!::recv(fd, req, sizeof req, 0);  // the request line and headers; not looked at
  JoinClock join(accepted);
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("group.id", group, err);
  conf->set("auto.offset.reset", "latest", err);
  conf->set("enable.auto.commit", "true", err);
  conf->set("event_cb", static_cast<RdKafka::EventCb*>(&errorCounter), err);
  conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(&join), err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  bool open = consumer && consumer->subscribe({topic}) == RdKafka::ERR_NO_ERROR &&
              sendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n\r\n");
  if (!consumer) ++totals.errors;
  while (open && !stopping) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() == RdKafka::ERR_NO_ERROR)
      open = sendAll(fd, "data: " + std::string(static_cast<const char*>(m->payload()), m->len()) + "\n\n");
    open = open && !hungUp(fd);
  }
  if (consumer) consumer->close();  // leaves the group, commits
  ::close(fd);
  std::lock_guard l(totals.mu);
  if (join.joined)
    totals.joinMs.push_back(join.joined);
  else
    ++totals.neverAssigned;
  --totals.live;
}

int countIn(const char* dir) {
  int n = 0;
  if (DIR* d = ::opendir(dir)) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n - 2;
}

int threads() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  return -1;
}

int listenOn(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 4096) != 0) return -1;
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::cerr << "usage: ew-streams-guide-baseline BOOTSTRAP TOPIC PORT [PREFIX]\n";
    return 2;
  }
  const std::string bootstrap = argv[1], topic = argv[2], prefix = argc == 5 ? argv[4] : "sse-";
  const int lfd = listenOn(std::stoi(argv[3]));
  if (lfd < 0) {
    std::perror("listen");
    return 1;
  }
  signal(SIGTERM, [](int) { stopping = true; });
  std::thread sampler([] {
    while (!stopping) {
      totals.peakThreads = std::max(totals.peakThreads.load(), threads());
      totals.peakFds = std::max(totals.peakFds.load(), countIn("/proc/self/fd"));
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<std::thread> conns;
  int64_t lastMs = -1;
  int sameMs = 0, serial = 0;
  while (!stopping) {
    pollfd p{lfd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const int fd = ::accept(lfd, nullptr, nullptr);
    if (fd < 0) continue;
    const auto accepted = Clock::now();
    const int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    if (ms == lastMs) ++sameMs;
    lastMs = ms;
    const std::string group = prefix + std::to_string(ms) + "-" + std::to_string(serial++);
    conns.emplace_back(serve, fd, bootstrap, topic, group, accepted);
  }
  for (auto& t : conns) t.join();
  sampler.join();
  std::vector<int64_t>& j = totals.joinMs;
  std::sort(j.begin(), j.end());
  const auto pct = [&](double q) {
    return j.empty() ? -1LL : static_cast<long long>(j[std::min(j.size() - 1, static_cast<size_t>(q * j.size()))]);
  };
  std::printf(
      "connections %d  groups %d  same-ms connections %d  join ms p50 %lld p99 %lld max %lld  never assigned %d  "
      "consumer errors %d  peak threads %d  peak fds %d\n",
      serial, serial, sameMs, pct(0.5), pct(0.99), j.empty() ? -1LL : static_cast<long long>(j.back()),
      totals.neverAssigned, totals.errors.load(), totals.peakThreads.load(), totals.peakFds.load());
  return 0;
}
