#pragma once
// Engine: the scheduler. It creates runs (from triggers and schedules), moves task instances
// through their states, applies trigger rules, retries and concurrency limits, and hands
// tries to a TaskRunner. When a try ends, its downstream tasks are decided and started at
// once: there is no polling interval between tasks.
//
// Threading: all state lives on one io_context (the scheduler loop, run by one thread). The
// loop calls the Store directly — it is not an HTTP event loop — and batches the changes of
// every decision it makes between two waits into one commit, which is durable before any try
// it decided is started. Public methods marked "any thread" post onto the loop.
//
// Recovery: on start, runs left queued or running are picked up again; tries that were
// running (their process died) are retried or failed by their retry policy, after whatever
// processes they left behind have been stopped (a try never runs twice at once). A command
// try waits in `queued` until its process starts; one that never started is not a failure:
// it goes back to no state and keeps its try number.
//
// Liveness: every run that can move has a try queued or running, a timer (a retry, a
// schedule), or waits for a slot that a try of its DAG holds and whose end wakes it, or for a
// pool's slot (scheduler/pools.cpp): woken by the end of a try in that pool and at every
// housekeeping (slots freed by other schedulers, a pool made larger).

#include "core/clock.hpp"
#include "core/masker.hpp"
#include "dag/dag_folder.hpp"
#include "executor/task_runner.hpp"
#include "scheduler/callbacks.hpp"
#include "registry/instance_change.hpp"
#include "scheduler/engine_metrics.hpp"
#include "scheduler/log_writer.hpp"
#include "scheduler/operations.hpp"
#include "store/secrets.hpp"
#include "store/store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace orquestra::scheduler {

struct EngineOptions {
    std::filesystem::path log_dir;  // <home>/logs
    // How often to look at the DAG folder and at the store for runs and switches changed by
    // other processes (the CLI). Decisions within a run never wait for this.
    std::chrono::milliseconds housekeeping_interval{1000};
    std::string owner;  // this process's id; empty: generated
    // DAGs first seen by this engine start unpaused regardless of their file (standalone's
    // example DAGs, `dags test`).
    bool unpause_new_dags = false;
    // `dags test`: run regardless of pause, and only this DAG's runs (no schedules); such an
    // engine works only on the runs it creates itself, so it may run next to a scheduler.
    bool ignore_pause = false;
    std::string only_dag;
    // Whether this engine runs tries. False for processes that only serve the API and for the
    // CLI: the runs they create or queue again are left for a scheduler to claim.
    bool execute = true;
    // Several schedulers on one database: each records a heartbeat at every housekeeping; one
    // whose heartbeat is older than this is presumed dead, and another takes its runs over
    // (its running tries fail by their retry policy, as after a crash).
    std::chrono::milliseconds scheduler_timeout{30'000};
    // The only scheduler its database allows (SQLite's lock): at start it takes over every
    // other scheduler's runs at once instead of waiting for their heartbeats to age.
    bool sole_scheduler = true;
    // How many unowned runs a scheduler claims at each look, so that several schedulers share
    // a burst of runs (a sole scheduler's first claim takes every run it finds).
    int claim_batch = 64;
    // The key that opens sealed variables and connections; nullptr: only those not sealed (and
    // the environment's ORQUESTRA_VAR_* / ORQUESTRA_CONN_*) can be read.
    store::SecretKeySource* secret_keys = nullptr;
    // What runs callbacks (scheduler/callbacks.hpp); nullptr: the tries' runner. How many run
    // at once and wait.
    executor::TaskRunner* callback_runner = nullptr;
    CallbackLimits callback_limits;
    // Set: default_pool's slots are set to this when the engine starts (it keeps its size
    // otherwise: 128 from the migration, or what the API or the CLI made it).
    std::optional<std::int64_t> default_pool_slots;
};

// Renders a task's templates for one try (path, query, headers, body, argv, env...). An http
// task's connection is read from context["conn"] (add_secret_inputs puts it there).
Result<executor::Attempt> render_attempt(const dag::Task& task,
                                         const boost::json::object& context);
// Looks up what the task reads of variables and connections (task.secret_reads) through
// `secrets`, now (it blocks on the store), into context["var"] and context["conn"]; a secret
// variable's value and a connection's password go into `masker`. A variable or connection that
// does not exist is left out, and said in `missing`; a store or key failure is an error.
// nullptr `secrets`: a task that reads any fails.
Result<void> add_secret_inputs(const dag::Task& task, boost::json::object& context,
                               store::Secrets* secrets, Masker& masker,
                               std::vector<std::string>* missing = nullptr);
// add_secret_inputs, then render_attempt: what a try is asked to do. Values of environment
// variables and headers whose names look secret (store::looks_secret) join the masker too. The
// error names a missing variable or connection, and is masked.
Result<executor::Attempt> prepare_attempt(const dag::Task& task, boost::json::object context,
                                          store::Secrets* secrets, Masker& masker);
// A rendered try as JSON for the API and the console: method, service, path, headers and body,
// or argv, script and environment names; credential-like header values and every environment
// value but the ORQUESTRA_* names the scheduler sets (DAG, run, task, try) are masked ("***"),
// long texts cut.
std::string describe_attempt(const executor::Attempt& attempt);

struct TriggerRequest {
    std::string dag_id;
    std::optional<std::string> run_id;  // default manual__<logical date>
    boost::json::object conf;
    std::optional<Millis> logical_date;  // default now
    std::string note;
    store::RunType run_type = store::RunType::kManual;
    // The params resolved from `conf` off the loop (the API does it on a worker thread, as
    // patterns and schemas are user input), and the DAG they were checked against: the engine
    // checks the conf again only when that DAG has been reloaded since.
    std::shared_ptr<const dag::Dag> checked_dag;
    std::optional<boost::json::object> checked_params;
    // A trigger_dag try's run: the parent recorded with the new run, one level deeper.
    std::string parent_dag_id, parent_run_id, parent_task_id;
    int trigger_depth = 0;
};

// Called when a run finishes (on the loop thread).
using RunListener = std::function<void(const store::DagRun&)>;

class ServiceEventSink;  // service_triggers.hpp
class ServiceDebounce;

class Engine {
public:
    Engine(boost::asio::io_context& loop, store::Store& store, dag::DagFolder& folder,
           executor::TaskRunner& runner, const Clock& clock, EngineOptions options);
    ~Engine();

