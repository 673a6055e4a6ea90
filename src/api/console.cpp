// The console's endpoints under /api/v1/ui: its login (a cookie session with a CSRF token),
// and views that would otherwise take the page many calls: the DAG list with recent runs and
// the services each DAG calls, a DAG's grid (recent runs × tasks), and the registry's services
// joined to the DAGs that call them.

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/array.hpp>
#include <map>
#include <set>

#include "api/api_detail.hpp"
#include "api/request.hpp"
#include "core/strings.hpp"
#include "registry/model.hpp"
#include "scheduler/log_writer.hpp"

namespace orquestra::api {

using beast_verb = http::beast_http::verb;

namespace {

constexpr std::size_t kMaxUsernameBytes = 256;

std::string session_cookie(std::string_view value, bool secure, bool expire) {
    std::string out = fmt::format("{}={}; Path=/; HttpOnly; SameSite=Strict",
                                  SessionStore::kCookieName, value);
    if (secure) out += "; Secure";
    if (expire) out += "; Max-Age=0";
    return out;
}

json::object whoami_json(const std::string& username, Role role, const std::string& csrf) {
    json::object out;
    out["username"] = username;
    out["role"] = to_string(role);
    out["csrf_token"] = csrf.empty() ? json::value(nullptr) : json::value(csrf);
    return out;
}

Result<int> query_count(const http::Request& req, std::string_view name, int fallback, int max) {
    auto text = req.query_param(name);
    if (!text) return fallback;
    auto n = parse_int(*text);
    if (!n || *n < 1 || *n > max) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("query parameter '{}' must be a number from 1 to {}", name, max)};
    }
    return static_cast<int>(*n);
}

// The services a task calls or waits for (upper case, as the registry names apps).
std::optional<std::string> task_service(const dag::Task& task) {
    if (const auto* http = std::get_if<dag::HttpSpec>(&task.kind)) {
        if (http->service) return to_upper(*http->service);
        return std::nullopt;
    }
    if (const auto* wait = std::get_if<dag::WaitForServiceSpec>(&task.kind)) {
        return to_upper(wait->service);
    }
    return std::nullopt;
}

json::object run_summary_json(const store::DagRun& run) {
    json::object out;
    out["dag_run_id"] = run.run_id;
    out["state"] = store::to_string(run.state);
    out["run_type"] = store::to_string(run.run_type);
    out["logical_date"] = datetime_json(run.logical_date);
    out["start_date"] = datetime_json(run.start_date);
    out["end_date"] = datetime_json(run.end_date);
    return out;
}

// "dags/x.yaml:12: ..." gives 12 when the message starts with the file's name.
json::value import_error_line(const store::ImportError& e) {
    std::string_view m = e.message;
    const std::string_view base = std::string_view(e.filename).substr(
        e.filename.find_last_of('/') == std::string::npos ? 0 : e.filename.find_last_of('/') + 1);
    for (std::string_view prefix : {std::string_view(e.filename), base}) {
        if (prefix.empty() || !m.starts_with(prefix) || m.size() <= prefix.size() ||
            m[prefix.size()] != ':') {
            continue;
        }
        std::string_view rest = m.substr(prefix.size() + 1);
        std::size_t digits = 0;
        while (digits < rest.size() && digits < 9 && rest[digits] >= '0' && rest[digits] <= '9') {
            ++digits;
        }
        if (digits > 0) return parse_int(rest.substr(0, digits)).value_or(0);
    }
    return nullptr;
}

struct ServiceHealth {
    std::int64_t up = 0;
    std::int64_t total = 0;
};

// UP and total instances of one service (nothing known without a catalog).
ServiceHealth service_health(ServiceCatalog* catalog, const std::string& name) {
    ServiceHealth h;
    if (catalog == nullptr) return h;
    if (auto app = catalog->application(name)) {
        for (const auto& i : app->instances) {
            ++h.total;
            if (i.status == registry::InstanceStatus::kUp) ++h.up;
        }
    }
    return h;
}

