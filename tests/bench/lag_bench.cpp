// ew-lag-bench: the operator's lag poll over each of the test broker's
// listeners, side by side (hack/bench/kafka_security.sh runs it).
//
//   ew-lag-bench STATE_ENV GROUPS ROUNDS
//
// Sets up GROUPS consumer groups with committed offsets on one 6-partition
// topic (over PLAINTEXT), then times one batched read of all of them
// (LagReader::readMany, as one autoscaler poll of GROUPS EventWorkers) over
// PLAINTEXT, SASL_SSL (SCRAM-SHA-512, the operator's user) and mTLS, taking
// turns, ROUNDS times each, on clients that are already connected (as the
// operator's pooled clients are between polls). Prints the median and the
// spread per listener and the ratios to PLAINTEXT. Credentials as the
// operator takes them: PEM in memory from the Secret-shaped directories.
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kafka/lag_reader.h"
#include "kafka/offset_commit.h"

using namespace ew::autoscale;

namespace {

std::map<std::string, std::string> readEnv(const std::string& path) {
  std::map<std::string, std::string> env;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (auto eq = line.find('='); eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  return env;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool createTopic(const std::string& bootstrap, const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) return false;
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 10000);
  const bool ok = ev && !rd_kafka_event_error(ev);
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return ok;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: ew-lag-bench STATE_ENV GROUPS ROUNDS\n";
    return 2;
  }
  auto env = readEnv(argv[1]);
  const int groups = std::stoi(argv[2]), rounds = std::stoi(argv[3]);
  const std::string plain = env["EW_KAFKA_BOOTSTRAP"];
  const std::string scramDir = env["EW_KAFKA_SCRAM_OPERATOR_DIR"], mtlsDir = env["EW_KAFKA_MTLS_DIR"];
  const std::string topic = "lag-bench-" + std::to_string(::getpid());
  if (!createTopic(plain, topic, 6)) {
    std::cerr << "cannot create topic " << topic << "\n";
    return 1;
  }
  std::vector<GroupQuery> queries;
  for (int g = 0; g < groups; ++g) {
    const std::string group = topic + "-g" + std::to_string(g);
    std::map<PartitionKey, std::int64_t> offsets;
    for (int p = 0; p < 6; ++p) offsets[{topic, p}] = 0;
    // Right after the broker starts its group coordinators may still be
    // loading (NOT_COORDINATOR): try again for a while.
    ew::Status s;
    for (int attempt = 0; attempt < 50 && !(s = commitGroupOffsets({plain, {}}, group, offsets, Millis(10000)));
         ++attempt)
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!s) {
      std::cerr << s.error().message << "\n";
      return 1;
    }
    queries.push_back({group, {topic}});
  }

  struct Listener {
    std::string name;
    KafkaCluster cluster;
    std::unique_ptr<LagReader> reader;
    std::vector<double> ms;
  };
  std::vector<Listener> listeners;
  listeners.push_back({"PLAINTEXT", {plain, {}}, nullptr, {}});
  listeners.push_back({"SASL_SSL",
                       {env["EW_KAFKA_SASL_BOOTSTRAP"],
                        {{"security.protocol", "SASL_SSL"},
                         {"sasl.mechanisms", "SCRAM-SHA-512"},
                         {"sasl.username", slurp(scramDir + "/username")},
                         {"sasl.password", slurp(scramDir + "/password")},
                         {"ssl.ca.pem", slurp(scramDir + "/ca.crt")}}},
                       nullptr,
                       {}});
  listeners.push_back({"mTLS",
                       {env["EW_KAFKA_MTLS_BOOTSTRAP"],
                        {{"security.protocol", "SSL"},
                         {"ssl.ca.pem", slurp(mtlsDir + "/ca.crt")},
                         {"ssl.certificate.pem", slurp(mtlsDir + "/tls.crt")},
                         {"ssl.key.pem", slurp(mtlsDir + "/tls.key")}}},
                       nullptr,
                       {}});
  for (auto& l : listeners) {
    auto r = LagReader::create(l.cluster, Millis(10000));
    if (!r) {
      std::cerr << l.name << ": " << r.error().message << "\n";
      return 1;
    }
    l.reader = std::move(*r);
    // Warm up: connect, authenticate, find the coordinators.
    for (const auto& result : l.reader->readMany(queries))
      if (!result) {
        std::cerr << l.name << ": " << result.error().message << "\n";
        return 1;
      }
  }
  for (int round = 0; round < rounds; ++round)
    for (auto& l : listeners) {
      const auto t0 = std::chrono::steady_clock::now();
      auto results = l.reader->readMany(queries);
      l.ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      for (const auto& r : results)
        if (!r) {
          std::cerr << l.name << ": " << r.error().message << "\n";
          return 1;
        }
    }
  const double base = median(listeners[0].ms);
  std::cout.setf(std::ios::fixed);
  std::cout.precision(1);
  for (const auto& l : listeners) {
    auto sorted = l.ms;
    std::sort(sorted.begin(), sorted.end());
    std::cout << "  lag poll, " << groups << " groups in one batched read, " << l.name << ": median " << median(l.ms)
              << " ms (min " << sorted.front() << ", max " << sorted.back() << ")";
    std::cout.precision(2);
    std::cout << "; ratio to PLAINTEXT " << median(l.ms) / base << "\n";
    std::cout.precision(1);
  }
  return 0;
}
