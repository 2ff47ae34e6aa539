// ew-streams-fanout: the load of hack/bench/streams_fanout.sh and
// hack/bench/streams_node.sh. Opens CLIENTS SSE connections to PORT
// (127.0.0.1's) or HOST:PORT (a pod's on the node's bridge) PATH (epoll, one
// thread), produces RATE records a second for SECONDS to TOPIC (each
// carrying its produce time), and prints: clients connected, deliveries seen
// / expected, delivery latency p50/p99/max (produce -> parsed by the client,
// wall clock, same machine), the runtime's RSS per client (VmRSS after
// connecting, and at the end, less before, / CLIENTS), its CPU while
// producing (utime+stime of PID; this load generator's own beside it), its
// threads and open files at the end, and the time to first event (from the
// start of production to each client's first delivery, p50/p99; clients that
// got none counted apart). The same load runs against the guide's design
// (streams_guide_baseline.cpp) for the comparison.
//
//   ew-streams-fanout BOOTSTRAP TOPIC [HOST:]PORT PATH CLIENTS RATE SECONDS PID
#include <arpa/inet.h>
#include <dirent.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double cpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), {});
  if (all.empty()) return 0;  // the server is gone (its failure shows in the deliveries)
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string f;
  std::vector<std::string> fields;
  while (rest >> f) fields.push_back(f);
  // fields[0] is state (field 3); utime and stime are fields 14 and 15.
  return (std::stod(fields[11]) + std::stod(fields[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

int connectTo(in_addr host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr = host;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

struct Conn {
  int fd;
  std::string buf;
  int64_t firstMs = 0;  // wall clock of its first delivery; 0: none yet
};

int openFiles(int pid) {
  int n = 0;
  if (DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str())) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n - 2;
}

long statusField(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 9) {
    std::cerr << "usage: ew-streams-fanout BOOTSTRAP TOPIC [HOST:]PORT PATH CLIENTS RATE SECONDS PID\n";
    return 2;
  }
  const std::string bootstrap = argv[1], topic = argv[2], path = argv[4], at = argv[3];
  const size_t colon = at.rfind(':');
  const std::string hostText = colon == std::string::npos ? "127.0.0.1" : at.substr(0, colon);
  in_addr host{};
  if (::inet_pton(AF_INET, hostText.c_str(), &host) != 1) {
    std::cerr << "not an IPv4 address: " << hostText << "\n";
    return 2;
  }
  const int port = std::stoi(colon == std::string::npos ? at : at.substr(colon + 1)), clients = std::stoi(argv[5]),
            rate = std::stoi(argv[6]), seconds = std::stoi(argv[7]), pid = std::stoi(argv[8]);
  const long rssBefore = statusField(pid, "VmRSS");
  const int ep = epoll_create1(0);
  std::vector<std::unique_ptr<Conn>> conns;
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + hostText + "\r\nAccept: text/event-stream\r\n\r\n";
  for (int i = 0; i < clients; ++i) {
    const int fd = connectTo(host, port);
    if (fd < 0) break;
    (void)!::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    conns.push_back(std::make_unique<Conn>(Conn{fd, {}}));
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.ptr = conns.back().get();
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // headers answered, sessions parked
  const long rssAfter = statusField(pid, "VmRSS");

  std::atomic<bool> producing{true};
  std::vector<int64_t> latencies;
  latencies.reserve(static_cast<size_t>(rate) * seconds * std::max(1, clients) / 4 + 1024);
  uint64_t seen = 0;
  std::thread reader([&] {
    epoll_event events[256];
    char chunk[65536];
    const auto quiet = [&] { return !producing.load(); };
    auto lastData = std::chrono::steady_clock::now();
    for (;;) {
      const int n = epoll_wait(ep, events, 256, 100);
      if (n <= 0 && quiet() && std::chrono::steady_clock::now() - lastData > std::chrono::seconds(3)) return;
      for (int i = 0; i < n; ++i) {
        Conn* c = static_cast<Conn*>(events[i].data.ptr);
        const ssize_t got = ::recv(c->fd, chunk, sizeof chunk, 0);
        if (got <= 0) {
          epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
          continue;
        }
        lastData = std::chrono::steady_clock::now();
        c->buf.append(chunk, static_cast<size_t>(got));
        const int64_t now = wallMs();
        size_t pos = 0;
        for (size_t ts; (ts = c->buf.find("\"ts\":", pos)) != std::string::npos;) {
          const size_t end = c->buf.find_first_of(",}", ts + 5);
          if (end == std::string::npos) break;
          latencies.push_back(now - std::stoll(c->buf.substr(ts + 5, end - ts - 5)));
          if (!c->firstMs) c->firstMs = now;
          ++seen;
          pos = end;
        }
        c->buf.erase(0, pos);
      }
    }
  });

  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("linger.ms", "1", err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  const double cpu0 = cpuSeconds(pid), ownCpu0 = cpuSeconds(::getpid());
  const int64_t startMs = wallMs();
  const auto start = std::chrono::steady_clock::now();
  const int total = rate * seconds;
  for (int i = 0; i < total; ++i) {
    std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(i) * 1000000 / rate));
    const std::string v = "{\"seq\":" + std::to_string(i) + ",\"ts\":" + std::to_string(wallMs()) + "}";
    producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(v.data()),
                      v.size(), nullptr, 0, 0, nullptr);
    producer->poll(0);
  }
  producer->flush(10000);
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double cpu = cpuSeconds(pid) - cpu0, ownCpu = cpuSeconds(::getpid()) - ownCpu0;
  producing.store(false);
  reader.join();
  const long rssEnd = statusField(pid, "VmRSS");
  std::vector<int64_t> first;
  for (const auto& c : conns)
    if (c->firstMs) first.push_back(c->firstMs - startMs);
  std::sort(first.begin(), first.end());
  const auto firstPct = [&](double p) {
    return first.empty()
               ? -1LL
               : static_cast<long long>(first[std::min(first.size() - 1, static_cast<size_t>(p * first.size()))]);
  };
  std::sort(latencies.begin(), latencies.end());
  const auto pct = [&](double p) {
    return latencies.empty() ? -1
                             : latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()))];
  };
  std::printf(
      "clients %zu/%d  rate %d/s for %ds  deliveries %llu/%llu  latency ms p50 %lld p99 %lld max %lld  "
      "rss/client %.1f KiB (end %.1f)  cpu %.0f%% (this load generator %.0f%%)  first event ms p50 %lld p99 %lld  none "
      "%zu  threads %ld  "
      "fds %d\n",
      conns.size(), clients, rate, seconds, static_cast<unsigned long long>(seen),
      static_cast<unsigned long long>(static_cast<uint64_t>(total) * conns.size()), static_cast<long long>(pct(0.5)),
      static_cast<long long>(pct(0.99)), static_cast<long long>(latencies.empty() ? -1 : latencies.back()),
      conns.empty() ? 0.0 : static_cast<double>(rssAfter - rssBefore) / static_cast<double>(conns.size()),
      conns.empty() ? 0.0 : static_cast<double>(rssEnd - rssBefore) / static_cast<double>(conns.size()),
      100.0 * cpu / elapsed, 100.0 * ownCpu / elapsed, firstPct(0.5), firstPct(0.99), conns.size() - first.size(),
      statusField(pid, "Threads"), openFiles(pid));
  for (auto& c : conns) ::close(c->fd);
  return 0;
}
