// prepare_attempt and add_secret_inputs (declared in engine.hpp): what a try's templates read
// of variables and connections, looked up when the try is rendered (never when the DAG loads,
// so a changed variable counts from the next try on), and the secret values among them, which
// the masker then hides wherever the try is shown.

#include "scheduler/engine.hpp"

#include "core/strings.hpp"
#include "store/secrets.hpp"

#include <boost/json/parse.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

namespace orquestra::scheduler {

namespace json = boost::json;

namespace {

std::string env_name(std::string_view prefix, std::string_view name) {
    return std::string(prefix) + to_upper(name);
}

json::value optional_text(const std::optional<std::string>& v) {
    return v ? json::value(*v) : json::value(nullptr);
}

}  // namespace

Result<void> add_secret_inputs(const dag::Task& task, json::object& context,
                               store::Secrets* secrets, Masker& masker,
                               std::vector<std::string>* missing) {
    const dag::SecretReads& reads = task.secret_reads;
    if (reads.empty()) return {};
    if (secrets == nullptr) {
        return Error{ErrorCode::kUnavailable,
                     "this process cannot read variables and connections"};
    }
    json::object values;
    json::object jsons;
    auto look_up = [&](const std::string& key) -> Result<std::optional<store::Variable>> {
        auto v = secrets->get_variable(key);
        if (!v) return v.error();
        if (!*v) {
            if (missing != nullptr) {
                missing->push_back(fmt::format(
                    "variable '{}' does not exist (neither {} nor the store has it)", key,
                    env_name(store::kVariableEnvPrefix, key)));
            }
            return v;
        }
        if ((*v)->is_encrypted) masker.add((*v)->value);
        return v;
    };
    for (const auto& key : reads.variables) {
        auto v = look_up(key);
        if (!v) return v.error();
        if (*v) values[key] = (*v)->value;
    }
    for (const auto& key : reads.json_variables) {
        auto v = look_up(key);
        if (!v) return v.error();
        if (!*v) continue;
        boost::system::error_code ec;
        auto parsed = json::parse((*v)->value, ec);
        if (ec) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("variable '{}' is read as var.json but is not JSON: {}", key,
                                     ec.message())};
        }
        jsons[key] = std::move(parsed);
    }
    json::object conns;
    for (const auto& id : reads.connections) {
        auto c = secrets->get_connection(id);
        if (!c) return c.error();
        if (!*c) {
            if (missing != nullptr) {
                missing->push_back(fmt::format(
                    "connection '{}' does not exist (neither {} nor the store has it)", id,
                    env_name(store::kConnectionEnvPrefix, id)));
            }
            continue;
        }
        const store::Connection& conn = **c;
        if (conn.password) masker.add(*conn.password);
        json::object o;
        o["conn_type"] = conn.conn_type;
        o["host"] = optional_text(conn.host);
        o["port"] = conn.port ? json::value(*conn.port) : json::value(nullptr);
        o["login"] = optional_text(conn.login);
        o["password"] = optional_text(conn.password);
        o["schema"] = optional_text(conn.schema);
        o["extra"] = optional_text(conn.extra);
        o["description"] = optional_text(conn.description);
        json::value dejson = json::object();
        if (conn.extra && !conn.extra->empty()) {
            boost::system::error_code ec;
            auto parsed = json::parse(*conn.extra, ec);
            if (!ec) dejson = std::move(parsed);
        }
        o["extra_dejson"] = std::move(dejson);
        conns[id] = std::move(o);
    }
    json::object var;
    var["value"] = std::move(values);
    var["json"] = std::move(jsons);
    context["var"] = std::move(var);
    context["conn"] = std::move(conns);
    return {};
}

Result<executor::Attempt> prepare_attempt(const dag::Task& task, json::object context,
                                          store::Secrets* secrets, Masker& masker) {
    std::vector<std::string> missing;
    if (auto added = add_secret_inputs(task, context, secrets, masker, &missing); !added) {
        return Error{added.error().code, masker.apply(added.error().message)};
    }
    auto attempt = render_attempt(task, context);
    if (!attempt) {
        // An unknown variable or connection is the reason, whatever the template then said.
        std::string message = attempt.error().message;
        if (!missing.empty()) message = fmt::format("{}: {}", fmt::join(missing, "; "), message);
        return Error{attempt.error().code, masker.apply(message)};
    }
    // Values the try passes on under secret-looking names are secrets too.
    if (const auto* cmd = std::get_if<executor::RenderedCommand>(&attempt->work)) {
        for (const auto& [name, value] : cmd->env) {
            if (store::looks_secret(name)) masker.add(value);
        }
    } else if (const auto* http = std::get_if<executor::RenderedHttp>(&attempt->work)) {
        for (const auto& [name, value] : http->headers) {
            if (store::looks_secret(name)) masker.add(value);
        }
    }
    return attempt;
}

}  // namespace orquestra::scheduler
