// The fail-fast checks of the runtime's Kafka security settings: the Secret's
// files, and which refusal a librdkafka error is. Errors name the file and
// the field, never a secret.
#include "clients/kafka_security.h"

#include <librdkafka/rdkafkacpp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>

using namespace ew::runtime;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

namespace {

const auto kNow = std::chrono::system_clock::from_time_t(1'800'000'000);

// A directory of PEM files, removed at the end of the test.
struct PemDir {
  std::filesystem::path dir;
  PemDir() {
    dir = std::filesystem::temp_directory_path() / ("ew-sec-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
  }
  ~PemDir() { std::filesystem::remove_all(dir); }
  std::string path(const std::string& name) const { return (dir / name).string(); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path(name)) << text;
    return path(name);
  }

  // A P-256 key in NAME.key and a self-signed certificate for it in NAME.crt,
  // valid from NOTBEFORE to NOTAFTER seconds around kNow.
  void keyAndCert(const std::string& name, long notBefore, long notAfter) const {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    REQUIRE(key);
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    time_t now = std::chrono::system_clock::to_time_t(kNow);
    X509_time_adj_ex(X509_getm_notBefore(cert), 0, notBefore, &now);
    X509_time_adj_ex(X509_getm_notAfter(cert), 0, notAfter, &now);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("ew-client"), -1, -1, 0);
    X509_set_issuer_name(cert, X509_get_subject_name(cert));
    X509_set_pubkey(cert, key);
    REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
    FILE* f = std::fopen(path(name + ".key").c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    f = std::fopen(path(name + ".crt").c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

KafkaSecurityConfig mtls(const PemDir& d, const std::string& name) {
  KafkaSecurityConfig s;
  s.protocol = "SSL";
  s.caFile = d.path("good.crt");
  s.certFile = d.path(name + ".crt");
  s.keyFile = d.path(name + ".key");
  return s;
}

std::string errorOf(const ew::Status& s) { return s ? "" : s.error().message; }

}  // namespace

TEST_CASE("a client certificate valid now with its own key passes the file checks") {
  PemDir d;
  d.keyAndCert("good", -3600, 86400);
  CHECK(checkTlsFiles(mtls(d, "good"), kNow).ok());
}

TEST_CASE("an expired client certificate fails naming certFile, the file and when it expired") {
  PemDir d;
  d.keyAndCert("good", -3600, 86400);
  d.keyAndCert("old", -2 * 86400, -86400);
  const std::string e = errorOf(checkTlsFiles(mtls(d, "old"), kNow));
  CHECK_THAT(e, StartsWith("source.kafka.security.certFile: the client certificate in " + d.path("old.crt")));
  CHECK_THAT(e, Contains("CN=ew-client"));
  CHECK_THAT(e, Contains("expired at 2027-01-14T08:00:00Z"));
}

TEST_CASE("a client certificate not valid yet fails naming when it starts") {
  PemDir d;
  d.keyAndCert("good", -3600, 86400);
  d.keyAndCert("future", 86400, 2 * 86400);
  CHECK_THAT(errorOf(checkTlsFiles(mtls(d, "future"), kNow)), Contains("is not valid before 2027-01-16T08:00:00Z"));
}

TEST_CASE("a key that is not the certificate's key fails naming keyFile") {
  PemDir d;
  d.keyAndCert("good", -3600, 86400);
  d.keyAndCert("other", -3600, 86400);
  KafkaSecurityConfig s = mtls(d, "good");
  s.keyFile = d.path("other.key");
  CHECK(errorOf(checkTlsFiles(s, kNow)) == "source.kafka.security.keyFile: the key in " + d.path("other.key") +
                                               " is not the key of the certificate in " + d.path("good.crt"));
}

TEST_CASE("missing or non-PEM files fail naming the field and the file, never their content") {
  PemDir d;
  d.keyAndCert("good", -3600, 86400);
  KafkaSecurityConfig s = mtls(d, "good");
  s.caFile = d.path("absent.crt");
  CHECK(errorOf(checkTlsFiles(s, kNow)) == "source.kafka.security.caFile: cannot read " + d.path("absent.crt"));
  s.caFile = d.write("junk.crt", "hunter2-not-a-certificate\n");
  CHECK(errorOf(checkTlsFiles(s, kNow)) ==
        "source.kafka.security.caFile: " + d.path("junk.crt") + " holds no PEM certificate");
  s = mtls(d, "good");
  s.keyFile = d.write("junk.key", "hunter2-not-a-key\n");
  const std::string e = errorOf(checkTlsFiles(s, kNow));
  CHECK(e == "source.kafka.security.keyFile: " + d.path("junk.key") + " holds no unencrypted PEM private key");
  CHECK_THAT(e, !Contains("hunter2"));
}

TEST_CASE("a SASL rejection reads as wrong username or password, naming the files") {
  KafkaSecurityConfig s;
  s.protocol = "SASL_SSL";
  s.saslMechanism = "SCRAM-SHA-512";
  s.usernameFile = "/s/username";
  s.passwordFile = "/s/password";
  auto why = securityRefusal(RdKafka::ERR__AUTHENTICATION,
                             "sasl_ssl://127.0.0.1:9093/bootstrap: SASL authentication error: Authentication failed "
                             "during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512",
                             s);
  REQUIRE(why);
  CHECK(*why ==
        "the broker rejected the credentials in /s/username and /s/password (SCRAM-SHA-512): wrong username "
        "or password");
}

TEST_CASE("a broker certificate this client cannot verify reads as an unknown CA, naming caFile") {
  KafkaSecurityConfig s;
  s.protocol = "SSL";
  s.caFile = "/s/ca.crt";
  auto why = securityRefusal(RdKafka::ERR__SSL,
                             "ssl://127.0.0.1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL "
                             "routines::certificate verify failed: broker certificate could not be verified, verify "
                             "that ssl.ca.location is correctly configured or root CA certificates are installed",
                             s);
  REQUIRE(why);
  CHECK_THAT(*why, StartsWith("the broker's certificate could not be verified against caFile /s/ca.crt (unknown CA"));
}

TEST_CASE("a client certificate the broker refuses reads as such, naming certFile") {
  KafkaSecurityConfig s;
  s.protocol = "SSL";
  s.certFile = "/s/tls.crt";
  for (const char* alert : {"tlsv1 alert unknown ca", "sslv3 alert bad certificate",
                            "tlsv13 alert certificate required", "sslv3 alert certificate unknown"}) {
    auto why = securityRefusal(RdKafka::ERR__SSL,
                               std::string("SSL handshake failed: error:0A000418:SSL routines::") + alert, s);
    REQUIRE(why);
    CHECK_THAT(*why, StartsWith("the broker rejected the client certificate in /s/tls.crt (not signed by a CA"));
  }
  auto expired = securityRefusal(RdKafka::ERR__SSL, "SSL handshake failed: sslv3 alert certificate expired", s);
  REQUIRE(expired);
  CHECK(*expired == "the broker rejected the client certificate in /s/tls.crt as expired");
}

TEST_CASE("transport errors that are not refusals are not security failures") {
  KafkaSecurityConfig s;
  s.protocol = "SASL_SSL";
  CHECK_FALSE(
      securityRefusal(RdKafka::ERR__TRANSPORT,
                      "sasl_ssl://127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused", s));
  CHECK_FALSE(securityRefusal(RdKafka::ERR__ALL_BROKERS_DOWN, "1/1 brokers are down", s));
  CHECK_FALSE(securityRefusal(RdKafka::ERR__TIMED_OUT, "timed out", s));
}
