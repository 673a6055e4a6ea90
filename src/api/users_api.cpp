// /users and /roles (Admin only), in Airflow's shapes: users with one role each (Orquestra's
// roles are Airflow's four built-in ones, fixed), passwords hashed with argon2id on the
// password pool and never returned. The last Admin cannot be deleted or given another role.

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "api/api.hpp"
#include "api/api_detail.hpp"
#include "api/request.hpp"
#include "api/users.hpp"
#include "core/strings.hpp"

namespace orquestra::api {

namespace {

Error invalid(std::string message) {
    return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

constexpr std::size_t kMaxNameBytes = 256;

json::object user_json(const store::User& u) {
    json::object out;
    out["first_name"] = u.first_name;
    out["last_name"] = u.last_name;
    out["username"] = u.username;
    out["email"] = u.email;
    out["active"] = true;
    out["last_login"] = nullptr;
    out["login_count"] = nullptr;
    out["failed_login_count"] = nullptr;
    json::array roles;
    if (!u.role.empty()) roles.push_back(json::object{{"name", u.role}});
    out["roles"] = std::move(roles);
    out["created_on"] = datetime_json(u.created_at);
    out["changed_on"] = datetime_json(u.created_at);
    return out;
}

// What each role may do, as Airflow's (action, resource) pairs.
json::object role_json(Role role) {
    json::array actions;
    auto add = [&actions](std::string_view action, std::string_view resource) {
        actions.push_back(json::object{{"action", json::object{{"name", action}}},
                                       {"resource", json::object{{"name", resource}}}});
    };
    static constexpr std::string_view kRead[] = {
        "DAGs",  "DAG Runs",     "Task Instances", "Task Logs", "XComs",
        "ImportError", "DAG Code", "Audit Logs", "Website"};
    for (auto r : kRead) add("can_read", r);
    if (allows(role, Permission::kEdit)) {
        add("can_edit", "DAGs");
        add("can_create", "DAG Runs");
        add("can_edit", "DAG Runs");
        add("can_delete", "DAG Runs");
        add("can_edit", "Task Instances");
    }
    if (allows(role, Permission::kOperate)) add("can_edit", "Service Instances");
    if (allows(role, Permission::kAdmin)) {
        for (auto action : {"can_read", "can_create", "can_edit", "can_delete"}) {
            add(action, "Users");
        }
        add("can_read", "Roles");
        add("can_read", "Configurations");
    }
    return json::object{{"name", to_string(role)}, {"actions", std::move(actions)}};
}

// The fields of a user body. Read-only fields a client may send back are accepted and
// ignored; anything else unknown is refused.
struct UserBody {
    std::optional<std::string> username, email, first_name, last_name, password, role;
};

Result<UserBody> parse_user_body(const http::Request& req) {
    auto body = parse_body(req);
    if (!body) return body.error();
    if (auto known = only_fields(*body, {"username", "email", "first_name", "last_name",
                                         "password", "roles", "active", "last_login",
                                         "login_count", "failed_login_count", "created_on",
                                         "changed_on"});
        !known) {
        return known.error();
    }
    UserBody out;
    for (auto [name, target] : {std::pair{"username", &out.username},
                                std::pair{"email", &out.email},
                                std::pair{"first_name", &out.first_name},
                                std::pair{"last_name", &out.last_name},
                                std::pair{"password", &out.password}}) {
        auto v = field_string(*body, name);
        if (!v) return v.error();
        if (*v && std::string_view(name) != "password" && (*v)->size() > kMaxNameBytes) {
            return invalid(fmt::format("field '{}' must be at most {} bytes", name,
                                       kMaxNameBytes));
        }
        *target = std::move(*v);
    }
    if (const json::value* roles = body->if_contains("roles"); roles && !roles->is_null()) {
        if (!roles->is_array()) return invalid("field 'roles' must be an array of {\"name\"}");
        const auto& items = roles->as_array();
        if (items.size() != 1) {
            return invalid(
                "field 'roles' must hold exactly one role: each Orquestra user has one of Admin, "
                "Op, User and Viewer");
        }
        const json::value& item = items[0];
        const json::value* name = item.is_object() ? item.as_object().if_contains("name") : nullptr;
        if (name == nullptr || !name->is_string()) {
            return invalid("field 'roles' must be an array of {\"name\": \"<role>\"}");
        }
        std::string role(name->as_string());
        if (!parse_role(role)) {
            return invalid(fmt::format("role '{}' does not exist: use Admin, Op, User or Viewer",
                                       role));
        }
        out.role = std::move(role);
    }
    return out;
}

std::size_t count_admins(const std::vector<store::User>& users) {
    return static_cast<std::size_t>(std::count_if(
        users.begin(), users.end(), [](const store::User& u) { return u.role == "Admin"; }));
}

}  // namespace

asio::awaitable<void> ApiServer::list_users(Call& call) {
    auto paging = parse_paging(call.req);
    if (!paging) {
        send_error(call.res, paging.error(), call.instance);
        co_return;
    }
    const std::string order = call.req.query_param("order_by").value_or("username");
    if (order != "username" && order != "-username") {
        send_error(call.res,
                   invalid(fmt::format("query parameter 'order_by' cannot be '{}': use username "
                                       "or -username",
                                       order)),
                   call.instance);
        co_return;
    }
    auto users = co_await on_reader([](store::Store& store) { return store.list_users(); });
    if (!users) {
        send_error(call.res, users.error(), call.instance);
        co_return;
    }
    if (order == "-username") std::reverse(users->begin(), users->end());
    json::array items;
    for (std::size_t i = static_cast<std::size_t>(paging->offset);
         i < users->size() && items.size() < static_cast<std::size_t>(paging->limit); ++i) {
        items.push_back(user_json((*users)[i]));
    }
    json::object out;
    out["users"] = std::move(items);
    out["total_entries"] = users->size();
    send_json(call.res, out);
}

asio::awaitable<void> ApiServer::get_user(Call& call, const std::string& username) {
    auto user = co_await on_reader(
        [&username](store::Store& store) { return store.get_user(username); });
    if (!user || !user->has_value()) {
        send_error(call.res,
                   user ? Error{ErrorCode::kNotFound, fmt::format("user '{}' not found", username)}
                        : user.error(),
                   call.instance);
        co_return;
    }
    send_json(call.res, user_json(**user));
}

asio::awaitable<void> ApiServer::create_user_endpoint(Call& call) {
    auto body = parse_user_body(call.req);
    if (!body) {
        send_error(call.res, body.error(), call.instance);
        co_return;
    }
    for (auto [name, value] : {std::pair{"username", &body->username},
                               std::pair{"email", &body->email},
                               std::pair{"first_name", &body->first_name},
                               std::pair{"last_name", &body->last_name},
                               std::pair{"password", &body->password}}) {
        if (!*value) {
            send_error(call.res, invalid(fmt::format("field '{}' is required", name)),
                       call.instance);
            co_return;
        }
    }
    UserSpec spec{*body->username, *body->password, body->role.value_or("Viewer"),
                  *body->email,    *body->first_name, *body->last_name};
    if (auto valid = validate_user(spec); !valid) {
        send_error(call.res, valid.error(), call.instance);
        co_return;
    }
    // argon2id takes tens of milliseconds and 64 MiB: the password pool's work.
    auto hash = co_await on_password_worker([&spec] { return hash_password(spec.password); });
    if (!hash) {
        send_error(call.res, hash.error(), call.instance);
        co_return;
    }
    store::User user;
    user.username = spec.username;
    user.password_hash = std::move(*hash);
    user.role = spec.role;
    user.email = spec.email;
    user.first_name = spec.first_name;
    user.last_name = spec.last_name;
    user.created_at = clock_.now_ms();
    auto created = co_await on_loop([this, &user] { return store_.create_user(user); });
    if (!created) {
        send_error(call.res, created.error(), call.instance);
        co_return;
    }
    auto audit = audit_entry(call, "user_create", {}, {}, {},
                          json::serialize(json::object{{"username", user.username},
                                                       {"role", user.role}}));
    co_await record_event(audit);
    send_json(call.res, user_json(*created));
}

asio::awaitable<void> ApiServer::patch_user(Call& call, const std::string& username) {
    auto body = parse_user_body(call.req);
    if (!body) {
        send_error(call.res, body.error(), call.instance);
        co_return;
    }
    if (body->username && *body->username != username) {
        send_error(call.res,
                   invalid(fmt::format("field 'username' cannot change ('{}' is not '{}')",
                                       *body->username, username)),
                   call.instance);
        co_return;
    }
    // update_mask names the fields to change; without it every field sent is changed.
    if (auto mask = call.req.query_param("update_mask")) {
        std::vector<std::string> wanted;
        for (auto field : split(*mask, ',')) {
            const std::string f(trim(field));
            static const std::vector<std::string> kFields = {"first_name", "last_name", "email",
                                                             "roles", "password"};
            if (std::find(kFields.begin(), kFields.end(), f) == kFields.end()) {
                send_error(call.res,
                           invalid(fmt::format("query parameter 'update_mask': '{}' cannot be "
                                               "updated (use first_name, last_name, email, roles "
                                               "or password)",
                                               f)),
                           call.instance);
                co_return;
            }
            wanted.push_back(f);
        }
        auto keep = [&wanted](std::string_view f, std::optional<std::string>& v) {
            if (std::find(wanted.begin(), wanted.end(), f) == wanted.end()) v.reset();
        };
        keep("first_name", body->first_name);
        keep("last_name", body->last_name);
        keep("email", body->email);
        keep("roles", body->role);
        keep("password", body->password);
    }
    std::optional<std::string> hash;
    if (body->password) {
        UserSpec check{username, *body->password, "Viewer", {}, {}, {}};
        if (auto valid = validate_user(check); !valid) {
            send_error(call.res, valid.error(), call.instance);
            co_return;
        }
        const std::string& password = *body->password;
        auto hashed = co_await on_password_worker([&password] { return hash_password(password); });
        if (!hashed) {
            send_error(call.res, hashed.error(), call.instance);
            co_return;
        }
        hash = std::move(*hashed);
    }
    const UserBody& change = *body;
    auto updated = co_await on_loop([this, &username, &change, &hash]() -> Result<store::User> {
        auto found = store_.get_user(username);
        if (!found) return found.error();
        if (!found->has_value()) {
            return Error{ErrorCode::kNotFound, fmt::format("user '{}' not found", username)};
        }
        store::User user = **found;
        if (change.role && user.role == "Admin" && *change.role != "Admin") {
            auto users = store_.list_users();
            if (!users) return users.error();
            if (count_admins(*users) <= 1) {
                return Error{ErrorCode::kConflict,
                             fmt::format("user '{}' is the last Admin: give another user the "
                                         "Admin role first",
                                         username)};
            }
        }
        if (change.first_name) user.first_name = *change.first_name;
        if (change.last_name) user.last_name = *change.last_name;
        if (change.email) user.email = *change.email;
        if (change.role) user.role = *change.role;
        if (hash) user.password_hash = *hash;
        if (auto r = store_.update_user(user); !r) return r.error();
        return user;
    });
    if (!updated) {
        send_error(call.res, updated.error(), call.instance);
        co_return;
    }
    forget_credentials(username);
    json::array fields;
    for (auto [name, set] : {std::pair{"first_name", change.first_name.has_value()},
                             std::pair{"last_name", change.last_name.has_value()},
                             std::pair{"email", change.email.has_value()},
                             std::pair{"roles", change.role.has_value()},
                             std::pair{"password", change.password.has_value()}}) {
        if (set) fields.push_back(json::string(name));
    }
    auto audit = audit_entry(call, "user_update", {}, {}, {},
                          json::serialize(json::object{{"username", username},
                                                       {"fields", std::move(fields)}}));
    co_await record_event(audit);
    send_json(call.res, user_json(*updated));
}

asio::awaitable<void> ApiServer::delete_user(Call& call, const std::string& username) {
    auto deleted = co_await on_loop([this, &username]() -> Result<void> {
        auto found = store_.get_user(username);
        if (!found) return found.error();
        if (!found->has_value()) {
            return Error{ErrorCode::kNotFound, fmt::format("user '{}' not found", username)};
        }
        if ((*found)->role == "Admin") {
            auto users = store_.list_users();
            if (!users) return users.error();
            if (count_admins(*users) <= 1) {
                return Error{ErrorCode::kConflict,
                             fmt::format("user '{}' is the last Admin and cannot be deleted",
                                         username)};
            }
        }
        return store_.delete_user(username);
    });
    if (!deleted) {
        send_error(call.res, deleted.error(), call.instance);
        co_return;
    }
    forget_credentials(username);
    auto audit = audit_entry(call, "user_delete", {}, {}, {},
                          json::serialize(json::object{{"username", username}}));
    co_await record_event(audit);
    call.res.status = 204;
}

void ApiServer::list_roles(Call& call, const std::string* name) {
    static constexpr Role kRoles[] = {Role::kAdmin, Role::kOp, Role::kUser, Role::kViewer};
    if (name != nullptr) {
        auto role = parse_role(*name);
        if (!role) {
            send_error(call.res,
                       Error{ErrorCode::kNotFound,
                             fmt::format("role '{}' not found (Admin, Op, User, Viewer)", *name)},
                       call.instance);
            return;
        }
        send_json(call.res, role_json(*role));
        return;
    }
    auto paging = parse_paging(call.req);
    if (!paging) {
        send_error(call.res, paging.error(), call.instance);
        return;
    }
    json::array items;
    for (std::size_t i = static_cast<std::size_t>(paging->offset);
         i < std::size(kRoles) && items.size() < static_cast<std::size_t>(paging->limit); ++i) {
        items.push_back(role_json(kRoles[i]));
    }
    json::object out;
    out["roles"] = std::move(items);
    out["total_entries"] = std::size(kRoles);
    send_json(call.res, out);
}

}  // namespace orquestra::api
