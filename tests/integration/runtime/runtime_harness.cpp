#include "runtime_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_env.h"

namespace ew::rttest {

std::string Record::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return "";
}

namespace {

std::unique_ptr<RdKafka::Conf> conf(std::initializer_list<std::pair<const char*, std::string>> kv) {
  std::unique_ptr<RdKafka::Conf> c(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : kv)
    if (c->set(k, v, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error(std::string(k) + ": " + err);
  return c;
}

}  // namespace

Kafka::Kafka() : bootstrap_(ew::testing::serverEnv("EW_KAFKA_BOOTSTRAP")) {
  auto c = conf({{"bootstrap.servers", bootstrap_},
                 {"linger.ms", "5"},
                 {"enable.idempotence", "true"},
                 {"message.max.bytes", "5242880"}});
  std::string err;
  producer_.reset(RdKafka::Producer::create(c.get(), err));
  if (!producer_) throw std::runtime_error("producer: " + err);
}

Kafka::~Kafka() {
  if (producer_) producer_->flush(10000);
}

namespace {

// Waits for the admin request's result on Q (TOPICS_OF reads its topic
// results) and requires its one topic to have succeeded; destroys Q.
template <typename TopicsOf>
void requireAdminResult(rd_kafka_queue_t* q, const std::string& what, TopicsOf topicsOf) {
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  REQUIRE(ev != nullptr);
  size_t n = 0;
  const rd_kafka_topic_result_t** res = topicsOf(ev, &n);
  REQUIRE(n == 1);
  INFO(what << ": " << (rd_kafka_topic_result_error_string(res[0]) ?: ""));
  REQUIRE(rd_kafka_topic_result_error(res[0]) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
}

}  // namespace

void Kafka::createTopic(const std::string& topic, int partitions, const std::map<std::string, std::string>& config) {
  rd_kafka_t* rk = producer_->c_ptr();
  char err[256];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  REQUIRE(nt != nullptr);
  for (const auto& [k, v] : config) rd_kafka_NewTopic_set_config(nt, k.c_str(), v.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  requireAdminResult(q, "create topic " + topic, [](rd_kafka_event_t* ev, size_t* n) {
    return rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), n);
  });
  rd_kafka_NewTopic_destroy(nt);
}

void Kafka::addPartitions(const std::string& topic, int total) {
  rd_kafka_t* rk = producer_->c_ptr();
  char err[256];
  rd_kafka_NewPartitions_t* np = rd_kafka_NewPartitions_new(topic.c_str(), static_cast<size_t>(total), err, sizeof err);
  REQUIRE(np != nullptr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreatePartitions(rk, &np, 1, nullptr, q);
  requireAdminResult(q, "add partitions to " + topic, [](rd_kafka_event_t* ev, size_t* n) {
    return rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), n);
  });
  rd_kafka_NewPartitions_destroy(np);
  // A metadata request refreshes the producer's view of the topic.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string e;
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(producer_.get(), topic, nullptr, e));
  REQUIRE(handle);
  for (;;) {
    RdKafka::Metadata* raw = nullptr;
    const auto rc = producer_->metadata(false, handle.get(), &raw, 5000);
    std::unique_ptr<RdKafka::Metadata> md(raw);
    if (rc == RdKafka::ERR_NO_ERROR && md->topics()->size() == 1 &&
        md->topics()->front()->partitions()->size() == static_cast<size_t>(total)) {
      bool leaders = true;
      for (const auto* p : *md->topics()->front()->partitions()) leaders = leaders && p->leader() >= 0;
      if (leaders) return;
    }
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Kafka::produce(const std::string& topic, const std::optional<std::string>& key, const std::string& value,
                    int32_t partition) {
  RdKafka::ErrorCode rc;
  for (int i = 0; i < 3000; ++i) {
    rc = producer_->produce(topic, partition, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(value.data()),
                            value.size(), key ? key->data() : nullptr, key ? key->size() : 0, 0, nullptr);
    if (rc != RdKafka::ERR__QUEUE_FULL) break;
    producer_->poll(10);
  }
  REQUIRE(rc == RdKafka::ERR_NO_ERROR);
  producer_->poll(0);
}

void Kafka::flush() {
  REQUIRE(producer_->flush(30000) == RdKafka::ERR_NO_ERROR);
  REQUIRE(producer_->outq_len() == 0);
}

std::vector<Record> Kafka::readAll(const std::string& topic, size_t count, std::chrono::seconds timeout) {
  auto c = conf({{"bootstrap.servers", bootstrap_},
                 {"group.id", ew::testing::uniqueName("reader")},
                 {"auto.offset.reset", "earliest"},
                 {"enable.auto.commit", "false"}});
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), err));
  REQUIRE(consumer);
  REQUIRE(consumer->subscribe({topic}) == RdKafka::ERR_NO_ERROR);
  std::vector<Record> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    Record r;
    if (m->key()) r.key = *m->key();
    if (m->payload()) r.value.assign(static_cast<const char*>(m->payload()), m->len());
    r.partition = m->partition();
    r.offset = m->offset();
    if (auto* h = m->headers())
      for (const auto& hd : h->get_all())
        r.headers.emplace_back(hd.key(), std::string(static_cast<const char*>(hd.value()), hd.value_size()));
    out.push_back(std::move(r));
  }
  consumer->close();
  return out;
}

