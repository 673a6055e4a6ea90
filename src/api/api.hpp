#pragma once
// ApiServer: the Airflow-compatible REST API v1 subset under /api/v1 (see
// design/AIRFLOW-API.md): DAGs, DAG runs, task instances, logs, XComs, clearing and marking,
// import errors, health and version, with HTTP Basic authentication against the store's users
// and Airflow's roles (Viewer reads; User, Op and Admin also change things).
//
// Threading: handle() runs on whatever HTTP executor calls it and never blocks it. Reads that
// need only the store run on the read-only connections of `ApiOptions::readers` (threads of
// their own); every Engine call and every change is made on the engine's loop (posted onto it,
// resuming the handler on its own executor afterwards); argon2id password checks run on a small pool of their own, and
// waiting for the log writer and reading log files on another. Successful credential checks
// are cached for a minute (CredentialCache), so clients that send Basic auth on every request
// pay for one argon2id check a minute.
//
// Guessing is slowed down (LoginThrottle): after a few failed logins for a username or from an
// address, further attempts are answered 429 with Retry-After, without checking the password,
// for a delay that doubles at every failure; credentials already cached still pass. At most
// `max_password_checks` argon2id checks run or wait at once, `max_password_checks_per_address`
// from one address (so one source cannot hold every password thread); a login beyond that
// waits up to `password_check_wait` for a place (on a timer), then gets 503 with Retry-After.
//
// Request bodies must be JSON (`application/json` or `application/*+json`, parameters allowed);
// any other Content-Type, or none, on a request with a body is 415 (a browser cannot send
// such a request across sites without asking first, so this also shuts out CSRF).
//
// Clearing and marking work through the store and only on finished runs (a queued or running
// run belongs to the engine, which holds it in memory: those requests get 409). A cleared or
// re-queued run is handed back to the engine by its housekeeping, which reloads unfinished runs
// from the store.
//
// Lifetime: construct after the engine's loop exists. Destroy it after the HTTP servers that
// call handle() have stopped and the threads running their io_contexts have been joined
// (a request in flight holds `this`), and before the engine loop stops. The destructor waits
// for the worker pools (at most one password check or log read per worker).

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/credential_cache.hpp"
#include "api/login_throttle.hpp"
#include "api/service_catalog.hpp"
#include "api/sessions.hpp"
#include "api/shapes.hpp"
#include "core/clock.hpp"
#include "discovery/instance_choice.hpp"
#include "http/message.hpp"
#include "http/server.hpp"
#include "scheduler/engine.hpp"
#include "store/secret_box.hpp"
#include "store/store.hpp"

namespace orquestra::api {

namespace detail {
struct ApiHeartbeat;
}

// One section of the configuration /config shows (Airflow's shape: sections of key/value
// options). Secrets are hidden when shown, whatever the caller put here (see config.cpp).
struct ConfigSection {
    std::string name;
    std::vector<std::pair<std::string, std::string>> options;
};

// How /config shows an option: "< hidden >" when its name looks like a credential (password,
// secret, token, key, auth, ...), else the value with any URL's password and any secret-looking
// key=value masked as ***.
std::string shown_config_value(std::string_view key, std::string_view value);

struct ApiOptions {
    std::string version = "0.1.0";
    std::optional<std::string> git_version;
    const Clock* clock = nullptr;  // nullptr: the system clock
    // The API's heartbeat on the engine loop, which /health reports as the scheduler's.
    std::chrono::milliseconds heartbeat_interval{1000};
    // Older heartbeats make /health say "unhealthy" (Airflow's default threshold is 30 s).
    std::chrono::milliseconds health_threshold{30'000};
    Millis credential_ttl = 60'000;
    int worker_threads = 2;                   // log reads
    int password_check_threads = 2;           // argon2id checks running at once (64 MiB each)
    int max_password_checks = 8;              // running or queued
    int max_password_checks_per_address = 1;  // of those, from one source address
    // How long a login waits for a free place among those checks before it is answered 503.
    std::chrono::milliseconds password_check_wait{2000};
    LoginThrottleOptions login_throttle;
    // A log request without full_content returns at most this much; its continuation token
    // points at the rest.
    std::size_t log_chunk_bytes = 1 << 20;
    std::size_t max_log_bytes = 32u << 20;  // full_content=true
    // The console's logins (cookie sessions); the cookie is marked Secure when the console is
    // reached over TLS (behind a proxy that terminates it).
    SessionOptions sessions;
    bool secure_cookies = false;
    // The registry the console's services pages show; nullptr: those endpoints answer 503.
    ServiceCatalog* catalog = nullptr;
    // How this process's http tasks choose instances: their breakers are shown at
    // /api/v1/services/{name}/breakers, in the console's services page and in /metrics.
    // nullptr (a process that runs no tasks): the breakers endpoint answers 503.
    const discovery::InstanceChoice* choice = nullptr;
    // Read-only connections to the same database: reads that need only the store run on them,
    // on threads of their own, so that polling clients never queue behind the scheduler's work
    // on its loop. Empty: every read runs on the engine loop with the engine's store.
    std::vector<store::Store*> readers;
    // What GET /config shows (Admin only); empty: no section.
    std::vector<ConfigSection> config;
    // Where the key that seals variables and connections comes from; nullptr: /variables and
    // /connections answer 503.
    store::SecretKeySource* secret_keys = nullptr;
};

class ApiServer {
  public:
    static constexpr std::string_view kBasePath = "/api/v1";
    static constexpr std::string_view kMetricsPath = "/metrics";

