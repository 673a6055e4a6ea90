// Dynamic task mapping: a task with `expand` becomes, once its upstream tasks allow it to run,
// one task instance per element of a list (or per combination of elements with several keys),
// map_index 0..n-1, each tried, retried and timed out on its own. Until it expands, the task
// has one placeholder instance (map_index -1), which the instances replace in the store; in
// memory the placeholder's entry stays as the task's summary, whose state follows the
// instances' (run_outcome and the run's end read it), while trigger rules downstream count
// every instance and `tasks.<id>.output` is the list of their outputs in map_index order.

#include "core/json_kind.hpp"
#include "scheduler/decide.hpp"
#include "scheduler/engine.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace orquestra::scheduler {

namespace json = boost::json;
using store::TaskState;

namespace {

// A value as an error message shows it: JSON text, cut when long.
std::string shown(const json::value& v) {
    std::string text = json::serialize(v);
    if (text.size() > 120) text = text.substr(0, 117) + "...";
    return text;
}

}  // namespace

void Engine::upstream_states(const ActiveRun& ar, const std::string& task_id,
                             std::vector<TaskState>& out) {
    if (auto m = ar.mapped.find(task_id); m != ar.mapped.end()) {
        // Instances left over from a longer expansion do not count.
        for (const auto& ti : m->second) {
            if (ti.state != TaskState::kRemoved) out.push_back(ti.state);
        }
        return;
    }
    auto u = ar.tis.find(task_id);
    out.push_back(u == ar.tis.end() ? TaskState::kSuccess : u->second.state);
}

store::TaskInstance* Engine::find_instance(ActiveRun& ar, std::string_view task_id,
                                           int map_index) {
    if (map_index < 0) {
        if (ar.mapped.find(task_id) != ar.mapped.end()) return nullptr;
        auto it = ar.tis.find(task_id);
        return it == ar.tis.end() ? nullptr : &it->second;
    }
    auto m = ar.mapped.find(task_id);
    if (m == ar.mapped.end()) return nullptr;
    auto& list = m->second;
    const auto i = static_cast<std::size_t>(map_index);
    if (i < list.size() && list[i].map_index == map_index) return &list[i];
    for (auto& ti : list) {
        if (ti.map_index == map_index) return &ti;
    }
    return nullptr;
}

void Engine::add_instance_context(const ActiveRun& ar, const store::TaskInstance& ti,
                                  json::object& ctx) const {
    ctx["map_index"] = ti.map_index;
    if (ti.map_index < 0) return;
    auto args = ar.map_args.find(ti.task_id);
    if (args == ar.map_args.end()) return;
    const auto i = static_cast<std::size_t>(ti.map_index);
    if (i < args->second.size()) ctx["expand"] = args->second[i];
}

Result<std::vector<json::object>> Engine::map_arguments(const ActiveRun& ar,
                                                        const dag::Task& task) {
    auto ctx = context(ar);
    Masker masker;
    std::vector<std::string> missing;
    if (auto added = add_secret_inputs(task, ctx, &secrets_, masker, &missing); !added) {
        return Error{added.error().code, masker.apply(added.error().message)};
    }
    const auto limit = static_cast<std::size_t>(std::max(1, ar.dag->max_map_length));
    std::vector<json::array> lists;
    lists.reserve(task.expand.size());
    std::size_t total = 1;
    for (const auto& arg : task.expand) {
        auto v = arg.value.render(ctx);
        if (!v) {
            std::string why = v.error().message;
            if (!missing.empty()) why = fmt::format("{}: {}", fmt::join(missing, "; "), why);
            return Error{ErrorCode::kInvalidArgument,
                         masker.apply(fmt::format("expand.{}: {}", arg.key, why))};
        }
        if (!v->is_array()) {
            return Error{ErrorCode::kInvalidArgument,
                         masker.apply(fmt::format("expand.{} must render to a list, got {}: {}",
                                                  arg.key, json_kind_name(*v), shown(*v)))};
        }
        const std::size_t n = v->as_array().size();
        if (n > limit || (total > 0 && n > 0 && total > limit / n)) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("expand.{} makes more than max_map_length ({}) instances "
                                     "(its list has {} elements)",
                                     arg.key, limit, n)};
        }
        total *= n;
        lists.push_back(std::move(v->as_array()));
    }
    if (total > limit) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("expand makes {} instances, more than max_map_length ({})", total,
                                 limit)};
    }
    // The cartesian product, the last key varying fastest.
    std::vector<json::object> out;
    out.reserve(total);
    for (std::size_t i = 0; i < total; ++i) {
        json::object element;
        std::size_t rest = i;
        for (std::size_t k = lists.size(); k-- > 0;) {
            const std::size_t n = lists[k].size();
            element[task.expand[k].key] = lists[k][rest % n];
            rest /= n;
        }
        out.push_back(std::move(element));
    }
    return out;
}

