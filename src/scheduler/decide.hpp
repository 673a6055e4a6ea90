#pragma once
// The scheduler's decisions as pure functions of states and time, so that every trigger rule,
// retry delay and run outcome is tested without threads, sockets or sleeps.

#include "core/clock.hpp"
#include "dag/dag.hpp"
#include "store/model.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace orquestra::scheduler {

enum class Readiness {
    kWait,            // upstream tasks have not finished enough to decide
    kRun,             // the trigger rule holds
    kSkip,            // it can never hold, because of skipped upstream tasks
    kUpstreamFailed,  // it can never hold, because upstream tasks failed
};

// Airflow's trigger rules over the states of a task's direct upstream tasks.
Readiness evaluate_trigger(dag::TriggerRule rule, const std::vector<store::TaskState>& upstream);

// The delay before try `next_try` (2 for the first retry): retry_delay, doubled per retry with
// exponential backoff, capped at max_retry_delay.
Millis retry_delay(const dag::Task& task, int next_try);

// The state of a run whose task instances are all finished: failed when a leaf task (one with
// no downstream) failed or was upstream_failed, success otherwise. nullopt while any task is
// unfinished.
std::optional<store::RunState> run_outcome(const dag::Dag& dag,
                                           const std::vector<store::TaskInstance>& tasks);

// What clearing and marking do to the records (the engine's clear and mark operations).
//
// Clearing (Airflow's "clear"): the task instance goes back to no state, keeping its try
// number, so its next try is numbered after the old ones and it gets its retries again; its
// output is dropped. Its run goes back to queued. Marking (Airflow's
// updateTaskInstancesState): the state is set by hand, as after a finished try.

// `roots` and, transitively, their upstream and/or downstream tasks. Unknown ids are kept
// (the caller reports them).
std::set<std::string> expand_tasks(const dag::Dag& dag, const std::vector<std::string>& roots,
                                   bool upstream, bool downstream);

// `task` may be null (the task left the DAG): the task instance keeps its number of retries.
void clear_task_instance(store::TaskInstance& ti, const dag::Task* task);
void requeue_run(store::DagRun& run);
void mark_task_instance(store::TaskInstance& ti, store::TaskState state, Millis now);

// Failed or upstream_failed.
bool is_failed(store::TaskState state);

}  // namespace orquestra::scheduler
