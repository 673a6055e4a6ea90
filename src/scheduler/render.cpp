// render_attempt (declared in engine.hpp): a task's templates rendered for one try. Every
// value is bounded as it is rendered (dag.hpp and template.hpp limits) and encoded for where it
// goes, since a run's conf and params come from whoever triggered it: path values become one
// percent-encoded segment each, query values one parameter, and nothing with a control
// character reaches a request line or header.

#include "scheduler/engine.hpp"

#include "core/strings.hpp"
#include "http/client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace orquestra::scheduler {

namespace json = boost::json;

namespace {

Error in_field(std::string_view field, const Error& e) {
    return Error{e.code, fmt::format("{}: {}", field, e.message)};
}

Error too_large(std::string_view field, std::size_t limit, std::string_view what) {
    return Error{ErrorCode::kTooLarge,
                 fmt::format("{}: the rendered text would be longer than {} bytes, the limit for {}",
                             field, limit, what)};
}

// A value inside a path is one segment: '/', '?', '#', '%', spaces and control characters are
// all encoded, so it can neither leave its segment nor end the request line.
std::string path_segment(std::string_view value) { return percent_encode(value); }

// The first control character other than TAB (which header values may hold), if any.
std::optional<char> control_character(std::string_view s, bool allow_tab) {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && !(allow_tab && c == '\t')) || u == 0x7f) return c;
    }
    return std::nullopt;
}

// A connection's base URL: scheme://host[:port][/schema], the scheme from conn_type (https
// for "https") or from a schema of "http"/"https" (which Airflow's HTTP connections use as the
// scheme); any other schema is the path's first part. A host that holds "://" is the base as
// it is.
Result<std::string> connection_base(const std::string& id, const json::object& conn) {
    auto text = [&](std::string_view field) -> std::string {
        const json::value* v = conn.if_contains(field);
        return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    const std::string host = text("host");
    std::string schema = text("schema");
    if (host.empty()) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("connection '{}' has no host, so it gives no URL", id)};
    }
    std::string base;
    if (host.find("://") != std::string::npos) {
        base = host;
        while (base.ends_with('/')) base.pop_back();
    } else {
        std::string scheme = iequals(text("conn_type"), "https") ? "https" : "http";
        if (iequals(schema, "http") || iequals(schema, "https")) {
            scheme = to_lower(schema);
            schema.clear();
        }
        base = scheme + "://" + host;
        const json::value* port = conn.if_contains("port");
        if (port != nullptr && port->is_int64()) base += ":" + std::to_string(port->get_int64());
    }
    for (auto segment : split(schema, '/')) {
        if (!segment.empty()) base += "/" + percent_encode(segment);
    }
    if (auto ok = http::parse_http_url(base); !ok) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("connection '{}' does not give a valid http(s) URL: {}", id,
                                 ok.error().message)};
    }
    return base;
}

