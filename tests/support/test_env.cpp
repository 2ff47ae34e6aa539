#include "test_env.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <random>
#include <stdexcept>

namespace ew::testing {
namespace {

const std::map<std::string, std::string>& vars() {
  static std::once_flag once;
  static std::map<std::string, std::string> values;
  std::call_once(once, [] {
    const char* path = std::getenv("EW_TEST_ENV");
    if (!path) throw std::runtime_error("EW_TEST_ENV is not set: run integration tests through ctest");
    std::ifstream in(path);
    if (!in) throw std::runtime_error(std::string("test servers are not up: cannot read ") + path);
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
    }
  });
  return values;
}

}  // namespace

std::string serverEnv(const std::string& key) {
  const auto& v = vars();
  auto it = v.find(key);
  if (it == v.end()) throw std::runtime_error("test server env has no " + key);
  return it->second;
}

// pid + counter alone repeat once pids wrap (hundreds of test runs against
// one broker reused a topic name): a random tag per process tells them apart.
std::string uniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const std::string tag = [] {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04x", static_cast<unsigned>(std::random_device{}() & 0xffffu));
    return std::string(buf);
  }();
  return prefix + "-" + std::to_string(::getpid()) + tag + "-" + std::to_string(++counter);
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace ew::testing