// A DAG's newest runs, newest first.
Result<std::vector<store::DagRun>> recent_runs(store::Store& store, const std::string& dag_id,
                                               int limit) {
    store::RunFilter filter;
    filter.dag_id = dag_id;
    filter.order_by = "-id";
    filter.limit = limit;
    auto page = store.list_runs(filter);
    if (!page) return page.error();
    return std::move(page->items);
}

}  // namespace

// --- session --------------------------------------------------------------------------------

asio::awaitable<void> ApiServer::ui_login(Call& call) {
    auto body = parse_body(call.req);
    if (!body) {
        send_error(call.res, body.error(), call.instance);
        co_return;
    }
    auto only = only_fields(*body, {"username", "password"});
    auto username = field_string(*body, "username");
    auto password = field_string(*body, "password");
    Result<void> checked = !only ? only
                           : !username ? Result<void>(username.error())
                           : !password ? Result<void>(password.error())
                                       : Result<void>();
    if (checked && (!*username || (*username)->empty() || (*username)->size() > kMaxUsernameBytes)) {
        checked = Error{ErrorCode::kInvalidArgument,
                        fmt::format("field 'username' is required (1 to {} bytes)",
                                    kMaxUsernameBytes)};
    }
    if (checked && (!*password || (*password)->size() > kMaxPasswordBytes)) {
        checked = Error{ErrorCode::kInvalidArgument,
                        fmt::format("field 'password' is required (at most {} bytes)",
                                    kMaxPasswordBytes)};
    }
    if (!checked) {
        send_error(call.res, checked.error(), call.instance);
        co_return;
    }
    const std::string name = **username;
    const std::string secret = **password;
    auto role = co_await check_password(call, name, secret);
    if (!role) co_return;  // answered: 401, 429 or 503
    if (!*role) {
        send_problem(call.res, 403, "this user has no role that allows console access",
                     call.instance);
        co_return;
    }
    auto created = sessions_.create(name, **role);
    send_json(call.res, whoami_json(name, **role, created.session.csrf_token));
    call.res.add_header("Set-Cookie", session_cookie(created.token, options_.secure_cookies, false));
    call.res.add_header("Cache-Control", "no-store");
}

void ApiServer::ui_logout(Call& call) {
    if (auto token = SessionStore::token_in(call.req.header(http::beast_http::field::cookie))) {
        sessions_.end(*token);
    }
    call.res = http::Response{};
    call.res.status = 204;
    call.res.add_header("Set-Cookie", session_cookie("", options_.secure_cookies, true));
    call.res.add_header("Cache-Control", "no-store");
}

void ApiServer::ui_whoami(Call& call, Role role) {
    send_json(call.res, whoami_json(call.username, role, call.csrf_token));
    call.res.add_header("Cache-Control", "no-store");
}

// --- DAGs -----------------------------------------------------------------------------------

asio::awaitable<void> ApiServer::ui_dags(Call& call) {
    auto runs = query_count(call.req, "runs", 10, 25);
    if (!runs) {
        send_error(call.res, runs.error(), call.instance);
        co_return;
    }
    std::vector<store::ImportError> errors;
    auto views = co_await dag_views(&errors);
    if (!views) {
        send_error(call.res, views.error(), call.instance);
        co_return;
    }
    struct Loaded {
        std::vector<store::RunCount> counts;
        std::map<std::string, std::vector<store::DagRun>> recent;
    };
    auto loaded = co_await on_reader(
        [&views, limit = *runs](store::Store& store) -> Result<Loaded> {
            Loaded out;
            auto counts = store.count_runs();
            if (!counts) return counts.error();
            out.counts = std::move(*counts);
            for (const auto& view : *views) {
                auto recent = recent_runs(store, view.record.dag_id, limit);
                if (!recent) return recent.error();
                out.recent[view.record.dag_id] = std::move(*recent);
            }
            return out;
        });
    if (!loaded) {
        send_error(call.res, loaded.error(), call.instance);
        co_return;
    }
    json::array dags;
    for (auto& view : *views) {
        if (!view.record.is_active && !view.dag) continue;
        view.next = next_interval(view);
        json::object d = dag_json(view);
        json::array recent;
        for (const auto& run : loaded->recent[view.record.dag_id]) {
            recent.push_back(run_summary_json(run));
        }
        d["recent_runs"] = std::move(recent);
        json::object counts{{"queued", 0}, {"running", 0}, {"success", 0}, {"failed", 0}};
        for (const auto& c : loaded->counts) {
            if (c.dag_id == view.record.dag_id) counts[store::to_string(c.state)] = c.count;
        }
        d["run_counts"] = std::move(counts);
        json::array services;
        if (view.dag) {
            std::set<std::string> seen;
            for (const auto& task : view.dag->tasks) {
                auto name = task_service(task);
                if (!name || !seen.insert(*name).second) continue;
                const ServiceHealth health = service_health(options_.catalog, *name);
                services.push_back(
                    json::object{{"name", *name}, {"up", health.up}, {"total", health.total}});
            }
        }
        d["services"] = std::move(services);
        dags.push_back(std::move(d));
    }
    json::array import_errors;
    for (const auto& e : errors) {
        json::object o = import_error_json(e);
        o["line"] = import_error_line(e);
        import_errors.push_back(std::move(o));
    }
    send_json(call.res, json::object{{"dags", std::move(dags)},
                                     {"import_errors", std::move(import_errors)}});
}

