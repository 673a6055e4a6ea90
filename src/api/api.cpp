#include "api/api.hpp"

#include "dag/params.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <map>
#include <set>

#include "api/api_detail.hpp"
#include "api/request.hpp"
#include "api/routes.hpp"
#include "api/users.hpp"
#include "core/strings.hpp"
#include "dag/time_text.hpp"
#include "scheduler/decide.hpp"

namespace orquestra::api {

namespace asio = boost::asio;
namespace json = boost::json;
using beast_verb = http::beast_http::verb;
using store::RunState;
using store::TaskState;

// The API's heartbeat on the engine loop: proof that the loop turns and the store answers.
struct detail::ApiHeartbeat {
    explicit ApiHeartbeat(asio::io_context& loop) : timer(loop) {}
    asio::steady_timer timer;  // touched on the engine loop only
    std::atomic<bool> stopped{false};
    std::atomic<Millis> beat{0};   // when the engine loop last ran the heartbeat
    std::atomic<Millis> db_ok{0};  // when the store last answered
    std::atomic<bool> db_failed{false};
};

namespace {

Error invalid(std::string message) {
    return Error{ErrorCode::kInvalidArgument, std::move(message)};
}
Error not_found(std::string message) { return Error{ErrorCode::kNotFound, std::move(message)}; }

using scheduler::dag_not_loaded;
using scheduler::run_not_found;

const std::string& dummy_hash() {
    // Verifying against it when the user does not exist costs the same as a wrong password,
    // so response times do not tell which usernames exist.
    static const std::string hash = [] {
        auto h = hash_password("orquestra-no-such-user");
        return h ? *h : std::string();
    }();
    return hash;
}

// base64 of the decimal byte offset.
std::string encode_token(std::uint64_t offset) { return base64_encode(std::to_string(offset)); }

std::optional<std::uint64_t> decode_token(std::string_view token) {
    auto n = parse_int(base64_decode(token));
    if (!n || *n < 0) return std::nullopt;
    return static_cast<std::uint64_t>(*n);
}

std::string join_states(std::initializer_list<std::string_view> names) {
    std::string out;
    for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
    return out;
}

// The store's run ordering names, from the API's (Airflow's) field names.
Result<std::string> run_order(std::optional<std::string> order_by) {
    if (!order_by || order_by->empty()) return std::string("id");
    std::string_view field = *order_by;
    std::string prefix;
    if (field.front() == '-') {
        prefix = "-";
        field.remove_prefix(1);
    }
    static const std::map<std::string, std::string, std::less<>> kNames = {
        {"id", "id"},
        {"dag_id", "dag_id"},
        {"dag_run_id", "run_id"},
        {"run_id", "run_id"},
        {"state", "state"},
        {"execution_date", "logical_date"},
        {"logical_date", "logical_date"},
        {"start_date", "start_date"},
        {"end_date", "end_date"},
        {"queued_at", "queued_at"},
    };
    auto it = kNames.find(field);
    if (it == kNames.end()) {
        return invalid(fmt::format(
            "query parameter 'order_by' cannot be '{}': use id, dag_id, dag_run_id, state, "
            "execution_date, start_date, end_date or queued_at, optionally with a leading '-'",
            *order_by));
    }
    return prefix + it->second;
}

Result<std::vector<RunState>> parse_run_states(const http::Request& req) {
    std::vector<RunState> out;
    for (const auto& text : query_all(req, "state", true)) {
        auto s = store::parse_run_state(text);
        if (!s) {
            return invalid(fmt::format(
                "query parameter 'state' cannot be '{}': use queued, running, success or failed",
                text));
        }
        out.push_back(*s);
    }
    return out;
}

Result<std::vector<TaskState>> parse_task_states(const http::Request& req) {
    std::vector<TaskState> out;
    for (const auto& text : query_all(req, "state", true)) {
        auto s = store::parse_task_state(text == "null" ? std::string("none") : text);
        if (!s) {
            return invalid(fmt::format("query parameter 'state' cannot be '{}'", text));
        }
        out.push_back(*s);
    }
    return out;
}

json::value page_of(json::array items, std::string_view name, std::int64_t total) {
    json::object out;
    out[name] = std::move(items);
    out["total_entries"] = total;
    return out;
}

// application/json, or a structured syntax suffix such as application/merge-patch+json.
bool is_json_media_type(std::string_view type) {
    return type == "application/json" ||
           (type.starts_with("application/") && type.ends_with("+json") &&
            type.size() > std::string_view("application/+json").size());
}

Permission needed_permission(Access access, beast_verb method) {
    const bool reads = method == beast_verb::get || method == beast_verb::head;
    switch (access) {
        case Access::kPublic:
        case Access::kRead:
        case Access::kSession:
            return Permission::kRead;
        case Access::kReadEdit:
            return reads ? Permission::kRead : Permission::kEdit;
        case Access::kOperate:
            return reads ? Permission::kRead : Permission::kOperate;
        case Access::kOperateAll:
            return Permission::kOperate;
        case Access::kAdmin:
            return Permission::kAdmin;
    }
    return Permission::kAdmin;
}

void beat(const std::shared_ptr<detail::ApiHeartbeat>& hb, store::Store& store, const Clock& clock,
          std::chrono::milliseconds interval) {
    if (hb->stopped.load()) return;
    const Millis now = clock.now_ms();
    hb->beat.store(now);
    if (store.check_writable()) {
        hb->db_ok.store(now);
        hb->db_failed.store(false);
    } else {
        hb->db_failed.store(true);
    }
    hb->timer.expires_after(interval);
    hb->timer.async_wait([hb, &store, &clock, interval](const boost::system::error_code& ec) {
        if (!ec) beat(hb, store, clock, interval);
    });
}

}  // namespace

// ---------------------------------------------------------------------------------------------

ApiServer::ApiServer(scheduler::Engine& engine, store::Store& store, asio::io_context& engine_loop,
                     ApiOptions options)
    : engine_(engine),
      store_(store),
      engine_loop_(engine_loop),
      options_(std::move(options)),
      clock_(options_.clock != nullptr ? *options_.clock : SystemClock::instance()),
      credentials_(clock_, options_.credential_ttl),
      sessions_(clock_, options_.sessions),
      login_throttle_(clock_, options_.login_throttle),
      password_gate_(std::max(1, options_.max_password_checks),
                     std::max(1, options_.max_password_checks_per_address)),
      workers_(static_cast<std::size_t>(std::max(1, options_.worker_threads))),
      readers_pool_(std::max<std::size_t>(1, options_.readers.size())),
      password_workers_(static_cast<std::size_t>(std::max(1, options_.password_check_threads))),
      heartbeat_(std::make_shared<detail::ApiHeartbeat>(engine_loop)) {
    asio::post(engine_loop_,
               [hb = heartbeat_, &store, &clock = clock_, interval = options_.heartbeat_interval] {
                   beat(hb, store, clock, interval);
               });
}

ApiServer::~ApiServer() {
    heartbeat_->stopped.store(true);
    asio::post(engine_loop_, [hb = heartbeat_] { hb->timer.cancel(); });
    workers_.join();
    readers_pool_.join();
    password_workers_.join();
}

http::Handler ApiServer::handler() {
    return [this](http::Request& req, http::Response& res) { return handle(req, res); };
}

bool ApiServer::owns(std::string_view path) {
    return path == kBasePath || path == kMetricsPath || (path.substr(0, kBasePath.size()) == kBasePath &&
                                 path.size() > kBasePath.size() && path[kBasePath.size()] == '/');
}

asio::awaitable<void> ApiServer::handle(http::Request& req, http::Response& res) {
    if (req.path() == kMetricsPath) {
        co_await metrics(req, res);
        co_return;
    }
    Call call{req, res, {}, std::string(req.path()), {}, false, {}};
    auto segments = owns(req.path()) ? split_path(req.path(), kBasePath) : std::nullopt;
    if (!segments) {
        send_not_served(call);
        co_return;
    }
    call.segments = std::move(*segments);
    co_await route(call);
    if (res.status == 401 && !req.header("X-Requested-With").empty()) {
        // A script's request (the console's): no Basic challenge, which would make the browser
        // open its own login dialog over the console's login page.
        std::erase_if(res.headers, [](const auto& h) { return iequals(h.first, "WWW-Authenticate"); });
    }
}

void ApiServer::send_not_served(Call& call) {
    send_problem(call.res, 404,
                 fmt::format("Orquestra does not serve {} {}: it serves a subset of Airflow's "
                             "REST API, listed in {}/openapi.json",
                             call.req.method_string(), call.instance, kBasePath),
                 call.instance);
}

asio::awaitable<void> ApiServer::route(Call& call) {
    const RouteSpec* matched = match_route(call.segments);
    if (matched == nullptr) {
        send_not_served(call);
        co_return;
    }
    const beast_verb method = call.req.method();
    if (std::find(matched->methods.begin(), matched->methods.end(), method) == matched->methods.end()) {
        std::string allow;
        for (auto m : matched->methods) {
            allow += (allow.empty() ? "" : ", ") + std::string(http::beast_http::to_string(m));
        }
        send_problem(call.res, 405,
                     fmt::format("{} is not allowed on {} (allowed: {})", call.req.method_string(),
                                 call.instance, allow),
                     call.instance);
        call.res.add_header("Allow", allow);
        co_return;
    }
    if (!call.req.body().empty()) {
        const std::string type =
            http::media_type(call.req.header(http::beast_http::field::content_type));
        if (!is_json_media_type(type)) {
            send_problem(call.res, 415,
                         fmt::format("the request body must be JSON (Content-Type: "
                                     "application/json), not {}",
                                     type.empty() ? std::string("a body without a Content-Type")
                                                  : "'" + type + "'"),
                         call.instance);
            co_return;
        }
    }
    if (matched->endpoint == Endpoint::kHealth) {
        health(call);
        co_return;
    }
    if (matched->endpoint == Endpoint::kVersion) {
        version(call);
        co_return;
    }
    if (matched->endpoint == Endpoint::kOpenApi) {
        get_openapi(call);
        co_return;
    }

    if (matched->endpoint == Endpoint::kUiSession && method == beast_verb::post) {
        co_await ui_login(call);
        co_return;
    }

    auto role = co_await authenticate(call);
    if (!role) co_return;  // answered
    const Permission needed = needed_permission(matched->access, method);
    if (!*role || !allows(**role, needed)) {
        if (*role && needed == Permission::kAdmin) {
            send_problem(call.res, 403,
                         fmt::format("only the Admin role may {} {} (this user is {})",
                                     call.req.method_string(), call.instance, to_string(**role)),
                         call.instance);
            co_return;
        }
        send_problem(call.res, 403,
                     *role ? fmt::format("the {} role may not {} {}", to_string(**role),
                                         call.req.method_string(), call.instance)
                           : std::string("this user has no role that allows API access"),
                     call.instance);
        co_return;
    }

    const auto& s = call.segments;
    switch (matched->endpoint) {
        case Endpoint::kHealth:
        case Endpoint::kVersion:
        case Endpoint::kOpenApi:
            break;
        case Endpoint::kUsers:
            if (method == beast_verb::post) {
                co_await create_user_endpoint(call);
            } else {
                co_await list_users(call);
            }
            break;
        case Endpoint::kUser:
            if (method == beast_verb::patch) {
                co_await patch_user(call, s[1]);
            } else if (method == beast_verb::delete_) {
                co_await delete_user(call, s[1]);
            } else {
                co_await get_user(call, s[1]);
            }
            break;
        case Endpoint::kRoles:
            list_roles(call, nullptr);
            break;
        case Endpoint::kRole:
            list_roles(call, &s[1]);
            break;
        case Endpoint::kConfig:
            get_config(call, nullptr, nullptr);
            break;
        case Endpoint::kConfigOption:
            get_config(call, &s[2], &s[4]);
            break;
        case Endpoint::kEventLogs:
            co_await list_event_logs(call, nullptr);
            break;
        case Endpoint::kEventLog:
            co_await list_event_logs(call, &s[1]);
            break;
        case Endpoint::kDags:
            co_await list_dags(call);
            break;
        case Endpoint::kDag:
            if (method == beast_verb::patch) {
                co_await patch_dag(call, s[1]);
            } else {
                co_await get_dag(call, s[1], false);
            }
            break;
        case Endpoint::kDagDetails:
            co_await get_dag(call, s[1], true);
            break;
        case Endpoint::kTasks:
            co_await list_tasks(call, s[1], nullptr);
            break;
        case Endpoint::kTask:
            co_await list_tasks(call, s[1], &s[3]);
            break;
        case Endpoint::kDagRuns:
            if (method == beast_verb::post) {
                co_await trigger(call, s[1]);
            } else {
                co_await list_runs(call, s[1]);
            }
            break;
        case Endpoint::kDagRun:
            if (method == beast_verb::patch) {
                co_await patch_run(call, s[1], s[3]);
            } else if (method == beast_verb::delete_) {
                co_await delete_run(call, s[1], s[3]);
            } else {
                co_await get_run(call, s[1], s[3]);
            }
            break;
        case Endpoint::kClearRun:
            co_await clear_run(call, s[1], s[3]);
            break;
        case Endpoint::kTaskInstances:
            co_await list_task_instances(call, s[1], s[3]);
            break;
        case Endpoint::kTaskInstance:
            co_await get_task_instance(call, s[1], s[3], s[5]);
            break;
        case Endpoint::kMappedTaskInstances:
            co_await list_mapped(call, s[1], s[3], s[5]);
            break;
        case Endpoint::kMappedTaskInstance:
        case Endpoint::kMappedTries: {
            auto index = parse_int(s[6]);
            if (!index || *index < 0 || *index > 1'000'000) {
                send_error(call.res,
                           invalid(fmt::format("map_index must be an integer >= 0, not '{}'",
                                               s[6])),
                           call.instance);
                break;
            }
            const int map_index = static_cast<int>(*index);
            if (matched->endpoint == Endpoint::kMappedTries) {
                co_await list_tries(call, s[1], s[3], s[5], map_index);
            } else {
                co_await get_task_instance(call, s[1], s[3], s[5], map_index);
            }
            break;
        }
        case Endpoint::kLog:
            co_await get_log(call, s[1], s[3], s[5], s[7]);
            break;
        case Endpoint::kXcoms:
            co_await get_xcom(call, s[1], s[3], s[5], nullptr);
            break;
        case Endpoint::kXcom:
            co_await get_xcom(call, s[1], s[3], s[5], &s[7]);
            break;
        case Endpoint::kClearTaskInstances:
            co_await clear_task_instances(call, s[1]);
            break;
        case Endpoint::kUpdateTaskInstancesState:
            co_await update_task_instances_state(call, s[1]);
            break;
        case Endpoint::kImportErrors:
            co_await list_import_errors(call, nullptr);
            break;
        case Endpoint::kVariables:
            co_await variables(call, nullptr);
            break;
        case Endpoint::kVariable:
            co_await variables(call, &s[1]);
            break;
        case Endpoint::kConnections:
            co_await connections(call, nullptr);
            break;
        case Endpoint::kConnection:
            co_await connections(call, &s[1]);
            break;
        case Endpoint::kPools:
            co_await pools(call, nullptr);
            break;
        case Endpoint::kPool:
            co_await pools(call, &s[1]);
            break;
        case Endpoint::kImportError:
            co_await list_import_errors(call, &s[1]);
            break;
        case Endpoint::kTries:
            co_await list_tries(call, s[1], s[3], s[5]);
            break;
        case Endpoint::kDagSource:
            co_await get_dag_source(call, s[1]);
            break;
        case Endpoint::kListRuns:
            co_await list_runs_batch(call);
            break;
        case Endpoint::kListTaskInstances:
            co_await list_task_instances_batch(call);
            break;
        case Endpoint::kUiSession:
            if (method == beast_verb::delete_) {
                ui_logout(call);
            } else {
                ui_whoami(call, **role);
            }
            break;
        case Endpoint::kUiDags:
            co_await ui_dags(call);
            break;
        case Endpoint::kUiGrid:
            co_await ui_grid(call, s[2]);
            break;
        case Endpoint::kUiServices:
            co_await ui_services(call);
            break;
        case Endpoint::kUiInstanceStatus:
            ui_instance_status(call, s[2], s[4]);
            break;
        case Endpoint::kServiceBreakers:
            service_breakers(call, s[1]);
            break;
    }
}

// Returns nullopt after answering 401 (or an error); an empty role for a user whose role
// grants nothing.
asio::awaitable<std::optional<std::optional<Role>>> ApiServer::authenticate(Call& call) {
    auto credentials =
        http::parse_basic_auth(call.req.header(http::beast_http::field::authorization));
    if (!credentials) {
        if (auto token = SessionStore::token_in(call.req.header(http::beast_http::field::cookie))) {
            co_return co_await authenticate_session(call, *token);
        }
        send_problem(call.res, 401, "authentication required: send HTTP Basic credentials",
                     call.instance);
        co_return std::nullopt;
    }
    call.username = credentials->first;
    co_return co_await check_password(call, credentials->first, credentials->second);
}

asio::awaitable<std::optional<std::optional<Role>>> ApiServer::authenticate_session(
    Call& call, std::string_view token) {
    auto session = sessions_.find(token);
    if (!session) {
        send_problem(call.res, 401, "the session is over or unknown: log in again", call.instance);
        co_return std::nullopt;
    }
    const beast_verb method = call.req.method();
    if (method != beast_verb::get && method != beast_verb::head &&
        !SessionStore::same_token(session->csrf_token, call.req.header("X-CSRF-Token"))) {
        send_problem(call.res, 403,
                     "missing or wrong CSRF token: a change made with the console's session "
                     "must send the session's token in the X-CSRF-Token header",
                     call.instance);
        co_return std::nullopt;
    }
    if (clock_.now_ms() - session->checked_at >= options_.sessions.recheck_interval) {
        // The user may have been deleted or given another role since the login.
        // Captured by reference: g++ 12 mishandles non-trivial captures in co_await operands.
        const std::string& name = session->username;
        auto user = co_await on_reader([&name](store::Store& store) { return store.get_user(name); });
        if (!user) {
            send_error(call.res, user.error(), call.instance);
            co_return std::nullopt;
        }
        std::optional<Role> role = user->has_value() ? parse_role((*user)->role) : std::nullopt;
        sessions_.recheck(token, role);
        if (!role) {
            send_problem(call.res, 401, "the session is over (the user is gone): log in again",
                         call.instance);
            co_return std::nullopt;
        }
        session->role = *role;
    }
    call.username = session->username;
    call.by_session = true;
    call.csrf_token = session->csrf_token;
    co_return std::optional<std::optional<Role>>(std::optional<Role>(session->role));
}

asio::awaitable<std::optional<std::optional<Role>>> ApiServer::check_password(
    Call& call, const std::string& username, const std::string& password) {
    if (auto role = credentials_.lookup(username, password)) {
        co_return std::optional<std::optional<Role>>(std::optional<Role>(*role));
    }
    // Guessing stops here, before any argon2id work: a username or address that failed too
    // often waits, and the number of checks running or queued is bounded.
    const std::string address = LoginThrottle::address_key(call.req.remote_address());
    if (const Millis wait = login_throttle_.delay_for(username, address); wait > 0) {
        const Millis seconds = (wait + 999) / 1000;
        send_problem(call.res, 429,
                     fmt::format("too many failed logins for this user or from this address: "
                                 "try again in {} s",
                                 seconds),
                     call.instance);
        call.res.add_header("Retry-After", std::to_string(seconds));
        co_return std::nullopt;
    }
    // A full gate is waited on briefly, on a timer (never blocking the loop): a burst of
    // requests with the same new credentials then finds them cached once the first is checked.
    const auto give_up = std::chrono::steady_clock::now() + options_.password_check_wait;
    while (!password_gate_.try_enter(address)) {
        if (std::chrono::steady_clock::now() >= give_up) {
            send_problem(call.res, 503,
                         "too many logins are being checked at once: try again shortly",
                         call.instance);
            call.res.add_header("Retry-After", "1");
            co_return std::nullopt;
        }
        asio::steady_timer pause(co_await asio::this_coro::executor,
                                 std::chrono::milliseconds(20));
        co_await pause.async_wait(asio::use_awaitable);
        if (auto role = credentials_.lookup(username, password)) {
            co_return std::optional<std::optional<Role>>(std::optional<Role>(*role));
        }
    }
    struct Leave {
        PasswordCheckGate& gate;
        const std::string& source;
        ~Leave() { gate.leave(source); }
    } leave{password_gate_, address};

    auto user = co_await on_reader([&username](store::Store& store) { return store.get_user(username); });
    if (!user) {
        send_error(call.res, user.error(), call.instance);
        co_return std::nullopt;
    }
    const std::string hash = user->has_value() ? (*user)->password_hash : std::string();
    const bool known = user->has_value();
    // Captures by reference only: this coroutine's frame outlives the wait.
    bool verified = co_await on_password_worker([&hash, &password, known] {
        return verify_password(known ? hash : dummy_hash(), password) && known;
    });
    if (!verified) {
        login_throttle_.failed(username, address);
        call.username = username;
        auto audit = audit_entry(call, "login_failed", {}, {}, {},
                              json::serialize(json::object{{"address", address},
                                                           {"path", call.instance}}));
        co_await record_event(audit);
        send_problem(call.res, 401, "invalid username or password", call.instance);
        co_return std::nullopt;
    }
    login_throttle_.succeeded(username, address);
    auto role = parse_role((*user)->role);
    if (role) credentials_.remember(username, password, *role);
    co_return std::optional<std::optional<Role>>(role);
}

// --- health and version ---------------------------------------------------------------------

void ApiServer::health(Call& call) {
    const Millis now = clock_.now_ms();
    const Millis threshold = options_.health_threshold.count();
    const Millis beat_at = heartbeat_->beat.load();
    const Millis db_at = heartbeat_->db_ok.load();
    const bool scheduler_ok = beat_at > 0 && now - beat_at <= threshold;
    const bool db_ok = db_at > 0 && now - db_at <= threshold && !heartbeat_->db_failed.load();
    json::object out;
    out["metadatabase"] = json::object{{"status", db_ok ? "healthy" : "unhealthy"}};
    json::object scheduler;
    scheduler["status"] = scheduler_ok ? "healthy" : "unhealthy";
    scheduler["latest_scheduler_heartbeat"] =
        datetime_json(beat_at > 0 ? std::optional<Millis>(beat_at) : std::nullopt);
    out["scheduler"] = std::move(scheduler);
    out["triggerer"] = json::object{{"status", nullptr}, {"latest_triggerer_heartbeat", nullptr}};
    out["dag_processor"] =
        json::object{{"status", nullptr}, {"latest_dag_processor_heartbeat", nullptr}};
    send_json(call.res, out);
}

void ApiServer::version(Call& call) {
    json::object out;
    out["version"] = options_.version;
    out["git_version"] =
        options_.git_version ? json::value(*options_.git_version) : json::value(nullptr);
    send_json(call.res, out);
}

// --- DAGs -------------------------------------------------------------------------------------

namespace {

bool has_import_errors(const std::string& fileloc, const std::vector<store::ImportError>& errors) {
    return std::any_of(errors.begin(), errors.end(),
                       [&](const store::ImportError& e) { return e.filename == fileloc; });
}

}  // namespace

namespace {

// A DAG's view from its record and its loaded definition; nullopt when it has neither.
std::optional<DagView> make_view(const std::string& dag_id,
                                 std::optional<store::DagRecord> record,
                                 std::shared_ptr<const dag::Dag> dag,
                                 const std::vector<store::ImportError>& errors) {
    DagView view;
    view.dag = std::move(dag);
    if (record) {
        view.record = std::move(*record);
    } else if (view.dag) {
        // Loaded but not recorded yet (the engine records it at its next look at the folder).
        view.record.dag_id = dag_id;
        view.record.fileloc = view.dag->fileloc;
    } else {
        return std::nullopt;
    }
    view.has_import_errors = has_import_errors(view.record.fileloc, errors);
    return view;
}

}  // namespace

std::optional<DagView> ApiServer::dag_view_on_loop(const std::string& dag_id,
                                                   const std::vector<store::ImportError>& errors) {
    auto record = store_.get_dag(dag_id);
    return make_view(dag_id, record ? *record : std::nullopt, engine_.find_dag(dag_id), errors);
}

asio::awaitable<Result<std::vector<DagView>>> ApiServer::dag_views(
    std::vector<store::ImportError>* errors_out) {
    struct Read {
        std::vector<store::DagRecord> records;
        std::vector<store::ImportError> errors;
    };
    auto read = co_await on_reader([](store::Store& store) -> Result<Read> {
        auto records = store.list_dags();
        if (!records) return records.error();
        auto errors = store.import_errors();
        if (!errors) return errors.error();
        return Read{std::move(*records), std::move(*errors)};
    });
    if (!read) co_return read.error();
    std::vector<DagView> out(read->records.size());
    co_await on_loop([this, &out, &read] {
        for (std::size_t i = 0; i < out.size(); ++i) {
            out[i].dag = engine_.find_dag(read->records[i].dag_id);
        }
        return true;
    });
    for (std::size_t i = 0; i < out.size(); ++i) {
        out[i].has_import_errors = has_import_errors(read->records[i].fileloc, read->errors);
        out[i].record = std::move(read->records[i]);
    }
    if (errors_out != nullptr) *errors_out = std::move(read->errors);
    co_return out;
}

std::optional<dag::Interval> ApiServer::next_interval(const DagView& view) const {
    if (!view.dag || view.dag->schedule.kind() == dag::ScheduleKind::kNone) return std::nullopt;
    return dag::upcoming_data_interval(*view.dag, view.record.last_scheduled_logical_date,
                                       clock_.now_ms(), view.dag->catchup);
}

asio::awaitable<void> ApiServer::list_dags(Call& call) {
    auto paging = parse_paging(call.req);
    auto paused = query_bool(call.req, "paused");
    auto only_active = query_bool(call.req, "only_active");
    if (!paging || !paused || !only_active) {
        send_error(call.res,
                   !paging   ? paging.error()
                   : !paused ? paused.error()
                             : only_active.error(),
                   call.instance);
        co_return;
    }
    const auto pattern = call.req.query_param("dag_id_pattern");
    const auto tags = query_all(call.req, "tags", false);
    const auto order_by = call.req.query_param("order_by").value_or("dag_id");
    if (order_by != "dag_id" && order_by != "-dag_id") {
        send_error(call.res,
                   invalid(fmt::format("query parameter 'order_by' cannot be '{}': use dag_id "
                                       "or -dag_id",
                                       order_by)),
                   call.instance);
        co_return;
    }

    auto views = co_await dag_views(nullptr);
    if (!views) {
        send_error(call.res, views.error(), call.instance);
        co_return;
    }

    std::vector<const DagView*> kept;
    for (const auto& view : *views) {
        if (only_active->value_or(true) && !(view.record.is_active && view.dag)) continue;
        if (*paused && view.record.is_paused != **paused) continue;
        if (pattern && !icontains(view.record.dag_id, *pattern)) continue;
        if (!tags.empty()) {
            bool any = false;
            if (view.dag) {
                for (const auto& t : view.dag->tags) {
                    any = any || std::find(tags.begin(), tags.end(), t) != tags.end();
                }
            }
            if (!any) continue;
        }
        kept.push_back(&view);
    }
    std::sort(kept.begin(), kept.end(), [&](const DagView* a, const DagView* b) {
        return order_by == "dag_id" ? a->record.dag_id < b->record.dag_id
                                    : a->record.dag_id > b->record.dag_id;
    });
    json::array items;
    for (std::size_t i = static_cast<std::size_t>(paging->offset);
         i < kept.size() && items.size() < static_cast<std::size_t>(paging->limit); ++i) {
        DagView view = *kept[i];
        view.next = next_interval(view);
        items.push_back(dag_json(view));
    }
    send_json(call.res, page_of(std::move(items), "dags", static_cast<std::int64_t>(kept.size())));
}

asio::awaitable<void> ApiServer::get_dag(Call& call, const std::string& dag_id, bool details) {
    // The record from a reader, the definition from the loop (a map lookup there).
    struct Read {
        std::optional<store::DagRecord> record;
        std::vector<store::ImportError> errors;
    };
    auto read = co_await on_reader([&dag_id](store::Store& store) -> Result<Read> {
        auto record = store.get_dag(dag_id);
        if (!record) return record.error();
        auto errors = store.import_errors();
        if (!errors) return errors.error();
        return Read{std::move(*record), std::move(*errors)};
    });
    if (!read) {
        send_error(call.res, read.error(), call.instance);
        co_return;
    }
    auto dag = co_await on_loop([this, &dag_id] { return engine_.find_dag(dag_id); });
    std::optional<DagView> view =
        make_view(dag_id, std::move(read->record), std::move(dag), read->errors);
    if (!view || (details && !view->dag)) {
        send_error(call.res,
                   not_found(view ? fmt::format("DAG '{}' is not loaded (its file is missing "
                                                 "or has import errors)",
                                                 dag_id)
                                   : fmt::format("DAG '{}' not found", dag_id)),
                   call.instance);
        co_return;
    }
    DagView v = std::move(*view);
    v.next = next_interval(v);
    send_json(call.res, details ? dag_detail_json(v) : dag_json(v));
}

asio::awaitable<void> ApiServer::patch_dag(Call& call, const std::string& dag_id) {
    if (auto mask = call.req.query_param("update_mask")) {
        for (auto field : split(*mask, ',')) {
            if (trim(field) != "is_paused") {
                send_error(call.res,
                           invalid(fmt::format("query parameter 'update_mask': only is_paused can "
                                               "be updated, not '{}'",
                                               trim(field))),
                           call.instance);
                co_return;
            }
        }
    }
    auto body = parse_body(call.req);
    if (!body) {
        send_error(call.res, body.error(), call.instance);
        co_return;
    }
    // Clients may send a whole DAG object back with update_mask; only is_paused is read.
    auto paused = field_bool(*body, "is_paused");
    if (!paused || !*paused) {
        send_error(call.res,
                   paused ? invalid("field 'is_paused' is required (a boolean)") : paused.error(),
                   call.instance);
        co_return;
    }
    const bool value = **paused;
    auto view = co_await on_loop([this, &dag_id, value]() -> Result<std::optional<DagView>> {
        if (auto set = engine_.set_paused(dag_id, value); !set) return set.error();
        auto errors = store_.import_errors();
        if (!errors) return errors.error();
        return dag_view_on_loop(dag_id, *errors);
    });
    if (!view || !*view) {
        send_error(call.res,
                   view ? not_found(fmt::format("DAG '{}' not found", dag_id)) : view.error(),
                   call.instance);
        co_return;
    }
    auto audit = audit_entry(call, value ? "pause" : "unpause", dag_id);
    co_await record_event(audit);
    DagView v = std::move(**view);
    v.next = next_interval(v);
    send_json(call.res, dag_json(v));
}

asio::awaitable<void> ApiServer::list_tasks(Call& call, const std::string& dag_id,
                                            const std::string* task_id) {
    auto found = co_await on_loop([this, &dag_id]() -> Result<std::shared_ptr<const dag::Dag>> {
        auto d = engine_.find_dag(dag_id);
        if (d) return d;
        auto record = store_.get_dag(dag_id);
        if (record && record->has_value()) {
            return not_found(fmt::format(
                "DAG '{}' is not loaded (its file is missing or has import errors)", dag_id));
        }
        return not_found(fmt::format("DAG '{}' not found", dag_id));
    });
    if (!found) {
        send_error(call.res, found.error(), call.instance);
        co_return;
    }
    const dag::Dag& d = **found;
    if (task_id != nullptr) {
        const dag::Task* task = d.find_task(*task_id);
        if (task == nullptr) {
            send_error(call.res,
                       not_found(fmt::format("task '{}' not found in DAG '{}'", *task_id, dag_id)),
                       call.instance);
            co_return;
        }
        send_json(call.res, task_json(d, *task));
        co_return;
    }
    json::array items;
    for (const auto& task : d.tasks) items.push_back(task_json(d, task));
    const auto total = static_cast<std::int64_t>(items.size());
    send_json(call.res, page_of(std::move(items), "tasks", total));
}

// --- DAG runs ---------------------------------------------------------------------------------

asio::awaitable<void> ApiServer::trigger(Call& call, const std::string& dag_id) {
    auto parsed = [&]() -> Result<scheduler::TriggerRequest> {
        auto body = parse_body(call.req);
        if (!body) return body.error();
        for (auto unsupported : {"data_interval_start", "data_interval_end"}) {
            if (body->contains(unsupported)) {
                return invalid(fmt::format(
                    "field '{}' is not supported: a triggered run's data interval is its "
                    "logical date",
                    unsupported));
            }
        }
        if (auto known = only_fields(
                *body, {"dag_run_id", "logical_date", "execution_date", "conf", "note"});
            !known) {
            return known.error();
        }
        scheduler::TriggerRequest request;
        request.dag_id = dag_id;
        auto run_id = field_string(*body, "dag_run_id");
        if (!run_id) return run_id.error();
        request.run_id = *run_id;
        auto logical = field_datetime(*body, "logical_date");
        if (!logical) return logical.error();
        auto execution = field_datetime(*body, "execution_date");
        if (!execution) return execution.error();
        if (*logical && *execution && **logical != **execution) {
            return invalid(
                "fields 'logical_date' and 'execution_date' differ; send only "
                "logical_date");
        }
        request.logical_date = *logical ? *logical : *execution;
        if (const json::value* conf = body->if_contains("conf"); conf && !conf->is_null()) {
            if (!conf->is_object()) return invalid("field 'conf' must be a JSON object");
            request.conf = conf->as_object();
        }
        auto note = field_string(*body, "note");
        if (!note) return note.error();
        request.note = note->value_or("");
        return request;
    }();
    if (!parsed) {
        send_error(call.res, parsed.error(), call.instance);
        co_return;
    }
    // The conf is checked against the params' schema on a worker thread, never on the
    // engine loop: patterns and schemas come from DAG files, the conf from the caller.
    auto dag = co_await on_loop([this, &dag_id] { return engine_.find_dag(dag_id); });
    if (dag) {
        auto checked = co_await on_worker([&dag, &parsed] {
            return dag::resolve_params(*dag, parsed->conf);
        });
        if (!checked) {
            send_error(call.res, checked.error(), call.instance);
            co_return;
        }
        parsed->checked_dag = dag;
        parsed->checked_params = std::move(*checked);
    }
    auto created = co_await on_loop([this, &parsed, &dag_id]() -> Result<store::DagRun> {
        if (!engine_.find_dag(dag_id)) {
            auto record = store_.get_dag(dag_id);
            if (record && record->has_value()) {
                auto errors = store_.import_errors();
                if (errors) {
                    for (const auto& e : *errors) {
                        if (e.filename == (*record)->fileloc) {
                            return invalid(
                                fmt::format("DAG '{}' has import errors: {}", dag_id, e.message));
                        }
                    }
                }
            }
            return not_found(fmt::format("DAG '{}' not found", dag_id));
        }
        return engine_.trigger(*parsed);
    });
    if (!created) {
        send_error(call.res, created.error(), call.instance);
        co_return;
    }
    auto audit = audit_entry(
        call, "trigger", dag_id, created->run_id, {},
        json::serialize(json::object{{"logical_date", datetime_json(created->logical_date)}}));
    co_await record_event(audit);
    send_json(call.res, run_json(*created));
}

asio::awaitable<void> ApiServer::list_runs(Call& call, const std::string& dag_id) {
    auto filter = [&]() -> Result<store::RunFilter> {
        store::RunFilter f;
        if (dag_id != "~") f.dag_id = dag_id;
        auto paging = parse_paging(call.req);
        if (!paging) return paging.error();
        f.limit = paging->limit;
        f.offset = paging->offset;
        auto states = parse_run_states(call.req);
        if (!states) return states.error();
        f.states = std::move(*states);
        auto order = run_order(call.req.query_param("order_by"));
        if (!order) return order.error();
        f.order_by = std::move(*order);
        struct DateParam {
            const char* name;
            const char* alias;
            std::optional<Millis>* target;
        };
        for (const DateParam& p :
             {DateParam{"execution_date_gte", "logical_date_gte", &f.logical_date_gte},
              DateParam{"execution_date_lte", "logical_date_lte", &f.logical_date_lte},
              DateParam{"start_date_gte", nullptr, &f.start_date_gte},
              DateParam{"start_date_lte", nullptr, &f.start_date_lte},
              DateParam{"end_date_gte", nullptr, &f.end_date_gte},
              DateParam{"end_date_lte", nullptr, &f.end_date_lte}}) {
            for (const char* name : {p.name, p.alias}) {
                if (name == nullptr) continue;
                auto t = query_datetime(call.req, name);
                if (!t) return t.error();
                if (*t) *p.target = *t;
            }
        }
        return f;
    }();
    if (!filter) {
        send_error(call.res, filter.error(), call.instance);
        co_return;
    }
    struct Listed {
        store::Page<store::DagRun> page;
        bool recorded = true;  // the DAG is in the store
    };
    auto page = co_await on_reader([&filter, &dag_id](store::Store& store) -> Result<Listed> {
        Listed out;
        if (filter->dag_id) {
            auto record = store.get_dag(dag_id);
            if (!record) return record.error();
            out.recorded = record->has_value();
        }
        auto listed = store.list_runs(*filter);
        if (!listed) return listed.error();
        out.page = std::move(*listed);
        return out;
    });
    if (page && !page->recorded) {
        // Loaded but not recorded yet (the engine records it at its next look at the folder)?
        const bool loaded = co_await on_loop([this, &dag_id] { return engine_.find_dag(dag_id) != nullptr; });
        if (!loaded) page = not_found(fmt::format("DAG '{}' not found", dag_id));
    }
    if (!page) {
        send_error(call.res, page.error(), call.instance);
        co_return;
    }
    json::array items;
    for (const auto& run : page->page.items) items.push_back(run_json(run));
    send_json(call.res, page_of(std::move(items), "dag_runs", page->page.total));
}

asio::awaitable<void> ApiServer::get_run(Call& call, const std::string& dag_id,
                                         const std::string& run_id) {
    auto run = co_await on_reader([&dag_id, &run_id](store::Store& store) -> Result<store::DagRun> {
        auto r = store.get_run(dag_id, run_id);
        if (!r) return r.error();
        if (!r->has_value()) return run_not_found(dag_id, run_id);
        return **r;
    });
    if (!run) {
        send_error(call.res, run.error(), call.instance);
        co_return;
    }
    send_json(call.res, run_json(*run));
}

asio::awaitable<void> ApiServer::patch_run(Call& call, const std::string& dag_id,
                                           const std::string& run_id) {
    auto target = [&]() -> Result<RunState> {
        auto body = parse_body(call.req);
        if (!body) return body.error();
        if (auto known = only_fields(*body, {"state"}); !known) return known.error();
        auto state = field_string(*body, "state");
        if (!state) return state.error();
        if (!*state) return invalid("field 'state' is required: success, failed or queued");
        auto parsed = store::parse_run_state(**state);
        if (!parsed || *parsed == RunState::kRunning) {
            return invalid(
                fmt::format("field 'state' cannot be '{}': use success, failed or "
                            "queued",
                            **state));
        }
        return *parsed;
    }();
    if (!target) {
        send_error(call.res, target.error(), call.instance);
        co_return;
    }
    const RunState state = *target;
    auto patched = co_await on_loop([this, &dag_id, &run_id, state] {
        return engine_.set_run_state(dag_id, run_id, state);
    });
    if (!patched) {
        send_error(call.res, patched.error(), call.instance);
        co_return;
    }
    auto audit = audit_entry(call, "mark", dag_id, run_id, {},
                          json::serialize(json::object{{"state", store::to_string(state)}}));
    co_await record_event(audit);
    send_json(call.res, run_json(*patched));
}

asio::awaitable<void> ApiServer::delete_run(Call& call, const std::string& dag_id,
                                            const std::string& run_id) {
    auto deleted =
        co_await on_loop([this, &dag_id, &run_id] { return engine_.delete_run(dag_id, run_id); });
    if (!deleted) {
        send_error(call.res, deleted.error(), call.instance);
        co_return;
    }
    auto audit = audit_entry(call, "delete", dag_id, run_id);
    co_await record_event(audit);
    call.res.status = 204;
}

asio::awaitable<void> ApiServer::clear_run(Call& call, const std::string& dag_id,
                                           const std::string& run_id) {
    auto dry = [&]() -> Result<bool> {
        auto body = parse_body(call.req);
        if (!body) return body.error();
        if (auto known = only_fields(*body, {"dry_run"}); !known) return known.error();
        auto dry_run = field_bool(*body, "dry_run");
        if (!dry_run) return dry_run.error();
        return dry_run->value_or(true);
    }();
    if (!dry) {
        send_error(call.res, dry.error(), call.instance);
        co_return;
    }
    const bool dry_run = *dry;
    auto cleared = co_await on_loop(
        [this, &dag_id, &run_id, dry_run] { return engine_.clear_run(dag_id, run_id, dry_run); });
    if (!cleared) {
        send_error(call.res, cleared.error(), call.instance);
        co_return;
    }
    if (!dry_run) {
        auto audit = audit_entry(call, "clear", dag_id, run_id);
        co_await record_event(audit);
        send_json(call.res, run_json(cleared->run));
        co_return;
    }
    json::array items;
    for (const auto& ti : cleared->tis) {
        items.push_back(task_instance_json(ti, cleared->run.logical_date));
    }
    const auto total = static_cast<std::int64_t>(items.size());
    send_json(call.res, page_of(std::move(items), "task_instances", total));
}

// --- task instances ---------------------------------------------------------------------------

namespace {

struct ListedTasks {
    store::Page<store::TaskInstance> page;
    std::map<std::pair<std::string, std::string>, Millis> logical_dates;
};

// A page of task instances with the logical date of each one's run.
Result<ListedTasks> list_tasks_with_dates(store::Store& store, const store::TaskFilter& filter) {
    ListedTasks out;
    auto page = store.list_task_instances(filter);
    if (!page) return page.error();
    out.page = std::move(*page);
    for (const auto& ti : out.page.items) {
        auto key = std::make_pair(ti.dag_id, ti.run_id);
        if (out.logical_dates.contains(key)) continue;
        auto run = store.get_run(ti.dag_id, ti.run_id);
        if (!run) return run.error();
        out.logical_dates[key] = run->has_value() ? (*run)->logical_date : 0;
    }
    return out;
}

void send_task_instances(http::Response& res, std::string_view instance,
                         Result<ListedTasks>& listed) {
    if (!listed) {
        send_error(res, listed.error(), instance);
        return;
    }
    json::array items;
    for (const auto& ti : listed->page.items) {
        items.push_back(task_instance_json(ti, listed->logical_dates[{ti.dag_id, ti.run_id}]));
    }
    send_json(res, page_of(std::move(items), "task_instances", listed->page.total));
}

}  // namespace

asio::awaitable<void> ApiServer::list_task_instances(Call& call, const std::string& dag_id,
                                                     const std::string& run_id) {
    auto filter = [&]() -> Result<store::TaskFilter> {
        store::TaskFilter f;
        if (dag_id != "~") f.dag_id = dag_id;
        if (run_id != "~") f.run_id = run_id;
        auto paging = parse_paging(call.req);
        if (!paging) return paging.error();
        f.limit = paging->limit;
        f.offset = paging->offset;
        auto states = parse_task_states(call.req);
        if (!states) return states.error();
        f.states = std::move(*states);
        return f;
    }();
    if (!filter) {
        send_error(call.res, filter.error(), call.instance);
        co_return;
    }
    auto listed = co_await on_reader([&filter](store::Store& store) -> Result<ListedTasks> {
        if (filter->dag_id && filter->run_id) {
            auto run = store.get_run(*filter->dag_id, *filter->run_id);
            if (!run) return run.error();
            if (!run->has_value()) return run_not_found(*filter->dag_id, *filter->run_id);
        }
        return list_tasks_with_dates(store, *filter);
    });
    send_task_instances(call.res, call.instance, listed);
}

asio::awaitable<void> ApiServer::list_mapped(Call& call, const std::string& dag_id,
                                             const std::string& run_id,
                                             const std::string& task_id) {
    auto filter = [&]() -> Result<store::TaskFilter> {
        store::TaskFilter f;
        f.dag_id = dag_id;
        f.run_id = run_id;
        f.task_ids = {task_id};
        f.mapped_only = true;
        auto paging = parse_paging(call.req);
        if (!paging) return paging.error();
        f.limit = paging->limit;
        f.offset = paging->offset;
        auto states = parse_task_states(call.req);
        if (!states) return states.error();
        f.states = std::move(*states);
        if (auto order = call.req.query_param("order_by"); order && !order->empty()) {
            f.order_by = std::string(order->substr(0, 64));
        }
        for (auto [name, target] : {std::pair{"start_date_gte", &f.start_date_gte},
                                    std::pair{"start_date_lte", &f.start_date_lte},
                                    std::pair{"end_date_gte", &f.end_date_gte},
                                    std::pair{"end_date_lte", &f.end_date_lte}}) {
            auto when = query_datetime(call.req, name);
            if (!when) return when.error();
            *target = *when;
        }
        return f;
    }();
    if (!filter) {
        send_error(call.res, filter.error(), call.instance);
        co_return;
    }
    auto listed = co_await on_reader([&filter](store::Store& store) -> Result<ListedTasks> {
        auto run = store.get_run(*filter->dag_id, *filter->run_id);
        if (!run) return run.error();
        if (!run->has_value()) return run_not_found(*filter->dag_id, *filter->run_id);
        return list_tasks_with_dates(store, *filter);
    });
    send_task_instances(call.res, call.instance, listed);
}

asio::awaitable<void> ApiServer::list_task_instances_batch(Call& call) {
    auto filter = [&]() -> Result<store::TaskFilter> {
        auto body = parse_body(call.req);
        if (!body) return body.error();
        if (auto only = only_fields(*body, {"dag_ids", "dag_run_ids", "task_ids", "state",
                                            "start_date_gte", "start_date_lte", "end_date_gte",
                                            "end_date_lte", "execution_date_gte",
                                            "execution_date_lte", "duration_gte", "duration_lte",
                                            "pool", "queue", "executor", "page_offset",
                                            "page_limit"});
            !only) {
            return only.error();
        }
        // Filters Orquestra cannot apply are refused rather than ignored (every task instance
        // is in default_pool and queue default, so those two are no filter at all).
        for (const char* unsupported : {"execution_date_gte", "execution_date_lte",
                                        "duration_gte", "duration_lte", "executor"}) {
            const json::value* v = body->if_contains(unsupported);
            if (v != nullptr && !v->is_null()) {
                return invalid(fmt::format("field '{}' is not supported here", unsupported));
            }
        }
        store::TaskFilter f;
        for (auto [name, target] : {std::pair{"dag_ids", &f.dag_ids},
                                    std::pair{"dag_run_ids", &f.run_ids},
                                    std::pair{"task_ids", &f.task_ids}}) {
            auto ids = field_strings(*body, name);
            if (!ids) return ids.error();
            if (*ids) *target = std::move(**ids);
        }
        if (const json::value* states = body->if_contains("state");
            states != nullptr && !states->is_null()) {
            if (!states->is_array()) return invalid("field 'state' must be an array");
            for (const auto& item : states->as_array()) {
                std::optional<TaskState> state;
                if (item.is_null()) state = TaskState::kNone;
                if (item.is_string()) state = store::parse_task_state(item.as_string());
                if (!state) {
                    return invalid("field 'state' holds something that is not a task state");
                }
                f.states.push_back(*state);
            }
        }
        if (auto dates = field_datetimes(*body, {{"start_date_gte", &f.start_date_gte},
                                                 {"start_date_lte", &f.start_date_lte},
                                                 {"end_date_gte", &f.end_date_gte},
                                                 {"end_date_lte", &f.end_date_lte}});
            !dates) {
            return dates.error();
        }
        auto paging = body_paging(*body);
        if (!paging) return paging.error();
        f.offset = paging->offset;
        f.limit = paging->limit;
        return f;
    }();
    if (!filter) {
        send_error(call.res, filter.error(), call.instance);
        co_return;
    }
    auto listed = co_await on_reader(
        [&filter](store::Store& store) { return list_tasks_with_dates(store, *filter); });
    send_task_instances(call.res, call.instance, listed);
}

asio::awaitable<void> ApiServer::list_runs_batch(Call& call) {
    auto filter = [&]() -> Result<store::RunFilter> {
        auto body = parse_body(call.req);
        if (!body) return body.error();
        if (auto only = only_fields(*body, {"order_by", "page_offset", "page_limit", "dag_ids",
                                            "states", "execution_date_gte", "execution_date_lte",
                                            "start_date_gte", "start_date_lte", "end_date_gte",
                                            "end_date_lte"});
            !only) {
            return only.error();
        }
        store::RunFilter f;
        auto ids = field_strings(*body, "dag_ids");
        if (!ids) return ids.error();
        if (*ids) f.dag_ids = std::move(**ids);
        auto states = field_strings(*body, "states");
        if (!states) return states.error();
        for (const auto& text : states->value_or(std::vector<std::string>{})) {
            auto state = store::parse_run_state(text);
            if (!state) {
                return invalid(fmt::format(
                    "field 'states' cannot hold '{}': use queued, running, success or failed",
                    text));
            }
            f.states.push_back(*state);
        }
        auto order_by = field_string(*body, "order_by");
        if (!order_by) return order_by.error();
        auto order = run_order(*order_by);
        if (!order) return order.error();
        f.order_by = std::move(*order);
        if (auto dates = field_datetimes(*body, {{"execution_date_gte", &f.logical_date_gte},
                                                 {"execution_date_lte", &f.logical_date_lte},
                                                 {"start_date_gte", &f.start_date_gte},
                                                 {"start_date_lte", &f.start_date_lte},
                                                 {"end_date_gte", &f.end_date_gte},
                                                 {"end_date_lte", &f.end_date_lte}});
            !dates) {
            return dates.error();
        }
        auto paging = body_paging(*body);
        if (!paging) return paging.error();
        f.offset = paging->offset;
        f.limit = paging->limit;
        return f;
    }();
    if (!filter) {
        send_error(call.res, filter.error(), call.instance);
        co_return;
    }
    auto page = co_await on_reader(
        [&filter](store::Store& store) { return store.list_runs(*filter); });
    if (!page) {
        send_error(call.res, page.error(), call.instance);
        co_return;
    }
    json::array items;
    for (const auto& run : page->items) items.push_back(run_json(run));
    send_json(call.res, page_of(std::move(items), "dag_runs", page->total));
}

namespace {

struct RunAndTask {
    store::DagRun run;
    store::TaskInstance ti;
};

Result<RunAndTask> find_task_instance(store::Store& store, const std::string& dag_id,
                                      const std::string& run_id, const std::string& task_id,
                                      int map_index = -1) {
    auto run = store.get_run(dag_id, run_id);
    if (!run) return run.error();
    if (!run->has_value()) return run_not_found(dag_id, run_id);
    auto ti = store.get_task_instance(dag_id, run_id, task_id, map_index);
    if (!ti) return ti.error();
    if (!ti->has_value()) {
        if (map_index >= 0) {
            return not_found(fmt::format("task instance '{}' has no mapped instance {} in DAG "
                                         "run '{}' of DAG '{}'",
                                         task_id, map_index, run_id, dag_id));
        }
        // A mapped task has instances 0..n-1 and no -1 once it expanded.
        auto first = store.get_task_instance(dag_id, run_id, task_id, 0);
        if (first && first->has_value()) {
            return not_found(fmt::format("task instance '{}' of DAG run '{}' is mapped: give its "
                                         "map_index (.../taskInstances/{}/{{map_index}}, or "
                                         "?map_index= for logs)",
                                         task_id, run_id, task_id));
        }
        return not_found(fmt::format("task instance '{}' not found in DAG run '{}' of DAG '{}'",
                                     task_id, run_id, dag_id));
    }
    return RunAndTask{**run, **ti};
}

}  // namespace

asio::awaitable<void> ApiServer::get_task_instance(Call& call, const std::string& dag_id,
                                                   const std::string& run_id,
                                                   const std::string& task_id, int map_index) {
    struct Found {
        RunAndTask found;
        std::string rendered;  // the current try's
    };
    auto found = co_await on_reader([&dag_id, &run_id, &task_id,
                                     map_index](store::Store& store) -> Result<Found> {
        auto ti = find_task_instance(store, dag_id, run_id, task_id, map_index);
        if (!ti) return ti.error();
        auto tries = store.tries(dag_id, run_id, task_id, map_index);
        if (!tries) return tries.error();
        Found out{std::move(*ti), {}};
        for (auto& t : *tries) {
            if (t.try_number == out.found.ti.try_number) out.rendered = std::move(t.rendered_json);
        }
        return out;
    });
    if (!found) {
        send_error(call.res, found.error(), call.instance);
        co_return;
    }
    json::object out = task_instance_json(found->found.ti, found->found.run.logical_date);
    if (!found->rendered.empty()) {
        boost::system::error_code ec;
        json::value rendered = json::parse(found->rendered, ec);
        if (!ec && rendered.is_object()) out["rendered_fields"] = std::move(rendered);
    }
    send_json(call.res, out);
}

asio::awaitable<void> ApiServer::list_tries(Call& call, const std::string& dag_id,
                                            const std::string& run_id,
                                            const std::string& task_id, int map_index) {
    struct Found {
        RunAndTask found;
        std::vector<store::TaskTry> tries;
    };
    auto found = co_await on_reader([&dag_id, &run_id, &task_id,
                                     map_index](store::Store& store) -> Result<Found> {
        auto ti = find_task_instance(store, dag_id, run_id, task_id, map_index);
        if (!ti) return ti.error();
        auto tries = store.tries(dag_id, run_id, task_id, map_index);
        if (!tries) return tries.error();
        return Found{std::move(*ti), std::move(*tries)};
    });
    if (!found) {
        send_error(call.res, found.error(), call.instance);
        co_return;
    }
    json::array items;
    for (const auto& t : found->tries) {
        items.push_back(task_try_json(t, found->found.ti, found->found.run.logical_date));
    }
    const auto total = static_cast<std::int64_t>(items.size());
    send_json(call.res, page_of(std::move(items), "task_instances", total));
}

asio::awaitable<void> ApiServer::get_dag_source(Call& call, const std::string& token) {
    // Only the files of recorded DAGs are served: the token is matched against theirs, never
    // turned into a path.
    auto records = co_await on_reader([](store::Store& store) { return store.list_dags(); });
    if (!records) {
        send_error(call.res, records.error(), call.instance);
        co_return;
    }
    std::optional<std::string> fileloc;
    for (const auto& r : *records) {
        if (!r.fileloc.empty() && file_token(r.fileloc) == token) fileloc = r.fileloc;
    }
    if (!fileloc) {
        send_problem(call.res, 404, "no DAG file has this file_token", call.instance);
        co_return;
    }
    auto content = co_await on_worker([&fileloc]() -> Result<std::string> {
        constexpr std::size_t kMaxSourceBytes = 1 << 20;
        std::ifstream in(*fileloc, std::ios::binary);
        if (!in) {
            return not_found(fmt::format("the DAG file {} cannot be read (moved or deleted?)",
                                         *fileloc));
        }
        std::string text(kMaxSourceBytes + 1, '\0');
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        text.resize(static_cast<std::size_t>(in.gcount()));
        if (text.size() > kMaxSourceBytes) {
            return Error{ErrorCode::kTooLarge,
                         fmt::format("the DAG file is larger than {} bytes", kMaxSourceBytes)};
        }
        return text;
    });
    if (!content) {
        send_error(call.res, content.error(), call.instance);
        co_return;
    }
    const std::string_view accept = call.req.header(http::beast_http::field::accept);
    if (accept.find("text/plain") != std::string_view::npos &&
        accept.find("application/json") == std::string_view::npos) {
        call.res.set(200, "text/plain; charset=utf-8", std::move(*content));
        co_return;
    }
    send_json(call.res, json::object{{"content", std::move(*content)}});
}

asio::awaitable<void> ApiServer::get_log(Call& call, const std::string& dag_id,
                                         const std::string& run_id, const std::string& task_id,
                                         const std::string& try_text) {
    auto try_number = parse_int(try_text);
    if (!try_number || *try_number < 1 || *try_number > 1'000'000) {
        send_error(
            call.res,
            invalid(fmt::format("task_try_number must be an integer >= 1, not '{}'", try_text)),
            call.instance);
        co_return;
    }
    auto full = query_bool(call.req, "full_content");
    if (!full) {
        send_error(call.res, full.error(), call.instance);
        co_return;
    }
    const bool full_content = full->value_or(false);
    std::uint64_t offset = 0;
    if (auto token = call.req.query_param("token"); token && !full_content && !token->empty()) {
        auto decoded = decode_token(*token);
        if (!decoded) {
            send_error(call.res,
                       invalid("query parameter 'token' is not a continuation token of this API"),
                       call.instance);
            co_return;
        }
        offset = *decoded;
    }
    const int attempt = static_cast<int>(*try_number);
    // A mapped instance's log: ?map_index= (as Airflow).
    int map_index = -1;
    if (auto text = call.req.query_param("map_index"); text && !text->empty()) {
        auto index = parse_int(*text);
        if (!index || *index < -1 || *index > 1'000'000) {
            send_error(call.res,
                       invalid(fmt::format("query parameter 'map_index' must be an integer >= "
                                           "-1, not '{}'",
                                           text->substr(0, 40))),
                       call.instance);
            co_return;
        }
        map_index = static_cast<int>(*index);
    }
    // log_path() only joins names: any thread may call it.
    auto path = co_await on_reader(
        [this, &dag_id, &run_id, &task_id, attempt,
         map_index](store::Store& store) -> Result<std::filesystem::path> {
            auto found = find_task_instance(store, dag_id, run_id, task_id, map_index);
            if (!found) return found.error();
            if (attempt > found->ti.try_number) {
                return not_found(
                    fmt::format("task instance '{}' of DAG run '{}' has no try {} "
                                "(it has had {})",
                                task_id, run_id, attempt, found->ti.try_number));
            }
            return engine_.log_path(dag_id, run_id, task_id, attempt, map_index);
        });
    if (!path) {
        send_error(call.res, path.error(), call.instance);
        co_return;
    }
    struct Chunk {
        std::string text;
        std::uint64_t end = 0;
    };
    const std::size_t limit = full_content ? options_.max_log_bytes : options_.log_chunk_bytes;
    // The log writer and the file system may block: neither belongs on an event loop.
    const std::filesystem::path& file = *path;
    auto chunk = co_await on_worker([this, &file, offset, limit] {
        engine_.flush_logs();  // touches only the engine's LogWriter, which is thread-safe
        Chunk out;
        std::ifstream in(file, std::ios::binary);
        if (!in) return out;
        in.seekg(0, std::ios::end);
        const auto size = static_cast<std::uint64_t>(std::max<std::streamoff>(0, in.tellg()));
        const std::uint64_t from = std::min(offset, size);
        const std::uint64_t n = std::min<std::uint64_t>(size - from, limit);
        out.text.resize(static_cast<std::size_t>(n));
        in.seekg(static_cast<std::streamoff>(from));
        in.read(out.text.data(), static_cast<std::streamsize>(n));
        out.text.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount())));
        out.end = from + out.text.size();
        return out;
    });
    const std::string token = encode_token(chunk.end);
    const std::string_view accept = call.req.header(http::beast_http::field::accept);
    if (accept.find("text/plain") != std::string_view::npos &&
        accept.find("application/json") == std::string_view::npos) {
        call.res.set(200, "text/plain; charset=utf-8", std::move(chunk.text));
        call.res.add_header("X-Continuation-Token", token);
        co_return;
    }
    json::object out;
    out["content"] = std::move(chunk.text);
    out["continuation_token"] = token;
    send_json(call.res, out);
}

