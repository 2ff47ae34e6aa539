#include "kube/client.h"

#include <openssl/x509.h>
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace fs = std::filesystem;

namespace {

// A fresh directory under the system's temp dir, removed at the end of the scope.
struct TempDir {
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("ew-client-test-" + std::to_string(::getpid()) + "-" + name)) {
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  void touch(const std::string& name) const { std::ofstream(path / name) << ""; }
  fs::path path;
};

}  // namespace

TEST_CASE("system trust: an empty bundle only where the system CAs are hashed and no bundle is named") {
  ::unsetenv("SSL_CERT_FILE");
  TempDir plain("plain"), hashed("hashed");
  plain.touch("ca-certificates.crt");
  plain.touch("README.0x");
  hashed.touch("ca-certificates.crt");
  hashed.touch("5ad8a5d6.0");

  CHECK_FALSE(ew::kube::preferHashedSystemTrust(plain.path.string()));
  CHECK(std::getenv("SSL_CERT_FILE") == nullptr);
  CHECK_FALSE(ew::kube::preferHashedSystemTrust("/nonexistent/ew"));

  CHECK(ew::kube::preferHashedSystemTrust("/nonexistent/ew:" + hashed.path.string()));
  REQUIRE(std::getenv("SSL_CERT_FILE") != nullptr);
  CHECK(std::string(std::getenv("SSL_CERT_FILE")) == "/dev/null");

  plain.touch("my-ca.pem");
  const std::string mine = (plain.path / "my-ca.pem").string();
  ::setenv("SSL_CERT_FILE", mine.c_str(), 1);  // the user's: kept
  CHECK_FALSE(ew::kube::preferHashedSystemTrust(hashed.path.string()));
  CHECK(std::string(std::getenv("SSL_CERT_FILE")) == mine);

  if (fs::exists(X509_get_default_cert_file())) {  // the system's bundle, named by the shell: replaced
    ::setenv("SSL_CERT_FILE", X509_get_default_cert_file(), 1);
    CHECK(ew::kube::preferHashedSystemTrust(hashed.path.string()));
    CHECK(std::string(std::getenv("SSL_CERT_FILE")) == "/dev/null");
  }
  ::unsetenv("SSL_CERT_FILE");
}
