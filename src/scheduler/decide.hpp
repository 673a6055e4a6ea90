#pragma once
// The scheduler's decisions as pure functions of states and time, so that every trigger rule,
// retry delay and run outcome is tested without threads, sockets or sleeps.

#include "core/clock.hpp"
#include "dag/dag.hpp"
#include "store/model.hpp"

#include <optional>
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

}  // namespace orquestra::scheduler
