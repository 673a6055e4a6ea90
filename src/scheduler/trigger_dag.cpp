// trigger_dag tries: the engine runs them itself, on the loop (engine.hpp).
//
// A try renders its dag_id, run_id and conf, then creates the child run through trigger() (the
// child DAG's params check the conf; a strict insert, so a run id already taken is never
// overwritten). The child is durable before the try's own state is committed: a crash between
// the two leaves the try unstarted, and its next start renders the same run id, finds the run
// whose parent is this task and takes it as its own instead of creating another. Each try has a
// run id of its own (try 1: triggered__<run>__<task>, later tries and tries after a clear add
// __<try>), so a retry triggers again.
//
// Without wait the try succeeds at once. With wait it stays running, its output naming the
// child ({"dag_id", "run_id"}), until the child ends: then its result goes through the same
// path as a runner's. Recovery finds the child again from that output.

#include "scheduler/engine.hpp"

#include "core/strings.hpp"
#include "dag/time_text.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace orquestra::scheduler {

namespace json = boost::json;
using store::RunState;
using store::TaskState;

namespace {

constexpr std::size_t kMaxConfBytes = 1024 * 1024;  // a child's conf, as JSON text

// FNV-1a: a stable short name for ids too long to be written out.
std::uint64_t fnv1a(std::string_view text) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ULL;
    }
    return h;
}

std::string default_run_id(const store::DagRun& parent, const std::string& task_id, int try_number) {
    std::string suffix = try_number > 1 ? fmt::format("__{}", try_number) : std::string();
    std::string id = fmt::format("triggered__{}__{}{}", parent.run_id, task_id, suffix);
    if (id.size() <= 250) return id;
    return fmt::format("triggered__{:016x}{}",
                       fnv1a(parent.dag_id + '\n' + parent.run_id + '\n' + task_id), suffix);
}

std::string output_of(const std::string& dag_id, const std::string& run_id,
                      std::optional<std::string_view> state) {
    json::object out;
    out["dag_id"] = dag_id;
    out["run_id"] = run_id;
    if (state) out["state"] = *state;
    return json::serialize(out);
}

// Printable text for a message, cut at 200 characters.
std::string shown(std::string_view text) {
    std::string out(text.substr(0, 200));
    for (char& c : out) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    if (text.size() > 200) out += "...";
    return out;
}

}  // namespace

