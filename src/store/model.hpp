#pragma once
// Records of the workflow state as the store keeps them: DAGs (their switches, not their
// definitions, which live in DAG files), runs, task instances, the tries of each task
// instance, and import errors. States and names follow Airflow's.

#include "core/clock.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra::store {

enum class RunState { kQueued, kRunning, kSuccess, kFailed };
// kRegistryEvent: started by a registry event (a DAG's `on_service`).
enum class RunType { kManual, kScheduled, kBackfill, kRegistryEvent };
enum class TaskState {
    kNone,  // created with the run, not yet considered
    kScheduled,
    kQueued,
    kRunning,
    kSuccess,
    kFailed,
    kUpForRetry,
    kUpstreamFailed,
    kSkipped,
    kRemoved,
};

std::string_view to_string(RunState s);
std::string_view to_string(RunType t);
std::string_view to_string(TaskState s);  // kNone → "none"; the API writes it as JSON null
std::optional<RunState> parse_run_state(std::string_view s);
std::optional<RunType> parse_run_type(std::string_view s);
std::optional<TaskState> parse_task_state(std::string_view s);
// success, failed, skipped, upstream_failed, removed.
bool is_finished(TaskState s);

struct DagRecord {
    std::string dag_id;
    bool is_paused = true;
    bool is_active = true;  // false once its file is gone
    std::string fileloc;
    Millis last_parsed = 0;
    // Logical date of the newest run the schedule created (catch-up resumes after it).
    std::optional<Millis> last_scheduled_logical_date;
};

struct DagRun {
    std::int64_t id = 0;  // assigned by the store
    std::string dag_id;
    std::string run_id;
    RunType run_type = RunType::kManual;
    RunState state = RunState::kQueued;
    Millis logical_date = 0;
    std::optional<Millis> data_interval_start;
    std::optional<Millis> data_interval_end;
    Millis queued_at = 0;
    std::optional<Millis> start_date;
    std::optional<Millis> end_date;
    std::string conf_json = "{}";  // the resolved params and conf, as JSON text
    std::string note;
    bool external_trigger = true;
    std::optional<Millis> last_scheduling_decision;
    // The scheduler process working on the run (its SchedulerProcess id); empty: none yet.
    std::string owner;
    // Migration 9: the run and task whose trigger_dag try created this run (empty when none),
    // and how many such hops separate it from a run nobody triggered (0 for that run).
    std::string parent_dag_id;
    std::string parent_run_id;
    std::string parent_task_id;
    int trigger_depth = 0;
};

// A process that runs tries (`scheduler`, `standalone`, `dags test`), as its heartbeat row
// records it: while the heartbeat is fresh, the runs it owns are its own.
struct SchedulerProcess {
    std::string id;
    std::string kind = "scheduler";  // "scheduler", or "test" for `dags test`
    std::string hostname;
    std::int64_t pid = 0;
    Millis started_at = 0;
    Millis heartbeat_at = 0;
};

struct TaskInstance {
    std::string dag_id;
    std::string run_id;
    std::string task_id;
    // Dynamic task mapping: the instance's index among its task's, 0..n-1; -1 for a task that
    // is not mapped (and for a mapped task before it expands). Part of the key.
    int map_index = -1;
    TaskState state = TaskState::kNone;
    int try_number = 0;  // tries started so far
    int max_tries = 1;   // retries + 1
    std::optional<Millis> start_date;
    std::optional<Millis> end_date;
    std::optional<Millis> queued_when;
    std::optional<Millis> next_try_at;  // when up_for_retry
    std::string operator_name;          // http, command, wait_for_service
    std::string hostname;               // the machine that ran the last try
    std::string served_by;              // the service instance that answered the last try
    std::optional<std::string> output_json;  // the task's output (XCom return_value)
    std::string note;
    // A command try's process group once its process started (0 otherwise), and its leader's
    // identity (boot id and start time), so that a reused pid is never taken for it.
    int pid = 0;
    std::string process_identity;
    // The scheduler process that owns a running try; a try whose owner is gone is recovered.
    std::string owner;
    // The pool its tries take slots from, and how many (migration 8).
    std::string pool = "default_pool";
    int pool_slots = 1;
};

struct TaskTry {
    std::string dag_id;
    std::string run_id;
    std::string task_id;
    int map_index = -1;  // of its task instance
    int try_number = 1;
    TaskState state = TaskState::kRunning;
    Millis start_date = 0;
    std::optional<Millis> end_date;
    std::string hostname;
    std::string served_by;
    std::string error;
    std::optional<std::string> output_json;  // stored with the try (XCom return_value)
    // What the try was asked to do, as JSON (scheduler/render.hpp describe_attempt); empty
    // when it never rendered.
    std::string rendered_json;
};

struct ImportError {
    std::int64_t id = 0;
    std::string filename;
    std::string message;
    Millis timestamp = 0;
};

// An account of the REST API and the console. The password is kept only as an argon2id hash
// (libsodium's crypto_pwhash_str text); roles are Airflow's: Admin, Op, User, Viewer.
struct User {
    std::int64_t id = 0;  // assigned by the store
    std::string username;
    std::string password_hash;
    std::string role;
    std::string email;
    std::string first_name;
    std::string last_name;
    Millis created_at = 0;
};

// One entry of the audit log (Airflow's event log): who did what, when, to which DAG, run or
// task. Written by the API and the CLI where a request is handled; never changed afterwards.
struct EventLog {
    std::int64_t id = 0;  // assigned by the store
    Millis when = 0;
    std::string event;  // "trigger", "clear", "mark", "pause", "unpause", "delete", "login_failed", ...
    std::string owner;  // the user ("cli" for the command line)
    std::string dag_id;  // "" when the event concerns no DAG
    std::string run_id;
    std::string task_id;
    std::string extra;  // details, usually a JSON object as text
};

// A variable: key -> text. `value` is what the store holds: sealed text (store/secrets.hpp)
// when is_encrypted.
struct Variable {
    std::string key;
    std::string value;
    std::optional<std::string> description;
    bool is_encrypted = false;
};

// A connection: where and how to reach an outside system. `password` is sealed when
// is_encrypted, `extra` (JSON text) when is_extra_encrypted.
struct Connection {
    std::string conn_id;
    std::string conn_type;
    std::optional<std::string> description;
    std::optional<std::string> host;
    std::optional<std::int64_t> port;
    std::optional<std::string> login;
    std::optional<std::string> password;
    std::optional<std::string> schema;
    std::optional<std::string> extra;
    bool is_encrypted = false;
    bool is_extra_encrypted = false;
};

// A pool (migration 8): a number of slots shared by every DAG; a try takes its task's
// pool_slots from its pool while queued or running. `default_pool` always exists.
struct Pool {
    std::string name;
    std::int64_t slots = 0;
    std::optional<std::string> description;
    bool include_deferred = false;
};

// The slots that task instances in one pool hold, by state (store::pool_usage).
struct PoolUsage {
    std::string pool;
    std::int64_t scheduled = 0;
    std::int64_t queued = 0;
    std::int64_t running = 0;
};

// How put_variable / put_connection / put_pool treat an existing record: kCreate fails with kConflict
// when it exists, kUpdate with kNotFound when it does not, kUpsert writes either way.
enum class PutMode { kCreate, kUpdate, kUpsert };

}  // namespace orquestra::store
