#pragma once
// Why a Kafka broker refused a client, read from a librdkafka error, for the
// runtime and the operator to say which credential is wrong (each in its own
// words: the runtime names the mounted files, the operator the Secret).
// librdkafka left alone retries a refusal forever, logging one line per
// attempt; both fail fast instead. Pure.

#include <optional>
#include <string_view>

namespace ew {

enum class KafkaRefusal {
  WrongCredentials,    // SASL: the broker rejected the username/password
  SaslMechanism,       // SASL: the broker does not offer the mechanism
  UnknownCa,           // TLS: the broker's certificate did not verify against the client's CA
  ClientCertExpired,   // mTLS: the broker rejected the client certificate as expired
  ClientCertRejected,  // mTLS: the broker rejected the client certificate (untrusted, or none sent)
  NotTls,              // TLS to a listener that does not speak it
  TlsFailed,           // another TLS handshake failure
};

// The refusal in a librdkafka error whose code is RD_KAFKA_RESP_ERR__AUTHENTICATION
// (AUTH_ERROR) or RD_KAFKA_RESP_ERR__SSL (SSL_ERROR) or another one, with its
// text; nullopt when it is not a refusal (a timeout, a connection refused, a
// broker going away).
std::optional<KafkaRefusal> kafkaRefusal(bool authError, bool sslError, std::string_view text);

// What REFUSAL means, in the words of the credentials Secret's keys
// (username, password, ca.crt, tls.crt), e.g. "wrong username or password".
const char* kafkaRefusalText(KafkaRefusal refusal);

}  // namespace ew