bool Engine::start_trigger_try(ActiveRun& ar, const dag::Task& task,
                               const dag::TriggerDagSpec& spec, store::TaskInstance& ti,
                               store::TaskTry& tr, Millis now, store::Changes& changes) {
    const RunKey key{ar.run.dag_id, ar.run.run_id};
    std::vector<std::string> log{fmt::format("try {} of {} started on {} (trigger_dag task)",
                                             ti.try_number, ti.max_tries, hostname_)};
    auto fail = [&](const std::string& error) {
        changes.tries.push_back(tr);
        fail_try(ar, task, ti, now, error, changes);
        log.push_back("outcome: failed: " + error);
        log.push_back(ti.state == TaskState::kUpForRetry
                          ? fmt::format("up for retry at {}", dag::format_datetime(*ti.next_try_at))
                          : "no tries left: the task failed");
        write_log(key, ti.task_id, ti.try_number, log);
        return false;
    };
    if (ar.run.trigger_depth >= dag::kMaxTriggerDepth) {
        return fail(fmt::format("run {} is {} trigger_dag hops from a run nobody triggered, the "
                                "limit: it may not trigger another run (is a templated dag_id "
                                "triggering its own DAG again and again?)",
                                ar.run.run_id, ar.run.trigger_depth));
    }
    // What the try asks for, rendered as any task's templates are (variables and connections
    // included); a secret never goes into the child's conf or id, which the API shows.
    Masker masker;
    json::object ctx = context(ar);
    std::vector<std::string> missing;
    if (auto added = add_secret_inputs(task, ctx, &secrets_, masker, &missing); !added) {
        return fail("cannot render the task: " + masker.apply(added.error().message));
    }
    auto rendering_failed = [&](std::string_view field, const Error& e) {
        std::string message = e.message;
        if (!missing.empty()) message = fmt::format("{}: {}", fmt::join(missing, "; "), message);
        return fail(fmt::format("cannot render the task: {}: {}", field, masker.apply(message)));
    };
    auto dag_id = spec.dag_id.render_text(ctx);
    if (!dag_id) return rendering_failed("dag_id", dag_id.error());
    if (!dag::is_valid_id(*dag_id)) {
        return fail(masker.apply(fmt::format("dag_id '{}' is not a DAG id (1 to 250 letters, "
                                             "digits, '_', '.' or '-')",
                                             shown(*dag_id))));
    }
    std::string run_id = default_run_id(ar.run, ti.task_id, ti.try_number);
    if (spec.run_id) {
        auto rendered = spec.run_id->render_text(ctx);
        if (!rendered) return rendering_failed("run_id", rendered.error());
        run_id = std::move(*rendered);
    }
    json::object conf;
    if (spec.conf) {
        dag::RenderBudget budget(kMaxConfBytes, "the conf");
        auto rendered = spec.conf->render(ctx, budget);
        if (!rendered) return rendering_failed("conf", rendered.error());
        if (!rendered->is_object()) {
            return fail("conf must render to an object");  // the loader allows only mappings
        }
        conf = std::move(rendered->as_object());
    }
    const std::string conf_text = json::serialize(conf);
    if (conf_text.size() > kMaxConfBytes) {
        return fail(fmt::format("conf is {} bytes as JSON; the limit is {}", conf_text.size(),
                                kMaxConfBytes));
    }
    if (masker.apply(conf_text) != conf_text || masker.apply(run_id) != run_id) {
        return fail("the conf or run_id would carry a secret (a sealed variable or a "
                    "connection's password) into the child run, whose conf and id the API shows");
    }
    json::object described;
    described["dag_id"] = *dag_id;
    described["run_id"] = run_id;
    described["conf"] = conf;
    described["wait"] = spec.wait;
    json::object rendered;
    rendered["trigger_dag"] = std::move(described);
    tr.rendered_json = json::serialize(rendered);

    TriggerRequest request;
    request.dag_id = *dag_id;
    request.run_id = run_id;
    request.conf = std::move(conf);
    request.parent_dag_id = ar.run.dag_id;
    request.parent_run_id = ar.run.run_id;
    request.parent_task_id = ti.task_id;
    request.trigger_depth = ar.run.trigger_depth + 1;
    std::optional<store::DagRun> child;
    auto created = trigger(request);
    if (created) {
        child = std::move(*created);
        spawned_.emplace_back(child->dag_id, child->run_id);
        log.push_back(fmt::format("triggered run {} of DAG {}", child->run_id, child->dag_id));
    } else if (created.error().code == ErrorCode::kNotFound) {
        return fail(fmt::format("cannot trigger DAG '{}': no such DAG is loaded (it may be added "
                                "to the DAG folder later; a retry looks again)",
                                *dag_id));
    } else if (created.error().code == ErrorCode::kInvalidArgument) {
        return fail(fmt::format("cannot trigger DAG '{}': {}", *dag_id,
                                masker.apply(created.error().message)));
    } else if (created.error().code == ErrorCode::kConflict) {
        // The run exists: this task's own, from a start that crashed before its state was
        // stored, or somebody else's.
        auto found = store_.get_run(*dag_id, run_id);
        if (!found) return fail("cannot read the run this try triggered: " + found.error().message);
        if (!found->has_value() || (*found)->parent_dag_id != ar.run.dag_id ||
            (*found)->parent_run_id != ar.run.run_id || (*found)->parent_task_id != ti.task_id) {
            return fail(fmt::format("run {} of DAG '{}' already exists and was not triggered by "
                                    "this task",
                                    run_id, *dag_id));
        }
        child = std::move(**found);
        log.push_back(fmt::format("found run {} of DAG {}, triggered by an earlier start of this "
                                  "try",
                                  child->run_id, child->dag_id));
    } else {
        return fail(fmt::format("cannot trigger DAG '{}': {}", *dag_id, created.error().message));
    }

    const RunKey child_key{child->dag_id, child->run_id};
    ti.output_json = output_of(child->dag_id, child->run_id, std::nullopt);
    changes.tasks.push_back(ti);
    changes.tries.push_back(tr);
    if (!spec.wait) {
        log.push_back("not waiting for it");
        write_log(key, ti.task_id, ti.try_number, log);
        results_.push_back(Pending{key, ti.task_id, ti.try_number,
                                   executor::AttemptResult{true, ti.output_json, "", "", {}}});
        request_flush();
        return true;
    }
    TriggerWait wait;
    wait.parent = key;
    wait.task_id = ti.task_id;
    wait.try_number = ti.try_number;
    std::optional<Millis> timeout = spec.timeout;
    if (task.execution_timeout) {
        timeout = timeout ? std::min(*timeout, *task.execution_timeout) : *task.execution_timeout;
    }
    if (timeout) wait.deadline = now + *timeout;
    wait.allowed_states = spec.allowed_states;
    log.push_back(fmt::format("waiting for run {} of DAG {} to end{}", child->run_id,
                              child->dag_id,
                              wait.deadline ? fmt::format(" (until {})",
                                                          dag::format_datetime(*wait.deadline))
                                            : std::string()));
    write_log(key, ti.task_id, ti.try_number, log);
    if (child->state == RunState::kSuccess || child->state == RunState::kFailed) {
        // Found ended (an earlier start's child): the try ends with it.
        const std::string state(store::to_string(child->state));
        const bool ok = std::find(wait.allowed_states.begin(), wait.allowed_states.end(),
                                  state) != wait.allowed_states.end();
        end_trigger_wait(wait, child_key, ok, state, "");
        return true;
    }
    trigger_waits_.emplace(child_key, std::move(wait));
    return true;
}

