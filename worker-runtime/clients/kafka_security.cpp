#include "clients/kafka_security.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <thread>

#include "clients/kafka_config.h"
#include "ew/kafka_refusal.h"

namespace ew::runtime {
namespace {

const std::string kField = "source.kafka.security.";

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

Result<BioPtr> openPem(const std::string& field, const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    ERR_clear_error();
    return Error{kField + field + ": cannot read " + path};
  }
  return bio;
}

// "2026-12-05T01:58:13Z" from an ASN1_TIME.
std::string isoTime(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "(unreadable time)";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string subjectOf(X509* cert) {
  char buf[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf - 1);
  return buf;
}

Status checkCa(const std::string& path) {
  auto bio = openPem("caFile", path);
  if (!bio) return bio.error();
  X509Ptr first(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!first) return Error{kField + "caFile: " + path + " holds no PEM certificate"};
  return {};
}

Result<X509Ptr> checkCert(const std::string& path, std::chrono::system_clock::time_point now) {
  auto bio = openPem("certFile", path);
  if (!bio) return bio.error();
  X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!cert) return Error{kField + "certFile: " + path + " holds no PEM certificate"};
  const time_t t = std::chrono::system_clock::to_time_t(now);
  time_t at = t;
  if (X509_cmp_time(X509_get0_notBefore(cert.get()), &at) > 0)
    return Error{kField + "certFile: the client certificate in " + path + " (" + subjectOf(cert.get()) +
                 ") is not valid before " + isoTime(X509_get0_notBefore(cert.get()))};
  at = t;
  if (X509_cmp_time(X509_get0_notAfter(cert.get()), &at) < 0)
    return Error{kField + "certFile: the client certificate in " + path + " (" + subjectOf(cert.get()) +
                 ") expired at " + isoTime(X509_get0_notAfter(cert.get()))};
  return cert;
}

Status checkKey(const std::string& path, X509* cert, const std::string& certPath) {
  auto bio = openPem("keyFile", path);
  if (!bio) return bio.error();
  // An empty passphrase callback: an encrypted key fails here instead of
  // OpenSSL prompting on the terminal.
  PkeyPtr key(PEM_read_bio_PrivateKey(
      bio->get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
  ERR_clear_error();
  if (!key) return Error{kField + "keyFile: " + path + " holds no unencrypted PEM private key"};
  const int match = X509_check_private_key(cert, key.get());
  ERR_clear_error();
  if (match != 1)
    return Error{kField + "keyFile: the key in " + path + " is not the key of the certificate in " + certPath};
  return {};
}

// librdkafka's text, with anything that could be the password taken out (it
// never quotes it today; this keeps it so).
std::string scrubbed(std::string text, const std::optional<std::string>& password) {
  if (password && password->size() >= 4)
    for (size_t at; (at = text.find(*password)) != std::string::npos;) text.replace(at, password->size(), "***");
  return text;
}

}  // namespace

Status checkTlsFiles(const KafkaSecurityConfig& sec, std::chrono::system_clock::time_point now) {
  if (!sec.caFile.empty())
    if (auto s = checkCa(sec.caFile); !s) return s;
  if (sec.certFile.empty()) return {};
  auto cert = checkCert(sec.certFile, now);
  if (!cert) return cert.error();
  return checkKey(sec.keyFile, cert->get(), sec.certFile);
}

std::optional<std::string> securityRefusal(int err, const std::string& text, const KafkaSecurityConfig& sec) {
  const auto refusal = kafkaRefusal(err == RdKafka::ERR__AUTHENTICATION, err == RdKafka::ERR__SSL, text);
  if (!refusal) return std::nullopt;
  auto ref = [](const std::string& file, const std::string& env) { return file.empty() ? "$" + env : file; };
  const std::string cert =
      sec.certFile.empty() ? "no client certificate (certFile not set)" : "the client certificate in " + sec.certFile;
  switch (*refusal) {
    case KafkaRefusal::WrongCredentials:
      return "the broker rejected the credentials in " + ref(sec.usernameFile, sec.usernameEnv) + " and " +
             ref(sec.passwordFile, sec.passwordEnv) + " (" + sec.saslMechanism + "): wrong username or password";
    case KafkaRefusal::SaslMechanism:
      return "the broker does not offer SASL mechanism " + sec.saslMechanism;
    case KafkaRefusal::UnknownCa:
      return "the broker's certificate could not be verified against " +
             (sec.caFile.empty() ? "the system trust store (no caFile)" : "caFile " + sec.caFile) +
             " (unknown CA, or a certificate not issued for this broker's address)";
    case KafkaRefusal::ClientCertExpired:
      return "the broker rejected " + cert + " as expired";
    case KafkaRefusal::ClientCertRejected:
      return "the broker rejected " + cert + " (not signed by a CA the broker trusts, or none sent)";
    case KafkaRefusal::NotTls:
      return "the listener does not speak TLS (is it a PLAINTEXT or SASL_PLAINTEXT listener?)";
    case KafkaRefusal::TlsFailed:
      return "TLS handshake failed";
  }
  return std::nullopt;
}

namespace {

// Keeps the first refusal librdkafka reports (its error callback runs on the
// thread that polls).
class RefusalWatch : public RdKafka::EventCb {
 public:
  explicit RefusalWatch(const KafkaSecurityConfig& sec) : sec_(sec) {}
  void event_cb(RdKafka::Event& e) override {
    if (e.type() != RdKafka::Event::EVENT_ERROR || refusal_) return;
    if (auto why = securityRefusal(e.err(), e.str(), sec_)) {
      refusal_ = *why;
      detail_ = e.str();
    } else {
      lastError_ = e.str();
    }
  }
  const std::optional<std::string>& refusal() const { return refusal_; }
  const std::string& detail() const { return detail_; }
  const std::string& lastError() const { return lastError_; }

 private:
  const KafkaSecurityConfig& sec_;
  std::optional<std::string> refusal_;
  std::string detail_, lastError_;
};

}  // namespace

Status probeKafkaSecurity(const KafkaSourceConfig& config, std::chrono::milliseconds timeout, const TimeSource& time) {
  if (!config.security || config.security->protocol == "PLAINTEXT") return {};
  const KafkaSecurityConfig& sec = *config.security;
  if (auto s = checkTlsFiles(sec, time.wallNow()); !s) return s;
  auto conf = kafkaClientConf(config);
  if (!conf) return conf.error();
  std::optional<std::string> password;
  if (std::string p; (*conf)->get("sasl.password", p) == RdKafka::Conf::CONF_OK && !p.empty()) password = p;
  RefusalWatch watch(sec);
  std::string err;
  if ((*conf)->set("event_cb", static_cast<RdKafka::EventCb*>(&watch), err) != RdKafka::Conf::CONF_OK)
    return Error{"kafka: event_cb: " + err};
  // One connection attempt at a time is enough to learn the answer.
  if (auto s = setConf(**conf, "reconnect.backoff.ms", "200"); !s) return s;
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf->get(), err));
  if (!client) return Error{"kafka: cannot create a client: " + scrubbed(err, password)};
  std::string brokers;
  for (const auto& b : config.brokers) brokers += (brokers.empty() ? "" : ",") + b;
  const MonoTime deadline = time.now() + timeout;
  while (time.now() < deadline) {
    RdKafka::Metadata* md = nullptr;
    const auto e = client->metadata(false, nullptr, &md, 250);
    delete md;
    if (e == RdKafka::ERR_NO_ERROR) return {};
    client->poll(0);  // serves event_cb
    if (watch.refusal())
      return Error{"kafka " + sec.protocol + " " + brokers + ": " + *watch.refusal() +
                   " [librdkafka: " + scrubbed(watch.detail(), password) + "]"};
  }
  spdlog::warn("kafka {} {}: no broker answered within {} ms ({}); starting anyway, librdkafka keeps trying",
               sec.protocol, brokers, timeout.count(),
               watch.lastError().empty() ? "no error reported" : scrubbed(watch.lastError(), password));
  return {};
}

}  // namespace ew::runtime