void Kafka::setScramPassword(const std::string& user, const std::string& password) {
  rd_kafka_t* rk = producer_->c_ptr();
  rd_kafka_UserScramCredentialAlteration_t* upsert = rd_kafka_UserScramCredentialUpsertion_new(
      user.c_str(), RD_KAFKA_SCRAM_MECHANISM_SHA_512, 4096, reinterpret_cast<const unsigned char*>(password.data()),
      password.size(), nullptr, 0);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AlterUserScramCredentials(rk, &upsert, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  rd_kafka_UserScramCredentialAlteration_destroy(upsert);
  rd_kafka_queue_destroy(q);
  REQUIRE(ev != nullptr);
  INFO("alter SCRAM credentials of " << user << ": " << (rd_kafka_event_error_string(ev) ?: ""));
  CHECK(rd_kafka_event_error(ev) == RD_KAFKA_RESP_ERR_NO_ERROR);
  size_t n = 0;
  const rd_kafka_AlterUserScramCredentials_result_response_t** responses =
      rd_kafka_AlterUserScramCredentials_result_responses(rd_kafka_event_AlterUserScramCredentials_result(ev), &n);
  const bool ok =
      n == 1 && rd_kafka_error_code(rd_kafka_AlterUserScramCredentials_result_response_error(responses[0])) ==
                    RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_event_destroy(ev);
  REQUIRE(ok);
}

std::vector<int64_t> Kafka::committed(const std::string& group, const std::string& topic, int partitions) {
  auto c = conf({{"bootstrap.servers", bootstrap_}, {"group.id", group}, {"enable.auto.commit", "false"}});
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(c.get(), err));
  REQUIRE(consumer);
  std::vector<RdKafka::TopicPartition*> parts;
  for (int p = 0; p < partitions; ++p) parts.push_back(RdKafka::TopicPartition::create(topic, p));
  const bool ok = consumer->committed(parts, 10000) == RdKafka::ERR_NO_ERROR;
  std::vector<int64_t> out;
  for (auto* tp : parts) out.push_back(ok && tp->offset() >= 0 ? tp->offset() : -1);
  RdKafka::TopicPartition::destroy(parts);
  consumer->close();
  return out;
}

int64_t Kafka::committedTotal(const std::string& group, const std::string& topic, int partitions) {
  int64_t total = 0;
  for (int64_t offset : committed(group, topic, partitions)) total = (total < 0 || offset < 0) ? -1 : total + offset;
  return total;
}

// ---------------------------------------------------------------- processes

void requireCleanExit(RuntimeProcess& rt) {
  rt.signal(SIGTERM);
  const auto status = rt.wait(std::chrono::seconds(15));
  INFO(rt.log());
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}

