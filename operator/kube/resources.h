#pragma once
// Resource types the operator talks to, and the pure builders of their API
// paths and list/watch queries (kube-core style: builds requests, sends none).

#include <string>

namespace ew::kube {

struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural, lower case
  std::string kind;
  bool namespaced = true;
  std::string apiVersion() const { return group.empty() ? version : group + "/" + version; }
};

namespace resources {
extern const ResourceType kNamespace;
extern const ResourceType kConfigMap;
extern const ResourceType kSecret;
extern const ResourceType kEvent;
extern const ResourceType kDeployment;
extern const ResourceType kStatefulSet;
extern const ResourceType kService;
extern const ResourceType kReplicaSet;
extern const ResourceType kPod;
extern const ResourceType kLease;
extern const ResourceType kEventWorker;
extern const ResourceType kDaprSubscription;
extern const ResourceType kCustomResourceDefinition;
}  // namespace resources

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  std::string resourceVersion;
  std::string continueToken;
  int limit = 0;
};

struct WatchOptions {
  std::string labelSelector;
  std::string resourceVersion;
  int timeoutSeconds = 300;
  bool allowBookmarks = true;
};

// /api/v1/namespaces/NS/configmaps/NAME/status; namespace "" = all namespaces
// (or a cluster-scoped type); name "" = the collection.
std::string resourcePath(const ResourceType& type, const std::string& ns, const std::string& name = "",
                         const std::string& subresource = "");

std::string listQuery(const ListOptions& options);    // "?a=b&..." or ""
std::string watchQuery(const WatchOptions& options);  // always has watch=1

// Percent-encodes a query value (RFC 3986 unreserved characters kept).
std::string urlEncode(const std::string& value);

}  // namespace ew::kube