    // Loads DAGs, recovers unfinished runs and starts the timers. Loop thread.
    Result<void> start();
    void stop();

    // Validates the conf against the DAG's params and creates a queued run. kNotFound for an
    // unknown DAG, kInvalidArgument for a bad conf or run id (no run is created), kConflict
    // for an existing run id. Loop thread.
    Result<store::DagRun> trigger(const TriggerRequest& request);
    // The same from any thread; the future is ready once the run is durable.
    std::future<Result<store::DagRun>> trigger_async(TriggerRequest request);

    // Pauses or unpauses a DAG (loop thread). kNotFound for an unknown DAG.
    Result<void> set_paused(const std::string& dag_id, bool paused);

    // Changes to finished runs (scheduler/operations.hpp). Loop thread; each is durable when
    // it returns, and a run it puts back in the queue is being scheduled. A dry run changes
    // nothing and tells what would change. kNotFound for an unknown DAG, run or task.
    //
    // Clears the selected task instances of the selected runs.
    Result<std::vector<TouchedTask>> clear_tasks(const ClearRequest& request);
    // Clears every task instance of one run and puts it back in the queue.
    Result<ClearedRun> clear_run(const std::string& dag_id, const std::string& run_id,
                                 bool dry_run);
    // Sets the state of one task (and its relatives) of one run; as Airflow does, failed
    // tasks below a task marked success or skipped are cleared, so the run resumes there;
    // otherwise the run's state follows its tasks'.
    Result<std::vector<TouchedTask>> mark_tasks(const MarkRequest& request);
    // success: every task not successful is marked success; failed: every unfinished task is
    // skipped; queued: the run goes back to the queue as it is. Not running.
    Result<store::DagRun> set_run_state(const std::string& dag_id, const std::string& run_id,
                                        store::RunState state);
    // Deletes a finished run, its task instances and their tries.
    Result<void> delete_run(const std::string& dag_id, const std::string& run_id);

