#pragma once
// Typed Kubernetes operations over KubeClient: JSON objects in and out, API
// failures as Error{code = HTTP status, message = "<reason>: <message>"}.
// Thread-safe when the KubeClient is.

#include <nlohmann/json.hpp>

#include <string>

#include "ew/result.h"
#include "kube/client.h"
#include "kube/resources.h"

namespace ew::kube {

using Json = nlohmann::json;

class KubeApi {
 public:
  explicit KubeApi(KubeClient& client, std::string fieldManager = "eventworker-operator")
      : client_(client), fieldManager_(std::move(fieldManager)) {}

  Result<Json> get(const ResourceType& type, const std::string& ns, const std::string& name);
  // One page of a list (the List object, with metadata.continue when more).
  Result<Json> list(const ResourceType& type, const std::string& ns, const ListOptions& options = {});
  // Every page, 500 at a time: {"items": [...], "metadata": {"resourceVersion": <of the first page>}}.
  Result<Json> listAll(const ResourceType& type, const std::string& ns, ListOptions options = {});
  Result<Json> create(const ResourceType& type, const std::string& ns, const Json& object);
  // Replaces (PUT) with optimistic concurrency: the object's
  // metadata.resourceVersion must match, else Error code 409.
  Result<Json> replace(const ResourceType& type, const std::string& ns, const std::string& name,
                       const Json& object);
  // Server-side apply (force) as this field manager; status=true applies to /status.
  Result<Json> apply(const ResourceType& type, const std::string& ns, const std::string& name,
                     const Json& object, bool status = false);
  // Deletes; a missing object is success. propagation: Background | Foreground | Orphan.
  Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                const std::string& propagation = "Background");

  KubeClient& client() { return client_; }
  const std::string& fieldManager() const { return fieldManager_; }

 private:
  Result<Json> call(Verb verb, const std::string& path, const std::string& body = "",
                    const std::string& contentType = "application/json");

  KubeClient& client_;
  std::string fieldManager_;
};

}  // namespace ew::kube
