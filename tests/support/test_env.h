#pragma once
// Access to the real test servers that hack/servers-up.sh started for this
// ctest run. The env file path comes from $EW_TEST_ENV (set by ctest). A
// missing server is a test failure, never a skip.

#include <string>

namespace ew::testing {

// Value of KEY from the servers' env file; throws std::runtime_error (a test
// failure) naming the key when the file or the key is missing.
std::string serverEnv(const std::string& key);

// A DNS-1123 name unique to this process and call: "<prefix>-<pid>-<n>".
std::string uniqueName(const std::string& prefix);

// The whole content of the file at PATH; "" when it cannot be read.
std::string readFile(const std::string& path);

}  // namespace ew::testing
