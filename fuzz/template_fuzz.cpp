// Templates: compile arbitrary text, then render it against a fixed context shaped like a task
// attempt's (params, conf, dates, task outputs), as a value and as text.
#include "dag/template.hpp"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

namespace json = boost::json;

const json::object& context() {
    static const json::object ctx = [] {
        orquestra::dag::RenderInputs in;
        in.dag_id = "servico_usuarios_mensagens";
        in.run_id = "manual__2024-01-01T00:00:00+00:00";
        in.params = json::parse(R"({"usuario_id": 1, "nome": "Ana", "ativo": true,
            "limite": 2.5, "vazio": null, "grupos": ["admin", "vendas"],
            "nested": {"a": {"b": [1, {"c": "d"}]}}})")
                        .as_object();
        in.conf = json::parse(R"({"usuario_id": 1, "extra": "x"})").as_object();
        in.logical_date = 1704067200000;
        in.task_outputs = json::parse(
                              R"({"obter_usuario": {"id": 1, "nome": "Ana", "grupos": ["admin"]},
                                  "texto": "ok", "numero": 42})")
                              .as_object();
        return orquestra::dag::make_context(in);
    }();
    return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto tpl = orquestra::dag::Template::compile(text);
    if (!tpl) return 0;
    (void)tpl->render(context());
    (void)tpl->render_text(context());
    // The same text inside a JSON tree, as an HTTP task's json: body holds it.
    json::object tree;
    tree["k"] = json::array{json::string(text), 1};
    if (auto compiled = orquestra::dag::TemplateTree::compile(tree)) {
        (void)compiled->render(context());
    }
    return 0;
}
