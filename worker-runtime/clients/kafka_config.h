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

struct SaslCredentials {
  std::string username, password;
};

// The SASL username and password SEC names (files or environment variables),
// read now. REQUIRES: SEC.saslMechanism set.
Result<SaslCredentials> readSaslCredentials(const KafkaSecurityConfig& sec);

// Gives CLIENT new SASL credentials: its connections stay up, the next
// authentication (a new connection, or a re-authentication the broker asks
// for, KIP-368) uses them. Thread-safe.
Status setSaslCredentials(RdKafka::Handle& client, const SaslCredentials& credentials);

}  // namespace ew::runtime
