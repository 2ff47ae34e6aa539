#include "controller/render_adapter.h"

#include "api/load.h"

namespace ew::controller {

RenderFn makeRenderFn(render::RenderOptions options) {
  return [options = std::move(options)](const kube::Json& eventWorker) -> Result<Rendered> {
    auto loaded = api::loadEventWorker(eventWorker);
    if (auto* errors = std::get_if<api::FieldErrors>(&loaded)) return Error{api::describe(*errors)};
    auto out = render::render(std::get<api::Loaded>(loaded).eventWorker, options);
    return Rendered{std::move(out.objects), std::move(out.selector), std::move(out.consumerGroup)};
  };
}

Result<Rendered> renderEventWorker(const kube::Json& eventWorker) {
  static const RenderFn fn = makeRenderFn({});
  return fn(eventWorker);
}

}  // namespace ew::controller
