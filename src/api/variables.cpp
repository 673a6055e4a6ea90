// /api/v1/variables: Airflow's Variable endpoints. Variables live in the store (sealed there
// when their key looks secret, store/secrets.hpp); the value of a secret-looking key is never
// sent back in clear ("***"). Only Op and Admin reach them (Airflow's roles), as route() checks.
// The environment's ORQUESTRA_VAR_* overrides are not listed here (as Airflow's API lists only
// its database's).

#include "api/api_detail.hpp"
#include "api/request.hpp"
#include "core/masker.hpp"
#include "core/strings.hpp"
#include "store/secrets.hpp"

#include <boost/json/array.hpp>
#include <fmt/format.h>

namespace orquestra::api {

namespace {

Error invalid(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

json::object variable_json(const store::Variable& v) {
    json::object out;
    out["key"] = v.key;
    out["value"] = v.is_encrypted ? std::string(kMaskText) : v.value;
    out["description"] = v.description ? json::value(*v.description) : json::value(nullptr);
    return out;
}

store::Secrets store_only(store::Store& store, store::SecretKeySource& keys) {
    return store::Secrets(store, keys, [](const std::string&) { return std::optional<std::string>(); });
}

// The fields an update_mask names (value, description), or every field of the body.
Result<std::vector<std::string>> update_fields(const http::Request& req,
                                               std::initializer_list<std::string_view> allowed) {
    std::vector<std::string> out;
    auto mask = req.query_param("update_mask");
    if (!mask) return out;
    for (auto field : split(*mask, ',')) {
        const std::string name(trim(field));
        if (name.empty()) continue;
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
            std::string names;
            for (auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
            return invalid(fmt::format(
                "query parameter 'update_mask': '{}' cannot be updated (use {})", name, names));
        }
        out.push_back(name);
    }
    return out;
}

}  // namespace

asio::awaitable<void> ApiServer::variables(Call& call, const std::string* key) {
    if (options_.secret_keys == nullptr) {
        send_problem(call.res, 503, "variables are not available on this server", call.instance);
        co_return;
    }
    store::SecretKeySource& keys = *options_.secret_keys;
    const auto method = call.req.method();
    using V = http::beast_http::verb;
    if (key == nullptr && method == V::get) {
        auto paging = parse_paging(call.req);
        if (!paging) {
            send_error(call.res, paging.error(), call.instance);
            co_return;
        }
        const Paging p = *paging;
        auto page = co_await on_worker([this, &keys, &p] {
            return store_only(store_, keys).list_variables(p.limit, p.offset);
        });
        if (!page) {
            send_error(call.res, page.error(), call.instance);
            co_return;
        }
        json::array items;
        for (const auto& v : page->items) items.push_back(variable_json(v));
        json::object out;
        out["variables"] = std::move(items);
        out["total_entries"] = page->total;
        send_json(call.res, out);
        co_return;
    }
    if (key != nullptr && method == V::get) {
        auto got = co_await on_worker([this, &keys, key] {
            return store_only(store_, keys).get_variable(*key);
        });
        if (!got || !*got) {
            send_error(call.res,
                       got ? Error{ErrorCode::kNotFound, fmt::format("variable '{}' not found", *key)}
                           : got.error(),
                       call.instance);
            co_return;
        }
        send_json(call.res, variable_json(**got));
        co_return;
    }
    if (key != nullptr && method == V::delete_) {
        auto deleted = co_await on_worker([this, &keys, key] {
            return store_only(store_, keys).delete_variable(*key);
        });
        if (!deleted) {
            send_error(call.res, deleted.error(), call.instance);
            co_return;
        }
        call.res.status = 204;
        co_return;
    }
    // POST /variables (create or replace, as Airflow's Variable.set) and PATCH /variables/{key}.
    auto body = parse_body(call.req);
    if (!body) {
        send_error(call.res, body.error(), call.instance);
        co_return;
    }
    if (auto known = only_fields(*body, {"key", "value", "description"}); !known) {
        send_error(call.res, known.error(), call.instance);
        co_return;
    }
    auto body_key = field_string(*body, "key");
    auto value = field_string(*body, "value");
    auto description = field_string(*body, "description");
    for (const auto* r : {&body_key, &value, &description}) {
        if (!*r) {
            send_error(call.res, r->error(), call.instance);
            co_return;
        }
    }
    auto mask = update_fields(call.req, {"value", "description"});
    if (!mask) {
        send_error(call.res, mask.error(), call.instance);
        co_return;
    }
    const bool patch = method == V::patch;
    if (!*body_key && !patch) {
        send_error(call.res, invalid("field 'key' is required"), call.instance);
        co_return;
    }
    if (patch && *body_key && **body_key != *key) {
        send_error(call.res,
                   invalid(fmt::format("the body's key '{}' does not match the path's '{}'",
                                       **body_key, *key)),
                   call.instance);
        co_return;
    }
    const std::string name = patch ? *key : **body_key;
    auto wants = [&](std::string_view field) {
        return mask->empty() || std::find(mask->begin(), mask->end(), field) != mask->end();
    };
    if (wants("value") && !*value && (!patch || mask->empty())) {
        send_error(call.res, invalid("field 'value' is required (a string)"), call.instance);
        co_return;
    }
    std::optional<std::string> new_value = wants("value") ? *value : std::nullopt;
    std::optional<std::optional<std::string>> new_description;
    if (!patch || (wants("description") && (body->contains("description") || !mask->empty()))) {
        new_description = *description;
    }
    auto saved = co_await on_worker([this, &keys, &name, &new_value, &new_description,
                                     patch]() -> Result<store::Variable> {
        auto secrets = store_only(store_, keys);
        std::optional<store::Variable> current;
        if (patch) {
            auto got = secrets.get_variable(name);
            if (!got) return got.error();
            if (!*got) return Error{ErrorCode::kNotFound, fmt::format("variable '{}' not found", name)};
            current = std::move(**got);
        }
        store::Variable v;
        v.key = name;
        v.value = current ? current->value : std::string();
        v.description = current ? current->description : std::nullopt;
        // A secret value read back as "***" and sent again keeps the stored one.
        if (new_value && !(current && current->is_encrypted && *new_value == kMaskText)) {
            v.value = *new_value;
        }
        if (new_description) v.description = *new_description;
        auto put = secrets.put_variable(v.key, v.value, v.description,
                                        patch ? store::PutMode::kUpdate : store::PutMode::kUpsert);
        if (!put) return put.error();
        v.is_encrypted = store::looks_secret(v.key);
        return v;
    });
    if (!saved) {
        send_error(call.res, saved.error(), call.instance);
        co_return;
    }
    send_json(call.res, variable_json(*saved));
}

}  // namespace orquestra::api