Result<executor::RenderedHttp> render_http(const dag::HttpSpec& spec, const json::object& ctx) {
    executor::RenderedHttp http;
    http.service = spec.service;
    http.url = spec.url;
    http.method = spec.method;
    std::optional<std::string> basic_auth;
    if (spec.connection) {
        const json::value* conns = ctx.if_contains("conn");
        const json::value* conn = conns != nullptr && conns->is_object()
                                      ? conns->get_object().if_contains(*spec.connection)
                                      : nullptr;
        if (conn == nullptr || !conn->is_object()) {
            return Error{ErrorCode::kNotFound,
                         fmt::format("connection '{}' does not exist (neither ORQUESTRA_CONN_{} "
                                     "nor the store has it)",
                                     *spec.connection, to_upper(*spec.connection))};
        }
        auto base = connection_base(*spec.connection, conn->get_object());
        if (!base) return in_field("connection", base.error());
        http.url = *base + spec.url.value_or("");
        const json::value* login = conn->get_object().if_contains("login");
        const json::value* password = conn->get_object().if_contains("password");
        if (login != nullptr && login->is_string() && !login->get_string().empty()) {
            std::string credentials = std::string(login->get_string()) + ":";
            if (password != nullptr && password->is_string()) {
                credentials += std::string(password->get_string());
            }
            basic_auth = "Basic " + base64_encode(credentials);
        }
    }
    dag::RenderBudget target(dag::kMaxRequestTargetBytes, "the request target (path and query)");
    auto path = spec.path.render_text(ctx, target, &path_segment);
    if (!path) return in_field("path", path.error());
    http.path = std::move(*path);
    char sep = http.path.find('?') == std::string::npos ? '?' : '&';
    for (const auto& [key, tmpl] : spec.query) {
        std::string field = "query " + key;
        auto v = tmpl.render_text(ctx);
        if (!v) return in_field(field, v.error());
        std::string item = percent_encode(key) + "=" + percent_encode(*v);
        if (!target.take(item.size() + 1)) return too_large(field, target.limit(), target.what());
        http.path += sep;
        http.path += item;
        sep = '&';
    }
    // With a url, the path is appended to the url's own (already valid) path, and may be empty.
    if (!http.path.empty() || spec.service) {
        if (auto ok = http::check_request_target(http.path.empty() ? "/" : http.path); !ok) {
            return in_field("path", ok.error());
        }
    }
    dag::RenderBudget headers(dag::kMaxHeaderBytes, "the headers in total");
    for (const auto& [key, tmpl] : spec.headers) {
        std::string field = "header " + key;
        if (!headers.take(key.size())) return too_large(field, headers.limit(), headers.what());
        auto v = tmpl.render_text(ctx, headers);
        if (!v) return in_field(field, v.error());
        if (auto c = control_character(*v, true)) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("{}: the value holds the control character \\x{:02x}", field,
                                     static_cast<unsigned char>(*c))};
        }
        http.headers.emplace_back(key, std::move(*v));
    }
    if (basic_auth && std::none_of(http.headers.begin(), http.headers.end(), [](const auto& h) {
            return iequals(h.first, "Authorization");
        })) {
        http.headers.emplace_back("Authorization", std::move(*basic_auth));
    }
    dag::RenderBudget body(dag::kMaxBodyBytes, "the body");
    if (spec.json) {
        auto v = spec.json->render(ctx, body);
        if (!v) return in_field("json", v.error());
        http.body = json::serialize(*v);
        // The file's own constants count too.
        if (http.body->size() > dag::kMaxBodyBytes) {
            return too_large("json", dag::kMaxBodyBytes, body.what());
        }
        http.content_type = "application/json";
    } else if (spec.body) {
        auto v = spec.body->render_text(ctx, body);
        if (!v) return in_field("body", v.error());
        http.body = std::move(*v);
        http.content_type = "text/plain; charset=utf-8";
        for (const auto& [k, val] : http.headers) {
            if (iequals(k, "Content-Type")) http.content_type.clear();
        }
    }
    http.expected_status = spec.expected_status;
    return http;
}

Result<executor::RenderedCommand> render_command(const dag::CommandSpec& cmd,
                                                 const json::object& ctx) {
    executor::RenderedCommand c;
    dag::RenderBudget argv(dag::kMaxArgvBytes, "argv in total");
    for (std::size_t i = 0; i < cmd.argv.size(); ++i) {
        std::string field = fmt::format("argv[{}]", i);
        auto v = cmd.argv[i].render_text(ctx, argv);
        if (!v) return in_field(field, v.error());
        // A NUL would silently cut the argument short.
        if (v->find('\0') != std::string::npos) {
            return Error{ErrorCode::kInvalidArgument, field + ": the value holds a NUL byte"};
        }
        c.argv.push_back(std::move(*v));
    }
    c.script = cmd.script;
    dag::RenderBudget env(dag::kMaxEnvBytes, "env in total");
    for (const auto& [key, tmpl] : cmd.env) {
        std::string field = "env " + key;
        if (!env.take(key.size() + 1)) return too_large(field, env.limit(), env.what());
        auto v = tmpl.render_text(ctx, env);
        if (!v) return in_field(field, v.error());
        if (v->find('\0') != std::string::npos) {
            return Error{ErrorCode::kInvalidArgument, field + ": the value holds a NUL byte"};
        }
        c.env.emplace_back(key, std::move(*v));
    }
    c.cwd = cmd.cwd;
    return c;
}

}  // namespace

