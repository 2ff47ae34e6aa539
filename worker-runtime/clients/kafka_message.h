#pragma once
// A librdkafka message copied into a Message (core/message.h): topic,
// partition, offset, key, value, headers, timestamp. Shared by the group
// consumer (kafka_consumer.h) and the streams' partition reader.

#include <librdkafka/rdkafka.h>

#include "core/message.h"

namespace ew::runtime {

// REQUIRES: M->err is RD_KAFKA_RESP_ERR_NO_ERROR.
void copyMessage(const rd_kafka_message_t* m, Message& out);

}  // namespace ew::runtime