bool Engine::resume_trigger_wait(const RunKey& key, const dag::Task& task,
                                 const store::TaskInstance& ti) {
    const auto* spec = std::get_if<dag::TriggerDagSpec>(&task.kind);
    if (spec == nullptr || ti.operator_name != "trigger_dag" || !ti.output_json) return false;
    boost::system::error_code ec;
    auto out = json::parse(*ti.output_json, ec);
    if (ec || !out.is_object()) return false;
    const auto* dag_id = out.as_object().if_contains("dag_id");
    const auto* run_id = out.as_object().if_contains("run_id");
    if (dag_id == nullptr || run_id == nullptr || !dag_id->is_string() || !run_id->is_string()) {
        return false;
    }
    RunKey child{std::string(dag_id->get_string()), std::string(run_id->get_string())};
    if (!spec->wait) {
        // Its child was created and stored: the try succeeded, only its end was not stored.
        results_.push_back(Pending{key, ti.task_id, ti.try_number,
                                   executor::AttemptResult{true, ti.output_json, "", "", {}}});
        dirty_.insert(key);
        return true;
    }
    TriggerWait wait;
    wait.parent = key;
    wait.task_id = ti.task_id;
    wait.try_number = ti.try_number;
    std::optional<Millis> timeout = spec->timeout;
    if (task.execution_timeout) {
        timeout = timeout ? std::min(*timeout, *task.execution_timeout) : *task.execution_timeout;
    }
    if (timeout) wait.deadline = ti.queued_when.value_or(clock_.now_ms()) + *timeout;
    wait.allowed_states = spec->allowed_states;
    spdlog::info("{} / {} / {}: try {} keeps waiting for run {} of DAG {}", key.first, key.second,
                 ti.task_id, ti.try_number, child.second, child.first);
    write_log(key, ti.task_id, ti.try_number,
              {fmt::format("the scheduler restarted; still waiting for run {} of DAG {}",
                           child.second, child.first)});
    for (auto [it, end] = trigger_waits_.equal_range(child); it != end; ++it) {
        if (it->second.parent == key && it->second.task_id == ti.task_id) return true;
    }
    trigger_waits_.emplace(std::move(child), std::move(wait));
    // A child that ended while no scheduler watched is found by the next poll.
    return true;
}