    // Looks at the DAG folder and records what it holds (loop thread, or before start()).
    void load_dags();
    // Re-evaluates every active run now (after the clock moved, in tests). Loop thread.
    void tick();
    // What the wake timer does when it fires: re-evaluates the runs whose retry is due and
    // creates the scheduled runs that are due (tests call it after moving a FakeClock).
    void fire_timers();
    // When the wake timer is set to fire (clock time), if it is set.
    std::optional<Millis> wake_deadline() const { return wake_deadline_; }
    // Runs in memory, queued or running (tests and the stress check). Loop thread.
    struct RunView {
        store::DagRun run;
        std::vector<store::TaskInstance> tis;
        std::optional<Millis> wake_at;  // the timer that will move it, if any
        bool waits_for_slot = false;    // woken when a try of its DAG ends
        bool waits_for_pool = false;    // a task waits for a pool's slot
    };
    std::vector<RunView> inspect() const;
    // Looks at the folder and the store now (loop thread).
    void housekeeping();

    // False once another scheduler presumed this one dead and took its runs: it schedules
    // nothing more (the process should exit).
    bool owns_its_runs() const { return !fenced_; }
    const std::string& owner() const { return options_.owner; }

    void add_run_listener(RunListener listener);

    // Runs triggered by the registry (YAML on_service; engine_service_events.cpp). The sink a
    // registry posts its changes to, from any thread (a scheduler's only: an engine that runs
    // nothing or only one DAG's test run accepts none).
    std::shared_ptr<ServiceEventSink> service_events() const { return service_events_; }
    // Starts the runs one change triggers, now: what the sink's changes come to on the loop
    // (tests call it directly). Loop thread.
    void on_instance_change(const registry::InstanceChange& change);
    std::size_t active_runs() const { return runs_.size(); }
    // <log_dir>/<dag>/<run>/<task>/<try>.log; a mapped instance's under <task>/map_index=<i>/.
    std::filesystem::path log_path(const std::string& dag_id, const std::string& run_id,
                                   const std::string& task_id, int try_number,
                                   int map_index = -1) const;
    std::shared_ptr<const dag::Dag> find_dag(const std::string& dag_id) const;
    // Waits until every log line written so far is in its file.
    void flush_logs();
    // What the engine counts (any thread; it outlives the engine while a try runs).
    const EngineMetrics& metrics() const { return *metrics_; }

private:
    struct ActiveRun {
        store::DagRun run;
        std::shared_ptr<const dag::Dag> dag;
        std::map<std::string, store::TaskInstance, std::less<>> tis;
        boost::json::object params;
        boost::json::object outputs;  // task_id -> output
        bool params_ready = false;
        std::string retired;  // why: the DAG is gone; nothing new starts, the run ends failed
        // Dynamic task mapping (mapping.cpp). A mapped task once expanded: its instances by
        // map_index; its entry in `tis` (map_index -1) then only sums them up (its state
        // follows theirs, see summarize_mapped) and is no longer stored.
        std::map<std::string, std::vector<store::TaskInstance>, std::less<>> mapped;
        // Instances of a mapped task that was cleared whole, kept until it expands again (their
        // try numbers go on).
        std::map<std::string, std::vector<store::TaskInstance>, std::less<>> cleared_instances;
        // Each mapped task's elements by map_index ({key: element}), computed when it expands
        // (again after a restart, from the same inputs).
        std::map<std::string, std::vector<boost::json::object>, std::less<>> map_args;
    };
    using RunKey = std::pair<std::string, std::string>;  // dag_id, run_id
    struct Dispatch {
        RunKey key;
        std::string task_id;
        int map_index = -1;
        executor::Attempt attempt;
        std::vector<std::string> log;
        std::chrono::steady_clock::time_point decided;
        std::shared_ptr<const Masker> masker;  // the try's secrets, hidden in its log and error
    };

