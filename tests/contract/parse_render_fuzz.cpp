// libFuzzer target over the offline pipeline: parse (YAML/JSON) -> load
// (defaults, schema, CEL and operator rules) -> render. Besides crashes and
// sanitizer reports it checks two properties of every valid input:
//   - each rendered object survives toYaml -> parseDocuments unchanged;
//   - the runtime accepts the runtime config the renderer wrote.
// Built and run by hack/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined).

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "api/load.h"
#include "core/config.h"
#include "render/render.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto docs = ew::api::parseDocuments(text);
  if (!docs) return 0;
  for (const auto& doc : *docs) {
    auto loaded = ew::api::loadEventWorker(doc);
    auto* ok = std::get_if<ew::api::Loaded>(&loaded);
    if (!ok) continue;
    const auto out = ew::render::render(ok->eventWorker);
    for (const auto& object : out.objects) {
      auto back = ew::api::parseDocuments(ew::api::toYaml(object));
      if (!back || back->size() != 1 || (*back)[0] != object) {
        std::fprintf(stderr, "YAML round trip changed a rendered object:\n%s\n", object.dump(2).c_str());
        std::abort();
      }
    }
    auto config = ew::runtime::parseConfig(ew::render::runtimeConfig(ok->eventWorker));
    if (!config) {
      std::fprintf(stderr, "the runtime refused the rendered config: %s\n", config.error().message.c_str());
      std::abort();
    }
  }
  return 0;
}
