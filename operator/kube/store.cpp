#include "kube/store.h"

#include <set>

namespace ew::kube {

std::string objectKey(const nlohmann::json& object) {
  const auto& meta = object.at("metadata");
  const std::string name = meta.value("name", "");
  const std::string ns = meta.value("namespace", "");
  return ns.empty() ? name : ns + "/" + name;
}

namespace {

// What no reader of the store uses and what costs the most memory: server-side
// apply's managedFields and kubectl's last-applied annotation (often larger
// than the object itself). Like client-go's TransformStripManagedFields.
nlohmann::json stripped(nlohmann::json object) {
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    m->erase("managedFields");
    if (auto a = m->find("annotations"); a != m->end() && a->is_object()) {
      a->erase("kubectl.kubernetes.io/last-applied-configuration");
      if (a->empty()) m->erase("annotations");
    }
  }
  return object;
}

}  // namespace

std::string Store::indexKey(const nlohmann::json& object) const {
  if (indexLabel_.empty()) return "";
  const auto& meta = object["metadata"];
  auto labels = meta.find("labels");
  if (labels == meta.end() || !labels->is_object()) return "";
  auto value = labels->find(indexLabel_);
  if (value == labels->end() || !value->is_string()) return "";
  return meta.value("namespace", "") + "/" + value->get<std::string>();
}

void Store::eraseLocked(const std::string& key) {
  auto it = objects_.find(key);
  if (it == objects_.end()) return;
  if (!it->second.indexKey.empty()) {
    auto entry = index_.find(it->second.indexKey);
    if (entry != index_.end()) {
      entry->second.erase(key);
      if (entry->second.empty()) index_.erase(entry);
    }
  }
  objects_.erase(it);
}

void Store::putLocked(const std::string& key, const nlohmann::json& object) {
  eraseLocked(key);  // its label may have changed
  Entry entry{object.dump(), indexKey(object)};
  entry.json.shrink_to_fit();
  if (!entry.indexKey.empty()) index_[entry.indexKey].insert(key);
  objects_[key] = std::move(entry);
}

void Store::upsert(const nlohmann::json& object) {
  const nlohmann::json slim = stripped(object);
  const std::string key = objectKey(slim);
  std::lock_guard lock(mu_);
  putLocked(key, slim);
}

void Store::erase(const std::string& key) {
  std::lock_guard lock(mu_);
  eraseLocked(key);
}

std::vector<nlohmann::json> Store::byIndex(const std::string& ns, const std::string& value) const {
  std::lock_guard lock(mu_);
  std::vector<nlohmann::json> out;
  auto entry = index_.find(ns + "/" + value);
  if (entry == index_.end()) return out;
  for (const auto& key : entry->second) out.push_back(nlohmann::json::parse(objects_.at(key).json));
  return out;
}

std::vector<std::string> Store::replace(const std::vector<nlohmann::json>& objects) {
  std::lock_guard lock(mu_);
  std::set<std::string> touched;
  for (const auto& [k, v] : objects_) touched.insert(k);
  objects_.clear();
  index_.clear();
  for (const auto& o : objects) {
    auto k = objectKey(o);
    touched.insert(k);
    putLocked(k, stripped(o));
  }
  return {touched.begin(), touched.end()};
}

std::optional<nlohmann::json> Store::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return nlohmann::json::parse(it->second.json);
}

std::vector<nlohmann::json> Store::list() const {
  std::lock_guard lock(mu_);
  std::vector<nlohmann::json> out;
  out.reserve(objects_.size());
  for (const auto& [k, v] : objects_) out.push_back(nlohmann::json::parse(v.json));
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