asio::awaitable<void> ApiServer::get_xcom(Call& call, const std::string& dag_id,
                                          const std::string& run_id, const std::string& task_id,
                                          const std::string* key) {
    // Airflow 2.8 answers `value` as a string (strict clients check it); stringify=false gives
    // the JSON value itself. `deserialize` changes nothing here: outputs are JSON already.
    auto stringify = query_bool(call.req, "stringify");
    auto deserialize = query_bool(call.req, "deserialize");
    if (!stringify || !deserialize) {
        send_error(call.res, !stringify ? stringify.error() : deserialize.error(), call.instance);
        co_return;
    }
    auto found = co_await on_reader([&dag_id, &run_id, &task_id](store::Store& store) {
        return find_task_instance(store, dag_id, run_id, task_id);
    });
    if (!found) {
        send_error(call.res, found.error(), call.instance);
        co_return;
    }
    const bool has_output = found->ti.output_json.has_value();
    if (key == nullptr) {
        json::array items;
        if (has_output) {
            items.push_back(xcom_json(found->ti, found->run.logical_date, false, false));
        }
        const auto total = static_cast<std::int64_t>(items.size());
        send_json(call.res, page_of(std::move(items), "xcom_entries", total));
        co_return;
    }
    if (*key != "return_value" || !has_output) {
        send_error(call.res,
                   not_found(fmt::format("XCom entry '{}' not found for task instance '{}' of "
                                         "DAG run '{}'",
                                         *key, task_id, run_id)),
                   call.instance);
        co_return;
    }
    send_json(call.res,
              xcom_json(found->ti, found->run.logical_date, true, stringify->value_or(true)));
}

