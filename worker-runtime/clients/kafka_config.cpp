#include "clients/kafka_config.h"

#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ew::runtime {
namespace {

Result<std::string> readSecret(const std::string& file, const std::string& env, const std::string& field) {
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return Error{"source.kafka.security." + field + "File: cannot read " + file};
    std::stringstream ss;
    ss << in.rdbuf();
    std::string v = ss.str();
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    return v;
  }
  const char* v = std::getenv(env.c_str());
  if (!v) return Error{"source.kafka.security." + field + "Env: environment variable " + env + " is not set"};
  return std::string(v);
}

}  // namespace

Result<SaslCredentials> readSaslCredentials(const KafkaSecurityConfig& sec) {
  auto user = readSecret(sec.usernameFile, sec.usernameEnv, "username");
  if (!user) return user.error();
  auto pass = readSecret(sec.passwordFile, sec.passwordEnv, "password");
  if (!pass) return pass.error();
  return SaslCredentials{std::move(*user), std::move(*pass)};
}

Status setSaslCredentials(RdKafka::Handle& client, const SaslCredentials& credentials) {
  rd_kafka_error_t* error =
      rd_kafka_sasl_set_credentials(client.c_ptr(), credentials.username.c_str(), credentials.password.c_str());
  if (!error) return {};
  const std::string why = rd_kafka_error_string(error);
  rd_kafka_error_destroy(error);
  return Error{"kafka: new SASL credentials not taken: " + why};
}

// librdkafka's message for a rejected value quotes the value, which may be a
// secret (a password, a key passed through properties): name the key only.
Status setConf(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string err;
  switch (conf.set(key, value, err)) {
    case RdKafka::Conf::CONF_OK:
      return {};
    case RdKafka::Conf::CONF_UNKNOWN:
      return Error{"kafka property " + key + ": unknown librdkafka property"};
    default:
      return Error{"kafka property " + key + ": invalid value (not shown: it may be a secret)"};
  }
}

Result<KafkaConfPtr> kafkaClientConf(const KafkaSourceConfig& c) {
  KafkaConfPtr conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string brokers;
  for (const auto& b : c.brokers) brokers += (brokers.empty() ? "" : ",") + b;
  if (auto s = setConf(*conf, "bootstrap.servers", brokers); !s) return s.error();
  if (c.security) {
    const auto& sec = *c.security;
    if (auto s = setConf(*conf, "security.protocol", sec.protocol); !s) return s.error();
    for (const auto& [key, file] : {std::pair{"ssl.ca.location", &sec.caFile},
                                    {"ssl.certificate.location", &sec.certFile},
                                    {"ssl.key.location", &sec.keyFile}})
      if (!file->empty())
        if (auto s = setConf(*conf, key, *file); !s) return s.error();
    if (!sec.saslMechanism.empty()) {
      auto credentials = readSaslCredentials(sec);
      if (!credentials) return credentials.error();
      if (auto s = setConf(*conf, "sasl.mechanisms", sec.saslMechanism); !s) return s.error();
      if (auto s = setConf(*conf, "sasl.username", credentials->username); !s)
        return Error{"kafka property sasl.username rejected"};
      if (auto s = setConf(*conf, "sasl.password", credentials->password); !s)
        return Error{"kafka property sasl.password rejected"};
    }
  }
  for (const auto& [k, v] : c.properties)
    if (auto s = setConf(*conf, k, v); !s) return Error{"source.kafka.properties." + k + ": " + s.error().message};
  return conf;
}

}  // namespace ew::runtime
