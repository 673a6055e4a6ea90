#pragma once
// Store: the durable workflow state. Every call is synchronous and may block on disk, so the
// event loop reaches it only through a thread pool. Implementations: SqliteStore (one process,
// WAL) and PostgresStore (a database several processes share); open_store() (store/open.hpp)
// picks one from a path or a URL.
//
// Writes go through commit(): one transaction for a whole batch of changes, so the scheduler
// groups the changes of one decision (a task finished, its run moved, its downstream tasks
// queued) into one commit — durable before any of them is acted upon.
//
// Thread safety: implementations are safe to call from several threads at once.

#include "core/error.hpp"
#include "store/model.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace orquestra::store {

struct Changes {
    std::vector<DagRun> runs;               // upserted by (dag_id, run_id)
    std::vector<TaskInstance> tasks;        // upserted by (dag_id, run_id, task_id, map_index)
    std::vector<TaskTry> tries;  // upserted by (dag_id, run_id, task_id, map_index, try_number)
    // Deleted by (dag_id, run_id, task_id, map_index), with their tries, before `tasks` are
    // written: a mapped task's placeholder (map_index -1) once it expands.
    std::vector<TaskInstance> removed_tasks = {};
    bool empty() const {
        return runs.empty() && tasks.empty() && tries.empty() && removed_tasks.empty();
    }
};

struct RunFilter {
    std::optional<std::string> dag_id;  // nullopt: every DAG ("~")
    std::vector<std::string> dag_ids;   // any of these (empty: any)
    std::vector<RunState> states;       // empty: any
    std::optional<Millis> logical_date_gte, logical_date_lte;
    std::optional<Millis> start_date_gte, start_date_lte;
    std::optional<Millis> end_date_gte, end_date_lte;
    // A column of DagRun and an optional leading '-' for descending; default "id".
    std::string order_by = "id";
    int limit = 100;
    int offset = 0;
};

struct TaskFilter {
    std::optional<std::string> dag_id;
    std::optional<std::string> run_id;
    // Any of these (empty: any); at most 1000 ids in all.
    std::vector<std::string> dag_ids, run_ids, task_ids;
    std::vector<TaskState> states;
    std::optional<Millis> start_date_gte, start_date_lte;
    std::optional<Millis> end_date_gte, end_date_lte;
    // Only the instances of mapped tasks (map_index >= 0): the API's listMapped.
    bool mapped_only = false;
    // "map_index", "state", "start_date", "end_date", "try_number", with an optional leading
    // '-' for descending; empty: by dag_id, run_id, task_id, map_index.
    std::string order_by;
    int limit = 100;
    int offset = 0;
};

struct RunCount {
    std::string dag_id;
    RunState state = RunState::kQueued;
    std::int64_t count = 0;
};

// What claim_runs takes: see there.
struct ClaimRequest {
    std::string owner;    // the claiming process's id
    Millis dead_before = 0;  // a process whose heartbeat is older is dead
    // Every other process of kind "scheduler" is dead whatever its heartbeat (the caller is the
    // only scheduler the database allows, as with SQLite's lock).
    bool other_schedulers_dead = false;
    int limit = 1000;
};

// What list_event_logs returns; every set field narrows the list.
struct EventLogFilter {
    std::optional<std::string> dag_id, run_id, task_id, event, owner;
    std::vector<std::string> included_events, excluded_events;  // at most 1000 each
    std::optional<Millis> after, before;                        // when >= after, when <= before
    // "id", "when", "event", "owner", "dag_id", "run_id" or "task_id", with an optional
    // leading '-' for descending; ties go by id.
    std::string order_by = "id";
    int limit = 100;
    int offset = 0;
};

template <class T>
struct Page {
    std::vector<T> items;
    std::int64_t total = 0;
};

class Store {
public:
    virtual ~Store() = default;

    // Creates or upgrades the schema. Idempotent.
    virtual Result<void> migrate() = 0;
    virtual Result<int> schema_version() = 0;

    // DAG switches.
    virtual Result<void> upsert_dag(const DagRecord& dag) = 0;
    virtual Result<std::optional<DagRecord>> get_dag(const std::string& dag_id) = 0;
    virtual Result<std::vector<DagRecord>> list_dags() = 0;

    // Creates a run and its task instances in one transaction. kConflict when the run id
    // already exists for the DAG. Returns the run with its id.
    virtual Result<DagRun> create_run(const DagRun& run,
                                      const std::vector<TaskInstance>& tasks) = 0;
    virtual Result<std::optional<DagRun>> get_run(const std::string& dag_id,
                                                  const std::string& run_id) = 0;
    virtual Result<Page<DagRun>> list_runs(const RunFilter& filter) = 0;
    // Runs in queued or running state, oldest first (what the scheduler works on).
    virtual Result<std::vector<DagRun>> unfinished_runs() = 0;
    // How many runs each DAG has in each state (pairs with no run are left out).
    virtual Result<std::vector<RunCount>> count_runs() = 0;
    virtual Result<void> delete_run(const std::string& dag_id, const std::string& run_id) = 0;

