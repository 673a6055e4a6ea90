// The engine's operations on finished runs (operations.hpp): clear, mark, set a run's state,
// delete. They run on the scheduler loop like every other change, so a run is never changed
// by the API and the scheduler at once.

#include "dag/time_text.hpp"
#include "scheduler/decide.hpp"
#include "scheduler/engine.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace orquestra::scheduler {

using store::RunState;
using store::TaskState;

namespace {

bool is_unfinished(RunState state) {
    return state == RunState::kQueued || state == RunState::kRunning;
}

Error invalid(std::string message) {
    return Error{ErrorCode::kInvalidArgument, std::move(message)};
}

}  // namespace

Error run_not_found(std::string_view dag_id, std::string_view run_id) {
    return Error{ErrorCode::kNotFound,
                 fmt::format("DAG run '{}' not found for DAG '{}'", run_id, dag_id)};
}

Error run_in_progress(const store::DagRun& run, std::string_view what) {
    return Error{ErrorCode::kConflict,
                 fmt::format("DAG run '{}' of DAG '{}' is {}: only a finished run can be {}",
                             run.run_id, run.dag_id, store::to_string(run.state), what)};
}

Error dag_not_loaded(std::string_view dag_id) {
    return Error{ErrorCode::kConflict,
                 fmt::format("DAG '{}' is not loaded (its file is missing or has import errors)",
                             dag_id)};
}

Result<std::shared_ptr<const dag::Dag>> Engine::loaded_dag(const std::string& dag_id) const {
    if (auto d = find_dag(dag_id)) return d;
    if (records_.contains(dag_id)) return dag_not_loaded(dag_id);
    return Error{ErrorCode::kNotFound, fmt::format("DAG '{}' not found", dag_id)};
}

Result<store::DagRun> Engine::finished_run(const std::string& dag_id, const std::string& run_id,
                                           std::string_view what) {
    auto run = store_.get_run(dag_id, run_id);
    if (!run) return run.error();
    if (!run->has_value()) return run_not_found(dag_id, run_id);
    if (is_unfinished((*run)->state)) return run_in_progress(**run, what);
    return std::move(**run);
}

Result<std::vector<store::DagRun>> Engine::finished_runs(const std::string& dag_id,
                                                         const RunSelection& selection,
                                                         std::string_view what) {
    std::vector<store::DagRun> out;
    if (selection.run_id) {
        auto run = finished_run(dag_id, *selection.run_id, what);
        if (!run) return run.error();
        out.push_back(std::move(*run));
        return out;
    }
    store::RunFilter filter;
    filter.dag_id = dag_id;
    filter.states = {RunState::kSuccess, RunState::kFailed};
    filter.logical_date_gte = selection.from;
    filter.logical_date_lte = selection.to;
    filter.limit = 1000;
    for (int offset = 0; offset < 100'000; offset += filter.limit) {
        filter.offset = offset;
        auto page = store_.list_runs(filter);
        if (!page) return page.error();
        for (auto& run : page->items) out.push_back(std::move(run));
        if (static_cast<std::int64_t>(offset) + filter.limit >= page->total) break;
    }
    return out;
}

Result<void> Engine::apply(store::Changes& changes) {
    if (changes.empty()) return {};
    // A run back in the queue is this scheduler's, or, from an engine that runs nothing, the
    // first scheduler's to claim it.
    for (auto& run : changes.runs) {
        if (run.state == RunState::kQueued) {
            run.owner = options_.execute && !fenced_ ? options_.owner : std::string();
        }
    }
    if (auto done = store_.commit(changes); !done) return done.error();
    if (!options_.execute || fenced_) return {};
    const Millis now = clock_.now_ms();
    store::Changes adopted;
    for (auto& run : changes.runs) {
        RunKey key{run.dag_id, run.run_id};
        if (run.state != RunState::kQueued || runs_.contains(key)) continue;
        auto tis = can_adopt(run.dag_id) ? store_.task_instances(run.dag_id, run.run_id)
                                         : Result<std::vector<store::TaskInstance>>(
                                               Error{ErrorCode::kUnavailable, "DAG not loaded"});
        if (!tis) {
            unadopted_.insert(std::move(key));  // taken in at a later housekeeping
            continue;
        }
        adopt_run(run, std::move(*tis), false, now, adopted);
    }
    if (!adopted.empty()) {
        if (auto done = store_.commit(adopted); !done) {
            spdlog::error("cannot record the new tasks of queued runs: {}", done.error().message);
        }
    }
    if (!dirty_.empty()) request_flush();
    return {};
}

