#pragma once
// An in-memory kube::Api for unit tests of the reconciler and its helpers:
// objects by resource, namespace and name, resourceVersions, generations,
// server-side apply for one field manager, finalizers, deletion (background,
// foreground) with a garbage collector the test runs, label-selected lists,
// and injected errors. tests/integration/kube_api_contract_test.cpp runs the
// same cases (tests/support/api_contract.h) against it and against the real
// kube-apiserver, so that it cannot drift from what the server does.
//
// What it does not do (each would need its own contract case first):
// admission and schema validation, defaulting, several field managers
// (an apply replaces what the previous apply of the same object set, as
// server-side apply does for one manager), field selectors, pages, bookmarks,
// and a watch's DELETED for an object that stops matching its selector.
// Thread-safe.

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "kube/api.h"
#include "kube/store.h"

namespace ew::kube {

class FakeApi : public Api {
 public:
  Result<Json> get(const ResourceType& type, const std::string& ns, const std::string& name) override;
  Result<Json> list(const ResourceType& type, const std::string& ns, const ListOptions& options = {}) override;
  Result<Json> listAll(const ResourceType& type, const std::string& ns, ListOptions options = {}) override;
  Result<Json> create(const ResourceType& type, const std::string& ns, const Json& object) override;
  Result<Json> replace(const ResourceType& type, const std::string& ns, const std::string& name,
                       const Json& object) override;
  Result<Json> apply(const ResourceType& type, const std::string& ns, const std::string& name, const Json& object,
                     bool status = false) override;
  Status remove(const ResourceType& type, const std::string& ns, const std::string& name,
                const std::string& propagation = "Background") override;
  // Watch events from options.resourceVersion (ADDED for every object first
  // when it is empty), until CANCEL or options.timeoutSeconds; a
  // resourceVersion older than compact() left is an ERROR event with 410.
  Result<Response> watch(const ResourceType& type, const std::string& ns, const WatchOptions& options,
                         const std::function<bool(std::string_view)>& onBytes, const StreamCancel& cancel,
                         std::chrono::milliseconds idleTimeout) override;
  // Forgets the watch events so far, as etcd's compaction does.
  void compact();

  // The next TIMES requests of OP ("get", "list", "create", "replace",
  // "apply", "apply-status", "delete") on RESOURCE (plural; "" = any) fail
  // with CODE and MESSAGE instead of being carried out.
  void failNext(const std::string& op, const std::string& resource, int code, const std::string& message,
                int times = 1);
  // What kube-controller-manager's garbage collector would do by now: objects
  // whose owner (by uid) is gone are deleted, and an owner deleted in the
  // foreground goes once its dependents are gone.
  void collectGarbage();
  // Sets what another controller or the kubelet reports, as a status write of
  // theirs would (no field ownership, resourceVersion bumped).
  Result<Json> setStatus(const ResourceType& type, const std::string& ns, const std::string& name, const Json& status);

  // Every object of TYPE, as a watch-fed Store would hold them (items with kind).
  std::vector<Json> objects(const ResourceType& type) const;
  // Fills STORE with objects(TYPE), as a relist would.
  void sync(const ResourceType& type, Store& store) const;
  // Write requests served (create, replace, apply, delete), and all requests.
  int writes() const;
  int requests() const;

 private:
  struct Object {
    Json live;
    Json applied;        // what the last apply set (the manager's fields)
    Json appliedStatus;  // what the last status apply set
  };
  using Key = std::string;  // "resource/ns/name"
  static Key keyOf(const ResourceType& type, const std::string& ns, const std::string& name);
  std::optional<Error> injected(const std::string& op, const ResourceType& type);
  Json stored(const ResourceType& type, const std::string& ns, Json object);
  void bump(Json& live);
  void eraseLocked(const Key& key);
  // Records a watch event of LIVE (of resource KEY's) and wakes watches.
  void emitLocked(const Key& key, const char* type, const Json& live);
  // Deletes KEY when it is being deleted and holds no finalizer.
  void finishDeletionLocked(const Key& key);
  // The steps of one collectGarbage() pass; each says whether it changed anything.
  // Owners by uid -> being deleted in the foreground.
  std::map<std::string, bool> ownersLocked() const;
  // Deletes (or marks deleting, when finalizers hold them) objects whose
  // owners are gone or going in the background; DEPENDENTSOF gets the uids
  // that still own something.
  bool collectOrphansLocked(const std::map<std::string, bool>& owners, std::set<std::string>& dependentsOf);
  // Drops foregroundDeletion from owners none of whose dependents are left.
  bool releaseForegroundOwnersLocked(const std::set<std::string>& dependentsOf);
  // Erases objects being deleted that hold no finalizer.
  bool eraseFinishedLocked();

  mutable std::mutex mu_;
  std::condition_variable changed_;
  struct Event {
    uint64_t rv;
    std::string resource, ns, type;
    Json object;
  };
  std::vector<Event> events_;
  uint64_t compactedThrough_ = 0;
  std::map<Key, Object> objects_;
  std::map<Key, std::string> kinds_;  // key -> apiVersion/kind for objects()
  struct Failure {
    std::string op, resource;
    int code;
    std::string message;
    int times;
  };
  std::vector<Failure> failures_;
  uint64_t resourceVersion_ = 1000;
  uint64_t uids_ = 0;
  int writes_ = 0, requests_ = 0;
};

// True when LABELS (an object's metadata.labels) match SELECTOR: comma-
// separated k=v, k==v, k!=v, k and !k (what label selectors the operator sends).
bool labelsMatch(const Json& labels, const std::string& selector);

}  // namespace ew::kube