void Engine::expand_task(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti,
                         Millis now, store::Changes& changes) {
    std::vector<store::TaskInstance> old;
    if (auto c = ar.cleared_instances.find(task.task_id); c != ar.cleared_instances.end()) {
        old = std::move(c->second);
        ar.cleared_instances.erase(c);
    }
    auto args = map_arguments(ar, task);
    auto remove_from = [&](std::size_t first) {
        for (auto& inst : old) {
            if (inst.map_index < 0 || static_cast<std::size_t>(inst.map_index) < first) continue;
            if (inst.state == TaskState::kRemoved) continue;
            inst.state = TaskState::kRemoved;
            inst.end_date = now;
            inst.note = "removed: the task expanded to fewer instances";
            changes.tasks.push_back(inst);
        }
    };
    if (!args) {
        // As a condition that cannot be evaluated: one failed try, not retried.
        remove_from(0);
        ti.try_number += 1;
        ti.max_tries = ti.try_number;
        ti.queued_when = now;
        ti.start_date = now;
        const std::string error = "cannot expand the task: " + args.error().message;
        fail_try(ar, task, ti, now, error, changes);
        write_log({ar.run.dag_id, ar.run.run_id}, ti.task_id, ti.try_number, {error});
        return;
    }
    if (args->empty()) {
        remove_from(0);
        ti.state = TaskState::kSkipped;
        ti.start_date = now;
        ti.end_date = now;
        ti.note = "skipped: expand made no instance (an empty list)";
        changes.tasks.push_back(ti);
        return;
    }
    const std::size_t n = args->size();
    std::vector<store::TaskInstance> instances;
    instances.reserve(n);
    std::size_t reused = 0;
    for (std::size_t i = 0; i < n; ++i) {
        store::TaskInstance inst;
        if (reused < old.size() && old[reused].map_index == static_cast<int>(i)) {
            inst = std::move(old[reused++]);  // cleared: its try numbers go on
        } else {
            inst.dag_id = ti.dag_id;
            inst.run_id = ti.run_id;
            inst.task_id = ti.task_id;
            inst.max_tries = task.retries + 1;
            inst.operator_name = std::string(task.kind_name());
        }
        inst.map_index = static_cast<int>(i);
        inst.state = TaskState::kNone;
        changes.tasks.push_back(inst);
        instances.push_back(std::move(inst));
    }
    remove_from(n);
    changes.removed_tasks.push_back(ti);  // the placeholder
    ar.map_args[task.task_id] = std::move(*args);
    ar.mapped[task.task_id] = std::move(instances);
    ti.state = TaskState::kRunning;
    ti.start_date = now;
    ti.end_date.reset();
    ti.note.clear();
}

void Engine::evaluate_mapped(ActiveRun& ar, const dag::Task& task, store::TaskInstance& summary,
                             int& busy, Millis now, store::Changes& changes,
                             std::vector<Dispatch>& dispatches) {
    auto& list = ar.mapped[task.task_id];
    bool startable = false;
    for (const auto& inst : list) {
        startable = startable || inst.state == TaskState::kNone ||
                    (inst.state == TaskState::kUpForRetry && inst.next_try_at &&
                     *inst.next_try_at <= now);
    }
    if (startable && !ar.map_args.contains(task.task_id)) {
        // After a restart: the elements again, from the same inputs.
        auto args = map_arguments(ar, task);
        std::string error;
        if (!args) {
            error = "cannot expand the task again: " + args.error().message;
        } else if (args->size() < list.size() &&
                   std::any_of(list.begin() + static_cast<std::ptrdiff_t>(args->size()),
                               list.end(), [](const store::TaskInstance& ti) {
                                   return ti.state != TaskState::kRemoved;
                               })) {
            error = fmt::format("the task now expands to {} instances, not {}", args->size(),
                                list.size());
        }
        if (error.empty()) {
            ar.map_args[task.task_id] = std::move(*args);
        } else {
            for (auto& inst : list) {
                if (inst.state != TaskState::kNone && inst.state != TaskState::kUpForRetry) {
                    continue;
                }
                inst.try_number += 1;
                inst.max_tries = inst.try_number;
                inst.queued_when = now;
                if (!inst.start_date) inst.start_date = now;
                fail_try(ar, task, inst, now, error, changes);
                write_log({ar.run.dag_id, ar.run.run_id}, inst.task_id, inst.try_number, {error},
                          inst.map_index);
            }
            startable = false;
        }
    }
    if (startable) {
        std::optional<Readiness> ready;
        for (auto& inst : list) {
            if (inst.state == TaskState::kNone) {
                if (!ready) {
                    // Instances cleared by hand wait for their upstream tasks again.
                    std::vector<TaskState> upstream;
                    for (const auto& up : task.upstream) upstream_states(ar, up, upstream);
                    ready = ar.params_ready ? evaluate_trigger(task.trigger_rule, upstream)
                                            : Readiness::kUpstreamFailed;
                }
                if (*ready == Readiness::kWait) continue;
                if (*ready == Readiness::kSkip || *ready == Readiness::kUpstreamFailed) {
                    inst.state = *ready == Readiness::kSkip ? TaskState::kSkipped
                                                            : TaskState::kUpstreamFailed;
                    inst.start_date = now;
                    inst.end_date = now;
                    changes.tasks.push_back(inst);
                    continue;
                }
                consider_start(ar, task, inst, busy, now, changes, dispatches);
            } else if ((inst.state == TaskState::kUpForRetry && inst.next_try_at &&
                        *inst.next_try_at <= now) ||
                       inst.state == TaskState::kScheduled) {  // waits for a pool slot
                start_if_free(ar, task, inst, busy, now, changes, dispatches);
            }
        }
    }
    summarize_mapped(ar, task, summary, now);
}

