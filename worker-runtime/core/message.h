#pragma once
// A consumed record as plain values (copied out of librdkafka by the source).

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/offset_tracker.h"

namespace ew::runtime {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Message {
  TopicPartition tp;
  int64_t offset = 0;
  std::optional<std::string> key;  // nullopt: no key
  std::string value;
  Headers headers;
  int64_t timestampMs = 0;
};

}  // namespace ew::runtime
