#pragma once
// The workflow CLI commands (Airflow's shape). Each prints what it did, or a clear error, and
// returns the process exit code.

#include "app/workflow_node.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace orquestra::app {

struct CommonFlags {
    std::string home;
    std::string dags;
    std::string db;  // --db or $ORQUESTRA_DB: a postgresql:// URL or an SQLite file
    std::string registry_url = "http://127.0.0.1:8761/eureka";
    std::string registry_auth;  // user:password for the registry ($ORQUESTRA_REGISTRY_AUTH)
    std::string zone;           // --zone or $ORQUESTRA_ZONE: http tasks prefer its instances
};

int cmd_db(const CommonFlags& flags, const std::string& action);
int cmd_dags_list(const CommonFlags& flags);
int cmd_dags_list_import_errors(const CommonFlags& flags);
int cmd_dags_trigger(const CommonFlags& flags, const std::string& dag_id,
                     const std::string& conf, const std::string& run_id);
int cmd_dags_pause(const CommonFlags& flags, const std::string& dag_id, bool paused);
int cmd_dags_show(const CommonFlags& flags, const std::string& dag_id);
int cmd_dags_test(const CommonFlags& flags, const std::string& dag_id, const std::string& conf);
int cmd_tasks_test(const CommonFlags& flags, const std::string& dag_id,
                   const std::string& task_id, const std::string& conf);
struct SchedulerOptions {
    // Seconds without a heartbeat after which a scheduler is presumed dead by the others (every
    // scheduler on a database should use the same).
    int timeout_s = 30;
    // --default-pool-slots or $ORQUESTRA_DEFAULT_POOL_SLOTS: default_pool's size, set at start.
    std::optional<std::int64_t> default_pool_slots;
};
int run_scheduler(const CommonFlags& flags, const SchedulerOptions& options);

// `dags list-runs DAG [--state S]...`: the DAG's runs, newest first.
int cmd_dags_list_runs(const CommonFlags& flags, const std::string& dag_id,
                       const std::vector<std::string>& states);

// `tasks clear DAG [-t REGEX] [-s START] [-e END] [--only-failed] [--yes]`: through the
// engine's clear, on finished runs whose logical date is in [START, END]; lists what it would
// clear and asks first unless --yes.
struct TasksClearFlags {
    std::string dag_id;
    std::string task_regex;  // empty: every task
    std::string start_date, end_date;
    bool only_failed = false;
    bool yes = false;
};
int cmd_tasks_clear(const CommonFlags& flags, const TasksClearFlags& clear);

// `dags backfill DAG -s START -e END`: a queued run of type backfill for each schedule point
// in [START, END] that has no run yet (at most 10,000); the schedulers start them, at most
// max_active_runs of the DAG at once.
int cmd_dags_backfill(const CommonFlags& flags, const std::string& dag_id,
                      const std::string& start_date, const std::string& end_date);

// `db clean --before DATE [--dry-run]`: deletes finished runs that ended (or, unstarted, were
// queued) before DATE, their task instances and tries, and their log files. A dry run counts
// them per DAG and deletes nothing.
int cmd_db_clean(const CommonFlags& flags, const std::string& before, bool dry_run);

// `webserver`: the REST API and the console, with no scheduler: the runs it creates or queues
// again are claimed by the `scheduler` processes on the same database.
struct WebserverOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    int threads = 0;  // 0: one per core
    bool secure_cookies = false;
    std::string version;
};
int run_webserver(const CommonFlags& flags, const WebserverOptions& options);

struct UserFlags {
    std::string username, password, role, email, first_name, last_name;
};
int cmd_users_create(const CommonFlags& flags, const UserFlags& user);
int cmd_users_list(const CommonFlags& flags);
int cmd_users_delete(const CommonFlags& flags, const std::string& username);

// Variables and connections (secrets_commands.cpp).
int cmd_variables_set(const CommonFlags& flags, const std::string& key, const std::string& value,
                      bool as_json, const std::optional<std::string>& description);
// A missing key: an error and exit code 1.
int cmd_variables_get(const CommonFlags& flags, const std::string& key, bool as_json);
int cmd_variables_list(const CommonFlags& flags);
int cmd_variables_delete(const CommonFlags& flags, const std::string& key);
// FILE: one JSON object of key: value (a non-string value is stored as its JSON text).
int cmd_variables_import(const CommonFlags& flags, const std::string& file);
int cmd_variables_export(const CommonFlags& flags, const std::string& file);
struct ConnectionFlags {
    std::string conn_id;
    std::optional<std::string> uri, conn_type, host, port, login, password, schema, extra,
        description;
};
int cmd_connections_add(const CommonFlags& flags, const ConnectionFlags& connection);
int cmd_connections_get(const CommonFlags& flags, const std::string& conn_id);
int cmd_connections_list(const CommonFlags& flags);
int cmd_connections_delete(const CommonFlags& flags, const std::string& conn_id);

// Pools (pool_commands.cpp). SLOTS is text, so that "0" or "ten" get a message saying why.
int cmd_pools_list(const CommonFlags& flags);
int cmd_pools_get(const CommonFlags& flags, const std::string& name);
int cmd_pools_set(const CommonFlags& flags, const std::string& name, const std::string& slots,
                  const std::optional<std::string>& description);
int cmd_pools_delete(const CommonFlags& flags, const std::string& name);
// FILE: one JSON object of name: {"slots": N, "description": ..., "include_deferred": ...}.
int cmd_pools_import(const CommonFlags& flags, const std::string& file);
int cmd_pools_export(const CommonFlags& flags, const std::string& file);

// The audit log's record of a change made from the command line (owner "cli"); `extra` is a
// JSON object as text. A failure to record is a warning on stderr, never the command's failure.
void record_cli_event(store::Store& store, std::string event, const std::string& dag_id,
                      const std::string& run_id, std::string extra);

}  // namespace orquestra::app