Result<std::vector<TouchedTask>> Engine::clear_tasks(const ClearRequest& r) {
    auto loaded = loaded_dag(r.dag_id);
    if (!loaded) return loaded.error();
    const auto& d = *loaded;
    std::optional<std::set<std::string>> selected;
    if (r.task_ids) {
        for (const auto& id : *r.task_ids) {
            if (d->find_task(id) == nullptr) {
                return invalid(
                    fmt::format("field 'task_ids': DAG '{}' has no task '{}'", r.dag_id, id));
            }
        }
        selected = expand_tasks(*d, *r.task_ids, r.include_upstream, r.include_downstream);
    }
    auto runs = finished_runs(r.dag_id, r.runs, "cleared");
    if (!runs) return runs.error();
    std::vector<TouchedTask> out;
    store::Changes changes;
    for (auto& run : *runs) {
        auto tis = store_.task_instances(run.dag_id, run.run_id);
        if (!tis) return tis.error();
        bool touched = false;
        for (auto& ti : *tis) {
            if (selected && !selected->contains(ti.task_id)) continue;
            if (r.only_failed && !is_failed(ti.state)) continue;
            if (r.only_running && ti.state != TaskState::kRunning) continue;
            out.push_back(TouchedTask{ti, run.logical_date});
            if (r.dry_run) continue;
            const dag::Task* task = d->find_task(ti.task_id);
            clear_task_instance(ti, task);
            // A task that left the DAG would never run again and hold the run forever.
            if (task == nullptr) ti.state = TaskState::kRemoved;
            changes.tasks.push_back(ti);
            touched = true;
        }
        if (touched && r.reset_dag_runs) {
            requeue_run(run);
            changes.runs.push_back(run);
        }
    }
    if (r.dry_run) return out;
    if (auto done = apply(changes); !done) return done.error();
    return out;
}

Result<ClearedRun> Engine::clear_run(const std::string& dag_id, const std::string& run_id,
                                     bool dry_run) {
    auto run = finished_run(dag_id, run_id, "cleared");
    if (!run) return run.error();
    auto tis = store_.task_instances(dag_id, run_id);
    if (!tis) return tis.error();
    ClearedRun out{std::move(*run), std::move(*tis)};
    if (dry_run) return out;
    auto d = loaded_dag(dag_id);
    if (!d) return d.error();
    store::Changes changes;
    for (auto ti : out.tis) {
        const dag::Task* task = (*d)->find_task(ti.task_id);
        clear_task_instance(ti, task);
        if (task == nullptr) ti.state = TaskState::kRemoved;
        changes.tasks.push_back(std::move(ti));
    }
    requeue_run(out.run);
    changes.runs.push_back(out.run);
    if (auto done = apply(changes); !done) return done.error();
    return out;
}