    void rearm_housekeeping();
    void sync_dags();
    // Claims the runs no living scheduler works on and takes in those it owns (a sole
    // scheduler's first claim takes every other scheduler's runs).
    void load_unfinished_runs();
    // Records the heartbeat; false when this scheduler was presumed dead (it stops).
    bool beat(bool first);
    bool can_adopt(const std::string& dag_id) const;
    // Takes a run left queued or running into memory, unless another scheduler works on it;
    // recovering: its busy tries were left by a scheduler that stopped.
    void adopt_run(store::DagRun run, std::vector<store::TaskInstance> tis, bool recovering,
                   Millis now, store::Changes& changes);
    // Operations' helpers (engine_operations.cpp).
    Result<std::shared_ptr<const dag::Dag>> loaded_dag(const std::string& dag_id) const;
    Result<store::DagRun> finished_run(const std::string& dag_id, const std::string& run_id,
                                       std::string_view what);
    Result<std::vector<store::DagRun>> finished_runs(const std::string& dag_id,
                                                     const RunSelection& selection,
                                                     std::string_view what);
    // Stores the changes, then schedules the runs among them that went back to the queue.
    Result<void> apply(store::Changes& changes);
    void schedule_runs();
    void mark(const RunKey& key);
    void request_flush();
    void flush();
    void evaluate(ActiveRun& ar, Millis now, store::Changes& changes,
                  std::vector<Dispatch>& dispatches);
    bool start_try(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti, Millis now,
                   store::Changes& changes, std::vector<Dispatch>& dispatches);
    void fail_try(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti, Millis now,
                  const std::string& error, store::Changes& changes);
    void on_result(const RunKey& key, const std::string& task_id, int map_index, int try_number,
                   executor::AttemptResult result);
    void on_started(const RunKey& key, const std::string& task_id, int map_index, int try_number,
                    const executor::StartedProcess& process);
    // The condition, then a free slot, then start_try: what evaluate does with a task instance
    // whose upstream tasks allow it to run (state none).
    void consider_start(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti, int& busy,
                        Millis now, store::Changes& changes, std::vector<Dispatch>& dispatches);
    // Whether one more try of the DAG may start now (max_active_tasks); when not, the run waits
    // for the end of a try of its DAG. Then start_try.
    void start_if_free(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti, int& busy,
                       Millis now, store::Changes& changes, std::vector<Dispatch>& dispatches);
    // Dynamic task mapping (mapping.cpp).
    // The states of an upstream task's instances (one for a task that is not mapped) into out.
    static void upstream_states(const ActiveRun& ar, const std::string& task_id,
                                std::vector<store::TaskState>& out);
    // Expands a mapped task whose upstream tasks allow it to run: its instances replace its
    // placeholder; an empty list skips it, a bad value or one too long fails it.
    void expand_task(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti, Millis now,
                     store::Changes& changes);
    // Moves the instances of an expanded task, then sums them up in its `tis` entry.
    void evaluate_mapped(ActiveRun& ar, const dag::Task& task, store::TaskInstance& summary,
                         int& busy, Millis now, store::Changes& changes,
                         std::vector<Dispatch>& dispatches);
    void summarize_mapped(ActiveRun& ar, const dag::Task& task, store::TaskInstance& summary,
                          Millis now);
    // The instances of a mapped task's elements (computed again after a restart).
    Result<std::vector<boost::json::object>> map_arguments(const ActiveRun& ar,
                                                           const dag::Task& task);
    // The task instance of (task_id, map_index), nullptr when there is none.
    static store::TaskInstance* find_instance(ActiveRun& ar, std::string_view task_id,
                                              int map_index);
    // Every task instance that is stored (a mapped task's instances instead of its summary).
    template <class Fn>
    static void for_each_instance(ActiveRun& ar, Fn&& fn);
    template <class Fn>
    static void for_each_instance(const ActiveRun& ar, Fn&& fn);
    // What the templates of `ti` read beyond the run's: map_index, and a mapped instance's
    // expand.
    void add_instance_context(const ActiveRun& ar, const store::TaskInstance& ti,
                              boost::json::object& ctx) const;
    // Groups task instances read from the store: a mapped task's instances go to `mapped` (or
    // `cleared_instances`), with a summary in `tis`.
    void take_instances(ActiveRun& ar, std::vector<store::TaskInstance> tis);
    void count_busy();
    // trigger_dag tries (trigger_dag.cpp): they run inside the engine. A try creates the child
    // run through trigger() (found again by its id and parent when it exists), then ends at
    // once or, with wait, when the child ends: woken by the end of a run here, by a poll of the
    // store at each housekeeping for a child another scheduler owns, or by its timeout.
    bool start_trigger_try(ActiveRun& ar, const dag::Task& task, const dag::TriggerDagSpec& spec,
                           store::TaskInstance& ti, store::TaskTry& tr, Millis now,
                           store::Changes& changes);
    // Recovery: a waiting try whose child is known keeps waiting instead of failing.
    bool resume_trigger_wait(const RunKey& key, const dag::Task& task,
                             const store::TaskInstance& ti);
    void on_child_finished(const store::DagRun& child);
    void poll_trigger_waits();
    void expire_trigger_waits(Millis now);
    std::optional<Millis> next_trigger_deadline() const;
    struct TriggerWait {
        RunKey parent;
        std::string task_id;
        int try_number = 0;
        std::optional<Millis> deadline;
        std::vector<std::string> allowed_states;
    };
    void end_trigger_wait(const TriggerWait& wait, const RunKey& child, bool success,
                          const std::string& state, const std::string& error);
    std::multimap<RunKey, TriggerWait> trigger_waits_;  // by child run
    std::vector<RunKey> spawned_;  // child runs created during a flush: evaluated next
    bool at_run_limit(const dag::Dag& dag) const;
    bool dag_file_broken(const std::string& dag_id) const;
    void retire_runs(const std::string& dag_id, const std::string& reason, store::Changes& changes);
    void retire_run(ActiveRun& ar, const std::string& reason, Millis now, store::Changes& changes);
    void stop_leftover_processes(const store::TaskInstance& ti);
    boost::json::object context(const ActiveRun& ar) const;
    void write_log(const RunKey& key, const std::string& task_id, int try_number,
                   const std::vector<std::string>& lines, int map_index = -1);
    void arm_timer();
    bool is_paused(const std::string& dag_id) const;

