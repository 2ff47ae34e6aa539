#include "core/seen_ids.h"

namespace ew::runtime {

bool SeenIds::contains(const std::string& id, TimePoint now) {
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  if (now - it->second->at >= ttl_) {
    order_.erase(it->second);
    index_.erase(it);
    return false;
  }
  order_.splice(order_.begin(), order_, it->second);
  return true;
}

void SeenIds::remember(const std::string& id, TimePoint now) {
  auto it = index_.find(id);
  if (it != index_.end()) {
    it->second->at = now;
    order_.splice(order_.begin(), order_, it->second);
    return;
  }
  order_.push_front({id, now});
  index_[id] = order_.begin();
  while (index_.size() > capacity_) {
    index_.erase(order_.back().id);
    order_.pop_back();
  }
}

}  // namespace ew::runtime
