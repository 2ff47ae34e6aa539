#include "kube/api.h"

namespace ew::kube {

Result<Json> KubeApi::call(Verb verb, const std::string& path, const std::string& body,
                           const std::string& contentType) {
  auto r = client_.send({verb, path, body, contentType});
  if (!r) return r.error();
  if (r->status / 100 != 2) return apiError(*r);
  Json j = Json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return Error{"kube-apiserver " + path + ": reply is not JSON", r->status};
  return j;
}

Result<Json> KubeApi::get(const ResourceType& type, const std::string& ns, const std::string& name) {
  return call(Verb::Get, resourcePath(type, ns, name));
}

Result<Json> KubeApi::list(const ResourceType& type, const std::string& ns, const ListOptions& options) {
  return call(Verb::Get, resourcePath(type, ns) + listQuery(options));
}

Result<Json> KubeApi::listAll(const ResourceType& type, const std::string& ns, ListOptions options) {
  if (options.limit <= 0) options.limit = 500;
  Json all = {{"items", Json::array()}, {"metadata", Json::object()}};
  bool first = true;
  do {
    auto page = list(type, ns, options);
    if (!page) return page.error();
    if (first) all["metadata"]["resourceVersion"] = (*page)["metadata"].value("resourceVersion", "");
    first = false;
    for (auto& item : (*page)["items"]) all["items"].push_back(std::move(item));
    options.continueToken = (*page)["metadata"].value("continue", "");
    options.resourceVersion.clear();  // a continue token carries its own snapshot
  } while (!options.continueToken.empty());
  return all;
}

Result<Json> KubeApi::create(const ResourceType& type, const std::string& ns, const Json& object) {
  return call(Verb::Post, resourcePath(type, ns), object.dump());
}

Result<Json> KubeApi::replace(const ResourceType& type, const std::string& ns, const std::string& name,
                              const Json& object) {
  return call(Verb::Put, resourcePath(type, ns, name), object.dump());
}

Result<Json> KubeApi::apply(const ResourceType& type, const std::string& ns, const std::string& name,
                            const Json& object, bool status) {
  const std::string path = resourcePath(type, ns, name, status ? "status" : "") +
                           "?fieldManager=" + urlEncode(fieldManager_) + "&force=true";
  return call(Verb::Patch, path, object.dump(), "application/apply-patch+yaml");
}

Status KubeApi::remove(const ResourceType& type, const std::string& ns, const std::string& name,
                       const std::string& propagation) {
  Json opts = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}, {"propagationPolicy", propagation}};
  auto r = call(Verb::Delete, resourcePath(type, ns, name), opts.dump());
  if (!r && r.error().code != 404) return r.error();
  return Status::success();
}

Result<Response> KubeApi::watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                                const std::function<bool(std::string_view)>& onBytes, const StreamCancel& cancel,
                                std::chrono::milliseconds idleTimeout) {
  return client_.stream({Verb::Get, resourcePath(type, ns) + watchQuery(options), ""}, onBytes, cancel, idleTimeout);
}

}  // namespace ew::kube