namespace {

json::value references(const std::vector<scheduler::TouchedTask>& touched) {
    json::array items;
    for (const auto& t : touched) items.push_back(task_instance_reference_json(t.ti, t.logical_date));
    return json::object{{"task_instances", std::move(items)}};
}

}  // namespace

asio::awaitable<void> ApiServer::clear_task_instances(Call& call, const std::string& dag_id) {
    using Request = scheduler::ClearRequest;
    auto parsed = [&]() -> Result<Request> {
        auto body = parse_body(call.req);
        if (!body) return body.error();
        if (auto known =
                only_fields(*body, {"dry_run", "task_ids", "start_date", "end_date", "only_failed",
                                    "only_running", "reset_dag_runs", "dag_run_id",
                                    "include_upstream", "include_downstream", "include_future",
                                    "include_past", "include_subdags", "include_parentdag"});
            !known) {
            return known.error();
        }
        Request r;
        r.dag_id = dag_id;
        for (auto [name, target] : {std::pair<const char*, bool*>{"dry_run", &r.dry_run},
                                    {"only_failed", &r.only_failed},
                                    {"only_running", &r.only_running},
                                    {"reset_dag_runs", &r.reset_dag_runs},
                                    {"include_upstream", &r.include_upstream},
                                    {"include_downstream", &r.include_downstream}}) {
            auto v = field_bool(*body, name);
            if (!v) return v.error();
            if (*v) *target = **v;
        }
        for (const char* name : {"include_future", "include_past"}) {
            auto v = field_bool(*body, name);
            if (!v) return v.error();
            if (v->value_or(false)) {
                return invalid(
                    fmt::format("field '{}' is not supported: name the runs with "
                                "dag_run_id or start_date and end_date",
                                name));
            }
        }
        auto ids = field_strings(*body, "task_ids");
        if (!ids) return ids.error();
        if (*ids && (*ids)->empty()) return invalid("field 'task_ids' must not be empty");
        r.task_ids = std::move(*ids);
        auto start = field_datetime(*body, "start_date");
        if (!start) return start.error();
        r.runs.from = *start;
        auto end = field_datetime(*body, "end_date");
        if (!end) return end.error();
        r.runs.to = *end;
        auto run_id = field_string(*body, "dag_run_id");
        if (!run_id) return run_id.error();
        r.runs.run_id = std::move(*run_id);
        return r;
    }();
    if (!parsed) {
        send_error(call.res, parsed.error(), call.instance);
        co_return;
    }
    const Request& r = *parsed;
    auto affected = co_await on_loop([this, &r] { return engine_.clear_tasks(r); });
    if (!affected) {
        send_error(call.res, affected.error(), call.instance);
        co_return;
    }
    if (!r.dry_run) {
        json::array tasks;
        for (const auto& t : *affected) tasks.push_back(json::string(t.ti.task_id));
        auto audit = audit_entry(call, "clear", dag_id, r.runs.run_id.value_or(""), {},
                              json::serialize(json::object{{"task_instances", std::move(tasks)},
                                                           {"only_failed", r.only_failed}}));
        co_await record_event(audit);
    }
    send_json(call.res, references(*affected));
}

