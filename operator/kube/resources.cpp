#include "kube/resources.h"

#include <cstdio>

namespace ew::kube {

namespace resources {
const ResourceType kNamespace{"", "v1", "namespaces", "Namespace", false};
const ResourceType kConfigMap{"", "v1", "configmaps", "ConfigMap", true};
const ResourceType kSecret{"", "v1", "secrets", "Secret", true};
const ResourceType kEvent{"", "v1", "events", "Event", true};
const ResourceType kDeployment{"apps", "v1", "deployments", "Deployment", true};
const ResourceType kStatefulSet{"apps", "v1", "statefulsets", "StatefulSet", true};
const ResourceType kReplicaSet{"apps", "v1", "replicasets", "ReplicaSet", true};
const ResourceType kPod{"", "v1", "pods", "Pod", true};
const ResourceType kService{"", "v1", "services", "Service", true};
const ResourceType kLease{"coordination.k8s.io", "v1", "leases", "Lease", true};
const ResourceType kEventWorker{"eventworker.dev", "v1alpha1", "eventworkers", "EventWorker", true};
const ResourceType kDaprSubscription{"dapr.io", "v2alpha1", "subscriptions", "Subscription", true};
const ResourceType kCustomResourceDefinition{"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                             "CustomResourceDefinition", false};
}  // namespace resources

std::string urlEncode(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string resourcePath(const ResourceType& type, const std::string& ns, const std::string& name,
                         const std::string& subresource) {
  std::string p = type.group.empty() ? "/api/" + type.version : "/apis/" + type.group + "/" + type.version;
  if (type.namespaced && !ns.empty()) p += "/namespaces/" + ns;
  p += "/" + type.resource;
  if (!name.empty()) p += "/" + name;
  if (!name.empty() && !subresource.empty()) p += "/" + subresource;
  return p;
}

namespace {
void param(std::string& q, const char* key, const std::string& value) {
  if (value.empty()) return;
  q += q.empty() ? "?" : "&";
  q += key;
  q += "=" + urlEncode(value);
}
}  // namespace

std::string listQuery(const ListOptions& o) {
  std::string q;
  param(q, "labelSelector", o.labelSelector);
  param(q, "fieldSelector", o.fieldSelector);
  param(q, "resourceVersion", o.resourceVersion);
  param(q, "continue", o.continueToken);
  if (o.limit > 0) param(q, "limit", std::to_string(o.limit));
  return q;
}

std::string watchQuery(const WatchOptions& o) {
  std::string q = "?watch=1";
  param(q, "labelSelector", o.labelSelector);
  param(q, "resourceVersion", o.resourceVersion);
  if (o.allowBookmarks) q += "&allowWatchBookmarks=true";
  if (o.timeoutSeconds > 0) q += "&timeoutSeconds=" + std::to_string(o.timeoutSeconds);
  return q;
}

}  // namespace ew::kube
