#include "kube/fake_api.h"

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>

namespace ew::kube {

namespace {

Error notFound(const ResourceType& type, const std::string& name) {
  return Error{"NotFound: " + type.resource + " \"" + name + "\" not found", 404};
}

bool builtIn(const ResourceType& type) {
  const std::string& g = type.group;
  return g.empty() || g == "apps" || (g.size() > 7 && g.compare(g.size() - 7, 7, ".k8s.io") == 0);
}

// Fields the server owns whatever a client sends.
bool identity(const std::string& path) {
  return path == "/apiVersion" || path == "/kind" || path == "/metadata/name" || path == "/metadata/namespace" ||
         path == "/status";
}

// Removes from TARGET what OLD set and NEU no longer sets (server-side apply
// for one manager: fields it stops applying are removed).
void removeDropped(Json& target, const Json& old, const Json& neu, const std::string& path) {
  if (!old.is_object() || !target.is_object()) return;
  for (const auto& [k, v] : old.items()) {
    const std::string p = path + "/" + k;
    if (identity(p) || !target.contains(k)) continue;
    if (!neu.is_object() || !neu.contains(k)) {
      target.erase(k);
    } else if (v.is_object() && neu[k].is_object()) {
      removeDropped(target[k], v, neu[k], p);
    }
  }
}

void mergeInto(Json& target, const Json& src) {
  if (!src.is_object() || !target.is_object()) {
    target = src;
    return;
  }
  for (const auto& [k, v] : src.items()) {
    if (v.is_object() && target.contains(k) && target[k].is_object())
      mergeInto(target[k], v);
    else
      target[k] = v;
  }
}

std::vector<std::string> finalizers(const Json& o) {
  std::vector<std::string> out;
  for (const auto& f : o["metadata"].value("finalizers", Json::array())) out.push_back(f.get<std::string>());
  return out;
}

bool deleting(const Json& o) { return o["metadata"].contains("deletionTimestamp"); }

}  // namespace

bool labelsMatch(const Json& labels, const std::string& selector) {
  std::stringstream in(selector);
  std::string term;
  while (std::getline(in, term, ',')) {
    if (term.empty()) continue;
    const auto has = [&](const std::string& k) { return labels.is_object() && labels.contains(k); };
    const auto value = [&](const std::string& k) { return has(k) ? labels[k].get<std::string>() : std::string(); };
    if (auto ne = term.find("!="); ne != std::string::npos) {
      const std::string k = term.substr(0, ne), v = term.substr(ne + 2);
      if (has(k) && value(k) == v) return false;
    } else if (auto eq = term.find('='); eq != std::string::npos) {
      const std::string k = term.substr(0, eq);
      const std::string v = term.substr(term.compare(eq, 2, "==") == 0 ? eq + 2 : eq + 1);
      if (!has(k) || value(k) != v) return false;
    } else if (term[0] == '!') {
      if (has(term.substr(1))) return false;
    } else if (!has(term)) {
      return false;
    }
  }
  return true;
}

FakeApi::Key FakeApi::keyOf(const ResourceType& type, const std::string& ns, const std::string& name) {
  return type.resource + "/" + (type.namespaced ? ns : "") + "/" + name;
}

std::optional<Error> FakeApi::injected(const std::string& op, const ResourceType& type) {
  ++requests_;
  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if (it->op != op || (!it->resource.empty() && it->resource != type.resource)) continue;
    Error e{it->message, it->code};
    if (--it->times <= 0) failures_.erase(it);
    return e;
  }
  return std::nullopt;
}

void FakeApi::failNext(const std::string& op, const std::string& resource, int code, const std::string& message,
                       int times) {
  std::lock_guard l(mu_);
  failures_.push_back({op, resource, code, message, times});
}

void FakeApi::bump(Json& live) { live["metadata"]["resourceVersion"] = std::to_string(++resourceVersion_); }

Json FakeApi::stored(const ResourceType& type, const std::string& ns, Json object) {
  object["apiVersion"] = type.apiVersion();
  object["kind"] = type.kind;
  object.erase("status");
  auto& m = object["metadata"];
  if (type.namespaced) m["namespace"] = ns;
  m["uid"] = "fake-uid-" + std::to_string(++uids_);
  m["creationTimestamp"] = "2026-01-01T00:00:00Z";
  if (object.contains("spec")) m["generation"] = 1;
  bump(object);
  return object;
}

Result<Json> FakeApi::get(const ResourceType& type, const std::string& ns, const std::string& name) {
  std::lock_guard l(mu_);
  if (auto e = injected("get", type)) return *e;
  auto it = objects_.find(keyOf(type, ns, name));
  if (it == objects_.end()) return notFound(type, name);
  return it->second.live;
}