asio::awaitable<void> ApiServer::update_task_instances_state(Call& call,
                                                             const std::string& dag_id) {
    using Request = scheduler::MarkRequest;
    auto parsed = [&]() -> Result<Request> {
        auto body = parse_body(call.req);
        if (!body) return body.error();
        if (auto known = only_fields(
                *body, {"dry_run", "task_id", "execution_date", "dag_run_id", "include_upstream",
                        "include_downstream", "include_future", "include_past", "new_state"});
            !known) {
            return known.error();
        }
        Request r;
        r.dag_id = dag_id;
        for (auto [name, target] : {std::pair<const char*, bool*>{"dry_run", &r.dry_run},
                                    {"include_upstream", &r.include_upstream},
                                    {"include_downstream", &r.include_downstream}}) {
            auto v = field_bool(*body, name);
            if (!v) return v.error();
            if (*v) *target = **v;
        }
        for (const char* name : {"include_future", "include_past"}) {
            auto v = field_bool(*body, name);
            if (!v) return v.error();
            if (v->value_or(false)) {
                return invalid(fmt::format("field '{}' is not supported", name));
            }
        }
        auto task_id = field_string(*body, "task_id");
        if (!task_id) return task_id.error();
        if (!*task_id) return invalid("field 'task_id' is required");
        r.task_id = **task_id;
        auto run_id = field_string(*body, "dag_run_id");
        if (!run_id) return run_id.error();
        r.run.run_id = *run_id;
        auto execution = field_datetime(*body, "execution_date");
        if (!execution) return execution.error();
        r.run.from = r.run.to = *execution;
        if (r.run.run_id.has_value() == r.run.from.has_value()) {
            return invalid("give exactly one of the fields 'dag_run_id' and 'execution_date'");
        }
        auto state = field_string(*body, "new_state");
        if (!state) return state.error();
        auto parsed_state = *state ? store::parse_task_state(**state) : std::optional<TaskState>();
        if (!parsed_state ||
            (*parsed_state != TaskState::kSuccess && *parsed_state != TaskState::kFailed &&
             *parsed_state != TaskState::kSkipped)) {
            return invalid(fmt::format("field 'new_state' must be one of {}",
                                       join_states({"success", "failed", "skipped"})));
        }
        r.new_state = *parsed_state;
        return r;
    }();
    if (!parsed) {
        send_error(call.res, parsed.error(), call.instance);
        co_return;
    }
    const Request& r = *parsed;
    auto affected = co_await on_loop([this, &r] { return engine_.mark_tasks(r); });
    if (!affected) {
        send_error(call.res, affected.error(), call.instance);
        co_return;
    }
    if (!r.dry_run) {
        auto audit = audit_entry(
            call, "mark", dag_id, r.run.run_id.value_or(""), r.task_id,
            json::serialize(json::object{{"new_state", store::to_string(r.new_state)},
                                         {"task_instances", affected->size()}}));
        co_await record_event(audit);
    }
    send_json(call.res, references(*affected));
}