    ApiServer(scheduler::Engine& engine, store::Store& store, boost::asio::io_context& engine_loop,
              ApiOptions options = {});
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    // Answers any request; paths outside /api/v1 and /metrics get a 404 problem.
    boost::asio::awaitable<void> handle(http::Request& req, http::Response& res);
    // handle() as an HttpServer handler.
    http::Handler handler();
    // GET /metrics: the workflow side's metrics in Prometheus text (the engine's and the
    // instance choice's), for any authenticated user (Viewer and up), as the API's reads.
    boost::asio::awaitable<void> metrics(http::Request& req, http::Response& res);
    std::string render_metrics() const;
    // True for /api/v1 and below and for /metrics: lets a composite server route to this API.
    static bool owns(std::string_view path);

    // Drops cached credentials and console sessions of a user (after deleting it or changing
    // its password).
    void forget_credentials(std::string_view username) {
        credentials_.forget(username);
        sessions_.end_user(username);
    }

  private:
    struct Call;

    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F&>> on_loop(F f);
    // f(store) on a reader's thread with a read-only store (or on the loop with the engine's).
    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F&, store::Store&>> on_reader(F f);
    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F&>> on_worker(F f);
    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F&>> on_password_worker(F f);

    boost::asio::awaitable<void> route(Call& call);
    // nullopt once it has answered (401, 403 for a missing CSRF token, or an error); else the
    // role, empty for a user whose role grants nothing. Basic credentials first, else the
    // console's session cookie.
    boost::asio::awaitable<std::optional<std::optional<Role>>> authenticate(Call& call);
    // Throttling, the password-check gate and argon2id, as for Basic credentials and the
    // console's login: nullopt once it has answered (401, 429, 503).
    boost::asio::awaitable<std::optional<std::optional<Role>>> check_password(
        Call& call, const std::string& username, const std::string& password);
    boost::asio::awaitable<std::optional<std::optional<Role>>> authenticate_session(
        Call& call, std::string_view token);

