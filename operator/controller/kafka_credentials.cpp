#include "controller/kafka_credentials.h"

#include <sstream>

#include "kube/kubeconfig.h"

namespace ew::controller {
namespace {

using Json = nlohmann::json;

// Whether the comma-separated LIST names NS (or is "*").
bool allows(const std::string& list, const std::string& ns) {
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    const auto first = item.find_first_not_of(" \t");
    const auto last = item.find_last_not_of(" \t");
    if (first == std::string::npos) continue;
    const std::string name = item.substr(first, last - first + 1);
    if (name == "*" || name == ns) return true;
  }
  return false;
}

}  // namespace

Result<autoscale::KafkaCluster> kafkaCluster(const KafkaAccess& access, const std::optional<Json>& secret,
                                             const std::string& secretNamespace) {
  autoscale::KafkaCluster cluster{access.bootstrapServers, {}};
  if (access.protocol == "PLAINTEXT") return cluster;
  const std::string name = "Secret " + secretNamespace + "/" + access.secretName;
  if (access.secretName.empty())
    return Error{"the operator cannot read lag over " + access.protocol +
                 " without credentials: set spec.source.kafka.security.operatorSecretRef to a Secret in the "
                 "operator's namespace " +
                 secretNamespace + " (or spec.scaling.enabled: false)"};
  if (!secret)
    return Error{name + " (spec.source.kafka.security.operatorSecretRef): not found, or not labelled " +
                 kKafkaCredentialsLabel + "=true"};
  const Json annotations = secret->value("metadata", Json::object()).value("annotations", Json::object());
  const Json allowed = annotations.value(kKafkaNamespacesAnnotation, Json());
  if (!allowed.is_string() || !allows(allowed.get<std::string>(), access.workerNamespace))
    return Error{name + ": its annotation " + kKafkaNamespacesAnnotation + " does not list namespace " +
                 access.workerNamespace};
  const Json data = secret->value("data", Json::object());
  // KEY's decoded value; nullopt when absent.
  auto value = [&](const char* key) -> Result<std::optional<std::string>> {
    if (!data.is_object() || !data.contains(key) || !data[key].is_string()) return std::optional<std::string>();
    auto decoded = kube::base64Decode(data[key].get<std::string>(), name + ": key " + key);
    if (!decoded) return decoded.error();
    return std::optional<std::string>(std::move(*decoded));
  };
  auto required = [&](const char* key, const std::string& why) -> Result<std::string> {
    auto v = value(key);
    if (!v) return v.error();
    if (!*v || (*v)->empty()) return Error{name + ": no key " + key + " (" + why + ")"};
    return std::move(**v);
  };
  auto& props = cluster.properties;
  props["security.protocol"] = access.protocol;
  if (access.protocol.rfind("SASL_", 0) == 0) {
    const std::string why = access.protocol + " with " + access.saslMechanism + " needs username and password";
    auto user = required("username", why);
    if (!user) return user.error();
    auto pass = required("password", why);
    if (!pass) return pass.error();
    props["sasl.mechanisms"] = access.saslMechanism;
    props["sasl.username"] = std::move(*user);
    props["sasl.password"] = std::move(*pass);
  }
  if (access.protocol.find("SSL") != std::string::npos) {
    auto ca = value("ca.crt");
    if (!ca) return ca.error();
    if (*ca) props["ssl.ca.pem"] = std::move(**ca);
    if (access.clientCertificate) {
      const std::string why = "clientCertificate needs tls.crt and tls.key";
      auto cert = required("tls.crt", why);
      if (!cert) return cert.error();
      auto key = required("tls.key", why);
      if (!key) return key.error();
      props["ssl.certificate.pem"] = std::move(*cert);
      props["ssl.key.pem"] = std::move(*key);
    }
  }
  return cluster;
}

Result<autoscale::KafkaCluster> kafkaCluster(const KafkaAccess& access, const OperatorSecrets& secrets) {
  std::optional<Json> secret;
  if (access.protocol != "PLAINTEXT" && !access.secretName.empty() && secrets.lookup)
    secret = secrets.lookup(access.secretName);
  return kafkaCluster(access, secret, secrets.ns);
}

}  // namespace ew::controller
