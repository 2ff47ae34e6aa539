#pragma once
// The watched objects of one resource type by "namespace/name" (or "name" for
// cluster-scoped ones), without metadata.managedFields and kubectl's
// last-applied annotation (dropped on the way in to save memory), kept as
// deflated compact JSON text and parsed on read. Thread-safe; readers get copies.

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ew::kube {

// "ns/name" or "name" from an object's metadata.
std::string objectKey(const nlohmann::json& object);

class Store {
 public:
  // INDEX_LABEL, when set, indexes objects by (namespace, value of that
  // label) for byIndex(), so finding a few objects among thousands does not
  // copy them all.
  // TRANSFORM, when set, is what is kept of each object (after
  // managedFields are dropped): only what the readers use.
  // FINGERPRINT, when set, is computed of each object as kept when it is
  // stored, for fingerprint(): telling a change from an echo without
  // reading the object back.
  using Transform = std::function<nlohmann::json(const nlohmann::json&)>;
  using Fingerprint = std::function<size_t(const nlohmann::json&)>;
  explicit Store(std::string indexLabel = "", Transform transform = {}, Fingerprint fingerprint = {})
      : indexLabel_(std::move(indexLabel)), transform_(std::move(transform)), fingerprint_(std::move(fingerprint)) {}

  void upsert(const nlohmann::json& object);
  // upsert() unless the store already holds a newer version of the object
  // (a greater resourceVersion, compared as the integers the API server
  // issues): a writer's read-your-writes copy must not replace a watch event
  // that arrived after its write. Returns whether OBJECT was stored.
  bool upsertUnlessNewer(const nlohmann::json& object);
  void erase(const std::string& key);
  // Replaces everything (after a relist); returns the keys that were present
  // before or after, so a caller can re-examine each.
  std::vector<std::string> replace(const std::vector<nlohmann::json>& objects);

  std::optional<nlohmann::json> get(const std::string& key) const;
  std::vector<nlohmann::json> list() const;
  // Objects in NS whose index label equals VALUE. REQUIRES: an index label.
  std::vector<nlohmann::json> byIndex(const std::string& ns, const std::string& value) const;
  std::vector<std::string> keys() const;
  // The FINGERPRINT of the object at KEY, as it was stored; nullopt when
  // there is none. REQUIRES: a fingerprint function.
  std::optional<size_t> fingerprint(const std::string& key) const;
  // "namespace/value" of the index label of the object at KEY ("" when it has
  // none); nullopt when there is no object.
  std::optional<std::string> indexKeyOf(const std::string& key) const;
  size_t size() const;
  // The bytes the objects are kept in (their packed text and the dictionary).
  size_t keptBytes() const;

 private:
  // Objects are kept serialized (compact JSON, deflated against a preset
  // dictionary, the first object stored): a parsed nlohmann::json tree costs
  // several times its text, and thousands of Deployments add up. Deflating
  // the text alone took it to about 40%; against another object of its type,
  // to about 12% (a Deployment's 4.2 KiB to about 0.5), for some microseconds
  // per write and read.
  struct Entry {
    std::string data;  // deflated text, or the text itself when !packed
    size_t size = 0;   // of the text
    bool packed = false;
    std::string indexKey;             // "" when not indexed
    std::optional<uint64_t> version;  // metadata.resourceVersion (upsertUnlessNewer)
    size_t fingerprint = 0;           // fingerprint_ of the object (0 without one)
    static Entry of(const std::string& text, const std::string& dictionary);
    nlohmann::json parse(const std::string& dictionary) const;
  };
  std::string indexKey(const nlohmann::json& object) const;
  nlohmann::json kept(const nlohmann::json& object) const;  // stripped, then transformed
  // The dictionary of every entry: set from the first object's TEXT, then fixed.
  std::shared_ptr<const std::string> dictionaryFor(const std::string& text);
  Entry entryOf(const nlohmann::json& object);
  void putLocked(const std::string& key, Entry entry);
  void eraseLocked(const std::string& key);

  const std::string indexLabel_;
  const Transform transform_;
  const Fingerprint fingerprint_;
  mutable std::mutex mu_;
  std::shared_ptr<const std::string> dictionary_;  // null until the first object
  std::map<std::string, Entry> objects_;
  std::map<std::string, std::set<std::string>> index_;  // "ns/value" -> keys
};

}  // namespace ew::kube