int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string renderConfig(const ConfigSpec& s) {
  std::ostringstream y;
  y << "apiVersion: runtime.eventworker.dev/v1\n"
    << "worker: " << s.worker << "\n";
  if (s.source == "dapr")
    y << "source:\n  kind: dapr\n  dapr: {appPort: " << s.daprPort << (s.daprOptions.empty() ? "" : ", ")
      << s.daprOptions << "}\n";
  else
    y << "source:\n  kind: kafka\n  kafka:\n"
      << "    brokers: [\"" << (s.brokers.empty() ? ew::testing::serverEnv("EW_KAFKA_BOOTSTRAP") : s.brokers) << "\"]\n"
      << "    consumerGroup: " << s.group << "\n"
      << (s.security.empty() ? "" : "    security: " + s.security + "\n") << "    commitInterval: " << s.commitInterval
      << "\n"
      << "    properties: " << s.properties << "\n";
  if (s.ledgerPort)
    y << "handler:\n  kind: http\n  http:\n    url: http://127.0.0.1:" << s.ledgerPort
      << "\n    timeout: " << s.handlerTimeout << "\n";
  else
    y << "handler:\n  kind: noop\n";
  if (!s.topic.empty() || (s.outbox.empty() && s.streams.empty())) {
    y << "subscriptions:\n- name: sub\n  topic: " << s.topic << "\n  route: /events\n"
      << "  concurrency: " << s.concurrency << "\n  ordering: " << s.ordering << "\n"
      << "  retry: " << s.retry << "\n"
      << "  requireCloudEvent: " << (s.requireCloudEvent ? "true" : "false") << "\n";
    if (!s.deadLetterTopic.empty()) y << "  deadLetterTopic: " << s.deadLetterTopic << "\n";
    if (!s.idempotency.empty()) y << "  idempotency: " << s.idempotency << "\n";
  }
  if (!s.outbox.empty()) y << "outbox: " << s.outbox << "\n";
  if (!s.cron.empty()) y << "cron: " << s.cron << "\n";
  if (!s.streams.empty()) y << "streams: " << s.streams << "\n";
  y << "server:\n  address: 127.0.0.1:" << s.opsPort << "\n  gracePeriod: " << s.gracePeriod << "\n";
  if (s.streamsPort) y << "  streamsAddress: 127.0.0.1:" << s.streamsPort << "\n";
  y << "log: {level: info}\n";
  return y.str();
}

std::string payload(const std::string& key, int64_t seq) { return nlohmann::json{{"key", key}, {"seq", seq}}.dump(); }

std::string cloudEvent(const std::string& id, const std::string& key, int64_t seq) {
  return nlohmann::json{{"specversion", "1.0"},
                        {"id", id},
                        {"source", "orders-api"},
                        {"type", "order.completed"},
                        {"datacontenttype", "application/json"},
                        {"data", nlohmann::json::parse(payload(key, seq))}}
      .dump();
}

RuntimeProcess::RuntimeProcess(const std::string& name, ConfigSpec spec) {
  if (!spec.opsPort) spec.opsPort = freePort();
  opsPort_ = spec.opsPort;
  if (spec.source == "dapr" && !spec.daprPort) spec.daprPort = freePort();
  daprPort_ = spec.daprPort;
  if (!spec.streams.empty() && !spec.streamsPort) spec.streamsPort = freePort();
  streamsPort_ = spec.streamsPort;
  const std::string dir = "/tmp/ew-rt-" + ew::testing::uniqueName(name);
  ::mkdir(dir.c_str(), 0755);
  const std::string configPath = dir + "/runtime.yaml";
  logPath_ = dir + "/runtime.log";
  std::ofstream(configPath) << renderConfig(spec);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    int fd = ::open(logPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    ::execl(EW_RUNTIME_BIN, EW_RUNTIME_BIN, "--config", configPath.c_str(), "--mode", spec.mode.c_str(), nullptr);
    ::_exit(127);
  }
}

RuntimeProcess::~RuntimeProcess() {
  if (pid_ > 0 && running()) {
    ::kill(pid_, SIGKILL);
    wait(std::chrono::seconds(10));
  }
  // Its config and log (a failing check has shown the log already).
  std::error_code ec;
  std::filesystem::remove_all(std::filesystem::path(logPath_).parent_path(), ec);
}

void RuntimeProcess::signal(int sig) { ::kill(pid_, sig); }

bool RuntimeProcess::running() {
  if (pid_ <= 0) return false;
  int status;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -pid_;  // reaped
    exitStatus_ = status;
    return false;
  }
  return true;
}

std::optional<int> RuntimeProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return exitStatus_;
}

