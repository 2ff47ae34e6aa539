#include "clients/kafka_message.h"

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

}  // namespace ew::runtime
