#pragma once
// Kubernetes resource quantities ("100m", "128Mi", "1.5", "2e3"), parsed to
// a comparable value. Pure.

#include <optional>
#include <string>

namespace ew::api {

// The quantity's value in base units (cores, bytes), or nullopt when TEXT is
// not a quantity Kubernetes would accept.
std::optional<long double> parseQuantity(const std::string& text);

}  // namespace ew::api