asio::awaitable<void> ApiServer::ui_grid(Call& call, const std::string& dag_id) {
    auto runs = query_count(call.req, "runs", 25, 100);
    if (!runs) {
        send_error(call.res, runs.error(), call.instance);
        co_return;
    }
    struct Loaded {
        std::shared_ptr<const dag::Dag> dag;
        std::vector<store::DagRun> runs;
        std::vector<std::vector<store::TaskInstance>> instances;
    };
    auto dag = co_await on_loop([this, &dag_id] { return engine_.find_dag(dag_id); });
    auto loaded = co_await on_reader(
        [&dag, &dag_id, limit = *runs](store::Store& store) -> Result<Loaded> {
            Loaded out;
            out.dag = dag;
            if (!out.dag) {
                auto record = store.get_dag(dag_id);
                if (!record) return record.error();
                if (!record->has_value()) {
                    return Error{ErrorCode::kNotFound, fmt::format("DAG '{}' not found", dag_id)};
                }
            }
            auto recent = recent_runs(store, dag_id, limit);
            if (!recent) return recent.error();
            out.runs = std::move(*recent);
            std::vector<std::string> ids;
            ids.reserve(out.runs.size());
            for (const auto& run : out.runs) ids.push_back(run.run_id);
            auto tis = store.task_instances_of_runs(dag_id, ids);
            if (!tis) return tis.error();
            std::map<std::string_view, std::size_t> index;
            for (std::size_t i = 0; i < out.runs.size(); ++i) index[out.runs[i].run_id] = i;
            out.instances.resize(out.runs.size());
            for (auto& ti : *tis) {
                auto it = index.find(ti.run_id);
                if (it != index.end()) out.instances[it->second].push_back(std::move(ti));
            }
            return out;
        });
    if (!loaded) {
        send_error(call.res, loaded.error(), call.instance);
        co_return;
    }
    json::array tasks;
    if (loaded->dag) {
        for (const auto& task : loaded->dag->tasks) {
            json::object t;
            t["task_id"] = task.task_id;
            t["kind"] = task.kind_name();
            auto service = task_service(task);
            t["service"] = service ? json::value(*service) : json::value(nullptr);
            const auto* http = std::get_if<dag::HttpSpec>(&task.kind);
            t["method"] = http ? json::value(http->method) : json::value(nullptr);
            t["path"] = http ? json::value(http->path.source()) : json::value(nullptr);
            t["trigger_rule"] = dag::to_string(task.trigger_rule);
            json::array up;
            for (const auto& u : task.upstream) up.push_back(json::value(u));
            json::array down;
            for (const auto& d : task.downstream) down.push_back(json::value(d));
            t["upstream_task_ids"] = std::move(up);
            t["downstream_task_ids"] = std::move(down);
            tasks.push_back(std::move(t));
        }
    }
    json::array runs_out;
    for (std::size_t i = 0; i < loaded->runs.size(); ++i) {
        const auto& run = loaded->runs[i];
        json::object r = run_json(run);
        json::object instances;
        for (const auto& ti : loaded->instances[i]) {
            json::object cell;
            cell["state"] = ti.state == store::TaskState::kNone
                                ? json::value(nullptr)
                                : json::value(store::to_string(ti.state));
            cell["try_number"] = ti.try_number;
            cell["start_date"] = datetime_json(ti.start_date);
            cell["end_date"] = datetime_json(ti.end_date);
            cell["duration"] = ti.start_date && ti.end_date
                                   ? json::value(static_cast<double>(*ti.end_date - *ti.start_date) /
                                                 1000.0)
                                   : json::value(nullptr);
            cell["queued_when"] = datetime_json(ti.queued_when);
            cell["served_by"] = ti.served_by;
            instances[ti.task_id] = std::move(cell);
        }
        r["task_instances"] = std::move(instances);
        runs_out.push_back(std::move(r));
    }
    json::object out;
    out["dag_id"] = dag_id;
    out["tasks"] = std::move(tasks);
    out["runs"] = std::move(runs_out);
    send_json(call.res, out);
}

