#pragma once
// A librdkafka message copied into a Message (core/message.h): topic,
// partition, offset, key, value, headers, timestamp. Shared by the group
// consumer (kafka_consumer.h) and the streams' partition reader.

#include <librdkafka/rdkafka.h>

#include <vector>

#include "core/message.h"

namespace ew::runtime {

// REQUIRES: M->err is RD_KAFKA_RESP_ERR_NO_ERROR.
void copyMessage(const rd_kafka_message_t* m, Message& out);

// Takes up to MAX messages from QUEUE (waiting up to TIMEOUT_MS for the
// first), appends the records to OUT, logs the errors (but partition EOF),
// destroys them all. BATCH is scratch space. Returns the records appended.
size_t consumeBatch(rd_kafka_queue_t* queue, int timeoutMs, size_t max, std::vector<rd_kafka_message_t*>& batch,
                    std::vector<Message>& out);

}  // namespace ew::runtime
