#include "kube/watcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "kube/json_stream.h"

namespace ew::kube {

std::chrono::milliseconds jitteredBackoff(int attempt, std::chrono::milliseconds base, std::chrono::milliseconds cap,
                                          double random01) {
  int64_t d = base.count();
  for (int i = 0; i < attempt && d < cap.count(); ++i) d *= 2;
  d = std::min<int64_t>(d, cap.count());
  return std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(d) * (0.5 + random01 / 2)));
}

Watcher::Watcher(Api& api, ResourceType type, WatcherOptions options, Store& store, OnChange onChange,
                 std::function<double()> random01)
    : api_(api),
      type_(std::move(type)),
      options_(std::move(options)),
      store_(store),
      onChange_(std::move(onChange)),
      random01_(std::move(random01)) {}

WatcherStats Watcher::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void Watcher::stop() {
  stopped_ = true;
  cancel_.cancel();
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

void Watcher::backoff(int attempt) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, jitteredBackoff(attempt, options_.backoffBase, options_.backoffCap, random01_()),
               [this] { return stopped_.load(); });
}

bool Watcher::list(std::string& resourceVersion) {
  ListOptions lo;
  lo.labelSelector = options_.labelSelector;
  auto all = api_.listAll(type_, options_.ns, lo);
  if (!all) {
    spdlog::warn("list {}: {}", type_.resource, all.error().message);
    return false;
  }
  std::vector<Json> items;
  for (auto& item : (*all)["items"]) {
    // List items carry no kind; watch events do. Make the store uniform.
    item["apiVersion"] = type_.apiVersion();
    item["kind"] = type_.kind;
    items.push_back(std::move(item));
  }
  resourceVersion = (*all)["metadata"].value("resourceVersion", "");
  auto keys = store_.replace(items);
  {
    std::lock_guard lock(mu_);
    ++stats_.lists;
  }
  synced_ = true;
  for (const auto& k : keys) onChange_(k);
  return true;
}

bool Watcher::watchOnce(std::string& resourceVersion, bool& failed) {
  WatchOptions wo;
  wo.labelSelector = options_.labelSelector;
  wo.resourceVersion = resourceVersion;
  wo.timeoutSeconds = options_.timeoutSeconds;
  JsonStreamSplitter splitter;
  bool gone = false, errorEvent = false;
  auto onBytes = [&](std::string_view bytes) {
    if (!splitter.feed(bytes)) return false;
    std::string text;
    while (splitter.next(text)) {
      Json ev = Json::parse(text, nullptr, false);
      if (ev.is_discarded() || !ev.contains("object")) return false;
      const std::string type = ev.value("type", "");
      const Json& obj = ev["object"];
      if (type == "ERROR") {
        gone = obj.value("code", 0) == 410;
        errorEvent = !gone;
        return false;
      }
      resourceVersion = obj["metadata"].value("resourceVersion", resourceVersion);
      if (type == "BOOKMARK") continue;
      const std::string key = objectKey(obj);
      if (type == "DELETED")
        store_.erase(key);
      else
        store_.upsert(obj);
      {
        std::lock_guard lock(mu_);
        ++stats_.events;
      }
      onChange_(key);
    }
    return true;
  };
  auto r = api_.watch(type_, options_.ns, wo, onBytes, cancel_, std::chrono::seconds(options_.timeoutSeconds + 30));
  if (!r.ok())
    spdlog::warn("watch {}: {}", type_.resource, r.error().message);
  else if (r->status / 100 != 2 && r->status != 410 && r->status != 499)
    spdlog::warn("watch {}: {}", type_.resource, apiError(*r).message);
  failed = !r.ok() || splitter.failed() || errorEvent || (r->status / 100 != 2 && r->status != 410 && r->status != 499);
  return gone || (r.ok() && r->status == 410);
}

void Watcher::run() {
  std::string rv = options_.resumeFrom;
  bool needList = rv.empty();
  bool firstWatch = true;
  int attempt = 0;
  while (!stopped_) {
    if (needList) {
      if (!list(rv)) {
        {
          std::lock_guard lock(mu_);
          ++stats_.failures;
        }
        backoff(attempt++);
        continue;
      }
      needList = false;
    }
    if (!firstWatch) {
      std::lock_guard lock(mu_);
      ++stats_.watchRestarts;
    }
    firstWatch = false;
    bool failed = false;
    if (watchOnce(rv, failed)) {
      std::lock_guard lock(mu_);
      ++stats_.goneRelists;
      needList = true;
      continue;
    }
    if (stopped_) break;
    if (failed) {
      {
        std::lock_guard lock(mu_);
        ++stats_.failures;
      }
      backoff(attempt++);
    } else {
      attempt = 0;  // a clean server-side timeout: resume at once
    }
  }
}

}  // namespace ew::kube
