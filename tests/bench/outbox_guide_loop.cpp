// ew-outbox-guide-loop URL TABLE BOOTSTRAP COUNT: the outbox processor as the
// event-driven architecture guide writes it, for hack/bench/outbox_relay.sh
// to compare the relay with: every second, read the PENDING rows (oldest
// first), and for each one publish it and wait for the send to
// complete, then UPDATE it to PUBLISHED: one publish and one UPDATE per row.
// Exits once COUNT rows are published; prints the seconds it took.
#include <libpq-fe.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

namespace {

struct Delivered : RdKafka::DeliveryReportCb {
  void dr_cb(RdKafka::Message& m) override {
    err = m.err();
    done = true;
  }
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
  bool done = false;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: ew-outbox-guide-loop URL TABLE BOOTSTRAP COUNT\n";
    return 2;
  }
  const std::string table = argv[2];
  const long count = std::stol(argv[4]);
  PGconn* pg = PQconnectdb(argv[1]);
  if (PQstatus(pg) != CONNECTION_OK) {
    std::cerr << PQerrorMessage(pg);
    return 1;
  }
  Delivered cb;
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", argv[3], err);
  conf->set("enable.idempotence", "true", err);
  conf->set("dr_cb", &cb, err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  if (!producer) {
    std::cerr << err << "\n";
    return 1;
  }
  const std::string select =
      "SELECT id, topic, payload::text FROM " + table + " WHERE status = 'PENDING' ORDER BY created_at";
  const std::string update = "UPDATE " + table + " SET status = 'PUBLISHED' WHERE id = $1";
  const auto t0 = std::chrono::steady_clock::now();
  long published = 0;
  while (published < count) {
    PGresult* rows = PQexec(pg, select.c_str());
    const int n = PQntuples(rows);
    for (int i = 0; i < n; ++i) {
      const std::string topic = PQgetvalue(rows, i, 1);
      std::string value = PQgetvalue(rows, i, 2);
      cb.done = false;
      producer->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY, value.data(), value.size(),
                        nullptr, 0, 0, nullptr);
      while (!cb.done) producer->poll(1);          // kafkaTemplate.send(...).get()
      if (cb.err != RdKafka::ERR_NO_ERROR) break;  // the guide retries the row at the next poll
      const char* params[] = {PQgetvalue(rows, i, 0)};
      PQclear(PQexecParams(pg, update.c_str(), 1, nullptr, params, nullptr, nullptr, 0));
      ++published;
    }
    PQclear(rows);
    if (n == 0 || published < count)
      std::this_thread::sleep_for(std::chrono::seconds(1));  // @Scheduled(fixedDelay = 1000)
  }
  std::cout << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << "\n";
  PQfinish(pg);
  return 0;
}
