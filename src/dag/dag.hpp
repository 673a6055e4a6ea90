#pragma once
// The DAG model: what a DAG file says, validated and typed. Built by the loader (loader.hpp),
// then read-only: share it as std::shared_ptr<const Dag> across threads freely.
// The YAML format is described in src/dag/README.md.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/clock.hpp"
#include "dag/params.hpp"
#include "dag/schedule.hpp"
#include "dag/template.hpp"

namespace orquestra::dag {

// Limits that keep one bad file from hurting the process.
inline constexpr std::size_t kMaxDagFileBytes = 1024 * 1024;
inline constexpr std::size_t kMaxTasks = 10'000;
inline constexpr std::size_t kMaxIdLength = 250;
// The most slots a pool has, and so a task may take (store/pools.hpp kMaxPoolSlots).
inline constexpr std::int64_t kMaxPoolSlots = 1'000'000;
// Dynamic task mapping: how many instances one mapped task may expand to, by default (the DAG
// key max_map_length changes it) and at most.
inline constexpr int kDefaultMaxMapLength = 1024;
inline constexpr int kMaxMapLengthCap = 10'000;

// Limits on what one try's rendered templates may add up to; each template is also held to
// kMaxRenderedBytes (template.hpp). Going past one fails the try, naming the field and limit.
inline constexpr std::size_t kMaxArgvItems = 1024;              // checked when the file loads
inline constexpr std::size_t kMaxArgvBytes = 512 * 1024;        // all of argv
inline constexpr std::size_t kMaxEnvBytes = 512 * 1024;         // env names and values
inline constexpr std::size_t kMaxRequestTargetBytes = 64 * 1024;  // path and query, encoded
inline constexpr std::size_t kMaxHeaderBytes = 64 * 1024;       // headers' names and values
inline constexpr std::size_t kMaxBodyBytes = 4 * 1024 * 1024;   // an http body or json

// dag_id and task_id: ^[A-Za-z0-9_.-]{1,250}$
bool is_valid_id(std::string_view id);

enum class TriggerRule {
    kAllSuccess,  // default: every upstream succeeded
    kAllFailed,
    kAllDone,
    kOneSuccess,
    kOneFailed,
    kNoneFailed,
    kNoneSkipped,
    kAlways,
};
// Airflow's spelling: "all_success", "none_failed", ...
std::string_view to_string(TriggerRule rule);
std::optional<TriggerRule> parse_trigger_rule(std::string_view text);

// An HTTP call to a registered service (by name, resolved at call time) or to a fixed URL.
struct HttpSpec {
    std::optional<std::string> service;  // exactly one of service, url and connection
    // An absolute http(s) URL, the path appended to it; with a connection, an optional path
    // ('/'...) put after the connection's base URL, before `path`.
    std::optional<std::string> url;
    // A connection's id: its base URL (scheme://host:port/schema) starts the request, and its
    // login and password are sent as Basic auth (unless the task sets Authorization).
    std::optional<std::string> connection;
    std::string method = "GET";          // upper case
    Template path;                       // "/" by default with a service, "" with a url
    std::map<std::string, Template> query;
    std::map<std::string, Template> headers;
    std::optional<TemplateTree> json;  // at most one of json and body
    std::optional<Template> body;
    Millis timeout = 30'000;  // the whole try, every instance tried included
    // One call to one instance; unset: the timeout shared among the instances, at least 1 s
    // (the last instance tried gets what is left).
    std::optional<Millis> attempt_timeout;
    std::vector<int> expected_status;  // empty: any 2xx
};

// A subprocess. Values reach it only through environment variables: `script` is not a
// template, so nothing is ever pasted into a shell line.
struct CommandSpec {
    std::vector<Template> argv;         // exactly one of argv (non-empty) and script
    std::optional<std::string> script;  // run as /bin/sh -c <script>
    std::map<std::string, Template> env;
    Millis timeout = 600'000;
    std::optional<std::string> cwd;
};

// A sensor: succeeds once the registry lists at least min_instances UP instances of service.
struct WaitForServiceSpec {
    std::string service;
    int min_instances = 1;
    Millis timeout = 300'000;
    Millis poke_interval = 5'000;
};

// Starts a run of another DAG (or of its own), inside the scheduler: no process, no HTTP.
// dag_id and run_id may be templates; `conf` is a template tree rendered to the child run's
// conf (an object). With `wait`, the try lasts until the child run ends and the child's state
// decides the task's (allowed_states: success; failed_states: failed).
struct TriggerDagSpec {
    Template dag_id;
    std::optional<std::string> literal_dag_id;  // dag_id when it holds no template (cycle check)
    std::optional<Template> run_id;  // default triggered__<parent run id>__<task id>[__<try>]
    std::optional<TemplateTree> conf;
    bool wait = false;
    std::optional<Millis> timeout;  // of the wait; unset: none (execution_timeout applies)
    std::vector<std::string> allowed_states = {"success"};  // run states: success, failed
    std::vector<std::string> failed_states = {"failed"};
};

// How many trigger_dag hops a chain of runs may make: a try of a run at this depth fails.
inline constexpr int kMaxTriggerDepth = 16;

using TaskKind = std::variant<HttpSpec, CommandSpec, WaitForServiceSpec, TriggerDagSpec>;

// A callback (on_failure, on_success, on_retry): an HTTP call or a command, run by the
// scheduler after a try or a run has ended so (scheduler/callbacks.hpp). Its templates also see
// `callback`, the event as JSON. Its timeout is 30 s unless it sets one.
struct Callback {
    std::variant<HttpSpec, CommandSpec> target;
    SecretReads secret_reads;  // what its templates read of variables and connections
    int line = 0;              // of its key in the file, 1-based
};
inline constexpr std::size_t kMaxCallbacksPerEvent = 8;

// The callbacks of a task (every event) or of a DAG (on_failure and on_success of its runs).
struct Callbacks {
    std::vector<Callback> on_failure;
    std::vector<Callback> on_success;
    std::vector<Callback> on_retry;
    bool empty() const { return on_failure.empty() && on_success.empty() && on_retry.empty(); }
};

// One key of a task's `expand`: a value that renders to a list (a template, or a literal YAML
// list whose strings may be templates). Each instance reads its element as {{ expand.<key> }}.
struct ExpandArg {
    std::string key;
    TemplateTree value;
    int line = 0;
};

// Task defaults for the whole DAG; each task may override any of them.
struct DefaultArgs {
    std::string owner = "airflow";
    int retries = 0;
    Millis retry_delay = 300'000;
    bool retry_exponential_backoff = false;
    std::optional<Millis> max_retry_delay;
    std::optional<Millis> execution_timeout;
    Callbacks callbacks;  // each event a task does not set itself
    std::string pool = "default_pool";  // a try takes pool_slots of its pool's slots
    int pool_slots = 1;                 // 1..kMaxPoolSlots
};

struct Task {
    std::string task_id;
    std::vector<std::string> upstream;    // in file order, without repeats
    std::vector<std::string> downstream;  // filled by the loader, in task order
    TriggerRule trigger_rule = TriggerRule::kAllSuccess;
    std::optional<Template> condition;  // YAML `when`: skipped when it renders falsy
    int retries = 0;
    Millis retry_delay = 300'000;
    bool retry_exponential_backoff = false;
    std::optional<Millis> max_retry_delay;
    std::optional<Millis> execution_timeout;
    std::string owner;
    std::string pool = "default_pool";
    int pool_slots = 1;
    TaskKind kind;
    std::string doc;
    int line = 0;  // of the task's key in the file, 1-based
    // What its templates (and its http connection) read of variables and connections: the
    // scheduler looks them up when it renders a try.
    SecretReads secret_reads;
    Callbacks callbacks;  // its own, else default_args'