Result<Json> FakeApi::list(const ResourceType& type, const std::string& ns, const ListOptions& options) {
  std::lock_guard l(mu_);
  if (auto e = injected("list", type)) return *e;
  if (!options.fieldSelector.empty()) return Error{"BadRequest: the fake does not support field selectors", 400};
  Json items = Json::array();
  const std::string prefix = type.resource + "/" + (type.namespaced ? ns : "") + (ns.empty() ? "" : "/");
  for (const auto& [key, o] : objects_) {
    if (key.compare(0, type.resource.size() + 1, type.resource + "/") != 0) continue;
    if (!ns.empty() && key.compare(0, prefix.size(), prefix) != 0) continue;
    if (!labelsMatch(o.live["metadata"].value("labels", Json::object()), options.labelSelector)) continue;
    Json item = o.live;
    if (builtIn(type)) {  // as the server lists them: built-in types' items carry no kind
      item.erase("apiVersion");
      item.erase("kind");
    }
    items.push_back(std::move(item));
  }
  return Json{{"apiVersion", type.apiVersion()},
              {"kind", type.kind + "List"},
              {"metadata", {{"resourceVersion", std::to_string(resourceVersion_)}}},
              {"items", items}};
}

Result<Json> FakeApi::listAll(const ResourceType& type, const std::string& ns, ListOptions options) {
  options.limit = 0;
  return list(type, ns, options);
}

Result<Json> FakeApi::create(const ResourceType& type, const std::string& ns, const Json& object) {
  std::lock_guard l(mu_);
  if (auto e = injected("create", type)) return *e;
  const std::string name = object["metadata"].value("name", "");
  if (name.empty()) return Error{"Invalid: metadata.name: Required value", 422};
  const Key key = keyOf(type, ns, name);
  if (objects_.count(key)) return Error{"AlreadyExists: " + type.resource + " \"" + name + "\" already exists", 409};
  ++writes_;
  Object o;
  o.live = stored(type, ns, object);
  objects_[key] = o;
  emitLocked(key, "ADDED", o.live);
  return o.live;
}

Result<Json> FakeApi::replace(const ResourceType& type, const std::string& ns, const std::string& name,
                              const Json& object) {
  std::lock_guard l(mu_);
  if (auto e = injected("replace", type)) return *e;
  const Key key = keyOf(type, ns, name);
  auto it = objects_.find(key);
  if (it == objects_.end()) return notFound(type, name);
  Json& live = it->second.live;
  const std::string rv = object.value("metadata", Json::object()).value("resourceVersion", "");
  if (!rv.empty() && rv != live["metadata"].value("resourceVersion", ""))
    return Error{"Conflict: Operation cannot be fulfilled on " + type.resource + " \"" + name +
                     "\": the object has been modified; please apply your changes to the latest version and try again",
                 409};
  ++writes_;
  Json next = object;
  next["apiVersion"] = type.apiVersion();
  next["kind"] = type.kind;
  if (live.contains("status"))
    next["status"] = live["status"];
  else
    next.erase("status");
  for (const char* k : {"uid", "creationTimestamp", "generation", "deletionTimestamp", "namespace"})
    if (live["metadata"].contains(k)) next["metadata"][k] = live["metadata"][k];
  if (live.contains("spec") && next.value("spec", Json()) != live["spec"])
    next["metadata"]["generation"] = live["metadata"].value("generation", 0) + 1;
  next["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"];
  if (next != live) {
    bump(next);
    emitLocked(key, "MODIFIED", next);
  }
  live = next;
  Json out = live;
  finishDeletionLocked(key);
  return out;
}

Result<Json> FakeApi::apply(const ResourceType& type, const std::string& ns, const std::string& name,
                            const Json& object, bool status) {
  std::lock_guard l(mu_);
  if (auto e = injected(status ? "apply-status" : "apply", type)) return *e;
  const Key key = keyOf(type, ns, name);
  auto it = objects_.find(key);
  ++writes_;
  if (it == objects_.end()) {
    if (status) return notFound(type, name);
    Object o;
    o.live = stored(type, ns, object);
    o.applied = object;
    o.applied.erase("status");
    objects_[key] = o;
    emitLocked(key, "ADDED", o.live);
    return o.live;
  }
  Object& o = it->second;
  Json next = o.live;
  if (status) {
    Json neu = object.value("status", Json::object());
    if (!next.contains("status")) next["status"] = Json::object();
    removeDropped(next["status"], o.appliedStatus, neu, "/status-subtree");
    mergeInto(next["status"], neu);
    o.appliedStatus = neu;
  } else {
    Json neu = object;
    neu.erase("status");
    removeDropped(next, o.applied, neu, "");
    mergeInto(next, neu);
    next["apiVersion"] = type.apiVersion();
    next["kind"] = type.kind;
    if (o.live.contains("spec") && next.value("spec", Json()) != o.live["spec"])
      next["metadata"]["generation"] = o.live["metadata"].value("generation", 0) + 1;
    o.applied = neu;
  }
  if (next != o.live) {  // a no-op apply writes nothing (same resourceVersion)
    bump(next);
    o.live = next;
    emitLocked(key, "MODIFIED", o.live);
  }
  Json out = o.live;
  finishDeletionLocked(key);
  return out;
}