    virtual Result<std::vector<TaskInstance>> task_instances(const std::string& dag_id,
                                                             const std::string& run_id) = 0;
    // The task instances of several runs of one DAG at once (at most 1000 runs).
    virtual Result<std::vector<TaskInstance>> task_instances_of_runs(
        const std::string& dag_id, const std::vector<std::string>& run_ids) = 0;
    // Task instances are ordered by task_id, then map_index. A mapped task's instances share
    // its task_id; map_index -1 is an unmapped task (or a mapped one not expanded yet).
    virtual Result<std::optional<TaskInstance>> get_task_instance(const std::string& dag_id,
                                                                  const std::string& run_id,
                                                                  const std::string& task_id,
                                                                  int map_index = -1) = 0;
    virtual Result<Page<TaskInstance>> list_task_instances(const TaskFilter& filter) = 0;
    virtual Result<std::vector<TaskTry>> tries(const std::string& dag_id,
                                               const std::string& run_id,
                                               const std::string& task_id,
                                               int map_index = -1) = 0;

    // One transaction for every change in the batch.
    virtual Result<void> commit(const Changes& changes) = 0;

    // Whether writes can be stored now (health checks): kUnavailable when they cannot.
    virtual Result<void> check_writable() = 0;

    // Makes this process the database's only scheduler while the store is open (a lock that
    // the process's end releases, even by kill -9). kConflict when another process holds it.
    virtual Result<void> claim_scheduler() = 0;

    // Several schedulers on one database. Each process that runs tries keeps a heartbeat row;
    // a run belongs to the process its `owner` names while that process lives.
    //
    // Records the process's heartbeat, creating its row when `first`. kNotFound when its row
    // is gone (another scheduler found it dead and took its runs): it must stop at once.
    virtual Result<void> heartbeat(const SchedulerProcess& process, bool first) = 0;
    // Removes the rows of dead processes, then gives `owner` up to `limit` unfinished runs
    // that no living process owns (no owner, or a dead or unknown one), oldest first, with
    // `owner` set. Each run goes to one caller even when several claim at once.
    virtual Result<std::vector<DagRun>> claim_runs(const ClaimRequest& request) = 0;
    virtual Result<std::vector<SchedulerProcess>> scheduler_processes() = 0;

    // Wake-ups for schedulers: `on_wake` is called, on a thread of the store's, soon after
    // another process (or this one) stores a run that waits for a scheduler to claim it (one
    // created or queued again with no owner). Calls may be spurious (after a lost connection,
    // to cover what was missed meanwhile) and close ones may come as one. Destroying the
    // returned watch stops it: `on_wake` is not called afterwards. nullptr when the store cannot
    // tell (SQLite: schedulers look at every housekeeping).
    class RunWatch {
    public:
        virtual ~RunWatch() = default;
    };
    virtual std::unique_ptr<RunWatch> watch_runs(std::function<void()> on_wake) {
        (void)on_wake;
        return nullptr;
    }

    // Import errors are replaced wholesale by the DAG folder scanner.
    virtual Result<void> replace_import_errors(const std::vector<ImportError>& errors) = 0;
    virtual Result<std::vector<ImportError>> import_errors() = 0;

    // Users of the REST API and the console. create_user fails with kConflict when the
    // username is taken and returns the user with its id; delete_user with kNotFound when
    // there is no such user. list_users is ordered by username.
    virtual Result<User> create_user(const User& user) = 0;
    virtual Result<std::optional<User>> get_user(const std::string& username) = 0;
    virtual Result<std::vector<User>> list_users() = 0;
    virtual Result<void> delete_user(const std::string& username) = 0;
    // Replaces the fields of the user named `user.username` (all but id and created_at):
    // kNotFound when there is none.
    virtual Result<void> update_user(const User& user) = 0;

    // The audit log. add_event_log returns the entry with its id; list_event_logs answers
    // kInvalidArgument for an unknown order or a bad page.
    virtual Result<EventLog> add_event_log(const EventLog& entry) = 0;
    virtual Result<std::optional<EventLog>> get_event_log(std::int64_t id) = 0;
    virtual Result<Page<EventLog>> list_event_logs(const EventLogFilter& filter) = 0;

    // Variables and connections (migration 6), stored as given: sealing secrets is the
    // caller's (store/secrets.hpp). put_* follow PutMode; delete_* fail with kNotFound when
    // there is no such record. Lists are ordered by key / conn_id; limit 0..1000, offset >= 0.
    virtual Result<void> put_variable(const Variable& variable, PutMode mode) = 0;
    virtual Result<std::optional<Variable>> get_variable(const std::string& key) = 0;
    virtual Result<Page<Variable>> list_variables(int limit, int offset) = 0;
    virtual Result<void> delete_variable(const std::string& key) = 0;
    virtual Result<void> put_connection(const Connection& connection, PutMode mode) = 0;
    virtual Result<std::optional<Connection>> get_connection(const std::string& conn_id) = 0;
    virtual Result<Page<Connection>> list_connections(int limit, int offset) = 0;
    virtual Result<void> delete_connection(const std::string& conn_id) = 0;

    // Pools (migration 8). put_pool follows PutMode; delete_pool fails with kNotFound when there
    // is no such pool and kInvalidArgument for default_pool, which always exists. list_pools is
    // ordered by name; limit 0..1000, offset >= 0. Checking names and slots is the caller's
    // (store/pools.hpp).
    virtual Result<void> put_pool(const Pool& pool, PutMode mode) = 0;
    virtual Result<std::optional<Pool>> get_pool(const std::string& name) = 0;
    virtual Result<Page<Pool>> list_pools(int limit, int offset) = 0;
    virtual Result<void> delete_pool(const std::string& name) = 0;
    // The slots held in each pool by task instances scheduled, queued or running (pools with
    // none are left out), leaving out the tries owned by `exclude_owner` when it is not empty
    // (a scheduler counts its own in memory). One grouped query over the state index.
    virtual Result<std::vector<PoolUsage>> pool_usage(const std::string& exclude_owner) = 0;
};

}  // namespace orquestra::store
