#pragma once
// Ordering lanes for dispatch: items in one lane run one at a time in
// admission order; different lanes run in parallel. A lane is a key
// (ordering: key, lane "topic/partition/key"), a partition (ordering:
// partition) or nothing (ordering: none, std::nullopt: always runnable).
// Counts every admitted, unfinished item against a budget so the caller can
// apply backpressure (pause fetching) when full(). Pure, not thread-safe.

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace ew::runtime {

using LaneKey = std::optional<std::string>;

template <typename T>
class KeyLanes {
 public:
  explicit KeyLanes(size_t budget) : budget_(budget) {}

  // Admits ITEM to LANE. Returns it when it may run now (its lane was idle);
  // otherwise it waits behind the lane's running item and nullopt is returned.
  std::optional<T> admit(const LaneKey& lane, T item) {
    ++admitted_;
    if (!lane) return item;
    auto [it, fresh] = lanes_.try_emplace(*lane);
    if (fresh) return item;
    if (!it->second) it->second = std::make_unique<std::deque<T>>();
    it->second->push_back(std::move(item));
    ++waiting_;
    return std::nullopt;
  }

  // The running item of LANE finished (or was abandoned). Returns the lane's
  // next item, which is now running, if any.
  // REQUIRES: an item admitted to LANE is running.
  std::optional<T> finish(const LaneKey& lane) {
    --admitted_;
    if (!lane) return std::nullopt;
    auto it = lanes_.find(*lane);
    if (it == lanes_.end()) return std::nullopt;
    if (!it->second || it->second->empty()) {
      lanes_.erase(it);
      return std::nullopt;
    }
    T next = std::move(it->second->front());
    it->second->pop_front();
    --waiting_;
    return next;
  }

  // Removes waiting (not running) items for which PRED is true and returns them.
  template <typename Pred>
  std::vector<T> dropWaiting(Pred pred) {
    std::vector<T> dropped;
    for (auto& [lane, queue] : lanes_) {
      if (!queue) continue;
      for (auto it = queue->begin(); it != queue->end();) {
        if (pred(*it)) {
          dropped.push_back(std::move(*it));
          it = queue->erase(it);
        } else {
          ++it;
        }
      }
    }
    admitted_ -= dropped.size();
    waiting_ -= dropped.size();
    return dropped;
  }

  size_t admitted() const { return admitted_; }  // running + waiting
  size_t waiting() const { return waiting_; }
  size_t activeLanes() const { return lanes_.size(); }
  bool full() const { return admitted_ >= budget_; }
  size_t budget() const { return budget_; }
  // Admitted items stay admitted when the budget shrinks below them.
  void setBudget(size_t budget) { budget_ = budget; }

 private:
  size_t budget_;
  size_t admitted_ = 0;
  size_t waiting_ = 0;
  // Present while an item of the lane runs; the queue of waiting items is
  // made only when one waits (most lanes never have one).
  std::unordered_map<std::string, std::unique_ptr<std::deque<T>>> lanes_;
};

}  // namespace ew::runtime
