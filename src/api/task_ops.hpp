#pragma once
// What clearing and marking task instances do to the records, as pure functions, so that the
// API applies them through the store in one commit and the tests check them without a server.
//
// Clearing (Airflow's "clear"): the task instance goes back to no state, keeping its try
// number, so its next try is numbered after the old ones and it gets its retries again; its
// output is dropped. Its run goes back to queued, and the scheduler picks it up again.
// Marking (updateTaskInstancesState): the state is set by hand, as after a finished try.

#include <set>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "dag/dag.hpp"
#include "store/model.hpp"

namespace orquestra::api {

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

}  // namespace orquestra::api
