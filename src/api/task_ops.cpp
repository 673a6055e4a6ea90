#include "api/task_ops.hpp"

#include <deque>

namespace orquestra::api {

std::set<std::string> expand_tasks(const dag::Dag& dag, const std::vector<std::string>& roots,
                                   bool upstream, bool downstream) {
    std::set<std::string> out(roots.begin(), roots.end());
    std::deque<std::string> todo(roots.begin(), roots.end());
    while (!todo.empty()) {
        std::string id = std::move(todo.front());
        todo.pop_front();
        const dag::Task* task = dag.find_task(id);
        if (task == nullptr) continue;
        if (upstream) {
            for (const auto& up : task->upstream) {
                if (out.insert(up).second) todo.push_back(up);
            }
        }
        if (downstream) {
            for (const auto& down : task->downstream) {
                if (out.insert(down).second) todo.push_back(down);
            }
        }
    }
    return out;
}

void clear_task_instance(store::TaskInstance& ti, const dag::Task* task) {
    const int retries = task != nullptr ? task->retries : std::max(0, ti.max_tries - 1);
    ti.state = store::TaskState::kNone;
    ti.max_tries = ti.try_number + retries + 1;
    ti.start_date.reset();
    ti.end_date.reset();
    ti.queued_when.reset();
    ti.next_try_at.reset();
    ti.output_json.reset();
    ti.pid = 0;
    ti.process_identity.clear();
    ti.owner.clear();
}

void requeue_run(store::DagRun& run) {
    run.state = store::RunState::kQueued;
    run.start_date.reset();
    run.end_date.reset();
    run.last_scheduling_decision.reset();
}

void mark_task_instance(store::TaskInstance& ti, store::TaskState state, Millis now) {
    ti.state = state;
    if (!ti.start_date) ti.start_date = now;
    if (!ti.end_date) ti.end_date = now;
    ti.next_try_at.reset();
    ti.owner.clear();
}

bool is_failed(store::TaskState state) {
    return state == store::TaskState::kFailed || state == store::TaskState::kUpstreamFailed;
}

}  // namespace orquestra::api
