#pragma once
// The runtime config's reader, shared by config.cpp (the root, source, handler,
// subscriptions, cron) and config_modes.cpp (outbox relays, streams): a mapping
// with its path that refuses keys never read, and the enum spelling tables.
// Internal to core/config*.cpp; parse errors are thrown as ConfigError and
// turned into an Error by parseConfig.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "ew/duration.h"
#include "ew/host_port.h"

namespace ew::runtime::config_reader {

// Thrown inside the parser only; parseConfig turns it into an Error.
struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& path, const std::string& why) { throw ConfigError(path + ": " + why); }

inline std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

inline void checkHostPort(const std::string& path, const std::string& value) {
  if (auto hp = parseHostPort(value); !hp) fail(path, "must be host:port (" + hp.error().message + ")");
}

// The config's spelling of each enum, for parsing and for toString: one table each.
template <typename E>
struct EnumName {
  std::string_view name;
  E value;
};

template <typename E, size_t N>
const char* nameOf(const EnumName<E> (&table)[N], E value) {
  for (const auto& e : table)
    if (e.value == value) return e.name.data();  // the literals are NUL-terminated
  return "?";
}

// A mapping node with its path; rejects keys that are never read.
class Map {
 public:
  Map(const YAML::Node& node, std::string path, std::set<std::string> allowed) : node_(node), path_(std::move(path)) {
    if (!node_.IsMap()) fail(path_.empty() ? "config" : path_, "must be a mapping");
    for (const auto& kv : node_) {
      const std::string key = kv.first.as<std::string>();
      if (!allowed.count(key)) fail(join(path_, key), "unknown key");
    }
  }

  bool has(const std::string& key) const { return node_[key] && !node_[key].IsNull(); }
  YAML::Node node(const std::string& key) const { return node_[key]; }
  std::string path(const std::string& key) const { return join(path_, key); }

  std::string str(const std::string& key, const std::string& def, bool required = false) const {
    if (!has(key)) {
      if (required) fail(path(key), "required");
      return def;
    }
    const YAML::Node n = node_[key];
    if (!n.IsScalar()) fail(path(key), "must be a string");
    return n.Scalar();
  }

  int64_t integer(const std::string& key, int64_t def, int64_t min, int64_t max) const {
    if (!has(key)) return def;
    int64_t v = 0;
    try {
      v = node_[key].as<int64_t>();
    } catch (const YAML::Exception&) {
      fail(path(key), "must be an integer");
    }
    if (v < min) fail(path(key), "must be >= " + std::to_string(min));
    if (v > max) fail(path(key), "must be <= " + std::to_string(max));
    return v;
  }

  bool boolean(const std::string& key, bool def) const {
    if (!has(key)) return def;
    try {
      return node_[key].as<bool>();
    } catch (const YAML::Exception&) {
      fail(path(key), "must be true or false");
    }
  }

  Millis duration(const std::string& key, Millis def) const {
    if (!has(key)) return def;
    auto d = parseDuration(str(key, ""), path(key));
    if (!d) throw ConfigError(d.error().message);
    return *d;
  }

  std::string oneOf(const std::string& key, const std::string& def, const std::set<std::string>& values) const {
    std::string v = str(key, def, def.empty());
    if (!values.count(v)) {
      std::string list;
      for (const auto& s : values) list += (list.empty() ? "" : ", ") + s;
      fail(path(key), "\"" + v + "\" is not one of " + list);
    }
    return v;
  }

  // An enum spelled by TABLE's names (refused with the sorted list of them).
  template <typename E, size_t N>
  E enumOf(const std::string& key, std::string_view def, const EnumName<E> (&table)[N]) const {
    std::set<std::string> names;
    for (const auto& e : table) names.emplace(e.name);
    const std::string v = oneOf(key, std::string(def), names);
    for (const auto& e : table)
      if (e.name == v) return e.value;
    return table[0].value;  // not reached: oneOf refused v
  }

  // "host:port" (ew/host_port.h), refused with what is wrong.
  std::string hostPort(const std::string& key, const std::string& def) const {
    std::string v = str(key, def);
    checkHostPort(path(key), v);
    return v;
  }

  std::vector<std::string> strings(const std::string& key) const {
    std::vector<std::string> out;
    if (!has(key)) return out;
    const YAML::Node n = node_[key];
    if (!n.IsSequence()) fail(path(key), "must be a list of strings");
    for (size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) fail(path(key) + "[" + std::to_string(i) + "]", "must be a string");
      out.push_back(n[i].Scalar());
    }
    return out;
  }

 private:
  YAML::Node node_;
  std::string path_;
};

// Outbox relays and streams (config_modes.cpp).
OutboxConfig parseOutbox(const Map& m);
StreamConfig parseStream(const Map& m);
extern const EnumName<OutboxCompletion> kOutboxCompletions[2];
extern const EnumName<ResumeFallback> kResumeFallbacks[2];

}  // namespace ew::runtime::config_reader
