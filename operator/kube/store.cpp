#include "kube/store.h"

#include <zlib.h>

#include <charconv>
#include <optional>
#include <set>
#include <stdexcept>

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

// Deflate with an 8 KiB window and small hash tables, and a preset
// dictionary: the first object the store kept (at most kDictionaryBytes of its
// text). Objects of one resource type are mostly the same text (a worker's
// Deployment differs from the next one in names, uids and versions): with one
// of them as dictionary a Deployment's 4.2 KiB of JSON pack to about 0.5 KiB,
// where alone they packed to 1.4. The window holds the dictionary and the
// object, and the compressor's state stays near 40 KiB a thread instead of
// zlib's default 256.
constexpr int kWindowBits = 13;
constexpr int kMemLevel = 4;
constexpr size_t kDictionaryBytes = 6 << 10;

// One compressor and one decompressor per thread, reset between uses: a
// fresh zlib state per object cost more than the compression itself.
struct Deflater {
  z_stream z{};
  const bool ok = deflateInit2(&z, 1, Z_DEFLATED, kWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) == Z_OK;
  ~Deflater() {
    if (ok) deflateEnd(&z);
  }
};
struct Inflater {
  z_stream z{};
  const bool ok = inflateInit2(&z, kWindowBits) == Z_OK;
  ~Inflater() {
    if (ok) inflateEnd(&z);
  }
};

// TEXT deflated against DICTIONARY; empty when zlib fails (the caller keeps TEXT as is).
std::string pack(const std::string& text, const std::string& dictionary) {
  thread_local Deflater d;
  if (!d.ok || deflateReset(&d.z) != Z_OK) return {};
  if (deflateSetDictionary(&d.z, reinterpret_cast<const Bytef*>(dictionary.data()),
                           static_cast<uInt>(dictionary.size())) != Z_OK)
    return {};
  std::string out(deflateBound(&d.z, text.size()), '\0');
  d.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  d.z.avail_in = static_cast<uInt>(text.size());
  d.z.next_out = reinterpret_cast<Bytef*>(out.data());
  d.z.avail_out = static_cast<uInt>(out.size());
  const bool ok = deflate(&d.z, Z_FINISH) == Z_STREAM_END;
  out.resize(ok ? d.z.total_out : 0);
  out.shrink_to_fit();
  return out;
}

// The text of PACKED (SIZE bytes, deflated against DICTIONARY); throws when
// the data is corrupt (a bug).
std::string unpack(const std::string& packed, size_t size, const std::string& dictionary) {
  thread_local Inflater i;
  if (!i.ok || inflateReset(&i.z) != Z_OK) throw std::runtime_error("store: zlib inflate is unavailable");
  std::string out(size, '\0');
  i.z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  i.z.avail_in = static_cast<uInt>(packed.size());
  i.z.next_out = reinterpret_cast<Bytef*>(out.data());
  i.z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&i.z, Z_FINISH);
  if (rc == Z_NEED_DICT && inflateSetDictionary(&i.z, reinterpret_cast<const Bytef*>(dictionary.data()),
                                                static_cast<uInt>(dictionary.size())) == Z_OK)
    rc = inflate(&i.z, Z_FINISH);
  if (rc != Z_STREAM_END || i.z.total_out != size) throw std::runtime_error("store: a stored object does not inflate");
  return out;
}

// metadata.resourceVersion as the integer the API server issues; nullopt when
// absent or not a number.
std::optional<uint64_t> versionOf(const nlohmann::json& object) {
  const auto m = object.find("metadata");
  if (m == object.end() || !m->is_object()) return std::nullopt;
  const auto rv = m->find("resourceVersion");
  if (rv == m->end() || !rv->is_string()) return std::nullopt;
  const std::string& s = rv->get_ref<const std::string&>();
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Store::Entry Store::Entry::of(const std::string& text, const std::string& dictionary) {
  Entry e;
  e.size = text.size();
  e.data = pack(text, dictionary);
  e.packed = !e.data.empty();
  if (!e.packed) {
    e.data = text;
    e.data.shrink_to_fit();
  }
  return e;
}

nlohmann::json Store::Entry::parse(const std::string& dictionary) const {
  return nlohmann::json::parse(packed ? unpack(data, size, dictionary) : data);
}

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

void Store::putLocked(const std::string& key, Entry entry) {
  eraseLocked(key);  // its label may have changed
  if (!entry.indexKey.empty()) index_[entry.indexKey].insert(key);
  objects_[key] = std::move(entry);
}

std::shared_ptr<const std::string> Store::dictionaryFor(const std::string& text) {
  std::lock_guard lock(mu_);
  if (!dictionary_) dictionary_ = std::make_shared<const std::string>(text.substr(0, kDictionaryBytes));
  return dictionary_;
}

Store::Entry Store::entryOf(const nlohmann::json& object) {
  const std::string text = object.dump();
  Entry entry = Entry::of(text, *dictionaryFor(text));
  entry.indexKey = indexKey(object);
  entry.version = versionOf(object);
  if (fingerprint_) entry.fingerprint = fingerprint_(object);
  return entry;
}

nlohmann::json Store::kept(const nlohmann::json& object) const {
  return transform_ ? transform_(stripped(object)) : stripped(object);
}

void Store::upsert(const nlohmann::json& object) {
  const nlohmann::json slim = kept(object);
  const std::string key = objectKey(slim);
  Entry entry = entryOf(slim);  // compressed outside the lock
  std::lock_guard lock(mu_);
  putLocked(key, std::move(entry));
}

bool Store::upsertUnlessNewer(const nlohmann::json& object) {
  const nlohmann::json slim = kept(object);
  const std::string key = objectKey(slim);
  Entry entry = entryOf(slim);
  std::lock_guard lock(mu_);
  if (auto it = objects_.find(key);
      it != objects_.end() && entry.version && it->second.version && *it->second.version > *entry.version)
    return false;
  putLocked(key, std::move(entry));
  return true;
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
  for (const auto& key : entry->second) out.push_back(objects_.at(key).parse(*dictionary_));
  return out;
}

std::vector<std::string> Store::replace(const std::vector<nlohmann::json>& objects) {
  std::vector<std::pair<std::string, Entry>> entries;
  entries.reserve(objects.size());
  for (const auto& o : objects) {
    const nlohmann::json slim = kept(o);
    entries.emplace_back(objectKey(slim), entryOf(slim));
  }
  std::lock_guard lock(mu_);
  std::set<std::string> touched;
  for (const auto& [k, v] : objects_) touched.insert(k);
  objects_.clear();
  index_.clear();
  for (auto& [k, entry] : entries) {
    touched.insert(k);
    putLocked(k, std::move(entry));
  }
  return {touched.begin(), touched.end()};
}

std::optional<nlohmann::json> Store::get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second.parse(*dictionary_);
}

std::vector<nlohmann::json> Store::list() const {
  std::lock_guard lock(mu_);
  std::vector<nlohmann::json> out;
  out.reserve(objects_.size());
  for (const auto& [k, v] : objects_) out.push_back(v.parse(*dictionary_));
  return out;
}

std::vector<std::string> Store::keys() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : objects_) out.push_back(k);
  return out;
}

std::optional<size_t> Store::fingerprint(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second.fingerprint;
}

std::optional<std::string> Store::indexKeyOf(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return it->second.indexKey;
}

size_t Store::size() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

size_t Store::keptBytes() const {
  std::lock_guard lock(mu_);
  size_t bytes = dictionary_ ? dictionary_->size() : 0;
  for (const auto& [k, v] : objects_) bytes += v.data.size();
  return bytes;
}

}  // namespace ew::kube