// --- services -------------------------------------------------------------------------------

asio::awaitable<void> ApiServer::ui_services(Call& call) {
    if (options_.catalog == nullptr) {
        send_problem(call.res, 503, "this process has no service registry attached",
                     call.instance);
        co_return;
    }
    // Which tasks call which service, and each calling DAG's last runs.
    struct Caller {
        std::string dag_id;
        std::string task_id;
        std::string kind;
        std::string service;
    };
    struct Loaded {
        std::vector<Caller> callers;
        std::map<std::string, std::vector<store::DagRun>> recent;
    };
    auto views = co_await dag_views(nullptr);
    if (!views) {
        send_error(call.res, views.error(), call.instance);
        co_return;
    }
    auto loaded = co_await on_reader([&views](store::Store& store) -> Result<Loaded> {
        Loaded out;
        for (const auto& view : *views) {
            if (!view.dag) continue;
            bool calls = false;
            for (const auto& task : view.dag->tasks) {
                auto service = task_service(task);
                if (!service) continue;
                calls = true;
                out.callers.push_back({view.record.dag_id, task.task_id,
                                       std::string(task.kind_name()), *service});
            }
            if (!calls) continue;
            auto recent = recent_runs(store, view.record.dag_id, 5);
            if (!recent) return recent.error();
            out.recent[view.record.dag_id] = std::move(*recent);
        }
        return out;
    });
    if (!loaded) {
        send_error(call.res, loaded.error(), call.instance);
        co_return;
    }
    const CatalogStatus status = options_.catalog->status();
    const registry::Applications apps = options_.catalog->applications();

    json::object reg;
    reg["self_preservation_enabled"] = status.self_preservation_enabled;
    reg["self_preservation_active"] = status.summary.self_preservation_active;
    reg["renews_last_minute"] = status.summary.renews_last_minute;
    reg["renews_threshold"] = status.renews_threshold;
    reg["expected_renews_per_minute"] = status.summary.expected_renews_per_minute;
    reg["instances"] = status.summary.instances;
    auto up = status.summary.by_status.find("UP");
    reg["up"] = up == status.summary.by_status.end() ? 0 : up->second;

    auto used_by = [&](const std::string& app) {
        json::array out;
        for (const auto& c : loaded->callers) {
            if (c.service != app) continue;
            json::object o;
            o["dag_id"] = c.dag_id;
            o["task_id"] = c.task_id;
            o["kind"] = c.kind;
            json::array last;
            for (const auto& run : loaded->recent[c.dag_id]) {
                last.push_back(json::object{{"dag_run_id", run.run_id},
                                            {"state", store::to_string(run.state)}});
            }
            o["last_runs"] = std::move(last);
            out.push_back(std::move(o));
        }
        return out;
    };

    json::array apps_out;
    std::set<std::string> listed;
    for (const auto& app : apps.applications) {
        listed.insert(app.name);
        json::array instances;
        // This process's breakers for the app's instances (none: never called, or closed).
        const auto health = options_.choice != nullptr ? options_.choice->health(app.name)
                                                       : std::nullopt;
        for (const auto& i : app.instances) {
            json::object o;
            json::object breaker{{"state", "closed"}, {"consecutive_failures", 0}};
            for (const auto& h : health ? health->instances : std::vector<discovery::InstanceHealth>{}) {
                if (h.instance_id != i.id()) continue;
                breaker = json::object{{"state", discovery::to_string(h.state)},
                                       {"consecutive_failures", h.consecutive_failures},
                                       {"open_until", datetime_json(h.open_until)},
                                       {"last_error", h.last_error}};
            }
            o["breaker"] = std::move(breaker);
            o["instance_id"] = i.id();
            o["app"] = i.app;
            o["host_name"] = i.host_name;
            o["ip_addr"] = i.ip_addr;
            o["port"] = i.port.port;
            o["secure_port"] = i.secure_port.enabled ? json::value(i.secure_port.port)
                                                      : json::value(nullptr);
            o["status"] = registry::to_string(i.status);
            o["overridden_status"] = registry::to_string(i.overridden_status);
            const std::string* zone = i.find_metadata("zone");
            o["zone"] = zone != nullptr ? json::value(*zone) : json::value(nullptr);
            json::object metadata;
            for (const auto& [k, v] : i.metadata) metadata[k] = v;
            o["metadata"] = std::move(metadata);
            o["registered_at"] = datetime_json(i.lease.registration_timestamp);
            o["last_renewal"] = datetime_json(i.lease.last_renewal_timestamp);
            o["lease_expires"] = datetime_json(i.lease.last_renewal_timestamp +
                                               static_cast<Millis>(i.lease.duration_secs) * 1000);
            o["home_page_url"] = i.home_page_url;
            o["status_page_url"] = i.status_page_url;
            o["health_check_url"] = i.health_check_url;
            instances.push_back(std::move(o));
        }
        apps_out.push_back(json::object{{"name", app.name},
                                        {"instances", std::move(instances)},
                                        {"used_by", used_by(app.name)}});
    }
    // Services that DAGs call but nobody registered.
    std::set<std::string> missing;
    for (const auto& c : loaded->callers) {
        if (!listed.contains(c.service)) missing.insert(c.service);
    }
    for (const auto& name : missing) {
        apps_out.push_back(json::object{
            {"name", name}, {"instances", json::array()}, {"used_by", used_by(name)}});
    }
    send_json(call.res, json::object{{"registry", std::move(reg)}, {"apps", std::move(apps_out)}});
}

