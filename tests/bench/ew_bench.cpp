// ew-bench: the helpers of the runtime benchmarks (hack/bench/runtime_*.sh),
// built with the project so the scripts build nothing themselves.
//
//   ew-bench create-topic BOOTSTRAP TOPIC PARTITIONS
//   ew-bench produce BOOTSTRAP TOPIC COUNT KEYS [cloudevents]
//                                                    small JSON values {"seq":N}, keys k0..k<KEYS-1>;
//                                                    with cloudevents, each value a structured CloudEvent
//                                                    (id e<N>) as a Dapr publisher writes it
//   ew-bench stream BOOTSTRAP TOPIC RATE KEYS STOPFILE [cloudevents]
//                                                    a steady stream of {"seq":N} (N from 0, keys k<N % KEYS>;
//                                                    cloudevents as for produce) at RATE/s until STOPFILE
//                                                    exists, then flushes; keeps the number acknowledged so
//                                                    far in STOPFILE.count
//   ew-bench committed BOOTSTRAP GROUP TOPIC PARTITIONS   prints the sum of committed offsets (-1: none)
//   ew-bench http-server PORT [THREADS]              HTTP/1.1 keep-alive, 200 "SUCCESS" to every request
//   ew-bench groups BOOTSTRAP PREFIX                 the broker's consumer groups named PREFIX...: how many,
//                                                    and how many of them Empty (no member: left behind)
//
// Exit 0 on success; errors on stderr.
#include <arpa/inet.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

[[noreturn]] void die(const std::string& why) {
  std::cerr << "ew-bench: " << why << "\n";
  std::exit(1);
}

std::unique_ptr<RdKafka::Conf> conf(std::initializer_list<std::pair<const char*, std::string>> kv) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : kv)
    if (c->set(k, v, err) != RdKafka::Conf::CONF_OK) die(std::string(k) + ": " + err);
  return c;
}

int createTopic(const std::string& bootstrap, const std::string& topic, int partitions) {
  auto c = conf({{"bootstrap.servers", bootstrap}});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(c.get(), err));
  if (!p) die("producer: " + err);
  rd_kafka_t* rk = p->c_ptr();
  char e[256];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, e, sizeof e);
  if (!nt) die(e);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  if (!ev) die("create topic " + topic + ": timed out");
  size_t n = 0;
  const rd_kafka_topic_result_t** res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
  if (n != 1 || rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_NO_ERROR)
    die("create topic " + topic + ": " + (n ? rd_kafka_topic_result_error_string(res[0]) : "no result"));
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  return 0;
}

// The value of event SEQ: {"seq":SEQ}, or that as the data of a structured
// CloudEvent with id e<SEQ>, as a Dapr publisher writes it.
std::string eventValue(long seq, bool cloudEvent) {
  const std::string data = "{\"seq\":" + std::to_string(seq) + "}";
  if (!cloudEvent) return data;
  return "{\"specversion\":\"1.0\",\"id\":\"e" + std::to_string(seq) +
         "\",\"source\":\"bench\",\"type\":\"bench\",\"datacontenttype\":\"application/json\",\"data\":" + data + "}";
}

int produce(const std::string& bootstrap, const std::string& topic, long count, long keys, bool cloudEvents) {
  auto c = conf({{"bootstrap.servers", bootstrap},
                 {"linger.ms", "20"},
                 {"batch.num.messages", "10000"},
                 {"queue.buffering.max.messages", "1000000"},
                 {"compression.type", "lz4"}});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(c.get(), err));
  if (!p) die("producer: " + err);
  for (long i = 0; i < count; ++i) {
    const std::string key = "k" + std::to_string(i % keys);
    const std::string value = eventValue(i, cloudEvents);
    for (;;) {
      auto rc = p->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                           const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, nullptr);
      if (rc == RdKafka::ERR_NO_ERROR) break;
      if (rc != RdKafka::ERR__QUEUE_FULL) die("produce: " + RdKafka::err2str(rc));
      p->poll(10);
    }
    p->poll(0);
  }
  if (p->flush(120000) != RdKafka::ERR_NO_ERROR || p->outq_len() != 0) die("flush: timed out");
  return 0;
}

