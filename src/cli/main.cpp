// orquestra: one binary, subcommands in Airflow's shape. Parses flags, then calls app::.
#include "app/commands.hpp"
#include "app/home_access.hpp"
#include "app/run.hpp"
#include "app/standalone.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <exception>
#include <optional>
#include <string>
#include <vector>

namespace {

// "orquestra dags lsit": CLI11 says only that an argument was not expected; this names the
// unknown command and lists the valid ones at that level. Stops at the first option (CLI11
// reports those) and at a command without subcommands (its arguments follow).
std::optional<std::string> unknown_subcommand(CLI::App& cli, int argc, char** argv) {
    CLI::App* level = &cli;
    std::string path = "orquestra";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg.empty() || arg.front() == '-') return std::nullopt;
        auto subcommands = level->get_subcommands([](CLI::App*) { return true; });
        if (subcommands.empty()) return std::nullopt;
        CLI::App* found = nullptr;
        std::string valid;
        for (CLI::App* sub : subcommands) {
            if (sub->get_name() == arg) found = sub;
            valid += (valid.empty() ? "" : ", ") + sub->get_name();
        }
        if (found == nullptr) {
            // Printable ASCII only: the argument comes from outside.
            std::string shown = arg.substr(0, 64);
            for (char& c : shown) {
                if (c < 0x20 || c > 0x7e) c = '?';
            }
            return "orquestra: unknown command '" + path + " " + shown + "'; the commands of '" +
                   path + "' are: " + valid + " (see " + path + " --help)";
        }
        level = found;
        path += " " + arg;
    }
    return std::nullopt;
}

}  // namespace

namespace {

// The health-check flags `registry` and `standalone` share.
struct HealthFlags {
    bool on = false;
    double interval_s = 10;
    double timeout_s = 2;
    int failures = 3;
    int successes = 2;
    std::size_t max_in_flight = 64;

    void add_to(CLI::App* cmd) {
        cmd->add_flag("--health-checks", on,
                      "Probe each instance's healthCheckUrl; failing instances are marked DOWN");
        cmd->add_option("--health-interval", interval_s, "Seconds between two probes of an instance")
            ->check(CLI::Range(0.05, 86400.0))
            ->capture_default_str();
        cmd->add_option("--health-timeout", timeout_s, "Seconds a probe may take")
            ->check(CLI::Range(0.01, 600.0))
            ->capture_default_str();
        cmd->add_option("--health-failures", failures,
                        "Failed probes in a row that mark an UP instance DOWN")
            ->check(CLI::Range(1, 1000))
            ->capture_default_str();
        cmd->add_option("--health-successes", successes,
                        "Good probes in a row that bring it back UP")
            ->check(CLI::Range(1, 1000))
            ->capture_default_str();
        cmd->add_option("--health-max-in-flight", max_in_flight, "Probes open at once, at most")
            ->check(CLI::Range(std::size_t{1}, std::size_t{4096}))
            ->capture_default_str();
    }
    std::optional<orquestra::registry::HealthCheckOptions> options() const {
        if (!on) return std::nullopt;
        orquestra::registry::HealthCheckOptions o;
        o.interval = std::chrono::milliseconds(static_cast<std::int64_t>(interval_s * 1000));
        o.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000));
        o.failure_threshold = failures;
        o.success_threshold = successes;
        o.max_in_flight = max_in_flight;
        return o;
    }
};

}  // namespace

