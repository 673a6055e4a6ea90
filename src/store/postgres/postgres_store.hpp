#pragma once
// PostgresStore: the Store in a PostgreSQL database, which several orquestra processes may share
// (ARCHITECTURE.md "Scaling out"). Same tables, same migrations by version, same semantics as
// SqliteStore: every test of the store suite runs against both.
//
// Owns a small pool of connections (libpqxx), each with the store's statements prepared on it.
// Any thread may call any method; a call takes a connection from the pool for its duration, so
// up to `pool_size` calls run at once and further callers wait for a connection. Calls block on
// the network and belong on the blocking-call pool, never on the event loop.
//
// Durability: commit() returns once PostgreSQL has committed its transaction (with the server's
// default synchronous_commit=on, flushed to its WAL). Every write is one transaction.
//
// Failures: nothing throws. A server that cannot be reached, a lost connection, a server
// shutting down, a full disk or a lock/serialization failure come back as kUnavailable; unique,
// foreign-key and other constraint violations as kConflict; a value PostgreSQL refuses (text
// that is not UTF-8, a NUL byte) as kInvalidArgument; anything else as kInternal. Messages
// carry PostgreSQL's, never the connection URL.
//
// Lost connections: a connection that breaks is dropped (with every idle one opened before it,
// as a restarted server broke them all); the next call opens a new one, so calls succeed again
// once the server is back. A call that finds its pooled connection dead before its transaction
// could commit is retried once on a fresh connection; a connection lost during COMMIT is
// kUnavailable ("outcome unknown"), never retried.
//
// Connecting is bounded by connect_timeout (the URL's, or PostgresOptions::connect_timeout_s).
// open() connects once, so a bad URL or an unreachable server fails at once; it does not create
// the schema: call migrate() once after opening. migrate() is safe when several processes run it
// at once (they take turns on an advisory lock).

#include <memory>
#include <string>

#include "store/store.hpp"

namespace orquestra::store {

struct PostgresOptions {
    // Connections at most; callers beyond them wait for one.
    int pool_size = 4;
    // Seconds to wait for a connection, unless the URL sets connect_timeout.
    int connect_timeout_s = 5;
    // Every transaction READ ONLY (the API's readers).
    bool read_only = false;
};

class PostgresPool;

class PostgresStore final : public Store {
  public:
    // url: a libpq connection URI, postgresql://[user[:password]@][host][:port][/db][?param=...].
    static Result<std::unique_ptr<PostgresStore>> open(const std::string& url,
                                                       PostgresOptions options = {});
    ~PostgresStore() override;
    PostgresStore(const PostgresStore&) = delete;
    PostgresStore& operator=(const PostgresStore&) = delete;

    // Refuses (kUnavailable) a database whose schema is newer than this program's.
    Result<void> migrate() override;
    Result<int> schema_version() override;

    Result<void> upsert_dag(const DagRecord& dag) override;
    Result<std::optional<DagRecord>> get_dag(const std::string& dag_id) override;
    Result<std::vector<DagRecord>> list_dags() override;

    Result<DagRun> create_run(const DagRun& run, const std::vector<TaskInstance>& tasks) override;
    Result<std::optional<DagRun>> get_run(const std::string& dag_id,
                                          const std::string& run_id) override;
    // The same order_by names, limits and ties as SqliteStore; unset dates sort lowest, as in
    // SQLite. The total and the page come from one snapshot.
    Result<Page<DagRun>> list_runs(const RunFilter& filter) override;
    Result<std::vector<DagRun>> unfinished_runs() override;
    Result<std::vector<RunCount>> count_runs() override;
    Result<void> delete_run(const std::string& dag_id, const std::string& run_id) override;

    Result<std::vector<TaskInstance>> task_instances(const std::string& dag_id,
                                                     const std::string& run_id) override;
    Result<std::vector<TaskInstance>> task_instances_of_runs(
        const std::string& dag_id, const std::vector<std::string>& run_ids) override;
    Result<std::optional<TaskInstance>> get_task_instance(const std::string& dag_id,
                                                          const std::string& run_id,
                                                          const std::string& task_id,
                                                          int map_index = -1) override;
    Result<Page<TaskInstance>> list_task_instances(const TaskFilter& filter) override;
    Result<std::vector<TaskTry>> tries(const std::string& dag_id, const std::string& run_id,
                                       const std::string& task_id,
                                       int map_index = -1) override;

    Result<void> commit(const Changes& changes) override;

    // kUnavailable when the server cannot be reached or refuses writes (a read-only store, a
    // standby server).
    Result<void> check_writable() override;

    Result<void> replace_import_errors(const std::vector<ImportError>& errors) override;
    Result<std::vector<ImportError>> import_errors() override;

    Result<User> create_user(const User& user) override;
    Result<std::optional<User>> get_user(const std::string& username) override;
    Result<std::vector<User>> list_users() override;
    Result<void> delete_user(const std::string& username) override;
    Result<void> update_user(const User& user) override;

    Result<EventLog> add_event_log(const EventLog& entry) override;
    Result<std::optional<EventLog>> get_event_log(std::int64_t id) override;
    Result<Page<EventLog>> list_event_logs(const EventLogFilter& filter) override;

    Result<void> put_variable(const Variable& variable, PutMode mode) override;
    Result<std::optional<Variable>> get_variable(const std::string& key) override;
    Result<Page<Variable>> list_variables(int limit, int offset) override;
    Result<void> delete_variable(const std::string& key) override;
    Result<void> put_connection(const Connection& connection, PutMode mode) override;
    Result<std::optional<Connection>> get_connection(const std::string& conn_id) override;
    Result<Page<Connection>> list_connections(int limit, int offset) override;
    Result<void> delete_connection(const std::string& conn_id) override;
    Result<void> put_pool(const Pool& pool, PutMode mode) override;
    Result<std::optional<Pool>> get_pool(const std::string& name) override;
    Result<Page<Pool>> list_pools(int limit, int offset) override;
    Result<void> delete_pool(const std::string& name) override;
    Result<std::vector<PoolUsage>> pool_usage(const std::string& exclude_owner) override;

    // Heartbeats and run claims of several schedulers (store.hpp). A claim takes its runs with
    // SELECT ... FOR UPDATE SKIP LOCKED: claimers at once never share a run nor wait for
    // each other.
    Result<void> heartbeat(const SchedulerProcess& process, bool first) override;
    Result<std::vector<DagRun>> claim_runs(const ClaimRequest& request) override;
    Result<std::vector<SchedulerProcess>> scheduler_processes() override;
    // LISTEN/NOTIFY: create_run() and commit() notify when they store a run with no owner that
    // waits for a claim; the watch listens on a connection of its own.
    std::unique_ptr<RunWatch> watch_runs(std::function<void()> on_wake) override;

    // Makes this store the database's only scheduler until it is destroyed: a session advisory
    // lock held on a connection of its own (released by the server when the process ends, even
    // by kill -9). kConflict when another process holds it.
    Result<void> claim_scheduler() override;

  private:
    explicit PostgresStore(std::unique_ptr<PostgresPool> pool);

    std::unique_ptr<PostgresPool> pool_;
};

}  // namespace orquestra::store
