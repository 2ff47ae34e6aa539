#pragma once
// The watched objects of one resource type by "namespace/name" (or "name" for
// cluster-scoped ones). Thread-safe; readers get copies.

#include <nlohmann/json.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace ew::kube {

// "ns/name" or "name" from an object's metadata.
std::string objectKey(const nlohmann::json& object);

class Store {
 public:
  void upsert(const nlohmann::json& object);
  void erase(const std::string& key);
  // Replaces everything (after a relist); returns the keys that were present
  // before or after, so a caller can re-examine each.
  std::vector<std::string> replace(const std::vector<nlohmann::json>& objects);

  std::optional<nlohmann::json> get(const std::string& key) const;
  std::vector<nlohmann::json> list() const;
  std::vector<std::string> keys() const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, nlohmann::json> objects_;
};

}  // namespace ew::kube