// Acknowledged deliveries, counted by the producer's delivery report callback.
class AckCounter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    if (m.err() == RdKafka::ERR_NO_ERROR)
      ++acked;
    else
      std::cerr << "ew-bench: delivery failed: " << m.errstr() << "\n";
  }
  long acked = 0;
};

int stream(const std::string& bootstrap, const std::string& topic, long rate, long keys, const std::string& stopFile,
           bool cloudEvents) {
  auto c = conf({{"bootstrap.servers", bootstrap}, {"linger.ms", "5"}, {"acks", "all"}});
  AckCounter acks;
  std::string err;
  if (c->set("dr_cb", &acks, err) != RdKafka::Conf::CONF_OK) die("dr_cb: " + err);
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(c.get(), err));
  if (!p) die("producer: " + err);
  const auto start = std::chrono::steady_clock::now();
  const auto writeCount = [&] {
    const std::string tmp = stopFile + ".count.tmp";
    { std::ofstream(tmp) << acks.acked << "\n"; }
    std::rename(tmp.c_str(), (stopFile + ".count").c_str());
  };
  long sent = 0;
  while (::access(stopFile.c_str(), F_OK) != 0) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (; sent < static_cast<long>(elapsed * rate); ++sent) {
      const std::string key = "k" + std::to_string(sent % keys);
      const std::string value = eventValue(sent, cloudEvents);
      const auto rc = p->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                 const_cast<char*>(value.data()), value.size(), key.data(), key.size(), 0, nullptr);
      if (rc != RdKafka::ERR_NO_ERROR) die("produce: " + RdKafka::err2str(rc));
    }
    p->poll(50);
    writeCount();
  }
  if (p->flush(60000) != RdKafka::ERR_NO_ERROR || p->outq_len() != 0) die("flush: timed out");
  writeCount();
  return acks.acked == sent ? 0 : 1;
}

int committed(const std::string& bootstrap, const std::string& group, const std::string& topic, int partitions) {
  auto c = conf({{"bootstrap.servers", bootstrap}, {"group.id", group}, {"enable.auto.commit", "false"}});
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), err));
  if (!consumer) die("consumer: " + err);
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < partitions; ++p) parts.push_back(RdKafka::TopicPartition::create(topic, p));
  int64_t total = 0;
  if (consumer->committed(parts, 10000) != RdKafka::ERR_NO_ERROR) total = -1;
  for (auto* tp : parts) total = (total < 0 || tp->offset() < 0) ? -1 : total + tp->offset();
  RdKafka::TopicPartition::destroy(parts);
  consumer->close();
  std::cout << total << "\n";
  return 0;
}

// ---- http-server: one epoll loop per thread, SO_REUSEPORT listeners.

