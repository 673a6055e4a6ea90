// /api/v1/connections: Airflow's Connection endpoints. Connections live in the store with their
// password and extra sealed (store/secrets.hpp); a password is never sent back (as in Airflow,
// where it is write-only), and the members of extra whose names look secret are "***". Only Op
// and Admin reach them (Airflow's roles), as route() checks. ORQUESTRA_CONN_* overrides from the
// environment are not listed (as Airflow's API lists only its database's).

#include "api/api_detail.hpp"
#include "api/request.hpp"
#include "core/masker.hpp"
#include "core/strings.hpp"
#include "store/secrets.hpp"

#include <boost/json/array.hpp>
#include <array>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

namespace orquestra::api {

namespace {

Error invalid(std::string message) { return Error{ErrorCode::kInvalidArgument, std::move(message)}; }

json::value optional_text(const std::optional<std::string>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

json::object connection_item_json(const store::Connection& c) {
    json::object out;
    out["connection_id"] = c.conn_id;
    out["conn_type"] = c.conn_type;
    out["description"] = optional_text(c.description);
    out["host"] = optional_text(c.host);
    out["login"] = optional_text(c.login);
    out["schema"] = optional_text(c.schema);
    out["port"] = c.port ? json::value(*c.port) : json::value(nullptr);
    return out;
}

json::object connection_json(const store::Connection& c) {
    json::object out = connection_item_json(c);
    out["extra"] = c.extra ? json::value(store::redact_extra(*c.extra)) : json::value(nullptr);
    return out;
}

store::Secrets store_only(store::Store& store, store::SecretKeySource& keys) {
    return store::Secrets(store, keys, [](const std::string&) { return std::optional<std::string>(); });
}

constexpr std::array<std::string_view, 9> kFields = {
    "connection_id", "conn_type", "description", "host", "login", "schema", "port", "password",
    "extra"};

// The body's fields over `c`: those an update_mask names, else every field the body holds.
Result<void> apply_fields(const json::object& body, const std::vector<std::string>& mask,
                          store::Connection& c) {
    auto wanted = [&](std::string_view field) {
        if (!mask.empty()) return std::find(mask.begin(), mask.end(), field) != mask.end();
        return body.contains(field);
    };
    for (auto [name, target] :
         {std::pair<std::string_view, std::optional<std::string>*>{"description", &c.description},
          {"host", &c.host},
          {"login", &c.login},
          {"schema", &c.schema},
          {"extra", &c.extra}}) {
        if (!wanted(name)) continue;
        auto v = field_string(body, name);
        if (!v) return v.error();
        *target = *v;
    }
    if (wanted("password")) {
        auto v = field_string(body, "password");
        if (!v) return v.error();
        // The mask a client may have read elsewhere keeps the stored password.
        if (!(*v && **v == kMaskText)) c.password = *v;
    }
    if (wanted("port")) {
        auto v = field_int(body, "port", 0, 65535);
        if (!v) return v.error();
        c.port = *v ? std::optional<std::int64_t>(**v) : std::nullopt;
    }
    if (wanted("conn_type")) {
        auto v = field_string(body, "conn_type");
        if (!v) return v.error();
        if (!*v || (*v)->empty()) return invalid("field 'conn_type' is required (a string)");
        c.conn_type = **v;
    }
    return {};
}

}  // namespace

asio::awaitable<void> ApiServer::connections(Call& call, const std::string* conn_id) {
    if (options_.secret_keys == nullptr) {
        send_problem(call.res, 503, "connections are not available on this server", call.instance);
        co_return;
    }
    store::SecretKeySource& keys = *options_.secret_keys;
    const auto method = call.req.method();
    using V = http::beast_http::verb;
    if (conn_id == nullptr && method == V::get) {
        auto paging = parse_paging(call.req);
        if (!paging) {
            send_error(call.res, paging.error(), call.instance);
            co_return;
        }
        const Paging p = *paging;
        auto page = co_await on_worker([this, &keys, &p] {
            return store_only(store_, keys).list_connections(p.limit, p.offset);
        });
        if (!page) {
            send_error(call.res, page.error(), call.instance);
            co_return;
        }
        json::array items;
        for (const auto& c : page->items) items.push_back(connection_item_json(c));
        json::object out;
        out["connections"] = std::move(items);
        out["total_entries"] = page->total;
        send_json(call.res, out);
        co_return;
    }
    if (conn_id != nullptr && method == V::get) {
        auto got = co_await on_worker([this, &keys, conn_id] {
            return store_only(store_, keys).get_connection(*conn_id);
        });
        if (!got || !*got) {
            send_error(call.res,
                       got ? Error{ErrorCode::kNotFound,
                                   fmt::format("connection '{}' not found", *conn_id)}
                           : got.error(),
                       call.instance);
            co_return;
        }
        send_json(call.res, connection_json(**got));
        co_return;
    }
    if (conn_id != nullptr && method == V::delete_) {
        auto deleted = co_await on_worker([this, &keys, conn_id] {
            return store_only(store_, keys).delete_connection(*conn_id);
        });
        if (!deleted) {
            send_error(call.res, deleted.error(), call.instance);
            co_return;
        }
        call.res.status = 204;
        co_return;
    }
    auto body = parse_body(call.req);
    if (!body) {
        send_error(call.res, body.error(), call.instance);
        co_return;
    }
    if (auto known = only_fields(*body, {"connection_id", "conn_type", "description", "host",
                                         "login", "schema", "port", "password", "extra"});
        !known) {
        send_error(call.res, known.error(), call.instance);
        co_return;
    }
    std::vector<std::string> mask;
    if (auto text = call.req.query_param("update_mask")) {
        for (auto field : split(*text, ',')) {
            const std::string name(trim(field));
            if (name.empty()) continue;
            if (name == "connection_id" ||
                std::find(kFields.begin(), kFields.end(), name) == kFields.end()) {
                send_error(call.res,
                           invalid(fmt::format("query parameter 'update_mask': '{}' cannot be "
                                               "updated",
                                               name)),
                           call.instance);
                co_return;
            }
            mask.push_back(name);
        }
    }
    auto body_id = field_string(*body, "connection_id");
    if (!body_id) {
        send_error(call.res, body_id.error(), call.instance);
        co_return;
    }
    const bool patch = method == V::patch;
    if (!patch && !*body_id) {
        send_error(call.res, invalid("field 'connection_id' is required"), call.instance);
        co_return;
    }
    if (patch && *body_id && **body_id != *conn_id) {
        send_error(call.res,
                   invalid(fmt::format("the body's connection_id '{}' does not match the path's "
                                       "'{}'",
                                       **body_id, *conn_id)),
                   call.instance);
        co_return;
    }
    if (!patch && !body->contains("conn_type")) {
        send_error(call.res, invalid("field 'conn_type' is required (a string)"), call.instance);
        co_return;
    }
    const std::string id = patch ? *conn_id : **body_id;
    const json::object& fields = *body;
    auto saved = co_await on_worker([this, &keys, &id, &fields, &mask,
                                     patch]() -> Result<store::Connection> {
        auto secrets = store_only(store_, keys);
        store::Connection c;
        c.conn_id = id;
        if (patch) {
            auto got = secrets.get_connection(id);
            if (!got) return got.error();
            if (!*got) {
                return Error{ErrorCode::kNotFound, fmt::format("connection '{}' not found", id)};
            }
            c = std::move(**got);
        }
        if (auto applied = apply_fields(fields, mask, c); !applied) return applied.error();
        if (auto put = secrets.put_connection(
                c, patch ? store::PutMode::kUpdate : store::PutMode::kCreate);
            !put) {
            return put.error();
        }
        return c;
    });
    if (!saved) {
        send_error(call.res, saved.error(), call.instance);
        co_return;
    }
    send_json(call.res, connection_json(*saved));
}

}  // namespace orquestra::api