// --- import errors ----------------------------------------------------------------------------

asio::awaitable<void> ApiServer::list_import_errors(Call& call, const std::string* id) {
    auto paging = parse_paging(call.req);
    if (!paging) {
        send_error(call.res, paging.error(), call.instance);
        co_return;
    }
    std::optional<long long> wanted;
    if (id != nullptr) {
        wanted = parse_int(*id);
        if (!wanted) {
            send_error(call.res,
                       invalid(fmt::format("import_error_id must be an integer, not '{}'", *id)),
                       call.instance);
            co_return;
        }
    }
    const std::string order_by = call.req.query_param("order_by").value_or("import_error_id");
    static const std::set<std::string> kOrders = {
        "import_error_id", "-import_error_id", "filename", "-filename", "timestamp", "-timestamp"};
    if (!kOrders.contains(order_by)) {
        send_error(call.res,
                   invalid(fmt::format("query parameter 'order_by' cannot be '{}': use "
                                       "import_error_id, filename or timestamp, optionally with "
                                       "a leading '-'",
                                       order_by)),
                   call.instance);
        co_return;
    }
    auto errors = co_await on_reader([](store::Store& store) { return store.import_errors(); });
    if (!errors) {
        send_error(call.res, errors.error(), call.instance);
        co_return;
    }
    if (wanted) {
        for (const auto& e : *errors) {
            if (e.id == *wanted) {
                send_json(call.res, import_error_json(e));
                co_return;
            }
        }
        send_error(call.res, not_found(fmt::format("import error {} not found", *wanted)),
                   call.instance);
        co_return;
    }
    const bool descending = order_by.front() == '-';
    const std::string field = descending ? order_by.substr(1) : order_by;
    auto less = [&field](const store::ImportError& a, const store::ImportError& b) {
        if (field == "filename") return a.filename < b.filename;
        if (field == "timestamp") return a.timestamp < b.timestamp;
        return a.id < b.id;
    };
    std::stable_sort(errors->begin(), errors->end(),
                     [&](const store::ImportError& a, const store::ImportError& b) {
                         return descending ? less(b, a) : less(a, b);
                     });
    json::array items;
    for (std::size_t i = static_cast<std::size_t>(paging->offset);
         i < errors->size() && items.size() < static_cast<std::size_t>(paging->limit); ++i) {
        items.push_back(import_error_json((*errors)[i]));
    }
    send_json(call.res, page_of(std::move(items), "import_errors",
                                static_cast<std::int64_t>(errors->size())));
}

}  // namespace orquestra::api
