#pragma once
// librdkafka configuration from the runtime config, with secrets resolved from
// files or environment variables (never logged, never in error messages).

#include <librdkafka/rdkafkacpp.h>

#include <memory>

#include "core/config.h"
#include "ew/result.h"

namespace ew::runtime {

using KafkaConfPtr = std::unique_ptr<RdKafka::Conf>;

// Common client settings: brokers, security, extra properties.
Result<KafkaConfPtr> kafkaClientConf(const KafkaSourceConfig& config);

// Sets KEY=VALUE on CONF; the error names the key only (values may be secret).
Status setConf(RdKafka::Conf& conf, const std::string& key, const std::string& value);

}  // namespace ew::runtime
