#pragma once
// Internal to ew_lag_reader: the RAII handles over librdkafka's C API and
// one read's budget (Call), shared by the lag reader's steps.

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "ew/duration.h"
#include "ew/result.h"

namespace ew::autoscale::admin {

using Clock = std::chrono::steady_clock;

template <auto DestroyFn>
struct CDelete {
  template <typename T>
  void operator()(T* p) const {
    DestroyFn(p);
  }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, CDelete<rd_kafka_conf_destroy>>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, CDelete<rd_kafka_queue_destroy>>;
using OptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, CDelete<rd_kafka_AdminOptions_destroy>>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, CDelete<rd_kafka_event_destroy>>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, CDelete<rd_kafka_metadata_destroy>>;
using PartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, CDelete<rd_kafka_topic_partition_list_destroy>>;
using GroupOffsetsRequestPtr =
    std::unique_ptr<rd_kafka_ListConsumerGroupOffsets_t, CDelete<rd_kafka_ListConsumerGroupOffsets_destroy>>;

inline std::string partitionName(const std::string& topic, int partition) {
  return topic + "[" + std::to_string(partition) + "]";
}

// One readMany: the client, the cluster's name for errors, the deadline.
class Call {
 public:
  Call(rd_kafka_t* client, const std::string& cluster, Millis timeout)
      : rk(client), cluster_(cluster), timeout_(timeout), deadline_(Clock::now() + timeout) {}

  rd_kafka_t* const rk;

  Millis timeout() const { return timeout_; }

  // Milliseconds left of the budget; 0 once spent.
  int remainingMs() const {
    const auto left = std::chrono::ceil<Millis>(deadline_ - Clock::now()).count();
    return static_cast<int>(std::clamp<std::int64_t>(left, 0, timeout_.count()));
  }

  Error error(const std::string& what, int code = 0) const { return Error{"kafka " + cluster_ + ": " + what, code}; }

  Error timedOut(const std::string& doing) const {
    return error("timed out after " + ew::formatDuration(timeout_) + " " + doing, RD_KAFKA_RESP_ERR__TIMED_OUT);
  }

  // DOING failed with ERR. A broker's error is named as such; for a local one
  // librdkafka's DETAIL, when given, says more.
  Error failed(const std::string& doing, rd_kafka_resp_err_t err, const char* detail = nullptr) const {
    if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) return timedOut(doing);
    const bool local = err < RD_KAFKA_RESP_ERR_NO_ERROR;
    return error(doing + ": " + (local && detail && *detail ? detail : rd_kafka_err2str(err)), err);
  }

 private:
  const std::string& cluster_;
  const Millis timeout_;
  const Clock::time_point deadline_;
};

}  // namespace ew::autoscale::admin
