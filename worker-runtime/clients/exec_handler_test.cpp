#include "clients/exec_handler.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

namespace ew::runtime {
namespace {

HandlerRequest request(std::string body) { return {"/events/orders", "e-1", std::move(body), {}}; }

}  // namespace

TEST_CASE("the command gets the event on stdin and its route and id in the environment") {
  ExecHandler h({{"sh", "-c", "test \"$EW_ROUTE $EW_EVENT_ID\" = '/events/orders e-1' && grep -q '\"x\":1'"}});
  CHECK(h.handle(request("{\"x\":1}")).outcome == Outcome::Done);
  CHECK(h.handle(request("{\"x\":2}")).outcome == Outcome::Reject);
}

TEST_CASE("exit 75 asks for a retry, other codes reject") {
  CHECK(ExecHandler({{"sh", "-c", "exit 75"}}).handle(request("")).outcome == Outcome::Retry);
  const auto r = ExecHandler({{"sh", "-c", "exit 3"}}).handle(request(""));
  CHECK(r.outcome == Outcome::Reject);
  CHECK(r.detail == "exit code 3");
}

TEST_CASE("a run past the timeout on the injected clock is killed and retried") {
  // An hour on the injected clock, which the test moves on by ten minutes at
  // a time: with the machine's clock the handler would wait for sleep's exit
  // (30 s, then Done).
  ManualTime time;
  ExecHandler h({{"sleep", "30"}, Millis(3'600'000)}, time);
  std::atomic<bool> done = false;
  HandlerResult result;
  std::thread run([&] {
    result = h.handle(request(""));
    done = true;
  });
  while (!done) {
    time.advance(std::chrono::minutes(10));
    std::this_thread::yield();
  }
  run.join();
  CHECK(result.outcome == Outcome::Retry);
  CHECK(result.detail == "exec: timed out after 3600000ms (killed)");
}

}  // namespace ew::runtime
