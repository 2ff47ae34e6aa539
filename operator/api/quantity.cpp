#include "api/quantity.h"

#include <cmath>
#include <regex>

namespace ew::api {

std::optional<long double> parseQuantity(const std::string& text) {
  // <signedNumber><suffix>, suffix: binarySI | decimalSI | decimalExponent.
  static const std::regex shape(
      R"(^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$)");
  std::smatch m;
  if (text.size() > 64 || !std::regex_match(text, m, shape)) return std::nullopt;
  const long double number = std::stold(m[1].str());
  const std::string suffix = m[2].str();
  long double scale = 1;
  if (suffix.empty())
    scale = 1;
  else if (suffix[0] == 'e' || suffix[0] == 'E') {
    const int exp = std::stoi(suffix.substr(1).size() > 4 ? "9999" : suffix.substr(1));
    if (exp > 18 || exp < -9) return std::nullopt;
    scale = std::pow(10.0L, exp);
  } else if (suffix.size() == 2) {
    const std::string order = "KMGTPE";
    scale = std::pow(1024.0L, static_cast<int>(order.find(suffix[0])) + 1);
  } else {
    switch (suffix[0]) {
      case 'n':
        scale = 1e-9L;
        break;
      case 'u':
        scale = 1e-6L;
        break;
      case 'm':
        scale = 1e-3L;
        break;
      case 'k':
        scale = 1e3L;
        break;
      case 'M':
        scale = 1e6L;
        break;
      case 'G':
        scale = 1e9L;
        break;
      case 'T':
        scale = 1e12L;
        break;
      case 'P':
        scale = 1e15L;
        break;
      case 'E':
        scale = 1e18L;
        break;
    }
  }
  return number * scale;
}

}  // namespace ew::api