    boost::asio::io_context& loop_;
    store::Store& store_;
    dag::DagFolder& folder_;
    executor::TaskRunner& runner_;
    const Clock& clock_;
    EngineOptions options_;
    std::string hostname_;
    std::map<std::string, std::shared_ptr<const dag::Dag>, std::less<>> dags_;
    std::map<std::string, store::DagRecord, std::less<>> records_;
    std::map<RunKey, ActiveRun> runs_;
    std::set<RunKey> dirty_;
    // Counted at each flush: tries queued or running, and runs running, by DAG.
    std::map<std::string, int, std::less<>> busy_tasks_;
    std::map<std::string, int, std::less<>> running_runs_;
    // Several schedulers: the running runs of each DAG that other schedulers own, as the store
    // counted them at the last look, so that max_active_runs holds across schedulers (it may be
    // exceeded only by runs the others started since that look, at most a second ago).
    std::map<std::string, int, std::less<>> others_running_;
    void count_others_running();
    // Runs with a task ready but no free max_active_tasks slot, by DAG: evaluated again as
    // soon as a try of that DAG ends.
    std::map<std::string, std::set<RunKey>, std::less<>> waiting_for_slot_;
    store::Changes carried_;  // changes made between flushes (a command's process started)
    // Results that arrived and wait for the next flush.
    struct Pending {
        RunKey key;
        std::string task_id;
        int try_number;
        executor::AttemptResult result;
        int map_index = -1;
    };
    std::vector<Pending> results_;
    bool flush_posted_ = false;
    std::chrono::steady_clock::time_point flush_asked_at_;  // when flush_posted_ was set
    std::shared_ptr<EngineMetrics> metrics_ = std::make_shared<EngineMetrics>();
    bool folder_scanned_ = false;  // the DAG folder has been read once: a missing DAG is gone
    boost::asio::steady_timer housekeeping_timer_;
    boost::asio::steady_timer wake_timer_;  // the earliest retry or schedule
    std::optional<Millis> wake_deadline_;
    std::vector<RunListener> listeners_;
    bool stopped_ = false;
    bool fenced_ = false;
    bool claimed_once_ = false;
    Millis started_at_ = 0;
    // Runs this engine owns but could not take in yet (their DAG file is broken or unread).
    std::set<RunKey> unadopted_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    store::SecretKeySource no_keys_;  // when options_.secret_keys is unset
    store::Secrets secrets_;
    // Wake-ups from the store when another process leaves runs to claim (PostgreSQL's
    // LISTEN/NOTIFY); without them, the next housekeeping finds such runs.
    std::unique_ptr<store::Store::RunWatch> run_watch_;
    bool claim_posted_ = false;
    bool more_to_claim_ = false;  // the last claim was a full batch
    void claim_now();
    int queued_runs() const;

