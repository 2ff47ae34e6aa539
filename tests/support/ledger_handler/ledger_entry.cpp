#include "ledger_entry.h"

#include <charconv>
#include <cstdint>
#include <nlohmann/json.hpp>

namespace ew::testing {
namespace {

using nlohmann::json;

const std::string* header(const runtime::Headers& headers, const char* name) {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

// TEXT as a JSON number when it is a whole integer, else as a string.
json integerOrText(const std::string& text) {
  int64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && end == text.data() + text.size() && !text.empty()) return n;
  return text;
}

}  // namespace

Result<LedgerEntry> ledgerEntry(const std::string& route, const std::string& body, const runtime::Headers& headers,
                                const std::string& pod) {
  const json ce = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (ce.is_discarded() || !ce.is_object()) return Error{"event body: not a JSON object"};
  const auto id = ce.find("id");
  if (id == ce.end() || !id->is_string() || id->get_ref<const std::string&>().empty())
    return Error{"event: attribute \"id\" missing or not a non-empty string"};

  json entry = {{"id", *id}, {"route", route}};
  if (const auto data = ce.find("data"); data != ce.end() && data->is_object())
    if (const auto seq = data->find("seq"); seq != data->end()) entry["seq"] = *seq;
  if (const auto key = ce.find("partitionkey"); key != ce.end() && key->is_string())
    entry["key"] = *key;
  else if (const auto* k = header(headers, "__key"))
    entry["key"] = *k;
  if (const auto* p = header(headers, "__partition")) entry["partition"] = integerOrText(*p);
  if (const auto* o = header(headers, "__offset")) entry["offset"] = integerOrText(*o);
  if (!pod.empty()) entry["pod"] = pod;
  return LedgerEntry{id->get<std::string>(), entry.dump(-1, ' ', false, json::error_handler_t::replace)};
}

}  // namespace ew::testing
