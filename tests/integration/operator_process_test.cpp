// The eventworker-operator binary as processes: only the leader writes, and a
// standby takes over after the leader is killed with SIGKILL.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "operator_fixture.h"

extern char** environ;

using namespace ew;
using namespace ew::testing;
namespace resources = kube::resources;

namespace {

struct OperatorProcess {
  pid_t pid = -1;
  std::string identity;
  int port;
  OperatorProcess(const std::string& id, const std::string& ns, int metricsPort) : identity(id), port(metricsPort) {
    const std::string log = serverEnv("EW_STATE_DIR") + "/logs/operator-" + id + ".log";
    std::vector<std::string> args = {EW_OPERATOR_BIN,
                                     "--kubeconfig",
                                     serverEnv("KUBECONFIG"),
                                     "--namespace",
                                     ns,
                                     "--identity",
                                     id,
                                     "--metrics-address",
                                     "127.0.0.1:" + std::to_string(port),
                                     "--lease-duration",
                                     "4",
                                     "--renew-deadline",
                                     "3",
                                     "--retry-period",
                                     "0.5"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    REQUIRE(posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
  }
  void kill(int sig) {
    if (pid > 0) {
      ::kill(pid, sig);
      int status;
      waitpid(pid, &status, 0);
      pid = -1;
    }
  }
  ~OperatorProcess() { kill(SIGTERM); }

  std::string metrics() const {
    std::string out;
    FILE* p = popen(("curl -sf http://127.0.0.1:" + std::to_string(port) + "/metrics").c_str(), "r");
    if (!p) return out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    pclose(p);
    return out;
  }
  // Requests this process sent with a writing verb (POST, PUT, PATCH, DELETE).
  int writes() const {
    std::istringstream in(metrics());
    std::string line;
    double total = 0;
    while (std::getline(in, line))
      if (line.rfind("eventworker_api_requests_total{", 0) == 0 && line.find("verb=\"GET\"") == std::string::npos)
        total += std::stod(line.substr(line.rfind(' ') + 1));
    return static_cast<int>(total);
  }
};

int freePort() {
  FILE* p =
      popen("python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'", "r");
  int port = 0;
  if (p && fscanf(p, "%d", &port) != 1) port = 0;
  if (p) pclose(p);
  return port;
}

std::string holder(kube::KubeApi& api, const std::string& ns) {
  auto l = api.get(resources::kLease, ns, "eventworker-operator");
  return l ? (*l)["spec"].value("holderIdentity", "") : "";
}

}  // namespace

TEST_CASE("two operators: only the leader writes, SIGKILL of the leader hands over within the lease") {
  installCrds();
  kube::KubeApi user(testKubeClient(), "test-user");
  const std::string ns = createNamespace(user, "op-ha");
  OperatorProcess a("a", ns, freePort());
  REQUIRE(eventually([&] { return holder(user, ns) == "a"; }, 20s));
  OperatorProcess b("b", ns, freePort());
  REQUIRE(eventually([&] { return !b.metrics().empty(); }, 10s));

  REQUIRE(user.apply(resources::kEventWorker, ns, "one", eventWorker("one")));
  REQUIRE(eventually([&] { return get(user, resources::kDeployment, ns, "one-events").has_value(); }));
  std::this_thread::sleep_for(2s);
  CHECK(a.writes() > 0);
  CHECK(b.writes() == 0);
  CHECK(holder(user, ns) == "a");

  a.kill(SIGKILL);
  const auto killedAt = std::chrono::steady_clock::now();
  REQUIRE(eventually([&] { return holder(user, ns) == "b"; }, 15s));
  CHECK(std::chrono::steady_clock::now() - killedAt < 6s);  // lease 4 s + retry
  REQUIRE(user.apply(resources::kEventWorker, ns, "two", eventWorker("two")));
  REQUIRE(eventually([&] { return get(user, resources::kDeployment, ns, "two-events").has_value(); }));
  CHECK(b.writes() > 0);
}