Result<std::vector<TouchedTask>> Engine::mark_tasks(const MarkRequest& r) {
    auto loaded = loaded_dag(r.dag_id);
    if (!loaded) return loaded.error();
    const auto& d = *loaded;
    if (d->find_task(r.task_id) == nullptr) {
        return Error{ErrorCode::kNotFound,
                     fmt::format("task '{}' not found in DAG '{}'", r.task_id, r.dag_id)};
    }
    if (r.new_state != TaskState::kSuccess && r.new_state != TaskState::kFailed &&
        r.new_state != TaskState::kSkipped) {
        return invalid("a task can be marked success, failed or skipped only");
    }
    auto runs = finished_runs(r.dag_id, r.run, "marked");
    if (!runs) return runs.error();
    if (runs->size() != 1) {
        const std::string when = r.run.from ? dag::format_datetime(*r.run.from) : "?";
        return runs->empty()
                   ? Error{ErrorCode::kNotFound,
                           fmt::format("no finished DAG run of DAG '{}' has execution_date {}",
                                       r.dag_id, when)}
                   : invalid(fmt::format("several DAG runs of DAG '{}' have execution_date {}: "
                                         "give dag_run_id",
                                         r.dag_id, when));
    }
    store::DagRun run = std::move(runs->front());
    auto tis = store_.task_instances(r.dag_id, run.run_id);
    if (!tis) return tis.error();
    const auto selected = expand_tasks(*d, {r.task_id}, r.include_upstream, r.include_downstream);
    const Millis now = clock_.now_ms();
    std::vector<TouchedTask> out;
    store::Changes changes;
    for (auto& ti : *tis) {
        if (!selected.contains(ti.task_id) || ti.state == r.new_state) continue;
        out.push_back(TouchedTask{ti, run.logical_date});
        if (r.dry_run) continue;
        mark_task_instance(ti, r.new_state, now);
        changes.tasks.push_back(ti);
    }
    if (r.dry_run || changes.empty()) return out;
    // Failed tasks below a task marked success (or skipped) are cleared, so the run resumes
    // from there.
    bool requeue = false;
    if (r.new_state != TaskState::kFailed) {
        std::vector<std::string> roots(selected.begin(), selected.end());
        const auto below = expand_tasks(*d, roots, false, true);
        for (auto& ti : *tis) {
            if (selected.contains(ti.task_id) || !below.contains(ti.task_id) ||
                !is_failed(ti.state)) {
                continue;
            }
            clear_task_instance(ti, d->find_task(ti.task_id));
            changes.tasks.push_back(ti);
            requeue = true;
        }
    }
    if (requeue) {
        requeue_run(run);
        changes.runs.push_back(run);
    } else if (auto outcome = run_outcome(*d, *tis); outcome && *outcome != run.state) {
        run.state = *outcome;
        run.end_date = now;
        changes.runs.push_back(run);
    }
    if (auto done = apply(changes); !done) return done.error();
    return out;
}

Result<store::DagRun> Engine::set_run_state(const std::string& dag_id, const std::string& run_id,
                                            RunState state) {
    if (state == RunState::kRunning) {
        return invalid("a run's state can be set to success, failed or queued only");
    }
    auto found = finished_run(dag_id, run_id, "marked");
    if (!found) return found.error();
    store::DagRun run = std::move(*found);
    store::Changes changes;
    if (state == RunState::kQueued) {
        requeue_run(run);
    } else {
        auto tis = store_.task_instances(dag_id, run_id);
        if (!tis) return tis.error();
        const Millis now = clock_.now_ms();
        run.state = state;
        run.end_date = now;
        for (auto& ti : *tis) {
            if (state == RunState::kSuccess && ti.state != TaskState::kSuccess) {
                mark_task_instance(ti, TaskState::kSuccess, now);
                changes.tasks.push_back(ti);
            } else if (state == RunState::kFailed && !store::is_finished(ti.state)) {
                mark_task_instance(ti, TaskState::kSkipped, now);
                changes.tasks.push_back(ti);
            }
        }
    }
    changes.runs.push_back(run);
    if (auto done = apply(changes); !done) return done.error();
    return run;
}

Result<void> Engine::delete_run(const std::string& dag_id, const std::string& run_id) {
    auto found = finished_run(dag_id, run_id, "deleted");
    if (!found) return found.error();
    return store_.delete_run(dag_id, run_id);
}

}  // namespace orquestra::scheduler