    // Pools (scheduler/pools.cpp). A ready task takes its pool_slots from its pool before its
    // try starts; without them it waits in `scheduled`, in waiting_for_pool_, blocking nothing
    // else. Occupied = this engine's own queued and running tries (counted in memory at each
    // flush) + the other schedulers' (pool_usage, read at each housekeeping).
    enum class PoolAnswer { kStart, kWait, kFail };
    // Whether the task may start now; kFail puts why in `error` (no such pool, or it needs
    // more slots than the pool has).
    PoolAnswer take_pool_slots(const dag::Task& task, std::string& error);
    Result<void> size_default_pool();  // options_.default_pool_slots
    bool start_in_pool(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti, Millis now,
                       store::Changes& changes, std::vector<Dispatch>& dispatches);
    void refresh_pools();
    void count_pool_slots();
    void wake_pool_waiters(const std::set<std::string, std::less<>>& pools);
    // Fails the try a task would start (no pool for it), as a try that could not render does.
    void fail_before_start(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti,
                           Millis now, const std::string& error, store::Changes& changes);
    std::map<std::string, std::int64_t, std::less<>> pool_sizes_;   // name -> slots
    std::map<std::string, std::int64_t, std::less<>> pool_mine_;    // slots my tries hold
    std::map<std::string, std::int64_t, std::less<>> pool_others_;  // other schedulers'
    bool pools_known_ = false;  // pool_sizes_ has been read from the store
    std::map<std::string, std::set<RunKey>, std::less<>> waiting_for_pool_;
    LogWriter logs_;
    // Callbacks of the ends decided since the last commit, run once it succeeds
    // (engine_callbacks.cpp).
    void stage_task_callback(const ActiveRun& ar, const dag::Task& task,
                             const store::TaskInstance& ti, const std::string& error);
    void stage_run_callback(const ActiveRun& ar);
    void fire_staged_callbacks(bool durable);
    std::unique_ptr<CallbackDispatcher> make_callback_dispatcher();
    std::vector<CallbackJob> staged_callbacks_;
    std::unique_ptr<CallbackDispatcher> callbacks_;
    // on_service (engine_service_events.cpp).
    std::shared_ptr<ServiceEventSink> service_events_;
    std::unique_ptr<ServiceDebounce> debounce_;
    void open_service_events();
    void close_service_events();
    void watch_services();  // after the DAGs changed
    void drain_service_events();
};

template <class Fn>
void Engine::for_each_instance(ActiveRun& ar, Fn&& fn) {
    for (auto& [id, ti] : ar.tis) {
        if (!ar.mapped.contains(id)) fn(ti);
    }
    for (auto& [id, list] : ar.mapped) {
        for (auto& ti : list) fn(ti);
    }
    for (auto& [id, list] : ar.cleared_instances) {
        for (auto& ti : list) fn(ti);
    }
}

template <class Fn>
void Engine::for_each_instance(const ActiveRun& ar, Fn&& fn) {
    for (const auto& [id, ti] : ar.tis) {
        if (!ar.mapped.contains(id)) fn(ti);
    }
    for (const auto& [id, list] : ar.mapped) {
        for (const auto& ti : list) fn(ti);
    }
    for (const auto& [id, list] : ar.cleared_instances) {
        for (const auto& ti : list) fn(ti);
    }
}

}  // namespace orquestra::scheduler
