#include "ew/kafka_refusal.h"

namespace ew {
namespace {

bool has(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

}  // namespace

std::optional<KafkaRefusal> kafkaRefusal(bool authError, bool sslError, std::string_view text) {
  if (authError || has(text, "SASL authentication error")) {
    if (has(text, "invalid credentials") || has(text, "Authentication failed")) return KafkaRefusal::WrongCredentials;
    if (has(text, "mechanism")) return KafkaRefusal::SaslMechanism;
  }
  // A refused client certificate shows after the handshake, as "Receive
  // failed: error:0A000412:SSL routines::sslv3 alert bad certificate".
  if (!(sslError || has(text, "SSL handshake failed") || has(text, "SSL routines"))) return std::nullopt;
  if (has(text, "certificate verify failed") || has(text, "could not be verified")) return KafkaRefusal::UnknownCa;
  if (has(text, "alert certificate expired")) return KafkaRefusal::ClientCertExpired;
  for (std::string_view alert : {"alert unknown ca", "alert bad certificate", "alert certificate unknown",
                                 "alert certificate required", "alert handshake failure", "alert access denied"})
    if (has(text, alert)) return KafkaRefusal::ClientCertRejected;
  if (has(text, "wrong version number") || has(text, "packet length too long") || has(text, "record layer failure"))
    return KafkaRefusal::NotTls;
  return KafkaRefusal::TlsFailed;
}

const char* kafkaRefusalText(KafkaRefusal refusal) {
  switch (refusal) {
    case KafkaRefusal::WrongCredentials:
      return "wrong username or password";
    case KafkaRefusal::SaslMechanism:
      return "the broker does not offer this SASL mechanism";
    case KafkaRefusal::UnknownCa:
      return "the broker's certificate did not verify against the CA (ca.crt): unknown CA, or not issued for this "
             "address";
    case KafkaRefusal::ClientCertExpired:
      return "the broker rejected the client certificate (tls.crt) as expired";
    case KafkaRefusal::ClientCertRejected:
      return "the broker rejected the client certificate (tls.crt): not signed by a CA it trusts, or none sent";
    case KafkaRefusal::NotTls:
      return "the listener does not speak TLS";
    case KafkaRefusal::TlsFailed:
      return "TLS handshake failed";
  }
  return "refused";
}

}  // namespace ew
