#pragma once
// Connection settings for a kube-apiserver, from a kubeconfig file or from the
// in-cluster service account. Holds secrets (keys, tokens): never log it.

#include <string>

#include "ew/result.h"

namespace ew::kube {

struct ClusterAccess {
  std::string server;         // https://host:port, no trailing slash
  std::string caPem;          // CA bundle that signs the server cert; empty = system roots
  std::string clientCertPem;  // client certificate (PEM), optional
  std::string clientKeyPem;   // its private key (PEM), optional
  std::string bearerToken;    // optional
  std::string tokenFile;      // re-read on each use when set (rotating SA tokens)
  std::string defaultNamespace = "default";
};

// Parses kubeconfig YAML text. Relative file paths in it resolve against
// baseDir. `context` empty = the file's current-context. Errors name the field.
Result<ClusterAccess> parseKubeconfig(const std::string& yamlText, const std::string& baseDir,
                                      const std::string& context = "");

// Reads and parses the kubeconfig file at path.
Result<ClusterAccess> loadKubeconfig(const std::string& path, const std::string& context = "");

// Decodes base64 (whitespace ignored), as kubeconfig "*-data" fields and
// Secret data hold it; the error names FIELD, never the content.
Result<std::string> base64Decode(const std::string& in, const std::string& field);

// In-cluster: KUBERNETES_SERVICE_HOST/PORT and the mounted service account.
// rootDir lets tests point at a fake mount ("" = "/").
Result<ClusterAccess> loadInCluster(const std::string& rootDir = "");

}  // namespace ew::kube
