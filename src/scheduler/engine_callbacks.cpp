// The engine's side of callbacks (scheduler/callbacks.hpp): the ends it decides are staged with
// what their callbacks are told, and handed to the dispatcher once the commit that records them
// has succeeded.

#include "scheduler/engine.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

namespace orquestra::scheduler {

std::unique_ptr<CallbackDispatcher> Engine::make_callback_dispatcher() {
    executor::TaskRunner& runner =
        options_.callback_runner != nullptr ? *options_.callback_runner : runner_;
    return std::make_unique<CallbackDispatcher>(
        loop_, runner, &secrets_, metrics_,
        [this](const std::string& dag_id, const std::string& run_id, const std::string& task_id,
               int try_number, int map_index, const std::vector<std::string>& lines) {
            write_log({dag_id, run_id}, task_id, try_number, lines, map_index);
        },
        options_.callback_limits);
}

void Engine::stage_task_callback(const ActiveRun& ar, const dag::Task& task,
                                 const store::TaskInstance& ti, const std::string& error) {
    CallbackEvent event = CallbackEvent::kFailure;
    const std::vector<dag::Callback>* callbacks = nullptr;
    switch (ti.state) {
        case store::TaskState::kSuccess:
            event = CallbackEvent::kSuccess;
            callbacks = &task.callbacks.on_success;
            break;
        case store::TaskState::kUpForRetry:
            event = CallbackEvent::kRetry;
            callbacks = &task.callbacks.on_retry;
            break;
        case store::TaskState::kFailed:
            event = CallbackEvent::kFailure;
            callbacks = &task.callbacks.on_failure;
            break;
        default:
            return;
    }
    // `task` may be a stand-in for one no longer in the DAG: only the DAG's own holds callbacks.
    if (callbacks->empty() || ar.dag == nullptr || ar.dag->find_task(task.task_id) != &task) {
        return;
    }
    CallbackJob job;
    job.event = event;
    job.dag = ar.dag;
    job.callbacks = callbacks;
    job.identity = task_callback_json(event, ar.run, ti, error);
    job.context = context(ar);
    job.dag_id = ti.dag_id;
    job.run_id = ti.run_id;
    job.task_id = ti.task_id;
    job.try_number = ti.try_number;
    job.map_index = ti.map_index;
    job.once_key = fmt::format("task\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", ti.dag_id, ti.run_id,
                               ti.task_id, ti.map_index, ti.try_number, to_string(event));
    staged_callbacks_.push_back(std::move(job));
}

void Engine::stage_run_callback(const ActiveRun& ar) {
    if (ar.dag == nullptr) return;
    const bool success = ar.run.state == store::RunState::kSuccess;
    const auto& callbacks = success ? ar.dag->callbacks.on_success : ar.dag->callbacks.on_failure;
    if (callbacks.empty()) return;
    const CallbackEvent event = success ? CallbackEvent::kSuccess : CallbackEvent::kFailure;
    std::string error;
    if (!success) {
        if (!ar.retired.empty()) {
            error = ar.retired;
        } else {
            std::vector<std::string> failed;
            for (const auto& [id, ti] : ar.tis) {
                if (ti.state == store::TaskState::kFailed) failed.push_back(id);
            }
            error = failed.empty() ? std::string("the run failed")
                                   : fmt::format("failed tasks: {}", fmt::join(failed, ", "));
        }
    }
    CallbackJob job;
    job.event = event;
    job.dag = ar.dag;
    job.callbacks = &callbacks;
    job.identity = run_callback_json(event, ar.run, error);
    job.context = context(ar);
    job.dag_id = ar.run.dag_id;
    job.run_id = ar.run.run_id;
    // A run cleared and ended again is another end: its start tells them apart.
    job.once_key = fmt::format("run\x1f{}\x1f{}\x1f{}\x1f{}", ar.run.dag_id, ar.run.run_id,
                               ar.run.start_date.value_or(0), to_string(event));
    staged_callbacks_.push_back(std::move(job));
}

void Engine::fire_staged_callbacks(bool durable) {
    if (staged_callbacks_.empty()) return;
    std::vector<CallbackJob> jobs = std::move(staged_callbacks_);
    staged_callbacks_.clear();
    if (!durable) {
        // Their ends are not durable: nothing is said of them.
        spdlog::warn("{} callback event(s) not run: the store did not record their state",
                     jobs.size());
        return;
    }
    for (auto& job : jobs) callbacks_->submit(std::move(job));
}

}  // namespace orquestra::scheduler
