#include "scheduler/decide.hpp"

#include <algorithm>
#include <deque>
#include <unordered_map>

namespace orquestra::scheduler {

using store::TaskState;

Readiness evaluate_trigger(dag::TriggerRule rule, const std::vector<TaskState>& upstream) {
    std::size_t success = 0, failed = 0, skipped = 0, done = 0;
    for (TaskState s : upstream) {
        if (s == TaskState::kSuccess) ++success;
        if (s == TaskState::kFailed || s == TaskState::kUpstreamFailed) ++failed;
        if (s == TaskState::kSkipped) ++skipped;
        if (store::is_finished(s)) ++done;
    }
    const std::size_t n = upstream.size();
    const bool all_done = done == n;
    using dag::TriggerRule;
    switch (rule) {
        case TriggerRule::kAllSuccess:
            if (failed > 0) return Readiness::kUpstreamFailed;
            if (skipped > 0) return Readiness::kSkip;
            return success == n ? Readiness::kRun : Readiness::kWait;
        case TriggerRule::kAllFailed:
            if (success > 0 || skipped > 0) return Readiness::kSkip;
            return failed == n ? Readiness::kRun : Readiness::kWait;
        case TriggerRule::kAllDone:
            return all_done ? Readiness::kRun : Readiness::kWait;
        case TriggerRule::kOneSuccess:
            if (success > 0 || n == 0) return Readiness::kRun;
            if (!all_done) return Readiness::kWait;
            return failed > 0 ? Readiness::kUpstreamFailed : Readiness::kSkip;
        case TriggerRule::kOneFailed:
            if (failed > 0 || n == 0) return Readiness::kRun;
            return all_done ? Readiness::kSkip : Readiness::kWait;
        case TriggerRule::kNoneFailed:
            if (failed > 0) return Readiness::kUpstreamFailed;
            return all_done ? Readiness::kRun : Readiness::kWait;
        case TriggerRule::kNoneSkipped:
            if (skipped > 0) return Readiness::kSkip;
            return all_done ? Readiness::kRun : Readiness::kWait;
        case TriggerRule::kAlways:
            return Readiness::kRun;
    }
    return Readiness::kWait;
}

Millis retry_delay(const dag::Task& task, int next_try) {
    Millis delay = task.retry_delay;
    if (task.retry_exponential_backoff) {
        for (int i = 2; i < next_try && delay < (Millis{1} << 50); ++i) delay *= 2;
    }
    if (task.max_retry_delay) delay = std::min(delay, *task.max_retry_delay);
    return std::max<Millis>(0, delay);
}

std::optional<store::RunState> run_outcome(const dag::Dag& dag,
                                           const std::vector<store::TaskInstance>& tasks) {
    std::unordered_map<std::string_view, TaskState> states;
    for (const auto& ti : tasks) {
        if (!store::is_finished(ti.state)) return std::nullopt;
        states.emplace(ti.task_id, ti.state);
    }
    for (const auto& task : dag.tasks) {
        if (!task.downstream.empty()) continue;
        auto it = states.find(task.task_id);
        if (it == states.end()) continue;
        if (it->second == TaskState::kFailed || it->second == TaskState::kUpstreamFailed) {
            return store::RunState::kFailed;
        }
    }
    return store::RunState::kSuccess;
}

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

}  // namespace orquestra::scheduler
