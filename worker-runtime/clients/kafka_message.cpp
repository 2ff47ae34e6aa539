#include "clients/kafka_message.h"

#include <spdlog/spdlog.h>

namespace ew::runtime {

void copyMessage(const rd_kafka_message_t* m, Message& msg) {
  msg.tp = {rd_kafka_topic_name(m->rkt), m->partition};
  msg.offset = m->offset;
  if (m->key) msg.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) msg.value.assign(static_cast<const char*>(m->payload), m->len);
  msg.timestampMs = rd_kafka_message_timestamp(m, nullptr);
  rd_kafka_headers_t* headers = nullptr;
  // rd_kafka_message_headers takes a non-const message (it may parse them lazily).
  if (rd_kafka_message_headers(const_cast<rd_kafka_message_t*>(m), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t h = 0; rd_kafka_header_get_all(headers, h, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++h)
      msg.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : std::string());
  }
}

size_t consumeBatch(rd_kafka_queue_t* queue, int timeoutMs, size_t max, std::vector<rd_kafka_message_t*>& batch,
                    std::vector<Message>& out) {
  batch.resize(max);
  const ssize_t n = rd_kafka_consume_batch_queue(queue, timeoutMs, batch.data(), max);
  size_t appended = 0;
  for (ssize_t i = 0; i < n; ++i) {
    rd_kafka_message_t* m = batch[static_cast<size_t>(i)];
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      copyMessage(m, out.emplace_back());
      ++appended;
    } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      spdlog::warn("kafka: consume: {}", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  return appended;
}

}  // namespace ew::runtime
