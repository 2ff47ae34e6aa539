#include "kube/kubeconfig.h"

#include <openssl/evp.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

namespace ew::kube {
namespace {

Result<std::string> readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{"cannot read " + path};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Inline "<key>-data" (base64) wins over "<key>" (a file path).
Result<std::string> dataOrFile(const YAML::Node& node, const std::string& key, const std::string& baseDir,
                               const std::string& field) {
  if (node[key + "-data"]) return base64Decode(node[key + "-data"].as<std::string>(), field + "-data");
  if (!node[key]) return std::string();
  std::filesystem::path p = node[key].as<std::string>();
  if (p.is_relative()) p = std::filesystem::path(baseDir) / p;
  auto content = readFile(p.string());
  if (!content) return Error{field + ": " + content.error().message};
  return content;
}

std::optional<YAML::Node> findNamed(const YAML::Node& list, const std::string& name, const std::string& inner) {
  if (!list || !list.IsSequence()) return std::nullopt;
  for (const auto& item : list)
    if (item["name"] && item["name"].as<std::string>() == name && item[inner].IsMap()) return item[inner];
  return std::nullopt;
}

}  // namespace

Result<std::string> base64Decode(const std::string& in, const std::string& field) {
  std::string clean;
  for (char c : in)
    if (!std::isspace(static_cast<unsigned char>(c))) clean.push_back(c);
  if (clean.size() % 4 != 0) return Error{field + ": not valid base64"};
  std::string out(clean.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()), static_cast<int>(clean.size()));
  if (n < 0) return Error{field + ": not valid base64"};
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  return out;
}

namespace {

// The context named CONTEXT, or the file's current-context when it is empty.
Result<YAML::Node> selectContext(const YAML::Node& root, const std::string& context) {
  std::string ctxName = context;
  if (ctxName.empty()) {
    if (!root["current-context"]) return Error{"kubeconfig: current-context is not set and no context was given"};
    ctxName = root["current-context"].as<std::string>();
  }
  auto ctx = findNamed(root["contexts"], ctxName, "context");
  if (!ctx) return Error{"kubeconfig: contexts: no context named \"" + ctxName + "\""};
  if (!(*ctx)["cluster"]) return Error{"kubeconfig: contexts[" + ctxName + "].context.cluster is required"};
  return *ctx;
}

// The server URL (https only) and the CA of the context's cluster.
Status readCluster(const YAML::Node& root, const YAML::Node& ctx, const std::string& baseDir, ClusterAccess& access) {
  const auto clusterName = ctx["cluster"].as<std::string>();
  auto found = findNamed(root["clusters"], clusterName, "cluster");
  if (!found) return Error{"kubeconfig: clusters: no cluster named \"" + clusterName + "\""};
  const YAML::Node cluster = *found;
  const std::string field = "kubeconfig: clusters[" + clusterName + "].cluster.";
  if (!cluster["server"]) return Error{field + "server is required"};
  access.server = cluster["server"].as<std::string>();
  while (!access.server.empty() && access.server.back() == '/') access.server.pop_back();
  if (access.server.rfind("https://", 0) != 0) return Error{field + "server must be an https:// URL (TLS is required)"};
  if (cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>())
    return Error{field +
                 "insecure-skip-tls-verify is not supported: "
                 "give certificate-authority or certificate-authority-data"};
  auto ca = dataOrFile(cluster, "certificate-authority", baseDir, field + "certificate-authority");
  if (!ca) return ca.error();
  access.caPem = *ca;
  return Status::success();
}

// The credentials of the context's user, when it names one: a client
// certificate and key, or a token (inline or a file); no plugins.
Status readUser(const YAML::Node& root, const YAML::Node& ctx, const std::string& baseDir, ClusterAccess& access) {
  if (!ctx["user"]) return Status::success();
  const auto userName = ctx["user"].as<std::string>();
  auto found = findNamed(root["users"], userName, "user");
  if (!found) return Error{"kubeconfig: users: no user named \"" + userName + "\""};
  const YAML::Node user = *found;
  const std::string uf = "kubeconfig: users[" + userName + "].user.";
  auto cert = dataOrFile(user, "client-certificate", baseDir, uf + "client-certificate");
  if (!cert) return cert.error();
  auto key = dataOrFile(user, "client-key", baseDir, uf + "client-key");
  if (!key) return key.error();
  if (cert->empty() != key->empty()) return Error{uf + "client-certificate and client-key must be given together"};
  access.clientCertPem = *cert;
  access.clientKeyPem = *key;
  if (user["token"]) access.bearerToken = user["token"].as<std::string>();
  if (user["tokenFile"]) access.tokenFile = user["tokenFile"].as<std::string>();
  if (user["exec"] || user["auth-provider"])
    return Error{uf + "exec and auth-provider plugins are not supported: use a client certificate or a token"};
  return Status::success();
}

}  // namespace

Result<ClusterAccess> parseKubeconfig(const std::string& yamlText, const std::string& baseDir,
                                      const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(yamlText);
  } catch (const YAML::Exception& e) {
    return Error{std::string("kubeconfig: not valid YAML: ") + e.what()};
  }
  try {
    auto ctx = selectContext(root, context);
    if (!ctx) return ctx.error();
    ClusterAccess access;
    if (auto s = readCluster(root, *ctx, baseDir, access); !s) return s.error();
    if ((*ctx)["namespace"]) access.defaultNamespace = (*ctx)["namespace"].as<std::string>();
    if (auto s = readUser(root, *ctx, baseDir, access); !s) return s.error();
    return access;
  } catch (const YAML::Exception& e) {
    return Error{std::string("kubeconfig: unexpected shape: ") + e.what()};
  }
}

Result<ClusterAccess> loadKubeconfig(const std::string& path, const std::string& context) {
  auto text = readFile(path);
  if (!text) return Error{"kubeconfig: " + text.error().message};
  return parseKubeconfig(*text, std::filesystem::path(path).parent_path().string(), context);
}

Result<ClusterAccess> loadInCluster(const std::string& rootDir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !port) return Error{"in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set"};
  const std::string sa = rootDir + "/var/run/secrets/kubernetes.io/serviceaccount/";
  ClusterAccess access;
  std::string h = host;
  if (h.find(':') != std::string::npos) h = "[" + h + "]";  // IPv6 literal
  access.server = "https://" + h + ":" + port;
  auto ca = readFile(sa + "ca.crt");
  if (!ca) return Error{"in-cluster: " + ca.error().message};
  access.caPem = *ca;
  access.tokenFile = sa + "token";
  if (auto ns = readFile(sa + "namespace")) access.defaultNamespace = *ns;
  return access;
}

}  // namespace ew::kube
