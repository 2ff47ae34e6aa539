#include "clients/redis_id_store.h"

#include <hiredis/hiredis.h>
#include <sys/time.h>

#include <memory>

namespace ew::runtime {
namespace {

constexpr const char* kDone = "done";

// Deletes KEYS[1] only when it still holds our claim ARGV[1].
constexpr const char* kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

timeval toTimeval(Millis d) {
  return {static_cast<time_t>(d.count() / 1000), static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

bool isString(const redisReply* r, const std::string& s) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && std::string(r->str, r->len) == s;
}

}  // namespace

std::string redisKeyPrefix(const std::string& ns, const std::string& worker, const std::string& subscription) {
  return "ew:idem:" + ns + "/" + worker + "/" + subscription + ":";
}

// A pooled connection for one command sequence. Marks itself broken when a
// command fails at the connection level, so that it is closed, not reused.
class RedisIdStore::Lease {
 public:
  Lease(RedisIdStore& store, redisContext* c) : store_(store), c_(c) {}
  ~Lease() { store_.giveBack(c_, healthy_); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  // Runs a command (argv form: binary-safe); an Error for connection failures
  // and Redis error replies.
  Result<ReplyPtr> run(std::initializer_list<std::string> args) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    ReplyPtr r(static_cast<redisReply*>(redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r) {
      healthy_ = false;
      return store_.failed(std::string(*args.begin()), c_);
    }
    if (r->type == REDIS_REPLY_ERROR)
      return Error{"redis " + store_.options_.address + ": " + *args.begin() + ": " + std::string(r->str, r->len)};
    return r;
  }

 private:
  RedisIdStore& store_;
  redisContext* c_;
  bool healthy_ = true;
};

RedisIdStore::RedisIdStore(RedisIdStoreOptions options, const TimeSource& time)
    : options_(std::move(options)), time_(time), claimPrefix_("pending:" + options_.token + "/") {
  const auto colon = options_.address.rfind(':');
  host_ = options_.address.substr(0, colon);
  port_ = std::stoi(options_.address.substr(colon + 1));
}

RedisIdStore::~RedisIdStore() {
  for (redisContext* c : idle_) redisFree(c);
}

Error RedisIdStore::failed(const std::string& what, redisContext* c) {
  std::string why = c && c->err ? c->errstr : "no reply";
  std::lock_guard l(mu_);
  downUntil_ = time_.now() + options_.backoff;
  lastFailure_ = why;
  return Error{"redis " + options_.address + ": " + what + ": " + why};
}

Result<redisContext*> RedisIdStore::acquire() {
  {
    std::lock_guard l(mu_);
    if (!idle_.empty()) {
      redisContext* c = idle_.back();
      idle_.pop_back();
      return c;
    }
    if (time_.now() < downUntil_)
      return Error{"redis " + options_.address + ": unavailable (" + lastFailure_ + "); not retried for " +
                   formatDuration(options_.backoff)};
  }
  redisContext* c = redisConnectWithTimeout(host_.c_str(), port_, toTimeval(options_.timeout));
  if (!c || c->err) {
    Error e = failed("connect", c);
    if (c) redisFree(c);
    return e;
  }
  redisSetTimeout(c, toTimeval(options_.timeout));
  return c;
}

void RedisIdStore::giveBack(redisContext* c, bool healthy) {
  {
    std::lock_guard l(mu_);
    if (healthy && idle_.size() < options_.maxConnections) {
      idle_.push_back(c);
      return;
    }
  }
  redisFree(c);
}

Result<Claim> RedisIdStore::claim(const std::string& id, const std::string& holder) {
  auto c = acquire();
  if (!c) return c.error();
  Lease conn(*this, *c);
  const std::string key = options_.keyPrefix + id;
  const std::string lease = std::to_string(options_.lease.count());
  const std::string mine = claimPrefix_ + holder;
  // Two tries: the key may expire between a failed SET NX and the GET.
  for (int i = 0; i < 2; ++i) {
    auto set = conn.run({"SET", key, mine, "NX", "PX", lease});
    if (!set) return set.error();
    if (isString(set->get(), "OK")) return Claim::Claimed;
    auto get = conn.run({"GET", key});
    if (!get) return get.error();
    const redisReply* v = get->get();
    if (v->type == REDIS_REPLY_NIL) continue;
    if (isString(v, kDone)) return Claim::Duplicate;
    if (!isString(v, mine)) return Claim::Busy;
    if (auto renew = conn.run({"PEXPIRE", key, lease}); !renew) return renew.error();
    return Claim::Claimed;  // this holder's own earlier attempt
  }
  return Claim::Busy;
}

Status RedisIdStore::done(const std::string& id) {
  auto c = acquire();
  if (!c) return c.error();
  Lease conn(*this, *c);
  const auto ttlSeconds = std::max<int64_t>(1, (options_.ttl.count() + 999) / 1000);
  auto r = conn.run({"SET", options_.keyPrefix + id, kDone, "EX", std::to_string(ttlSeconds)});
  if (!r) return r.error();
  return {};
}

Status RedisIdStore::release(const std::string& id, const std::string& holder) {
  auto c = acquire();
  if (!c) return c.error();
  Lease conn(*this, *c);
  auto r = conn.run({"EVAL", kReleaseScript, "1", options_.keyPrefix + id, claimPrefix_ + holder});
  if (!r) return r.error();
  return {};
}

}  // namespace ew::runtime
