#include "kube/store.h"

#include <set>

namespace ew::kube {

std::string objectKey(const nlohmann::json& object) {
  const auto& meta = object.at("metadata");
  const std::string name = meta.value("name", "");
  const std::string ns = meta.value("namespace", "");
  return ns.empty() ? name : ns + "/" + name;
}

void Store::upsert(const nlohmann::json& object) {
  std::lock_guard lock(mu_);
  objects_[objectKey(object)] = object;
}

void Store::erase(const std::string& key) {
  std::lock_guard lock(mu_);
  objects_.erase(key);
}

std::vector<std::string> Store::replace(const std::vector<nlohmann::json>& objects) {
  std::lock_guard lock(mu_);
  std::set<std::string> touched;
  for (const auto& [k, v] : objects_) touched.insert(k);
  objects_.clear();
  for (const auto& o : objects) {
    auto k = objectKey(o);
    touched.insert(k);
    objects_[k] = o;
  }
  return {touched.begin(), touched.end()};
}

std::optional<nlohmann::json> Store::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second;
}

std::vector<nlohmann::json> Store::list() const {
  std::lock_guard lock(mu_);
  std::vector<nlohmann::json> out;
  out.reserve(objects_.size());
  for (const auto& [k, v] : objects_) out.push_back(v);
  return out;
}

std::vector<std::string> Store::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : objects_) out.push_back(k);
  return out;
}

size_t Store::size() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

}  // namespace ew::kube