void ApiServer::ui_instance_status(Call& call, const std::string& app,
                                   const std::string& instance_id) {
    if (options_.catalog == nullptr) {
        send_problem(call.res, 503, "this process has no service registry attached",
                     call.instance);
        return;
    }
    std::optional<registry::InstanceStatus> status;
    if (call.req.method() == beast_verb::put) {
        auto body = parse_body(call.req);
        if (!body) {
            send_error(call.res, body.error(), call.instance);
            return;
        }
        auto only = only_fields(*body, {"status"});
        auto text = field_string(*body, "status");
        if (!only || !text) {
            send_error(call.res, !only ? only.error() : text.error(), call.instance);
            return;
        }
        status = *text ? registry::parse_status_strict(**text) : std::nullopt;
        if (!status || *status == registry::InstanceStatus::kUnknown) {
            send_problem(call.res, 400,
                         "field 'status' must be one of UP, DOWN, STARTING, OUT_OF_SERVICE",
                         call.instance);
            return;
        }
    }
    if (auto r = options_.catalog->override_status(app, instance_id, status); !r) {
        send_error(call.res, r.error(), call.instance);
        return;
    }
    spdlog::info("console: {} {} the status of {}/{}{}", call.username,
                 status ? "overrode" : "restored", scheduler::log_safe(app),
                 scheduler::log_safe(instance_id),
                 status ? fmt::format(" to {}", registry::to_string(*status)) : std::string());
    send_json(call.res, json::object{{"app", to_upper(app)},
                                     {"instance_id", instance_id},
                                     {"overridden_status", status ? registry::to_string(*status)
                                                                  : std::string_view("UNKNOWN")}});
}

}  // namespace orquestra::api