std::string RuntimeProcess::log() const {
  std::ifstream in(logPath_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {

// A socket connected to 127.0.0.1:PORT whose sends and receives time out
// after TIMEOUT_SECONDS, or -1. The caller closes it.
int connectLoopback(int port, int timeoutSeconds) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{timeoutSeconds, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
  ::close(fd);
  return -1;
}

// Sends REQUEST to 127.0.0.1:PORT and returns what comes back until the peer
// closes or 2 s pass ("" when unreachable).
std::string exchange(int port, const std::string& request, bool untilClose) {
  const int fd = connectLoopback(port, 2);
  std::string out;
  if (fd >= 0) {
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    char buf[65536];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
      out.append(buf, static_cast<size_t>(n));
      if (!untilClose) break;
    }
    ::close(fd);
  }
  return out;
}

}  // namespace

RedisServer::RedisServer() {
  port_ = freePort();
  const std::string port = std::to_string(port_);
  pid_ = ::fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", nullptr);
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (exchange(port_, "PING\r\n", false).rfind("+PONG", 0) != 0) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      FAIL("redis-server exited at start (is the redis-server package installed?)");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      FAIL("redis-server did not answer PING on port " << port_ << " within 10 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

RedisServer::~RedisServer() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

namespace {

// One RESP2 reply from BUF at POS (advanced past it); nullopt while BUF does
// not hold all of it yet.
std::optional<nlohmann::json> parseResp(const std::string& buf, size_t& pos) {
  const size_t eol = buf.find("\r\n", pos);
  if (eol == std::string::npos) return std::nullopt;
  const char type = buf[pos];
  const std::string line = buf.substr(pos + 1, eol - pos - 1);
  size_t next = eol + 2;
  switch (type) {
    case '+':
      pos = next;
      return line;
    case '-':
      FAIL("redis error reply: " << line);
      return std::nullopt;
    case ':':
      pos = next;
      return std::stoll(line);
    case '$': {
      const long long n = std::stoll(line);
      if (n < 0) {
        pos = next;
        return nullptr;
      }
      if (buf.size() < next + static_cast<size_t>(n) + 2) return std::nullopt;
      pos = next + static_cast<size_t>(n) + 2;
      return buf.substr(next, static_cast<size_t>(n));
    }
    case '*': {
      const long long n = std::stoll(line);
      if (n < 0) {
        pos = next;
        return nullptr;
      }
      nlohmann::json items = nlohmann::json::array();
      for (long long i = 0; i < n; ++i) {
        auto item = parseResp(buf, next);
        if (!item) return std::nullopt;
        items.push_back(std::move(*item));
      }
      pos = next;
      return items;
    }
    default:
      FAIL("not a RESP reply: " << buf.substr(pos, 40));
      return std::nullopt;
  }
}

}  // namespace

std::vector<nlohmann::json> RedisServer::commands(const std::vector<std::vector<std::string>>& commands) const {
  std::string request;
  for (const auto& args : commands) {
    request += "*" + std::to_string(args.size()) + "\r\n";
    for (const auto& a : args) request += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  }
  const int fd = connectLoopback(port_, 10);
  const bool sent =
      fd >= 0 && ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size());
  std::vector<nlohmann::json> replies;
  std::string buf;
  size_t pos = 0;
  char chunk[65536];
  while (sent && replies.size() < commands.size()) {
    if (auto reply = parseResp(buf, pos)) {
      replies.push_back(std::move(*reply));
      continue;
    }
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) break;
    buf.append(chunk, static_cast<size_t>(n));
  }
  if (fd >= 0) ::close(fd);
  REQUIRE(sent);
  REQUIRE(replies.size() == commands.size());
  return replies;
}

double metricValue(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line))
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  return -1;
}

std::string httpGet(int port, const std::string& path) {
  return exchange(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", true);
}

HttpResult httpRequest(int port, const std::string& method, const std::string& path, const std::string& contentType,
                       const std::string& body, const Headers& headers, std::chrono::milliseconds timeout) {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                        "\r\nConnection: close\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!contentType.empty()) request += "Content-Type: " + contentType + "\r\n";
  for (const auto& [k, v] : headers) request += k + ": " + v + "\r\n";
  request += "\r\n" + body;

  HttpResult result;
  const int fd = connectLoopback(port, 30);  // the reply is awaited with poll() until TIMEOUT
  if (fd < 0) return result;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return result;
  }
  std::string reply;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {  // the server closed the connection: the reply is complete
      const auto headerEnd = reply.find("\r\n\r\n");
      if (reply.rfind("HTTP/1.1 ", 0) == 0 && headerEnd != std::string::npos) {
        result.status = std::stoi(reply.substr(9, 3));
        result.body = reply.substr(headerEnd + 4);
      }
      break;
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return result;
}

}  // namespace ew::rttest