Status FakeApi::remove(const ResourceType& type, const std::string& ns, const std::string& name,
                       const std::string& propagation) {
  std::lock_guard l(mu_);
  if (auto e = injected("delete", type)) return *e;
  const Key key = keyOf(type, ns, name);
  auto it = objects_.find(key);
  if (it == objects_.end()) return Status::success();
  ++writes_;
  Json& live = it->second.live;
  if (propagation == "Orphan") {
    const std::string uid = live["metadata"].value("uid", "");
    for (auto& [k, o] : objects_) {
      auto& refs = o.live["metadata"];
      if (!refs.contains("ownerReferences")) continue;
      Json kept = Json::array();
      for (const auto& r : refs["ownerReferences"])
        if (r.value("uid", "") != uid) kept.push_back(r);
      if (kept.size() != refs["ownerReferences"].size()) {
        if (kept.empty())
          refs.erase("ownerReferences");
        else
          refs["ownerReferences"] = kept;
        bump(o.live);
        emitLocked(k, "MODIFIED", o.live);
      }
    }
  }
  const bool foreground = propagation == "Foreground";
  if (finalizers(live).empty() && !foreground) {
    eraseLocked(key);
    return Status::success();
  }
  if (!deleting(live)) live["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:01Z";
  if (foreground) {
    auto f = finalizers(live);
    if (std::find(f.begin(), f.end(), "foregroundDeletion") == f.end())
      live["metadata"]["finalizers"].push_back("foregroundDeletion");
  }
  bump(live);
  emitLocked(key, "MODIFIED", live);
  return Status::success();
}

void FakeApi::eraseLocked(const Key& key) {
  auto it = objects_.find(key);
  if (it == objects_.end()) return;
  Json last = it->second.live;
  objects_.erase(it);
  bump(last);
  emitLocked(key, "DELETED", last);
}

void FakeApi::finishDeletionLocked(const Key& key) {
  auto it = objects_.find(key);
  if (it == objects_.end()) return;
  if (deleting(it->second.live) && finalizers(it->second.live).empty()) eraseLocked(key);
}

void FakeApi::emitLocked(const Key& key, const char* type, const Json& live) {
  const auto slash = key.find('/');
  const std::string resource = key.substr(0, slash);
  const std::string ns = live["metadata"].value("namespace", "");
  events_.push_back({std::stoull(live["metadata"].value("resourceVersion", "0")), resource, ns, type, live});
  changed_.notify_all();
}

void FakeApi::compact() {
  std::lock_guard l(mu_);
  compactedThrough_ = resourceVersion_;
  events_.clear();
}

Result<Response> FakeApi::watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                                const std::function<bool(std::string_view)>& onBytes, const StreamCancel& cancel,
                                std::chrono::milliseconds) {
  std::unique_lock l(mu_);
  if (auto e = injected("watch", type))
    return Response{e->code, Json{{"kind", "Status"}, {"code", e->code}, {"message", e->message}}.dump()};
  const auto send = [&](const std::string& evType, const Json& object) {
    const std::string line = Json{{"type", evType}, {"object", object}}.dump() + "\n";
    l.unlock();
    const bool more = onBytes(line);
    l.lock();
    return more;
  };
  const auto selected = [&](const std::string& resource, const std::string& objNs, const Json& object) {
    return resource == type.resource && (ns.empty() || objNs == ns) &&
           labelsMatch(object["metadata"].value("labels", Json::object()), options.labelSelector);
  };
  uint64_t rv = 0;
  if (options.resourceVersion.empty()) {
    std::vector<Json> now;
    for (const auto& [key, o] : objects_)
      if (selected(key.substr(0, key.find('/')), o.live["metadata"].value("namespace", ""), o.live))
        now.push_back(o.live);
    rv = resourceVersion_;
    for (const auto& o : now)
      if (!send("ADDED", o)) return Response{200, ""};
  } else {
    rv = std::stoull(options.resourceVersion);
    if (rv < compactedThrough_) {
      send("ERROR", {{"kind", "Status"},
                     {"code", 410},
                     {"reason", "Expired"},
                     {"message", "too old resource version: " + options.resourceVersion}});
      return Response{200, ""};
    }
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeoutSeconds);
  while (!cancel.cancelled() && std::chrono::steady_clock::now() < end) {
    std::vector<Event> due;
    for (const auto& e : events_)
      if (e.rv > rv && selected(e.resource, e.ns, e.object)) due.push_back(e);
    for (const auto& e : events_) rv = std::max(rv, e.rv);
    for (const auto& e : due)
      if (!send(e.type, e.object)) return Response{200, ""};
    changed_.wait_for(l, std::chrono::milliseconds(20));
  }
  return Response{200, ""};
}