void Engine::summarize_mapped(ActiveRun& ar, const dag::Task& task, store::TaskInstance& summary,
                              Millis now) {
    auto m = ar.mapped.find(task.task_id);
    if (m == ar.mapped.end()) return;
    const auto& list = m->second;
    bool finished = true, failed = false, upstream_failed = false, any_success = false;
    std::optional<Millis> end;
    for (const auto& inst : list) {
        if (!store::is_finished(inst.state)) {
            finished = false;
            break;
        }
        failed = failed || inst.state == TaskState::kFailed;
        upstream_failed = upstream_failed || inst.state == TaskState::kUpstreamFailed;
        any_success = any_success || inst.state == TaskState::kSuccess;
        if (inst.end_date) end = std::max(end.value_or(0), *inst.end_date);
    }
    if (!finished) {
        if (store::is_finished(summary.state)) ar.outputs.erase(task.task_id);
        summary.state = TaskState::kRunning;
        summary.end_date.reset();
        return;
    }
    if (store::is_finished(summary.state)) return;  // summed up already
    summary.state = failed            ? TaskState::kFailed
                    : upstream_failed ? TaskState::kUpstreamFailed
                    : any_success     ? TaskState::kSuccess
                                      : TaskState::kSkipped;
    summary.end_date = end.value_or(now);
    // Downstream tasks read the outputs in map_index order (null for an instance without one).
    json::array outputs;
    outputs.reserve(list.size());
    for (const auto& inst : list) {
        if (inst.state == TaskState::kRemoved) continue;
        json::value v;
        if (inst.output_json) {
            boost::system::error_code ec;
            v = json::parse(*inst.output_json, ec);
            if (ec) v = nullptr;
        }
        outputs.push_back(std::move(v));
    }
    ar.outputs[task.task_id] = std::move(outputs);
}

void Engine::take_instances(ActiveRun& ar, std::vector<store::TaskInstance> tis) {
    std::map<std::string, std::vector<store::TaskInstance>, std::less<>> by_task;
    for (auto& ti : tis) {
        if (ti.map_index >= 0) {
            by_task[ti.task_id].push_back(std::move(ti));
        } else {
            std::string id = ti.task_id;
            ar.tis.emplace(std::move(id), std::move(ti));
        }
    }
    for (auto& [id, list] : by_task) {
        std::sort(list.begin(), list.end(),
                  [](const auto& a, const auto& b) { return a.map_index < b.map_index; });
        // Every instance cleared (or a placeholder back): the task expands again.
        const bool again =
            ar.tis.contains(id) ||
            std::all_of(list.begin(), list.end(), [](const store::TaskInstance& ti) {
                return ti.state == TaskState::kNone || ti.state == TaskState::kRemoved;
            });
        if (!ar.tis.contains(id)) {
            store::TaskInstance summary = list.front();
            summary.map_index = -1;
            summary.state = again ? TaskState::kNone : TaskState::kRunning;
            summary.try_number = 0;
            summary.start_date.reset();
            summary.end_date.reset();
            summary.queued_when.reset();
            summary.next_try_at.reset();
            summary.output_json.reset();
            summary.note.clear();
            summary.pid = 0;
            summary.process_identity.clear();
            ar.tis.emplace(id, std::move(summary));
        }
        if (again) {
            ar.cleared_instances[id] = std::move(list);
        } else {
            ar.mapped[id] = std::move(list);
        }
    }
}

}  // namespace orquestra::scheduler
