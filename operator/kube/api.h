#pragma once
// Typed Kubernetes operations over KubeClient: JSON objects in and out, API
// failures as Error{code = HTTP status, message = "<reason>: <message>"}.
// Thread-safe when the KubeClient is.

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "ew/result.h"
#include "kube/client.h"
#include "kube/resources.h"

namespace ew::kube {

using Json = nlohmann::json;

// The requests the reconciler, the event recorder and leader election send:
// the seam between them and the API server. KubeApi sends them;
// kube/fake_api.h keeps objects in memory for unit tests (and
// tests/integration/kube_api_contract_test.cpp holds both to the same cases).
class Api {
 public:
  virtual ~Api() = default;

  virtual Result<Json> get(const ResourceType& type, const std::string& ns, const std::string& name) = 0;
  // One page of a list (the List object, with metadata.continue when more).
  virtual Result<Json> list(const ResourceType& type, const std::string& ns, const ListOptions& options = {}) = 0;
  // Every page, 500 at a time: {"items": [...], "metadata": {"resourceVersion": <of the first page>}}.
  virtual Result<Json> listAll(const ResourceType& type, const std::string& ns, ListOptions options = {}) = 0;
  virtual Result<Json> create(const ResourceType& type, const std::string& ns, const Json& object) = 0;
  // Replaces (PUT) with optimistic concurrency: the object's
  // metadata.resourceVersion must match, else Error code 409.
  virtual Result<Json> replace(const ResourceType& type, const std::string& ns, const std::string& name,
                               const Json& object) = 0;
  // Server-side apply (force) as this field manager; status=true applies to /status.
  virtual Result<Json> apply(const ResourceType& type, const std::string& ns, const std::string& name,
                             const Json& object, bool status = false) = 0;
  // Deletes; a missing object is success. propagation: Background | Foreground | Orphan.
  virtual Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                        const std::string& propagation = "Background") = 0;
  // A watch: the reply's body (watch events, one JSON object each) is handed
  // to ON_BYTES as it arrives, until the server ends it, ON_BYTES returns
  // false, or CANCEL. As KubeClient::stream: a non-2xx reply comes back whole.
  virtual Result<Response> watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                                 const std::function<bool(std::string_view)>& onBytes, const StreamCancel& cancel,
                                 std::chrono::milliseconds idleTimeout) = 0;
};

class KubeApi : public Api {
 public:
  explicit KubeApi(KubeClient& client, std::string fieldManager = "eventworker-operator")
      : client_(client), fieldManager_(std::move(fieldManager)) {}

  Result<Json> get(const ResourceType& type, const std::string& ns, const std::string& name) override;
  Result<Json> list(const ResourceType& type, const std::string& ns, const ListOptions& options = {}) override;
  Result<Json> listAll(const ResourceType& type, const std::string& ns, ListOptions options = {}) override;
  Result<Json> create(const ResourceType& type, const std::string& ns, const Json& object) override;
  Result<Json> replace(const ResourceType& type, const std::string& ns, const std::string& name,
                       const Json& object) override;
  Result<Json> apply(const ResourceType& type, const std::string& ns, const std::string& name, const Json& object,
                     bool status = false) override;
  Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                const std::string& propagation = "Background") override;
  Result<Response> watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                         const std::function<bool(std::string_view)>& onBytes, const StreamCancel& cancel,
                         std::chrono::milliseconds idleTimeout) override;

  KubeClient& client() { return client_; }
  const std::string& fieldManager() const { return fieldManager_; }

 private:
  Result<Json> call(Verb verb, const std::string& path, const std::string& body = "",
                    const std::string& contentType = "application/json");

  KubeClient& client_;
  std::string fieldManager_;
};

}  // namespace ew::kube