int main(int argc, char** argv) {
    using namespace orquestra;
    CLI::App cli{"Orquestra: a Eureka-compatible service registry and a workflow orchestrator"};
    cli.require_subcommand(1);
    cli.set_version_flag("--version", std::string(ORQUESTRA_VERSION));

    // --- registry
    app::RegistryCommandOptions reg;
    reg.node.http.port = 8761;
    bool no_self_preservation = false;
    auto* registry = cli.add_subcommand("registry", "Run the service registry (Eureka REST API)");
    registry->add_option("--host", reg.node.http.host, "Address to listen on")
        ->capture_default_str();
    registry->add_option("--port", reg.node.http.port, "Port to listen on (0: any free port)")
        ->capture_default_str();
    std::string registry_auth_file;
    registry->add_option("--auth-file", registry_auth_file,
                         "Require HTTP Basic auth with the user:password in this file (mode 600)");
    registry->add_option("--auth", reg.node.api.auth,
                         "Require HTTP Basic auth with these credentials (user:password; "
                         "prefer --auth-file or $ORQUESTRA_REGISTRY_AUTH: argv is public)");
    registry->add_flag("--no-self-preservation", no_self_preservation,
                       "Evict expired leases even when many expire at once");
    registry->add_option("--self-preservation-min-instances",
                         reg.node.registry.self_preservation_min_instances,
                         "Self-preservation engages only with at least this many leases")
        ->capture_default_str();
    registry->add_option("--threads", reg.threads, "Event-loop threads (0: one per core)")
        ->capture_default_str();
    std::size_t plain_cache_mb = reg.node.api.plain_cache_bytes >> 20;
    registry->add_option("--plain-cache-mb", plain_cache_mb,
                         "Plain (uncompressed) app documents kept for clients that do not take "
                         "gzip, in MiB; beyond it they are inflated per request")
        ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 20))
        ->capture_default_str();
    registry->add_option("--peers", reg.node.replication.peers,
                         "Other registry nodes' base URLs, comma separated "
                         "(http://host:8761/eureka); changes are replicated to them")
        ->delimiter(',');
    HealthFlags registry_health;
    registry_health.add_to(registry);

    // --- standalone: everything in one process
    app::StandaloneOptions alone;
    auto* standalone = cli.add_subcommand(
        "standalone", "Run the registry, the REST API, the scheduler and the executor in one process");
    standalone->add_option("--home", alone.home,
                           "Orquestra's home (default $ORQUESTRA_HOME, else ~/.orquestra)");
    standalone->add_option("--dags", alone.dags, "DAG folder (default <home>/dags)");
    standalone->add_option("--db", alone.db,
                           "Database: postgresql://user:password@host/db, or an SQLite file "
                           "(default $ORQUESTRA_DB, else <home>/orquestra.db)");
    standalone->add_option("--host", alone.host, "Address to listen on")->capture_default_str();
    standalone->add_option("--port", alone.port, "REST API and console port (0: any free port)")
        ->capture_default_str();
    standalone->add_option("--registry-port", alone.registry_port,
                           "Registry (Eureka API) port (0: any free port)")
        ->capture_default_str();
    standalone->add_flag("--examples", alone.examples,
                         "Load the example DAGs and start the example services");
    standalone->add_option("--threads", alone.threads, "Event-loop threads (0: one per core)")
        ->capture_default_str();
    standalone->add_option("--registry-auth-file", alone.registry_auth_file,
                           "Registry credentials: a file with user:password (mode 600)");
    standalone->add_option("--registry-auth", alone.registry_auth,
                           "Registry credentials user:password (prefer --registry-auth-file or "
                           "$ORQUESTRA_REGISTRY_AUTH: argv is public)");
    standalone->add_flag("--secure-cookies", alone.secure_cookies,
                         "Mark the console's session cookie Secure (a TLS proxy is in front)");
    standalone->add_option("--registry-peers", alone.registry_peers,
                           "Other registry nodes' base URLs, comma separated; the registry "
                           "replicates to them")
        ->delimiter(',');
    standalone->add_option("--zone", alone.zone,
                           "This scheduler's zone: http tasks prefer service instances whose "
                           "metadata.zone is the same (default $ORQUESTRA_ZONE)")
        ->envname("ORQUESTRA_ZONE");
    standalone->add_option("--default-pool-slots", alone.default_pool_slots,
                           "Set default_pool's size at start (1..1000000; default: keep it, 128 "
                           "in a new database)")
        ->envname("ORQUESTRA_DEFAULT_POOL_SLOTS")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000}));
    standalone->add_flag("--insecure-registry", alone.insecure_registry,
                         "Allow a non-loopback --host with a registry that asks no credentials");
    HealthFlags standalone_health;
    standalone_health.add_to(standalone);
    standalone->add_option("--services", alone.services_dir,
                           "Supervise the services declared in DIR/*.yaml (started before the "
                           "scheduler, restarted when they die)");

    // --- services: a supervisor of service processes on its own
    app::ServicesCommandOptions services_options;
    auto* services_cmd = cli.add_subcommand(
        "services", "Run the services declared in DIR/*.yaml, restarting them when they die");
    services_cmd->add_option("dir", services_options.dir, "Folder of service files")->required();
    services_cmd->add_option("--registry", services_options.registry_url,
                             "Registry base URL handed to the services (comma separated for "
                             "fail-over); ended instances are cancelled in the first")
        ->capture_default_str();
    services_cmd->add_option("--host", services_options.host, "Address the services listen on")
        ->capture_default_str();

    // --- workflow commands share where things are
    app::CommonFlags common;
    auto add_common = [&common](CLI::App* cmd, bool registry_url) {
        cmd->add_option("--home", common.home,
                        "Orquestra's home (default $ORQUESTRA_HOME, else ~/.orquestra)");
        cmd->add_option("--dags", common.dags, "DAG folder (default <home>/dags)");
        cmd->add_option("--db", common.db,
                        "Database: postgresql://user:password@host/db, or an SQLite file "
                        "(default $ORQUESTRA_DB, else <home>/orquestra.db)");
        if (registry_url) {
            cmd->add_option("--registry", common.registry_url,
                            "Registry base URL the tasks find services in; several, comma "
                            "separated, for fail-over")
                ->capture_default_str();
            cmd->add_option("--zone", common.zone,
                            "This scheduler's zone: http tasks prefer service instances whose "
                            "metadata.zone is the same (default $ORQUESTRA_ZONE)")
                ->envname("ORQUESTRA_ZONE");
        }
    };

    auto* db = cli.add_subcommand("db", "Database commands");
    db->require_subcommand(1);
    auto* db_init = db->add_subcommand("init", "Create the database");
    auto* db_migrate = db->add_subcommand("migrate", "Upgrade the database schema");
    add_common(db_init, false);
    add_common(db_migrate, false);
    std::string clean_before;
    bool clean_dry_run = false;
    auto* db_clean = db->add_subcommand(
        "clean", "Delete finished runs that ended before a date, with their tries and logs");
    add_common(db_clean, false);
    db_clean->add_option("--before", clean_before, "Date or datetime (UTC unless an offset)")
        ->required();
    db_clean->add_flag("--dry-run", clean_dry_run, "Only count what would be deleted");

    auto* dags = cli.add_subcommand("dags", "DAG commands");
    dags->require_subcommand(1);
    std::string dag_id, task_id, conf, run_id;
    auto* dags_list = dags->add_subcommand("list", "List the DAGs");
    auto* dags_errors = dags->add_subcommand("list-import-errors", "List DAG files that fail");
    auto* dags_trigger = dags->add_subcommand("trigger", "Create a run of a DAG");
    auto* dags_pause = dags->add_subcommand("pause", "Pause a DAG");
    auto* dags_unpause = dags->add_subcommand("unpause", "Unpause a DAG");
    auto* dags_test = dags->add_subcommand("test", "Run a DAG once, here, and print each task");
    auto* dags_show = dags->add_subcommand("show", "Print a DAG's graph");
    auto* dags_list_runs = dags->add_subcommand("list-runs", "List a DAG's runs, newest first");
    auto* dags_backfill = dags->add_subcommand(
        "backfill", "Queue a run for each schedule point of a past range");
    for (auto* cmd : {dags_list, dags_errors, dags_pause, dags_unpause, dags_show, dags_list_runs,
                      dags_backfill}) {
        add_common(cmd, false);
    }
    std::vector<std::string> run_states;
    dags_list_runs->add_option("dag_id", dag_id, "The DAG")->required();
    dags_list_runs->add_option("--state", run_states, "Only runs in this state (repeatable)");
    std::string start_date, end_date;
    dags_backfill->add_option("dag_id", dag_id, "The DAG")->required();
    dags_backfill->add_option("-s,--start-date", start_date, "First logical date")->required();
    dags_backfill->add_option("-e,--end-date", end_date, "Last logical date")->required();
    add_common(dags_trigger, false);
    add_common(dags_test, true);
    for (auto* cmd : {dags_trigger, dags_pause, dags_unpause, dags_test, dags_show}) {
        cmd->add_option("dag_id", dag_id, "The DAG")->required();
    }
    for (auto* cmd : {dags_trigger, dags_test}) {
        cmd->add_option("-c,--conf", conf, "JSON object of params, e.g. '{\"usuario_id\": 1}'");
    }
    dags_trigger->add_option("-r,--run-id", run_id, "The run's id (default manual__<date>)");

    auto* tasks = cli.add_subcommand("tasks", "Task commands");
    tasks->require_subcommand(1);
    auto* tasks_test = tasks->add_subcommand("test", "Run one task once, without recording it");
    add_common(tasks_test, true);
    tasks_test->add_option("dag_id", dag_id, "The DAG")->required();
    tasks_test->add_option("task_id", task_id, "The task")->required();
    tasks_test->add_option("-c,--conf", conf, "JSON object of params");
    app::TasksClearFlags clear;
    auto* tasks_clear = tasks->add_subcommand("clear", "Clear task instances of finished runs");
    add_common(tasks_clear, false);
    tasks_clear->add_option("dag_id", clear.dag_id, "The DAG")->required();
    tasks_clear->add_option("-t,--task-regex", clear.task_regex, "Only tasks whose id matches");
    tasks_clear->add_option("-s,--start-date", clear.start_date, "Runs from this logical date");
    tasks_clear->add_option("-e,--end-date", clear.end_date, "Runs up to this logical date");
    tasks_clear->add_flag("-f,--only-failed", clear.only_failed, "Only failed task instances");
    tasks_clear->add_flag("-y,--yes", clear.yes, "Do not ask for confirmation");

    auto* users = cli.add_subcommand("users", "User commands (REST API accounts)");
    users->require_subcommand(1);
    app::UserFlags user;
    auto* users_create = users->add_subcommand("create", "Create a user");
    add_common(users_create, false);
    users_create->add_option("-u,--username", user.username, "Login name")->required();
    users_create->add_option("-p,--password", user.password, "Password")->required();
    users_create->add_option("-r,--role", user.role, "Admin, Op, User or Viewer")->required();
    users_create->add_option("-e,--email", user.email, "E-mail")->required();
    users_create->add_option("-f,--firstname", user.first_name, "First name")->required();
    users_create->add_option("-l,--lastname", user.last_name, "Last name")->required();
    auto* users_list = users->add_subcommand("list", "List the users");
    add_common(users_list, false);
    auto* users_delete = users->add_subcommand("delete", "Delete a user");
    add_common(users_delete, false);
    users_delete->add_option("-u,--username", user.username, "Login name")->required();

    // --- variables and connections
    auto* variables = cli.add_subcommand("variables", "Variable commands");
    variables->require_subcommand(1);
    std::string var_key, var_value, var_file;
    std::optional<std::string> var_description;
    bool var_json = false;
    auto* variables_set = variables->add_subcommand("set", "Set a variable");
    variables_set->add_option("key", var_key, "The variable's key")->required();
    variables_set->add_option("value", var_value, "Its value")->required();
    variables_set->add_flag("-j,--json", var_json, "The value is JSON (checked, stored as JSON)");
    variables_set->add_option("--description", var_description, "What the variable is for");
    auto* variables_get = variables->add_subcommand("get", "Print a variable's value");
    variables_get->add_option("key", var_key, "The variable's key")->required();
    variables_get->add_flag("-j,--json", var_json, "Print the value as JSON");
    auto* variables_list = variables->add_subcommand("list", "List the variables' keys");
    auto* variables_delete = variables->add_subcommand("delete", "Delete a variable");
    variables_delete->add_option("key", var_key, "The variable's key")->required();
    auto* variables_import =
        variables->add_subcommand("import", "Set variables from a JSON file {key: value}");
    variables_import->add_option("file", var_file, "The JSON file")->required();
    auto* variables_export = variables->add_subcommand(
        "export", "Write every variable to a JSON file (mode 600: it holds secrets in clear)");
    variables_export->add_option("file", var_file, "The JSON file")->required();
    for (auto* cmd : {variables_set, variables_get, variables_list, variables_delete,
                      variables_import, variables_export}) {
        add_common(cmd, false);
    }

    auto* connections = cli.add_subcommand("connections", "Connection commands");
    connections->require_subcommand(1);
    app::ConnectionFlags conn;
    auto* connections_add = connections->add_subcommand("add", "Add a connection");
    connections_add->add_option("conn_id", conn.conn_id, "The connection's id")->required();
    connections_add->add_option("--conn-uri", conn.uri,
                                "conn_type://login:password@host:port/schema?extra_key=value");
    connections_add->add_option("--conn-type", conn.conn_type, "Type (http, postgres, ...)");
    connections_add->add_option("--conn-host", conn.host, "Host");
    connections_add->add_option("--conn-port", conn.port, "Port");
    connections_add->add_option("--conn-login", conn.login, "Login");
    connections_add->add_option("--conn-password", conn.password,
                                "Password (sealed in the store; argv is public: prefer "
                                "ORQUESTRA_CONN_<ID> or --conn-uri from a file)");
    connections_add->add_option("--conn-schema", conn.schema, "Schema");
    connections_add->add_option("--conn-extra", conn.extra, "Extra, a JSON object");
    connections_add->add_option("--conn-description", conn.description, "Description");
    auto* connections_get =
        connections->add_subcommand("get", "Print a connection (its password as ***)");
    connections_get->add_option("conn_id", conn.conn_id, "The connection's id")->required();
    auto* connections_list = connections->add_subcommand("list", "List the connections");
    auto* connections_delete = connections->add_subcommand("delete", "Delete a connection");
    connections_delete->add_option("conn_id", conn.conn_id, "The connection's id")->required();
    for (auto* cmd : {connections_add, connections_get, connections_list, connections_delete}) {
        add_common(cmd, false);
    }

    app::SchedulerOptions scheduler_options;
    auto* sched = cli.add_subcommand("scheduler", "Run the scheduler and executor");
    add_common(sched, true);
    sched->add_option("--scheduler-timeout", scheduler_options.timeout_s,
                      "Seconds without a heartbeat after which another scheduler presumes this "
                      "one dead and takes its runs over")
        ->check(CLI::Range(2, 3600))
        ->capture_default_str();
    sched->add_option("--default-pool-slots", scheduler_options.default_pool_slots,
                      "Set default_pool's size at start (1..1000000; default: keep it, 128 in a "
                      "new database)")
        ->envname("ORQUESTRA_DEFAULT_POOL_SLOTS")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{1'000'000}));

    // --- pools
    auto* pools = cli.add_subcommand("pools", "Pool commands");
    pools->require_subcommand(1);
    std::string pool_name, pool_slots, pool_file;
    std::optional<std::string> pool_description;
    auto* pools_list = pools->add_subcommand("list", "List the pools and their occupied slots");
    auto* pools_get = pools->add_subcommand("get", "Show one pool");
    pools_get->add_option("name", pool_name, "The pool's name")->required();
    auto* pools_set = pools->add_subcommand("set", "Create a pool or change its slots");
    pools_set->add_option("name", pool_name, "The pool's name")->required();
    pools_set->add_option("slots", pool_slots, "Its slots (1..1000000)")->required();
    pools_set->add_option("description", pool_description, "What the pool is for");
    auto* pools_delete = pools->add_subcommand("delete", "Delete a pool (not default_pool)");
    pools_delete->add_option("name", pool_name, "The pool's name")->required();
    auto* pools_import = pools->add_subcommand(
        "import", "Create or update pools from a JSON file {name: {slots, description}}");
    pools_import->add_option("file", pool_file, "The JSON file")->required();
    auto* pools_export = pools->add_subcommand("export", "Write every pool to a JSON file");
    pools_export->add_option("file", pool_file, "The JSON file")->required();
    for (auto* cmd : {pools_list, pools_get, pools_set, pools_delete, pools_import, pools_export}) {
        add_common(cmd, false);
    }

    app::WebserverOptions webserver_options;
    auto* webserver = cli.add_subcommand(
        "webserver", "Run the REST API and the console (the schedulers run the tasks)");
    add_common(webserver, false);
    webserver->add_option("--host", webserver_options.host, "Address to listen on")
        ->capture_default_str();
    webserver->add_option("-p,--port", webserver_options.port, "Port (0: any free port)")
        ->capture_default_str();
    webserver->add_option("--threads", webserver_options.threads,
                          "Event-loop threads (0: one per core)")
        ->capture_default_str();
    webserver->add_flag("--secure-cookies", webserver_options.secure_cookies,
                        "Mark the console's session cookie Secure (a TLS proxy is in front)");

    if (auto unknown = unknown_subcommand(cli, argc, argv)) {
        std::fprintf(stderr, "%s\n", unknown->c_str());
        return 2;
    }
    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return cli.exit(e);
    }
    // Taken out of the environment before anything starts: the commands that run tasks pass
    // their environment on to them.
    const std::optional<std::string> env_registry_auth = app::take_env(app::kRegistryAuthEnv);
    common.registry_auth = env_registry_auth.value_or("");
    const std::optional<std::string> env_db = app::take_env(app::kDatabaseEnv);
    if (common.db.empty()) common.db = env_db.value_or("");
    if (alone.db.empty()) alone.db = env_db.value_or("");
    (void)app::secret_key_from_environment();
    try {
        if (registry->parsed()) {
            reg.node.registry.self_preservation = !no_self_preservation;
            reg.node.api.version = ORQUESTRA_VERSION;
            reg.node.api.plain_cache_bytes = plain_cache_mb << 20;
            auto auth = app::resolve_registry_auth(registry_auth_file, env_registry_auth,
                                                   reg.node.api.auth);
            if (!auth) {
                std::fprintf(stderr, "orquestra registry: %s\n", auth.error().message.c_str());
                return 2;
            }
            reg.node.api.auth = auth->value_or("");
            reg.node.replication.auth = reg.node.api.auth;
            reg.node.health = registry_health.options();
            return app::run_registry(reg);
        }
        if (standalone->parsed()) {
            alone.version = ORQUESTRA_VERSION;
            alone.registry_auth_env = env_registry_auth;
            alone.health = standalone_health.options();
            return app::run_standalone(alone);
        }
        if (services_cmd->parsed()) {
            services_options.registry_auth = env_registry_auth;
            return app::run_services(services_options);
        }
        if (db_init->parsed()) return app::cmd_db(common, "init");
        if (db_migrate->parsed()) return app::cmd_db(common, "migrate");
        if (db_clean->parsed()) return app::cmd_db_clean(common, clean_before, clean_dry_run);
        if (dags_list_runs->parsed()) return app::cmd_dags_list_runs(common, dag_id, run_states);
        if (dags_backfill->parsed()) {
            return app::cmd_dags_backfill(common, dag_id, start_date, end_date);
        }
        if (tasks_clear->parsed()) return app::cmd_tasks_clear(common, clear);
        if (dags_list->parsed()) return app::cmd_dags_list(common);
        if (dags_errors->parsed()) return app::cmd_dags_list_import_errors(common);
        if (dags_trigger->parsed()) return app::cmd_dags_trigger(common, dag_id, conf, run_id);
        if (dags_pause->parsed()) return app::cmd_dags_pause(common, dag_id, true);
        if (dags_unpause->parsed()) return app::cmd_dags_pause(common, dag_id, false);
        if (dags_show->parsed()) return app::cmd_dags_show(common, dag_id);
        if (dags_test->parsed()) return app::cmd_dags_test(common, dag_id, conf);
        if (tasks_test->parsed()) return app::cmd_tasks_test(common, dag_id, task_id, conf);
        if (sched->parsed()) return app::run_scheduler(common, scheduler_options);
        if (webserver->parsed()) {
            webserver_options.version = ORQUESTRA_VERSION;
            return app::run_webserver(common, webserver_options);
        }
        if (variables_set->parsed()) {
            return app::cmd_variables_set(common, var_key, var_value, var_json, var_description);
        }
        if (variables_get->parsed()) return app::cmd_variables_get(common, var_key, var_json);
        if (variables_list->parsed()) return app::cmd_variables_list(common);
        if (variables_delete->parsed()) return app::cmd_variables_delete(common, var_key);
        if (variables_import->parsed()) return app::cmd_variables_import(common, var_file);
        if (variables_export->parsed()) return app::cmd_variables_export(common, var_file);
        if (pools_list->parsed()) return app::cmd_pools_list(common);
        if (pools_get->parsed()) return app::cmd_pools_get(common, pool_name);
        if (pools_set->parsed()) {
            return app::cmd_pools_set(common, pool_name, pool_slots, pool_description);
        }
        if (pools_delete->parsed()) return app::cmd_pools_delete(common, pool_name);
        if (pools_import->parsed()) return app::cmd_pools_import(common, pool_file);
        if (pools_export->parsed()) return app::cmd_pools_export(common, pool_file);
        if (connections_add->parsed()) return app::cmd_connections_add(common, conn);
        if (connections_get->parsed()) return app::cmd_connections_get(common, conn.conn_id);
        if (connections_list->parsed()) return app::cmd_connections_list(common);
        if (connections_delete->parsed()) return app::cmd_connections_delete(common, conn.conn_id);
        if (users_create->parsed()) return app::cmd_users_create(common, user);
        if (users_list->parsed()) return app::cmd_users_list(common);
        if (users_delete->parsed()) return app::cmd_users_delete(common, user.username);
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
    return 0;
}