Result<executor::Attempt> render_attempt(const dag::Task& task, const json::object& ctx) {
    executor::Attempt attempt;
    Millis timeout = 0;
    if (const auto* spec = std::get_if<dag::HttpSpec>(&task.kind)) {
        auto http = render_http(*spec, ctx);
        if (!http) return http.error();
        timeout = spec->timeout;
        if (spec->attempt_timeout) {
            http->attempt_timeout = std::chrono::milliseconds(*spec->attempt_timeout);
        }
        attempt.work = std::move(*http);
    } else if (const auto* cmd = std::get_if<dag::CommandSpec>(&task.kind)) {
        auto command = render_command(*cmd, ctx);
        if (!command) return command.error();
        timeout = cmd->timeout;
        attempt.work = std::move(*command);
    } else if (const auto* wait = std::get_if<dag::WaitForServiceSpec>(&task.kind)) {
        attempt.work = executor::RenderedWait{wait->service, wait->min_instances};
        timeout = wait->timeout;
    } else {
        // trigger_dag: the engine runs it itself (trigger_dag.cpp), never a runner.
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("task '{}' is a {} task, which the scheduler runs itself",
                                 task.task_id, task.kind_name())};
    }
    if (task.execution_timeout) timeout = std::min(timeout, *task.execution_timeout);
    attempt.timeout = std::chrono::milliseconds(std::max<Millis>(1, timeout));
    return attempt;
}

namespace {

// Header names whose values are credentials in any request.
bool is_secret_header(std::string_view name) {
    static constexpr std::array<std::string_view, 4> kExact = {
        "authorization", "proxy-authorization", "cookie", "x-api-key"};
    static constexpr std::array<std::string_view, 6> kParts = {"token", "secret", "password",
                                                              "passwd", "auth",  "key"};
    const std::string lower = to_lower(name);
    if (std::find(kExact.begin(), kExact.end(), lower) != kExact.end()) return true;
    return std::any_of(kParts.begin(), kParts.end(),
                       [&](std::string_view part) { return lower.find(part) != std::string::npos; });
}

constexpr std::size_t kMaxDescribedText = 16 * 1024;

json::value bounded_text(const std::string& text) {
    if (text.size() <= kMaxDescribedText) return json::value(text);
    return json::value(text.substr(0, kMaxDescribedText) +
                       fmt::format("... ({} more bytes)", text.size() - kMaxDescribedText));
}

}  // namespace

std::string describe_attempt(const executor::Attempt& attempt) {
    json::object out;
    if (const auto* http = std::get_if<executor::RenderedHttp>(&attempt.work)) {
        out["kind"] = "http";
        out["method"] = http->method;
        out["service"] = http->service ? json::value(*http->service) : json::value(nullptr);
        out["url"] = http->url ? json::value(*http->url) : json::value(nullptr);
        out["path"] = http->path;
        json::object headers;
        for (const auto& [name, value] : http->headers) {
            headers[name] = is_secret_header(name) ? json::value("***") : bounded_text(value);
        }
        out["headers"] = std::move(headers);
        if (!http->content_type.empty()) out["content_type"] = http->content_type;
        if (http->body) {
            // A JSON body is shown as JSON; anything else as its text.
            json::value body = bounded_text(*http->body);
            if (http->body->size() <= kMaxDescribedText) {
                boost::system::error_code ec;
                auto parsed = json::parse(*http->body, ec);
                if (!ec) body = std::move(parsed);
            }
            out["body"] = std::move(body);
        } else {
            out["body"] = nullptr;
        }
        json::array expected;
        for (int code : http->expected_status) expected.push_back(code);
        out["expected_status"] = std::move(expected);
    } else if (const auto* cmd = std::get_if<executor::RenderedCommand>(&attempt.work)) {
        out["kind"] = "command";
        json::array argv;
        for (const auto& a : cmd->argv) argv.push_back(bounded_text(a));
        out["argv"] = std::move(argv);
        out["script"] = cmd->script ? bounded_text(*cmd->script) : json::value(nullptr);
        // Values may be secrets (as in the try's log, only the names are shown), but for the
        // ones the scheduler itself sets to say what the process is part of.
        static constexpr std::array<std::string_view, 4> kShown = {
            "ORQUESTRA_DAG_ID", "ORQUESTRA_RUN_ID", "ORQUESTRA_TASK_ID", "ORQUESTRA_TRY_NUMBER"};
        json::object env;
        for (const auto& [name, value] : cmd->env) {
            const bool shown = std::find(kShown.begin(), kShown.end(), name) != kShown.end();
            env[name] = shown ? json::value(value) : json::value("***");
        }
        out["env"] = std::move(env);
        out["cwd"] = cmd->cwd ? json::value(*cmd->cwd) : json::value(nullptr);
    } else {
        const auto& wait = std::get<executor::RenderedWait>(attempt.work);
        out["kind"] = "wait_for_service";
        out["service"] = wait.service;
        out["min_instances"] = wait.min_instances;
    }
    out["timeout_ms"] = attempt.timeout.count();
    return json::serialize(out);
}

}  // namespace orquestra::scheduler
