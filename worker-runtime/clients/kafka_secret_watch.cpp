#include "clients/kafka_secret_watch.h"

#include <fstream>
#include <sstream>

#include "clients/kafka_config.h"

namespace ew::runtime {
namespace {

Status readFile(const std::string& field, const std::string& path, std::string& out) {
  if (path.empty()) return {};
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"source.kafka.security." + field + ": cannot read " + path};
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return {};
}

}  // namespace

KafkaSecretChange kafkaSecretChange(const KafkaSecretContents& before, const KafkaSecretContents& after) {
  if (before.ca != after.ca || before.cert != after.cert || before.key != after.key) return KafkaSecretChange::Tls;
  if (before.username != after.username || before.password != after.password) return KafkaSecretChange::Sasl;
  return KafkaSecretChange::None;
}

Result<KafkaSecretContents> readKafkaSecret(const KafkaSecurityConfig& sec) {
  KafkaSecretContents c;
  if (!sec.saslMechanism.empty()) {
    auto credentials = readSaslCredentials(sec);
    if (!credentials) return credentials.error();
    c.username = std::move(credentials->username);
    c.password = std::move(credentials->password);
  }
  if (auto s = readFile("caFile", sec.caFile, c.ca); !s) return s.error();
  if (auto s = readFile("certFile", sec.certFile, c.cert); !s) return s.error();
  if (auto s = readFile("keyFile", sec.keyFile, c.key); !s) return s.error();
  return c;
}

Result<KafkaSecretChange> KafkaSecretWatch::check() {
  auto first = readKafkaSecret(sec_);
  if (!first) return first.error();
  auto second = readKafkaSecret(sec_);
  if (!second) return second.error();
  if (!(*first == *second)) return KafkaSecretChange::None;  // mid-swap: the next check sees it settled
  const KafkaSecretChange change = kafkaSecretChange(current_, *second);
  if (change != KafkaSecretChange::None) current_ = std::move(*second);
  return change;
}

}  // namespace ew::runtime
