// DAG params: a params block (JSON Schema per param, with an optional default) and a run's
// conf, as one JSON document {"params": {...}, "conf": {...}}: each schema is compiled and its
// default checked, then the conf is merged over the defaults and validated.
#include "dag/params.hpp"

#include <boost/json/parse.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace json = boost::json;
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    json::error_code ec;
    json::value doc = json::parse(text, ec);
    if (ec || !doc.is_object()) return 0;
    const json::object& top = doc.get_object();
    std::vector<orquestra::dag::Param> params;
    if (const auto* block = top.if_contains("params"); block != nullptr && block->is_object()) {
        for (const auto& [name, spec] : block->get_object()) {
            json::object schema;
            std::optional<json::value> default_value;
            if (spec.is_object()) {
                schema = spec.get_object();
                if (const auto* d = schema.if_contains("default")) {
                    default_value = *d;
                    schema.erase("default");
                }
            } else {
                default_value = spec;
            }
            auto param = orquestra::dag::make_param(std::string(name), std::move(schema),
                                                    std::move(default_value));
            if (param) params.push_back(std::move(*param));
        }
    }
    json::object conf;
    if (const auto* c = top.if_contains("conf"); c != nullptr && c->is_object()) {
        conf = c->get_object();
    }
    (void)orquestra::dag::resolve_params(params, conf);
    return 0;
}