    void health(Call& call);
    void version(Call& call);
    // A 404 problem saying that Orquestra does not serve the request's path.
    void send_not_served(Call& call);
    // The OpenAPI document of the route table (openapi.cpp).
    void get_openapi(Call& call);
    // Users and roles (users_api.cpp), the configuration (config.cpp), the audit log
    // (event_logs.cpp).
    boost::asio::awaitable<void> list_users(Call& call);
    boost::asio::awaitable<void> get_user(Call& call, const std::string& username);
    boost::asio::awaitable<void> create_user_endpoint(Call& call);
    boost::asio::awaitable<void> patch_user(Call& call, const std::string& username);
    boost::asio::awaitable<void> delete_user(Call& call, const std::string& username);
    void list_roles(Call& call, const std::string* name);
    void get_config(Call& call, const std::string* section, const std::string* option);
    boost::asio::awaitable<void> list_event_logs(Call& call, const std::string* id);
    // An event of the audit log by the caller, now (texts from outside bounded).
    store::EventLog audit_entry(const Call& call, std::string_view event, std::string_view dag_id,
                                std::string_view run_id = {}, std::string_view task_id = {},
                                std::string extra = {}) const;
    // Records it (never fails the request: a store error is logged). Waits for the write, so
    // that a read right after the answer finds it. Built before the co_await: g++ 12 cannot
    // keep string literals given to a coroutine's call in its frame.
    boost::asio::awaitable<void> record_event(const store::EventLog& entry);
    boost::asio::awaitable<void> list_dags(Call& call);
    boost::asio::awaitable<void> get_dag(Call& call, const std::string& dag_id, bool details);
    boost::asio::awaitable<void> patch_dag(Call& call, const std::string& dag_id);
    boost::asio::awaitable<void> list_tasks(Call& call, const std::string& dag_id,
                                            const std::string* task_id);
    boost::asio::awaitable<void> trigger(Call& call, const std::string& dag_id);
    boost::asio::awaitable<void> list_runs(Call& call, const std::string& dag_id);
    boost::asio::awaitable<void> get_run(Call& call, const std::string& dag_id,
                                         const std::string& run_id);
    boost::asio::awaitable<void> patch_run(Call& call, const std::string& dag_id,
                                           const std::string& run_id);
    boost::asio::awaitable<void> delete_run(Call& call, const std::string& dag_id,
                                            const std::string& run_id);
    boost::asio::awaitable<void> clear_run(Call& call, const std::string& dag_id,
                                           const std::string& run_id);
    boost::asio::awaitable<void> list_task_instances(Call& call, const std::string& dag_id,
                                                     const std::string& run_id);
    boost::asio::awaitable<void> get_task_instance(Call& call, const std::string& dag_id,
                                                   const std::string& run_id,
                                                   const std::string& task_id,
                                                   int map_index = -1);
    // GET .../taskInstances/{task_id}/listMapped: a mapped task's instances.
    boost::asio::awaitable<void> list_mapped(Call& call, const std::string& dag_id,
                                             const std::string& run_id,
                                             const std::string& task_id);
    boost::asio::awaitable<void> get_log(Call& call, const std::string& dag_id,
                                         const std::string& run_id, const std::string& task_id,
                                         const std::string& try_text);
    boost::asio::awaitable<void> get_xcom(Call& call, const std::string& dag_id,
                                          const std::string& run_id, const std::string& task_id,
                                          const std::string* key);
    boost::asio::awaitable<void> clear_task_instances(Call& call, const std::string& dag_id);
    boost::asio::awaitable<void> update_task_instances_state(Call& call, const std::string& dag_id);
    boost::asio::awaitable<void> list_import_errors(Call& call, const std::string* id);
    boost::asio::awaitable<void> get_dag_source(Call& call, const std::string& token);
    // POST /dags/~/dagRuns/list and /dags/~/dagRuns/~/taskInstances/list: filters in the body.
    boost::asio::awaitable<void> list_runs_batch(Call& call);
    boost::asio::awaitable<void> list_task_instances_batch(Call& call);
    boost::asio::awaitable<void> list_tries(Call& call, const std::string& dag_id,
                                            const std::string& run_id, const std::string& task_id,
                                            int map_index = -1);

    // /variables[/{key}] (variables.cpp) and /connections[/{connection_id}] (connections.cpp).
    boost::asio::awaitable<void> variables(Call& call, const std::string* key);
    boost::asio::awaitable<void> connections(Call& call, const std::string* conn_id);
    // /pools[/{pool_name}] (pools.cpp).
    boost::asio::awaitable<void> pools(Call& call, const std::string* name);

    // The console's endpoints (console.cpp), under /api/v1/ui.
    boost::asio::awaitable<void> ui_login(Call& call);
    void ui_logout(Call& call);
    void ui_whoami(Call& call, Role role);
    boost::asio::awaitable<void> ui_dags(Call& call);
    boost::asio::awaitable<void> ui_grid(Call& call, const std::string& dag_id);
    boost::asio::awaitable<void> ui_services(Call& call);
    void ui_instance_status(Call& call, const std::string& app, const std::string& instance_id);
    // GET /api/v1/services/{name}/breakers ("~": every service called so far).
    void service_breakers(Call& call, const std::string& service);

    // Loop thread: the view of one DAG (nullopt when neither the store nor the engine knows it).
    std::optional<DagView> dag_view_on_loop(const std::string& dag_id,
                                            const std::vector<store::ImportError>& errors);
    // Every recorded DAG's view (and the import errors, when asked): the records from a
    // reader, the loaded definitions from the loop.
    boost::asio::awaitable<Result<std::vector<DagView>>> dag_views(
        std::vector<store::ImportError>* errors_out);
    std::optional<dag::Interval> next_interval(const DagView& view) const;

    scheduler::Engine& engine_;
    store::Store& store_;
    boost::asio::io_context& engine_loop_;
    ApiOptions options_;
    const Clock& clock_;
    CredentialCache credentials_;
    SessionStore sessions_;
    LoginThrottle login_throttle_;
    PasswordCheckGate password_gate_;
    boost::asio::thread_pool workers_;
    boost::asio::thread_pool readers_pool_;
    std::atomic<std::size_t> next_reader_{0};
    boost::asio::thread_pool password_workers_;
    std::shared_ptr<detail::ApiHeartbeat> heartbeat_;
};

}  // namespace orquestra::api