constexpr char kReply[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nSUCCESS";

// Consumes complete requests at the front of BUF; returns how many.
size_t completeRequests(std::string& buf) {
  size_t n = 0, at = 0;
  for (;;) {
    const size_t end = buf.find("\r\n\r\n", at);
    if (end == std::string::npos) break;
    size_t length = 0;
    for (size_t line = buf.find("\r\n", at); line != std::string::npos && line < end;
         line = buf.find("\r\n", line + 2)) {
      if (strncasecmp(buf.data() + line + 2, "content-length:", 15) == 0)
        length = std::strtoul(buf.data() + line + 17, nullptr, 10);
    }
    if (buf.size() < end + 4 + length) break;
    at = end + 4 + length;
    ++n;
  }
  buf.erase(0, at);
  return n;
}

int groups(const std::string& bootstrap, const std::string& prefix) {
  auto c = conf({{"bootstrap.servers", bootstrap}});
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(c.get(), err));
  if (!p) die("admin client: " + err);
  rd_kafka_t* rk = p->c_ptr();
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
  char e[256];
  rd_kafka_AdminOptions_set_request_timeout(opts, 30000, e, sizeof e);
  rd_kafka_ListConsumerGroups(rk, opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 60000);
  if (!ev || rd_kafka_event_error(ev))
    die(std::string("list groups: ") + (ev ? rd_kafka_event_error_string(ev) : "timeout"));
  size_t n = 0;
  const rd_kafka_ConsumerGroupListing_t** listed =
      rd_kafka_ListConsumerGroups_result_valid(rd_kafka_event_ListConsumerGroups_result(ev), &n);
  long matching = 0, empty = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::string(rd_kafka_ConsumerGroupListing_group_id(listed[i])).rfind(prefix, 0) != 0) continue;
    ++matching;
    if (rd_kafka_ConsumerGroupListing_state(listed[i]) == RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY) ++empty;
  }
  std::printf("%ld %ld\n", matching, empty);
  rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_queue_destroy(q);
  return 0;
}

void serveLoop(int port) {
  int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind: " + std::string(strerror(errno)));
  ::listen(lfd, 1024);
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{EPOLLIN, {.fd = lfd}};
  ::epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  std::unordered_map<int, std::string> bufs;
  std::vector<epoll_event> events(256);
  std::string out;
  char chunk[65536];
  for (;;) {
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == lfd) {
        int c;
        while ((c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{EPOLLIN, {.fd = c}};
          ::epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
          bufs[c].clear();
        }
        continue;
      }
      std::string& buf = bufs[fd];
      ssize_t r;
      bool closed = false;
      while ((r = ::recv(fd, chunk, sizeof chunk, 0)) > 0) buf.append(chunk, static_cast<size_t>(r));
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
      out.clear();
      for (size_t k = completeRequests(buf); k > 0; --k) out.append(kReply, sizeof kReply - 1);
      if (!out.empty() && ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) < 0) closed = true;
      if (closed) {
        ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        bufs.erase(fd);
      }
    }
  }
}

int httpServer(int port, int threads) {
  std::vector<std::thread> loops;
  for (int i = 0; i < threads; ++i) loops.emplace_back(serveLoop, port);
  for (auto& t : loops) t.join();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> a(argv + 1, argv + argc);
  if (a.size() == 4 && a[0] == "create-topic") return createTopic(a[1], a[2], std::stoi(a[3]));
  if ((a.size() == 5 || (a.size() == 6 && a[5] == "cloudevents")) && a[0] == "produce")
    return produce(a[1], a[2], std::stol(a[3]), std::stol(a[4]), a.size() == 6);
  if ((a.size() == 6 || (a.size() == 7 && a[6] == "cloudevents")) && a[0] == "stream")
    return stream(a[1], a[2], std::stol(a[3]), std::stol(a[4]), a[5], a.size() == 7);
  if (a.size() == 5 && a[0] == "committed") return committed(a[1], a[2], a[3], std::stoi(a[4]));
  if ((a.size() == 2 || a.size() == 3) && a[0] == "http-server")
    return httpServer(std::stoi(a[1]), a.size() == 3 ? std::stoi(a[2]) : 1);
  if (a.size() == 3 && a[0] == "groups") return groups(a[1], a[2]);
  std::cerr << "usage: ew-bench create-topic BOOTSTRAP TOPIC PARTITIONS\n"
               "       ew-bench produce BOOTSTRAP TOPIC COUNT KEYS [cloudevents]\n"
               "       ew-bench stream BOOTSTRAP TOPIC RATE KEYS STOPFILE [cloudevents]\n"
               "       ew-bench committed BOOTSTRAP GROUP TOPIC PARTITIONS\n"
               "       ew-bench http-server PORT [THREADS]\n"
               "       ew-bench groups BOOTSTRAP PREFIX\n";
  return 2;
}
