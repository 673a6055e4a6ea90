#pragma once
// What the REST API, the console and the CLI ask the engine to do to runs that exist: clear
// tasks, set states by hand, delete a run. The engine is the only one that changes a run or a
// task instance; these requests say what to change, and Engine's methods of the same names
// (engine_operations.cpp) decide, store it in one commit and pick a run put back in the queue
// up at once.
//
// Every operation acts on finished runs only: a queued or running run is the scheduler's
// until it ends (kConflict, naming its state). A DAG whose file is missing or broken cannot
// be cleared or marked (kConflict), as its tasks' retries and edges are unknown.

#include "core/clock.hpp"
#include "core/error.hpp"
#include "store/model.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orquestra::scheduler {

// The finished runs of one DAG an operation acts on: one by id, or every one whose logical
// date is within [from, to] (either end open when unset; at most 100,000 runs).
struct RunSelection {
    std::optional<std::string> run_id;
    std::optional<Millis> from, to;
};

// Airflow's clearTaskInstances.
struct ClearRequest {
    std::string dag_id;
    RunSelection runs;
    std::optional<std::vector<std::string>> task_ids;  // unset: every task; unknown ids: error
    bool include_upstream = false;
    bool include_downstream = false;
    bool only_failed = true;
    bool only_running = false;
    bool reset_dag_runs = true;  // runs with a cleared task go back to the queue
    bool dry_run = true;
};

// Airflow's updateTaskInstancesState: one task (and its relatives) of one run.
struct MarkRequest {
    std::string dag_id;
    RunSelection run;  // by id, or the one run whose logical date is `from` (== `to`)
    std::string task_id;
    bool include_upstream = false;
    bool include_downstream = false;
    store::TaskState new_state = store::TaskState::kSuccess;  // success, failed or skipped
    bool dry_run = true;
};

// A task instance an operation touches (as it was before), with its run's logical date.
struct TouchedTask {
    store::TaskInstance ti;
    Millis logical_date = 0;
};

// A cleared run: the run as it is now and its task instances as they were before.
struct ClearedRun {
    store::DagRun run;
    std::vector<store::TaskInstance> tis;
};

// The errors the operations give, shared with the API's own lookups.
Error run_not_found(std::string_view dag_id, std::string_view run_id);
Error run_in_progress(const store::DagRun& run, std::string_view what);
Error dag_not_loaded(std::string_view dag_id);

}  // namespace orquestra::scheduler