void Engine::end_trigger_wait(const TriggerWait& wait, const RunKey& child, bool success,
                              const std::string& state, const std::string& error) {
    std::optional<std::string> output;
    if (!state.empty()) output = output_of(child.first, child.second, state);
    auto run = runs_.find(wait.parent);
    if (run != runs_.end()) {
        auto ti = run->second.tis.find(wait.task_id);
        if (ti != run->second.tis.end() && ti->second.try_number == wait.try_number &&
            (ti->second.state == TaskState::kRunning || ti->second.state == TaskState::kQueued) &&
            output) {
            // Kept when the try fails too: downstream tasks may read the child's state.
            ti->second.output_json = output;
            boost::system::error_code ec;
            auto v = json::parse(*output, ec);
            if (!ec) run->second.outputs[wait.task_id] = std::move(v);
        }
    }
    std::string why = error;
    if (why.empty() && !success) {
        why = fmt::format("run {} of DAG '{}' ended {}, which is not in allowed_states", child.second,
                          child.first, state);
    }
    std::vector<std::string> log;
    if (!state.empty()) {
        log.push_back(fmt::format("run {} of DAG {} ended: {}", child.second, child.first, state));
    }
    results_.push_back(Pending{wait.parent, wait.task_id, wait.try_number,
                               executor::AttemptResult{success, output, why, "", std::move(log)}});
    mark(wait.parent);
}

void Engine::on_child_finished(const store::DagRun& child) {
    const RunKey key{child.dag_id, child.run_id};
    auto [first, last] = trigger_waits_.equal_range(key);
    if (first == last) return;
    std::vector<TriggerWait> ended;
    for (auto it = first; it != last; ++it) ended.push_back(std::move(it->second));
    trigger_waits_.erase(first, last);
    const std::string state(store::to_string(child.state));
    for (const auto& wait : ended) {
        const bool ok = std::find(wait.allowed_states.begin(), wait.allowed_states.end(),
                                  state) != wait.allowed_states.end();
        end_trigger_wait(wait, key, ok, state, "");
    }
}

void Engine::poll_trigger_waits() {
    // Children this engine runs wake their parents as they end; the others (another
    // scheduler's, or not taken in yet) are read from the store.
    std::set<RunKey> children;
    for (const auto& [child, wait] : trigger_waits_) {
        if (!runs_.contains(child)) children.insert(child);
    }
    for (const auto& child : children) {
        auto found = store_.get_run(child.first, child.second);
        if (!found) {
            spdlog::warn("cannot read run {} / {}: {}", child.first, child.second,
                         found.error().message);
            continue;
        }
        if (!found->has_value()) {
            auto [first, last] = trigger_waits_.equal_range(child);
            std::vector<TriggerWait> ended;
            for (auto it = first; it != last; ++it) ended.push_back(std::move(it->second));
            trigger_waits_.erase(first, last);
            for (const auto& wait : ended) {
                end_trigger_wait(wait, child, false, "",
                                 fmt::format("run {} of DAG '{}' was deleted while this try "
                                             "waited for it",
                                             child.second, child.first));
            }
            continue;
        }
        const store::DagRun& run = **found;
        if (run.state == RunState::kSuccess || run.state == RunState::kFailed) {
            on_child_finished(run);
        }
    }
}

void Engine::expire_trigger_waits(Millis now) {
    for (auto it = trigger_waits_.begin(); it != trigger_waits_.end();) {
        if (!it->second.deadline || *it->second.deadline > now) {
            ++it;
            continue;
        }
        TriggerWait wait = std::move(it->second);
        RunKey child = it->first;
        it = trigger_waits_.erase(it);
        end_trigger_wait(wait, child, false, "",
                         fmt::format("run {} of DAG '{}' did not end before the timeout (it "
                                     "keeps running)",
                                     child.second, child.first));
    }
}

std::optional<Millis> Engine::next_trigger_deadline() const {
    std::optional<Millis> earliest;
    for (const auto& [child, wait] : trigger_waits_) {
        if (wait.deadline) earliest = earliest ? std::min(*earliest, *wait.deadline) : *wait.deadline;
    }
    return earliest;
}

}  // namespace orquestra::scheduler