    // Dynamic task mapping (YAML `expand`): one instance per element, or per combination of
    // elements with several keys (their cartesian product, the last key varying fastest).
    // Empty: not mapped.
    std::vector<ExpandArg> expand;

    bool is_mapped() const { return !expand.empty(); }
    // "http", "command", "wait_for_service" or "trigger_dag"
    std::string_view kind_name() const;
};

// YAML `on_service`: run the DAG when the registry reports one of `events` for an instance
// of `service`, or when the service's UP count falls from `below` or more to fewer.
struct OnService {
    std::string service;              // as written; matched without regard to case
    std::vector<std::string> events;  // names from kServiceEvents, without repeats
    std::optional<int> below;
    Millis min_interval = 0;  // events within it of the last run they started are dropped
    int line = 0;             // of the entry, 1-based
};
// The event names `on_service.events` accepts.
inline constexpr std::string_view kServiceEvents[] = {"registered",     "up",        "down",
                                                      "out_of_service", "cancelled", "evicted"};
inline constexpr std::size_t kMaxServiceNameLength = 100;
inline constexpr std::size_t kMaxOnService = 100;

struct Dag {
    std::string dag_id;
    std::string description;
    std::string doc;
    std::string fileloc;
    Schedule schedule;
    std::optional<Millis> start_date;
    std::optional<Millis> end_date;
    bool catchup = false;
    int max_active_runs = 16;
    int max_active_tasks = 16;
    int max_map_length = kDefaultMaxMapLength;  // instances one mapped task may expand to
    std::vector<std::string> tags;
    bool is_paused_upon_creation = true;
    std::vector<Param> params;  // in file order
    DefaultArgs default_args;
    Callbacks callbacks;      // on_failure and on_success of a run (on_retry stays empty)
    std::vector<OnService> on_service;  // in file order
    std::vector<Task> tasks;  // topologically sorted; file order among independent tasks
    int dag_id_line = 0;      // of the dag_id key, 1-based

    // nullptr when there is no such task.
    const Task* find_task(std::string_view task_id) const;
    // The ids of the tasks that list task_id as upstream; empty for an unknown id.
    std::vector<std::string> downstream_of(std::string_view task_id) const;
    // Rebuilds the index find_task() uses; call after changing `tasks` by hand.
    void reindex();

  private:
    std::unordered_map<std::string, std::size_t> task_index_;
};

}  // namespace orquestra::dag
