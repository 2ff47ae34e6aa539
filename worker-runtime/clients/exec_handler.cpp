#include "clients/exec_handler.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

extern char** environ;

namespace ew::runtime {
namespace {

// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// Starts COMMAND in its own process group with READFD as its stdin and
// ROUTE and EVENTID added to the environment; the error number on failure.
int spawn(const std::vector<std::string>& command, int readFd, const HandlerRequest& r, pid_t& pid) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back("EW_ROUTE=" + r.route);
  env.push_back("EW_EVENT_ID=" + r.eventId);
  std::vector<char*> envp, argv;
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = command;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, readFd, STDIN_FILENO);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  const int rc = posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return rc;
}

}  // namespace

HandlerResult ExecHandler::handle(const HandlerRequest& r) {
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) return {Outcome::Retry, std::string("exec: pipe: ") + std::strerror(errno)};
  Fd readEnd{pipeFds[0]}, writeEnd{pipeFds[1]};
  pid_t pid = -1;
  if (const int rc = spawn(config_.command, readEnd.fd, r, pid); rc != 0)
    return {Outcome::Reject, "exec: cannot start " + config_.command.at(0) + ": " + std::strerror(rc)};
  readEnd.reset();

  const MonoTime deadline = time_.now() + config_.timeout;
  auto remainingMs = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - time_.now());
    return static_cast<int>(std::max<int64_t>(0, left.count()));
  };
  // Write stdin without blocking past the deadline (the child may not read it all).
  ::fcntl(writeEnd.fd, F_SETFL, O_NONBLOCK);
  size_t written = 0;
  while (written < r.body.size() && remainingMs() > 0) {
    const ssize_t n = ::write(writeEnd.fd, r.body.data() + written, r.body.size() - written);
    if (n > 0) {
      written += static_cast<size_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      pollfd p{writeEnd.fd, POLLOUT, 0};
      ::poll(&p, 1, std::min(remainingMs(), 50));
    } else {
      break;  // EPIPE: the child does not read stdin
    }
  }
  writeEnd.reset();

  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) return {Outcome::Retry, std::string("exec: waitpid: ") + std::strerror(errno)};
    if (remainingMs() == 0) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return {Outcome::Retry, "exec: timed out after " + std::to_string(config_.timeout.count()) + "ms (killed)"};
    }
    ::usleep(2000);
  }
  if (WIFEXITED(status)) return interpretExitCode(WEXITSTATUS(status));
  return {Outcome::Retry, "exec: killed by signal " + std::to_string(WTERMSIG(status))};
}

}  // namespace ew::runtime