void FakeApi::collectGarbage() {
  std::lock_guard l(mu_);
  for (bool changed = true; changed;) {
    std::set<std::string> dependentsOf;  // uids that still own something
    changed = collectOrphansLocked(ownersLocked(), dependentsOf);
    changed = releaseForegroundOwnersLocked(dependentsOf) || changed;
    changed = eraseFinishedLocked() || changed;
  }
}

std::map<std::string, bool> FakeApi::ownersLocked() const {
  std::map<std::string, bool> owners;
  for (const auto& [k, o] : objects_) {
    const auto f = finalizers(o.live);
    owners[o.live["metadata"].value("uid", "")] =
        deleting(o.live) && std::find(f.begin(), f.end(), "foregroundDeletion") != f.end();
  }
  return owners;
}

bool FakeApi::collectOrphansLocked(const std::map<std::string, bool>& owners, std::set<std::string>& dependentsOf) {
  bool changed = false;
  for (auto it = objects_.begin(); it != objects_.end();) {
    const Json refs = it->second.live["metadata"].value("ownerReferences", Json::array());
    bool orphaned = !refs.empty();
    for (const auto& r : refs) {
      auto owner = owners.find(r.value("uid", ""));
      if (owner != owners.end() && !owner->second) orphaned = false;
    }
    if (!orphaned) {
      for (const auto& r : refs) dependentsOf.insert(r.value("uid", ""));
      ++it;
      continue;
    }
    // Deleted as the collector deletes (background); finalizers hold it.
    if (finalizers(it->second.live).empty()) {
      const Key key = (it++)->first;
      eraseLocked(key);
      changed = true;
      continue;
    }
    if (!deleting(it->second.live)) {
      it->second.live["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:01Z";
      bump(it->second.live);
      emitLocked(it->first, "MODIFIED", it->second.live);
      changed = true;
    }
    for (const auto& r : refs) dependentsOf.insert(r.value("uid", ""));
    ++it;
  }
  return changed;
}

bool FakeApi::releaseForegroundOwnersLocked(const std::set<std::string>& dependentsOf) {
  bool changed = false;
  for (auto& [k, o] : objects_) {
    const auto f = finalizers(o.live);
    if (!deleting(o.live) || std::find(f.begin(), f.end(), "foregroundDeletion") == f.end()) continue;
    if (dependentsOf.count(o.live["metadata"].value("uid", ""))) continue;
    Json kept = Json::array();
    for (const auto& name : f)
      if (name != "foregroundDeletion") kept.push_back(name);
    if (kept.empty())
      o.live["metadata"].erase("finalizers");
    else
      o.live["metadata"]["finalizers"] = kept;
    bump(o.live);
    emitLocked(k, "MODIFIED", o.live);
    changed = true;
  }
  return changed;
}

bool FakeApi::eraseFinishedLocked() {
  bool changed = false;
  for (auto it = objects_.begin(); it != objects_.end();) {
    if (deleting(it->second.live) && finalizers(it->second.live).empty()) {
      const Key key = (it++)->first;
      eraseLocked(key);
      changed = true;
    } else {
      ++it;
    }
  }
  return changed;
}

Result<Json> FakeApi::setStatus(const ResourceType& type, const std::string& ns, const std::string& name,
                                const Json& status) {
  std::lock_guard l(mu_);
  auto it = objects_.find(keyOf(type, ns, name));
  if (it == objects_.end()) return notFound(type, name);
  it->second.live["status"] = status;
  bump(it->second.live);
  emitLocked(it->first, "MODIFIED", it->second.live);
  return it->second.live;
}

std::vector<Json> FakeApi::objects(const ResourceType& type) const {
  std::lock_guard l(mu_);
  std::vector<Json> out;
  for (const auto& [key, o] : objects_)
    if (key.compare(0, type.resource.size() + 1, type.resource + "/") == 0) out.push_back(o.live);
  return out;
}

void FakeApi::sync(const ResourceType& type, Store& store) const { store.replace(objects(type)); }

int FakeApi::writes() const {
  std::lock_guard l(mu_);
  return writes_;
}

int FakeApi::requests() const {
  std::lock_guard l(mu_);
  return requests_;
}

}  // namespace ew::kube
