#pragma once
// SqliteStore: the Store in one SQLite file, for a single orquestra process (several schedulers
// share a PostgreSQL store instead; see ARCHITECTURE.md "Scaling out").
//
// Owns one connection in WAL mode and its cache of prepared statements. Every public method
// takes one mutex for the whole call, so any thread may call it, and calls are serialized;
// calls block on disk and belong on the blocking-call pool, never on the event loop.
//
// Durability: commit() returns once its transaction is committed. With synchronous=NORMAL (the
// default) a commit survives a crash or kill -9 of the process; only a power loss or OS crash
// may lose the last few commits (never corrupting the file). synchronous_full also syncs the
// WAL at every commit, surviving power loss at the cost of one fsync per commit.
//
// Failures: every SQLite error comes back as an Error carrying SQLite's message (a constraint
// violation as kConflict; a busy, full, read-only or unreadable database as kUnavailable;
// anything else as kInternal). A failed write transaction is rolled back whole. A database
// file deleted or replaced while open fails every write with kUnavailable (SQLite would go on
// writing to the deleted file). Nothing here throws.
//
// Foreign keys are immediate: in a commit() batch, runs are written first, then task instances,
// then tries, so a batch may create a run, its tasks and their tries together.
// create_run() writes its task instances under the run's dag_id and run_id (a task instance
// whose non-empty ids name another run is kInvalidArgument).
//
// open() does not create the schema: call migrate() once after opening.

#include "store/store.hpp"

#include <filesystem>
#include <memory>
#include <mutex>

namespace orquestra::store {

struct SqliteOptions {
    // synchronous=FULL instead of NORMAL: survives power loss, costs an fsync per commit.
    bool synchronous_full = false;
    // How long a statement waits for another process's lock before failing with kUnavailable.
    int busy_timeout_ms = 5000;
    // A reader beside the process's writer connection: opens an existing database only, and
    // refuses every change (PRAGMA query_only). WAL lets it read while the writer commits.
    bool query_only = false;
};

class SqliteConnection;

class SqliteStore final : public Store {
public:
    // Opens (creating it and its parent directories if needed) the database file.
    static Result<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& file,
                                                     SqliteOptions options = {});
    ~SqliteStore() override;
    SqliteStore(const SqliteStore&) = delete;
    SqliteStore& operator=(const SqliteStore&) = delete;

    Result<void> migrate() override;
    Result<int> schema_version() override;

    Result<void> upsert_dag(const DagRecord& dag) override;
    Result<std::optional<DagRecord>> get_dag(const std::string& dag_id) override;
    Result<std::vector<DagRecord>> list_dags() override;

    Result<DagRun> create_run(const DagRun& run, const std::vector<TaskInstance>& tasks) override;
    Result<std::optional<DagRun>> get_run(const std::string& dag_id,
                                          const std::string& run_id) override;
    // order_by: id, dag_id, run_id, state, logical_date (or execution_date), start_date,
    // end_date, queued_at, each optionally with a leading '-'; ties are broken by id.
    // limit 0..1000 and offset >= 0, else kInvalidArgument.
    Result<Page<DagRun>> list_runs(const RunFilter& filter) override;
    Result<std::vector<DagRun>> unfinished_runs() override;
    Result<std::vector<RunCount>> count_runs() override;
    Result<void> delete_run(const std::string& dag_id, const std::string& run_id) override;

    // Ordered by task_id.
    Result<std::vector<TaskInstance>> task_instances(const std::string& dag_id,
                                                     const std::string& run_id) override;
    // Ordered by run_id, task_id; more than 1000 runs is kInvalidArgument.
    Result<std::vector<TaskInstance>> task_instances_of_runs(
        const std::string& dag_id, const std::vector<std::string>& run_ids) override;
    Result<std::optional<TaskInstance>> get_task_instance(const std::string& dag_id,
                                                          const std::string& run_id,
                                                          const std::string& task_id,
                                                          int map_index = -1) override;
    // Ordered by filter.order_by; limit 0..1000 and offset >= 0.
    Result<Page<TaskInstance>> list_task_instances(const TaskFilter& filter) override;
    // Ordered by try_number.
    Result<std::vector<TaskTry>> tries(const std::string& dag_id, const std::string& run_id,
                                       const std::string& task_id,
                                       int map_index = -1) override;

    Result<void> commit(const Changes& changes) override;

    // Ids are assigned by the store (never reused); the ids given are ignored.
    Result<void> replace_import_errors(const std::vector<ImportError>& errors) override;
    Result<std::vector<ImportError>> import_errors() override;

    // The id is assigned by the store; the id given is ignored.
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

    Result<void> heartbeat(const SchedulerProcess& process, bool first) override;
    Result<std::vector<DagRun>> claim_runs(const ClaimRequest& request) override;
    Result<std::vector<SchedulerProcess>> scheduler_processes() override;

    // kUnavailable when the file was deleted or replaced since it was opened, or is read-only.
    Result<void> check_writable() override;

    // Makes this process the only scheduler of the database (an exclusive lock on
    // <file>-scheduler.lock holding our pid, released when the process ends, even by kill -9).
    // kConflict naming the holder's pid when another process has it.
    Result<void> claim_scheduler() override;

private:
    SqliteStore(std::unique_ptr<SqliteConnection> connection, std::filesystem::path file);

    std::mutex mu_;
    std::unique_ptr<SqliteConnection> db_;  // guarded by mu_
    std::filesystem::path file_;
    int scheduler_lock_ = -1;
};

}  // namespace orquestra::store
