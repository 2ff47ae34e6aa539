#include "ew/time_source.h"

#include <ctime>

namespace ew {

namespace {

class SystemTime : public TimeSource {
 public:
  MonoTime now() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  void waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, MonoTime deadline) const override {
    cv.wait_until(lock, deadline);
  }
};

}  // namespace

std::string rfc3339(WallTime t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

const TimeSource& systemTime() {
  static const SystemTime time;
  return time;
}

// 2026-01-01T00:00:00Z and an arbitrary monotonic point an hour after "boot".
ManualTime::ManualTime()
    : monoStart_(MonoTime(std::chrono::hours(1))), wallStart_(WallTime(std::chrono::seconds(1767225600))) {}

MonoTime ManualTime::now() const { return monoStart_ + std::chrono::nanoseconds(elapsedNs_.load()); }

WallTime ManualTime::wallNow() const {
  return wallStart_ + std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(elapsedNs_.load()));
}

void ManualTime::waitUntil(std::condition_variable& cv, std::unique_lock<std::mutex>& lock, MonoTime deadline) const {
  if (now() >= deadline) return;
  cv.wait_for(lock, std::chrono::milliseconds(1));
}

void ManualTime::advance(std::chrono::nanoseconds by) { elapsedNs_ += by.count(); }

}  // namespace ew
