#pragma once
// A stream's bearer-token check against the API service's own endpoint
// (streams[].auth.url): GET it with the client's "Authorization: Bearer
// <token>"; 2xx allows, 401 or 403 refuses, anything else (or no answer in
// 5 s) is Unavailable (the client gets 503 and retries). Verdicts are cached
// for auth.cacheTTL (auth_cache.h). Tokens are never logged.
//
// The calls are blocking HTTP exchanges (clients/http_connection.h) made on
// threads of their own, never on the SSE server's I/O threads.
//
// Thread-safety: check() from any thread; DONE runs on a checker thread (or
// on the caller's, for a cached verdict).

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "ew/result.h"
#include "ew/time_source.h"
#include "streams/auth_cache.h"

namespace ew::runtime {

class BearerAuth {
 public:
  using Done = std::function<void(AuthVerdict)>;
  BearerAuth(const StreamConfig& stream, const TimeSource& time);
  ~BearerAuth();  // stops the threads; pending checks end Unavailable
  Status start(size_t threads = 2);
  void check(const std::string& token, Done done);

 private:
  struct Job {
    std::string token;
    Done done;
  };
  void loop();

  const StreamConfig& stream_;
  const TimeSource& time_;
  struct Client;
  std::unique_ptr<Client> client_;
  std::mutex mu_;
  std::condition_variable cv_;
  AuthCache cache_;       // guarded by mu_
  std::deque<Job> jobs_;  // guarded by mu_
  bool stop_ = false;     // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace ew::runtime
