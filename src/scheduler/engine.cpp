#include "scheduler/engine.hpp"

#include "core/strings.hpp"
#include "dag/json_text.hpp"
#include "dag/params.hpp"
#include "dag/schedule.hpp"
#include "dag/time_text.hpp"
#include "scheduler/decide.hpp"
#include "scheduler/service_triggers.hpp"
#include "executor/process_group.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <random>

namespace orquestra::scheduler {

namespace json = boost::json;
using store::TaskState;
using store::RunState;

namespace {

bool valid_run_id(std::string_view id) {
    if (id.empty() || id.size() > 250 || id == "." || id == "..") return false;
    for (char c : id) {
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '~' || c == ':' || c == '+' || c == '-';
        if (!ok) return false;
    }
    return true;
}

store::TaskInstance new_task_instance(const store::DagRun& run, const dag::Task& task) {
    store::TaskInstance ti;
    ti.dag_id = run.dag_id;
    ti.run_id = run.run_id;
    ti.task_id = task.task_id;
    ti.max_tries = task.retries + 1;
    ti.operator_name = std::string(task.kind_name());
    ti.pool = task.pool;
    ti.pool_slots = task.pool_slots;
    return ti;
}

// The record of the task instance's current try, in `state`.
store::TaskTry try_record(const store::TaskInstance& ti, TaskState state, Millis start) {
    store::TaskTry tr;
    tr.dag_id = ti.dag_id;
    tr.run_id = ti.run_id;
    tr.task_id = ti.task_id;
    tr.map_index = ti.map_index;
    tr.try_number = std::max(1, ti.try_number);
    tr.state = state;
    tr.start_date = start;
    tr.hostname = ti.hostname;
    tr.served_by = ti.served_by;
    return tr;
}

std::string random_owner() {
    std::random_device rd;
    return fmt::format("{}-{:08x}", ::getpid(), rd());
}

std::string local_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof(buf) - 1) != 0) return "localhost";
    return buf;
}

// A path segment for the log tree, one-to-one with the id: the characters valid in ids
// ([A-Za-z0-9_.~:+-]) stay as they are, anything else (and '%') becomes %XX, and the names
// "." and ".." (refused as ids, but possibly stored by older versions) are encoded whole.
std::string log_segment(std::string_view s) {
    if (s == "." || s == "..") return s.size() == 1 ? "%2E" : "%2E%2E";
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '_' || c == '.' || c == '~' || c == ':' || c == '+' || c == '-';
        if (plain) {
            out += c;
        } else {
            out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        }
    }
    if (out.empty()) out = "%";  // never a folder of its own parent
    return out;
}

bool is_busy(TaskState s) { return s == TaskState::kRunning || s == TaskState::kQueued; }

std::string kind_labels(std::string_view kind) { return label_pairs({{"kind", kind}}); }

std::string_view attempt_kind(const executor::Attempt& a) {
    if (std::holds_alternative<executor::RenderedHttp>(a.work)) return "http";
    if (std::holds_alternative<executor::RenderedCommand>(a.work)) return "command";
    return "wait_for_service";
}

std::int64_t steady_ns(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// When a try was decided and when it started running (steady clock), shared by its runner's
// callbacks, which may come from any thread.
struct TryTiming {
    std::chrono::steady_clock::time_point decided;
    std::atomic<std::int64_t> started_ns{0};  // since the steady clock's epoch; 0: not yet
};


}  // namespace

Engine::Engine(boost::asio::io_context& loop, store::Store& store, dag::DagFolder& folder,
               executor::TaskRunner& runner, const Clock& clock, EngineOptions options)
    : loop_(loop),
      store_(store),
      folder_(folder),
      runner_(runner),
      clock_(clock),
      options_(std::move(options)),
      hostname_(local_hostname()),
      housekeeping_timer_(loop),
      wake_timer_(loop),
      secrets_(store, options_.secret_keys != nullptr ? *options_.secret_keys : no_keys_) {
    if (options_.owner.empty()) options_.owner = random_owner();
    callbacks_ = make_callback_dispatcher();
    listeners_.push_back([this](const store::DagRun& run) { on_child_finished(run); });
    service_events_ = std::make_shared<ServiceEventSink>(metrics_);
    debounce_ = std::make_unique<ServiceDebounce>();
}

Engine::~Engine() {
    close_service_events();
    run_watch_.reset();
    *alive_ = false;
}

Result<void> Engine::start() {
    started_at_ = clock_.now_ms();
    if (options_.execute) {
        store::SchedulerProcess me;
        me.id = options_.owner;
        me.kind = options_.only_dag.empty() ? "scheduler" : "test";
        me.hostname = hostname_;
        me.pid = ::getpid();
        me.started_at = me.heartbeat_at = started_at_;
        if (auto r = store_.heartbeat(me, true); !r) return r.error();
        if (auto r = size_default_pool(); !r) return r.error();
    }
    housekeeping();
    flush();
    rearm_housekeeping();
    open_service_events();
    if (options_.execute && options_.only_dag.empty()) {
        // Any thread: only posts onto the loop.
        run_watch_ = store_.watch_runs([this, alive = alive_] {
            boost::asio::post(loop_, [this, alive] {
                if (*alive) claim_now();
            });
        });
    }
    return {};
}

// Another process left runs to claim: claim them now rather than at the next housekeeping. A
// burst of wake-ups makes one claim.
void Engine::claim_now() {
    if (claim_posted_ || stopped_) return;
    claim_posted_ = true;
    boost::asio::post(loop_, [this, alive = alive_] {
        if (!*alive) return;
        claim_posted_ = false;
        if (stopped_ || fenced_) return;
        load_unfinished_runs();
        if (!dirty_.empty()) request_flush();
    });
}

bool Engine::beat(bool first) {
    if (!options_.execute || fenced_) return !fenced_;
    store::SchedulerProcess me;
    me.id = options_.owner;
    me.heartbeat_at = clock_.now_ms();
    auto r = store_.heartbeat(me, first);
    if (r) return true;
    if (r.error().code != ErrorCode::kNotFound) {
        // The store is out of reach: the heartbeat ages, and so does every commit; retried at
        // the next housekeeping.
        spdlog::warn("cannot record the scheduler's heartbeat: {}", r.error().message);
        return true;
    }
    spdlog::error("another scheduler presumed this one dead (no heartbeat for {} ms) and took "
                  "its runs: this scheduler stops scheduling",
                  options_.scheduler_timeout.count());
    fenced_ = true;
    runs_.clear();
    dirty_.clear();
    results_.clear();
    stop();
    return false;
}

void Engine::rearm_housekeeping() {
    housekeeping_timer_.expires_after(options_.housekeeping_interval);
    housekeeping_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
        if (ec || !*alive || stopped_) return;
        housekeeping();
        rearm_housekeeping();
    });
}

void Engine::stop() {
    stopped_ = true;
    close_service_events();
    run_watch_.reset();
    housekeeping_timer_.cancel();
    wake_timer_.cancel();
}

std::filesystem::path Engine::log_path(const std::string& dag_id, const std::string& run_id,
                                       const std::string& task_id, int try_number,
                                       int map_index) const {
    auto dir = options_.log_dir / log_segment(dag_id) / log_segment(run_id) / log_segment(task_id);
    if (map_index >= 0) dir /= fmt::format("map_index={}", map_index);
    return dir / fmt::format("{}.log", try_number);
}

std::shared_ptr<const dag::Dag> Engine::find_dag(const std::string& dag_id) const {
    auto it = dags_.find(dag_id);
    return it == dags_.end() ? nullptr : it->second;
}

void Engine::add_run_listener(RunListener listener) { listeners_.push_back(std::move(listener)); }

bool Engine::is_paused(const std::string& dag_id) const {
    if (options_.ignore_pause) return false;
    auto it = records_.find(dag_id);
    return it == records_.end() || it->second.is_paused;
}

void Engine::count_busy() {
    busy_tasks_.clear();
    running_runs_.clear();
    for (const auto& [key, ar] : runs_) {
        if (ar.run.state == RunState::kRunning) ++running_runs_[key.first];
        int busy = 0;
        for_each_instance(ar, [&](const store::TaskInstance& ti) {
            busy += is_busy(ti.state) ? 1 : 0;
        });
        if (busy > 0) busy_tasks_[key.first] += busy;
    }
    for (const auto& [dag_id, n] : others_running_) running_runs_[dag_id] += n;
    count_pool_slots();
}

int Engine::queued_runs() const {
    int queued = 0;
    for (const auto& [key, ar] : runs_) queued += ar.run.state == RunState::kQueued ? 1 : 0;
    return queued;
}

void Engine::count_others_running() {
    if (options_.sole_scheduler || !options_.execute || !options_.only_dag.empty()) return;
    auto counts = store_.count_runs();
    if (!counts) {
        spdlog::warn("cannot count the other schedulers' runs: {}", counts.error().message);
        return;
    }
    std::map<std::string, int, std::less<>> mine;
    for (const auto& [key, ar] : runs_) {
        if (ar.run.state == RunState::kRunning) ++mine[key.first];
    }
    std::map<std::string, int, std::less<>> others;
    for (const auto& c : *counts) {
        if (c.state != RunState::kRunning) continue;
        const int n = static_cast<int>(c.count) - mine[c.dag_id];
        if (n > 0) others[c.dag_id] = n;
    }
    // Room made by the others' runs that ended: this scheduler's queued runs may start.
    for (const auto& [dag_id, n] : others_running_) {
        auto now = others.find(dag_id);
        if (now != others.end() && now->second >= n) continue;
        for (auto it = runs_.lower_bound({dag_id, std::string()});
             it != runs_.end() && it->first.first == dag_id; ++it) {
            if (it->second.run.state == RunState::kQueued) dirty_.insert(it->first);
        }
    }
    others_running_ = std::move(others);
}

// Runs queued or running (not finished) already fill max_active_runs: no new scheduled run.
bool Engine::at_run_limit(const dag::Dag& dag) const {
    int active = 0;
    for (auto it = runs_.lower_bound({dag.dag_id, std::string()});
         it != runs_.end() && it->first.first == dag.dag_id; ++it) {
        if (++active >= dag.max_active_runs) return true;
    }
    return false;
}

bool Engine::dag_file_broken(const std::string& dag_id) const {
    auto rec = records_.find(dag_id);
    if (rec == records_.end() || rec->second.fileloc.empty()) return false;
    for (const auto& e : folder_.import_errors()) {
        if (e.filename == rec->second.fileloc) return true;
    }
    return false;
}

// The DAG is gone: nothing of the run starts any more. A queued run ends at once; a running
// one once its running tries have ended.
void Engine::retire_run(ActiveRun& ar, const std::string& reason, Millis now,
                        store::Changes& changes) {
    ar.retired = reason;
    for_each_instance(ar, [&](store::TaskInstance& ti) {
        if (store::is_finished(ti.state) || is_busy(ti.state)) return;
        ti.state = TaskState::kRemoved;
        ti.next_try_at.reset();
        ti.end_date = now;
        ti.note = reason;
        changes.tasks.push_back(ti);
    });
    for (auto& [id, list] : ar.mapped) {
        if (const dag::Task* task = ar.dag->find_task(id)) {
            summarize_mapped(ar, *task, ar.tis[id], now);
        }
    }
    ar.run.note = reason;
    dirty_.insert({ar.run.dag_id, ar.run.run_id});
}

void Engine::retire_runs(const std::string& dag_id, const std::string& reason,
                         store::Changes& changes) {
    Millis now = clock_.now_ms();
    for (auto it = runs_.lower_bound({dag_id, std::string()});
         it != runs_.end() && it->first.first == dag_id; ++it) {
        if (it->second.retired.empty()) {
            spdlog::warn("run {} / {}: {}", dag_id, it->first.second, reason);
            retire_run(it->second, reason, now, changes);
        }
    }
}

void Engine::stop_leftover_processes(const store::TaskInstance& ti) {
    if (ti.operator_name != "command" || ti.hostname != hostname_ || ti.try_number < 1) return;
    executor::TryProcesses target;
    target.group = ti.pid;
    target.identity = ti.process_identity;
    target.marker = executor::try_marker(
        ti.owner, ti.dag_id, ti.run_id,
        ti.map_index < 0 ? ti.task_id : fmt::format("{}[{}]", ti.task_id, ti.map_index),
        ti.try_number);
    int stopped = executor::stop_try_processes(target);
    if (stopped > 0) {
        spdlog::warn("{} / {} / {}: stopped {} process(es) left by try {}", ti.dag_id, ti.run_id,
                     ti.task_id, stopped, ti.try_number);
    }
}

void Engine::sync_dags() {
    auto now = clock_.now_ms();
    std::map<std::string, std::shared_ptr<const dag::Dag>, std::less<>> fresh;
    for (auto& d : folder_.dags()) fresh.emplace(d->dag_id, d);
    auto stored = store_.list_dags();
    if (stored) {
        for (auto& rec : *stored) records_[rec.dag_id] = rec;
    }
    for (const auto& [id, d] : fresh) {
        auto it = records_.find(id);
        store::DagRecord rec;
        if (it != records_.end()) {
            rec = it->second;
        } else {
            rec.dag_id = id;
            rec.is_paused = options_.unpause_new_dags ? false : d->is_paused_upon_creation;
        }
        bool changed = it == records_.end() || !rec.is_active || rec.fileloc != d->fileloc;
        rec.is_active = true;
        rec.fileloc = d->fileloc;
        rec.last_parsed = now;
        if (changed) {
            if (auto r = store_.upsert_dag(rec); !r) {
                spdlog::error("cannot record DAG {}: {}", id, r.error().message);
            }
        }
        records_[id] = rec;
    }
    for (auto& [id, rec] : records_) {
        if (!fresh.contains(id) && rec.is_active) {
            rec.is_active = false;
            (void)store_.upsert_dag(rec);
        }
    }
    dags_ = std::move(fresh);
    watch_services();
    // Runs of a DAG whose file is gone run nothing more; a broken file (an import error)
    // only holds them until it loads again.
    store::Changes retired;
    for (const auto& [key, ar] : runs_) {
        const auto& id = key.first;
        if (dags_.contains(id) || !ar.retired.empty() || dag_file_broken(id)) continue;
        retire_runs(id, fmt::format("DAG '{}' is no longer in the DAG folder", id), retired);
    }
    carried_.tasks.insert(carried_.tasks.end(), retired.tasks.begin(), retired.tasks.end());
    for (const auto& [key, ar] : runs_) dirty_.insert(key);  // held runs may go on
    request_flush();
    std::vector<store::ImportError> errors;
    for (const auto& e : folder_.import_errors()) {
        store::ImportError se;
        se.filename = e.filename;
        se.message = e.line > 0 ? fmt::format("{}:{}: {}", e.filename, e.line, e.message)
                                : fmt::format("{}: {}", e.filename, e.message);
        se.timestamp = e.timestamp;
        errors.push_back(std::move(se));
    }
    if (auto r = store_.replace_import_errors(errors); !r) {
        spdlog::error("cannot record import errors: {}", r.error().message);
    }
}

void Engine::load_dags() {
    folder_.scan();
    sync_dags();
}

void Engine::housekeeping() {
    if (!beat(false)) return;
    auto scan = folder_.scan();
    if (!scan.folder_error.empty()) {
        spdlog::warn("DAG folder: {}", scan.folder_error);
    } else {
        folder_scanned_ = true;
    }
    bool first = dags_.empty() && records_.empty();
    if (first || !scan.added.empty() || !scan.changed.empty() || !scan.removed.empty() ||
        scan.import_errors_changed) {
        for (const auto& id : scan.added) spdlog::info("DAG {} loaded", id);
        for (const auto& id : scan.changed) spdlog::info("DAG {} reloaded", id);
        for (const auto& id : scan.removed) spdlog::info("DAG {} removed", id);
        sync_dags();
    } else if (auto stored = store_.list_dags(); stored) {
        // Switches flipped by other processes (the CLI's pause and unpause).
        for (auto& rec : *stored) {
            auto it = records_.find(rec.dag_id);
            if (it != records_.end() && it->second.is_paused != rec.is_paused) {
                for (auto& [key, ar] : runs_) {
                    if (key.first == rec.dag_id) dirty_.insert(key);
                }
            }
            records_[rec.dag_id] = rec;
        }
    }
    load_unfinished_runs();
    poll_trigger_waits();
    count_others_running();
    refresh_pools();
    schedule_runs();
    if (!dirty_.empty()) request_flush();
}

void Engine::load_unfinished_runs() {
    // `dags test` works only on the run it creates; the API's and the CLI's engines run nothing.
    if (!options_.only_dag.empty() || !options_.execute || fenced_) return;
    const Millis now = clock_.now_ms();
    store::ClaimRequest claim;
    claim.owner = options_.owner;
    claim.dead_before = now - static_cast<Millis>(options_.scheduler_timeout.count());
    claim.other_schedulers_dead = options_.sole_scheduler && !claimed_once_;
    // A sole scheduler takes everything; one of several takes a batch per look.
    const bool everything = options_.sole_scheduler;
    claim.limit = everything ? 1000 : std::max(1, options_.claim_batch);
    store::Changes changes;
    // Nothing of a claimed run is running anywhere: its busy tries were left by a scheduler
    // that stopped, and are recovered by their policy.
    auto take = [&](store::DagRun run, std::vector<store::TaskInstance>* known) {
        RunKey key{run.dag_id, run.run_id};
        if (runs_.contains(key)) return;
        if (!can_adopt(run.dag_id)) {
            unadopted_.insert(std::move(key));
            return;
        }
        Result<std::vector<store::TaskInstance>> tis = std::vector<store::TaskInstance>();
        if (known != nullptr) {
            *tis = std::move(*known);
        } else {
            tis = store_.task_instances(run.dag_id, run.run_id);
        }
        if (!tis) {
            unadopted_.insert(std::move(key));
            return;
        }
        unadopted_.erase(key);
        adopt_run(std::move(run), std::move(*tis), true, now, changes);
    };
    // The task instances of a claimed batch, one query per DAG rather than one per run.
    auto take_all = [&](std::vector<store::DagRun> batch) {
        std::map<std::string, std::vector<std::string>> by_dag;
        for (const auto& run : batch) {
            if (!runs_.contains({run.dag_id, run.run_id}) && can_adopt(run.dag_id)) {
                by_dag[run.dag_id].push_back(run.run_id);
            }
        }
        std::map<RunKey, std::vector<store::TaskInstance>> tis;
        std::set<std::string> read;
        for (const auto& [dag_id, run_ids] : by_dag) {
            auto found = store_.task_instances_of_runs(dag_id, run_ids);
            if (!found) continue;  // each run is then read alone
            read.insert(dag_id);
            for (auto& ti : *found) tis[{ti.dag_id, ti.run_id}].push_back(std::move(ti));
        }
        for (auto& run : batch) {
            const bool known = read.contains(run.dag_id);
            auto& mine = tis[{run.dag_id, run.run_id}];
            take(std::move(run), known ? &mine : nullptr);
        }
    };
    for (const auto& key : std::set<RunKey>(unadopted_)) {
        auto run = store_.get_run(key.first, key.second);
        if (!run) continue;
        if (!run->has_value() || (*run)->owner != options_.owner ||
            !((*run)->state == RunState::kQueued || (*run)->state == RunState::kRunning)) {
            unadopted_.erase(key);  // deleted, or taken by another scheduler meanwhile
            continue;
        }
        take(std::move(**run), nullptr);
    }
    for (int round = 0; round < 100; ++round) {
        auto claimed = store_.claim_runs(claim);
        if (!claimed) {
            spdlog::error("cannot claim unfinished runs: {}", claimed.error().message);
            break;
        }
        if (!claimed->empty()) {
            spdlog::info("claimed {} run(s) that no scheduler was working on", claimed->size());
        }
        const bool full = static_cast<int>(claimed->size()) == claim.limit;
        take_all(std::move(*claimed));
        claimed_once_ = true;
        claim.other_schedulers_dead = false;  // their rows are gone now
        more_to_claim_ = full && !everything;
        if (!full || !everything) break;
    }
    // One of several schedulers claims a batch at a time, and the next one when its own queue
    // runs low (when its runs end), so that the others share a burst of runs.
    if (more_to_claim_ && queued_runs() < options_.claim_batch) claim_now();
    if (!changes.empty()) {
        auto r = store_.commit(changes);
        if (!r) spdlog::error("cannot record recovered tries: {}", r.error().message);
        fire_staged_callbacks(bool(r));
    }
}

bool Engine::can_adopt(const std::string& dag_id) const {
    // A run whose DAG file is broken, or not read yet, waits for it.
    return find_dag(dag_id) || (!dag_file_broken(dag_id) && folder_scanned_);
}

void Engine::adopt_run(store::DagRun run, std::vector<store::TaskInstance> tis, bool recovering,
                       Millis now, store::Changes& changes) {
    RunKey key{run.dag_id, run.run_id};
    auto dag = find_dag(run.dag_id);
    run.owner = options_.owner;
    ActiveRun ar;
    ar.run = std::move(run);
    ar.dag = dag;
    bool foreign = false;
    for (auto& ti : tis) {
        if (is_busy(ti.state) && !recovering && ti.owner != options_.owner) foreign = true;
        if (ti.output_json && ti.map_index < 0) {
            boost::system::error_code ec;
            auto v = json::parse(*ti.output_json, ec);
            if (!ec) ar.outputs[ti.task_id] = std::move(v);
        }
    }
    if (foreign) return;  // another scheduler is working on it
    take_instances(ar, std::move(tis));
    const store::DagRun& r = ar.run;
    if (recovering) {
        for_each_instance(ar, [&](store::TaskInstance& ti) {
            const std::string& id = ti.task_id;
            const dag::Task* task = dag ? dag->find_task(id) : nullptr;
            if (is_busy(ti.state)) stop_leftover_processes(ti);
            if (ti.state == TaskState::kRunning && task != nullptr &&
                resume_trigger_wait(key, *task, ti)) {
                return;  // a trigger_dag try waiting for its child keeps waiting
            }
            if (ti.state == TaskState::kRunning) {
                spdlog::warn("{} / {} / {}: try {} was running when the scheduler stopped",
                             r.dag_id, r.run_id, id, ti.try_number);
                const std::string why = "the scheduler stopped while this try was running";
                if (task != nullptr) {
                    fail_try(ar, *task, ti, now, why, changes);
                } else {
                    ti.max_tries = ti.try_number;  // no retry of a task that is gone
                    fail_try(ar, dag::Task{}, ti, now, why, changes);
                }
                write_log(key, id, ti.try_number, {why + "; the try counts as failed"},
                          ti.map_index);
            } else if (ti.state == TaskState::kQueued) {
                // Waiting for a free command slot: it never started, so it is no failure.
                store::TaskTry never = try_record(ti, TaskState::kNone, now);
                never.end_date = now;
                never.error = "never started: the scheduler stopped first";
                changes.tries.push_back(std::move(never));
                ti.try_number = std::max(0, ti.try_number - 1);
                ti.state = TaskState::kNone;
                ti.pid = 0;
                ti.process_identity.clear();
                changes.tasks.push_back(ti);
            } else if (ti.state == TaskState::kScheduled) {
                ti.state = TaskState::kNone;
                changes.tasks.push_back(ti);
            }
        });
    }
    if (!dag) {
        // Its file is gone: the run ends, and nothing of it starts.
        std::string reason = fmt::format("DAG '{}' is no longer in the DAG folder", r.dag_id);
        for_each_instance(ar, [&](store::TaskInstance& ti) {
            if (store::is_finished(ti.state)) return;
            ti.state = TaskState::kRemoved;
            ti.end_date = now;
            ti.next_try_at.reset();
            ti.note = reason;
            changes.tasks.push_back(ti);
        });
        ar.run.state = RunState::kFailed;
        ar.run.end_date = now;
        ar.run.note = reason;
        changes.runs.push_back(ar.run);
        metrics_->runs_finished.add(label_pairs({{"dag_id", key.first}, {"state", "failed"}}));
        spdlog::warn("run {} / {} failed: {}", key.first, key.second, reason);
        return;
    }
    // Tasks added to the DAG since the run was created.
    for (const auto& task : dag->tasks) {
        if (!ar.tis.contains(task.task_id)) {
            auto ti = new_task_instance(ar.run, task);
            changes.tasks.push_back(ti);
            ar.tis.emplace(task.task_id, std::move(ti));
        }
    }
    runs_.emplace(key, std::move(ar));
    dirty_.insert(key);
}

void Engine::schedule_runs() {
    if (!options_.only_dag.empty() || !options_.execute || fenced_) return;
    Millis now = clock_.now_ms();
    for (const auto& [id, dag] : dags_) {
        if (is_paused(id) || dag->schedule.kind() == dag::ScheduleKind::kNone) continue;
        // Catch-up creates runs only as max_active_runs allows; the end of a run makes room
        // for the next one.
        for (int i = 0; i < 64 && !at_run_limit(*dag); ++i) {
            auto& rec = records_[id];
            auto interval = dag::next_data_interval(*dag, rec.last_scheduled_logical_date, now,
                                                    dag->catchup);
            if (!interval) break;
            TriggerRequest req;
            req.dag_id = id;
            req.run_id = "scheduled__" + dag::format_datetime(interval->start);
            req.logical_date = interval->start;
            req.run_type = store::RunType::kScheduled;
            auto created = trigger(req);
            if (created) {
                runs_[{id, *req.run_id}].run.data_interval_start = interval->start;
            } else if (created.error().code != ErrorCode::kConflict) {
                spdlog::error("cannot create scheduled run of {}: {}", id,
                              created.error().message);
                break;
            }
            rec.last_scheduled_logical_date = interval->start;
            (void)store_.upsert_dag(rec);
        }
    }
}

Result<store::DagRun> Engine::trigger(const TriggerRequest& request) {
    if (fenced_) {
        return Error{ErrorCode::kUnavailable,
                     "this scheduler stopped: another one presumed it dead and took its runs"};
    }
    auto dag = find_dag(request.dag_id);
    if (!dag) {
        return Error{ErrorCode::kNotFound, fmt::format("DAG '{}' not found", request.dag_id)};
    }
    auto params = request.checked_params && request.checked_dag == dag
                      ? Result<json::object>(*request.checked_params)
                      : dag::resolve_params(*dag, request.conf);
    if (!params) return params.error();
    Millis now = clock_.now_ms();
    Millis logical = request.logical_date.value_or(now);
    std::string run_id = request.run_id.value_or("manual__" + dag::format_datetime(logical));
    if (!valid_run_id(run_id)) {
        // The id is the caller's: only its start when it is long, and printable ASCII only.
        std::string shown = run_id.substr(0, 80);
        for (char& c : shown) {
            if (c < 0x20 || c > 0x7e) c = '?';
        }
        if (run_id.size() > 80) shown += "...";
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("run id '{}' must match ^[A-Za-z0-9_.~:+-]{{1,250}}$ and be "
                                 "neither '.' nor '..'",
                                 shown)};
    }
    store::DagRun run;
    run.dag_id = request.dag_id;
    run.run_id = run_id;
    run.run_type = request.run_type;
    run.state = RunState::kQueued;
    run.logical_date = logical;
    run.data_interval_start = logical;
    run.data_interval_end = logical;
    run.queued_at = now;
    run.conf_json = json::serialize(request.conf);
    run.note = request.note;
    run.external_trigger = request.run_type == store::RunType::kManual;
    run.owner = options_.execute ? options_.owner : std::string();
    run.parent_dag_id = request.parent_dag_id;
    run.parent_run_id = request.parent_run_id;
    run.parent_task_id = request.parent_task_id;
    run.trigger_depth = request.trigger_depth;
    if (request.run_type == store::RunType::kScheduled ||
        request.run_type == store::RunType::kBackfill) {
        if (auto next = dag->schedule.next_after(logical)) run.data_interval_end = *next;
    }
    std::vector<store::TaskInstance> tis;
    tis.reserve(dag->tasks.size());
    for (const auto& task : dag->tasks) tis.push_back(new_task_instance(run, task));
    auto created = store_.create_run(run, tis);
    if (!created && created.error().code == ErrorCode::kConflict && !request.run_id) {
        // Two default ids in the same millisecond: make the second one unique.
        for (int n = 2; n < 100 && !created; ++n) {
            run.run_id = fmt::format("{}_{}", run_id, n);
            for (auto& ti : tis) ti.run_id = run.run_id;
            created = store_.create_run(run, tis);
        }
    }
    if (!created) return created.error();
    if (!options_.execute) return *created;  // a scheduler claims it
    ActiveRun ar;
    ar.run = *created;
    ar.dag = dag;
    for (auto& ti : tis) ar.tis.emplace(ti.task_id, std::move(ti));
    ar.params = std::move(*params);
    ar.params_ready = true;
    RunKey key{created->dag_id, created->run_id};
    runs_[key] = std::move(ar);
    mark(key);
    return *created;
}

std::future<Result<store::DagRun>> Engine::trigger_async(TriggerRequest request) {
    auto promise = std::make_shared<std::promise<Result<store::DagRun>>>();
    auto future = promise->get_future();
    boost::asio::post(loop_, [this, promise, request = std::move(request)] {
        promise->set_value(trigger(request));
    });
    return future;
}

Result<void> Engine::set_paused(const std::string& dag_id, bool paused) {
    auto it = records_.find(dag_id);
    if (it == records_.end()) {
        return Error{ErrorCode::kNotFound, fmt::format("DAG '{}' not found", dag_id)};
    }
    it->second.is_paused = paused;
    if (auto r = store_.upsert_dag(it->second); !r) return r.error();
    for (auto& [key, ar] : runs_) {
        if (key.first == dag_id) mark(key);
    }
    return {};
}

void Engine::tick() {
    for (auto& [key, ar] : runs_) dirty_.insert(key);
    schedule_runs();
    flush();
}

void Engine::mark(const RunKey& key) {
    dirty_.insert(key);
    request_flush();
}

void Engine::request_flush() {
    if (flush_posted_ || stopped_) return;
    flush_posted_ = true;
    flush_asked_at_ = std::chrono::steady_clock::now();
    boost::asio::post(loop_, [this, alive = alive_] {
        if (*alive) flush();
    });
}

json::object Engine::context(const ActiveRun& ar) const {
    dag::RenderInputs in;
    in.dag_id = ar.run.dag_id;
    in.run_id = ar.run.run_id;
    in.params = ar.params;
    boost::system::error_code ec;
    auto conf = json::parse(ar.run.conf_json, ec);
    if (!ec && conf.is_object()) in.conf = conf.as_object();
    in.logical_date = ar.run.logical_date;
    in.data_interval_start = ar.run.data_interval_start;
    in.data_interval_end = ar.run.data_interval_end;
    in.task_outputs = ar.outputs;
    return dag::make_context(in);
}

bool Engine::start_try(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti, Millis now,
                       store::Changes& changes, std::vector<Dispatch>& dispatches) {
    ti.try_number += 1;
    // A command waits for a free process slot: queued until its process has started.
    const bool command = std::holds_alternative<dag::CommandSpec>(task.kind);
    ti.state = command ? TaskState::kQueued : TaskState::kRunning;
    if (!ti.start_date || ti.try_number == 1) ti.start_date = now;
    ti.queued_when = now;
    ti.end_date.reset();
    ti.next_try_at.reset();
    ti.owner = options_.owner;
    ti.hostname = hostname_;
    ti.served_by.clear();
    ti.pid = 0;
    ti.process_identity.clear();
    ti.operator_name = std::string(task.kind_name());
    ti.pool = task.pool;
    ti.pool_slots = task.pool_slots;
    store::TaskTry tr = try_record(ti, ti.state, now);
    if (const auto* trigger_spec = std::get_if<dag::TriggerDagSpec>(&task.kind)) {
        return start_trigger_try(ar, task, *trigger_spec, ti, tr, now, changes);
    }
    // Variables and connections are read here, on the loop, as the loop reads and writes the
    // store everywhere else (one lookup per variable or connection the task names).
    auto masker = std::make_shared<Masker>();
    auto ctx = context(ar);
    add_instance_context(ar, ti, ctx);
    auto attempt = prepare_attempt(task, std::move(ctx), &secrets_, *masker);
    if (!attempt) {
        std::string error = "cannot render the task: " + attempt.error().message;
        changes.tries.push_back(tr);
        fail_try(ar, task, ti, now, error, changes);
        write_log({ar.run.dag_id, ar.run.run_id}, ti.task_id, ti.try_number,
                  {fmt::format("try {} of {}", ti.try_number, ti.max_tries), error}, ti.map_index);
        return false;
    }
    attempt->dag_id = ti.dag_id;
    attempt->run_id = ti.run_id;
    attempt->task_id = ti.task_id;
    attempt->try_number = ti.try_number;
    if (auto* cmd = std::get_if<executor::RenderedCommand>(&attempt->work)) {
        // What the process is part of, as Airflow's AIRFLOW_CTX_* variables say it.
        cmd->env.emplace_back("ORQUESTRA_DAG_ID", ti.dag_id);
        cmd->env.emplace_back("ORQUESTRA_RUN_ID", ti.run_id);
        cmd->env.emplace_back("ORQUESTRA_TASK_ID", ti.task_id);
        cmd->env.emplace_back("ORQUESTRA_TRY_NUMBER", std::to_string(ti.try_number));
        if (ti.map_index >= 0) {
            cmd->env.emplace_back("ORQUESTRA_MAP_INDEX", std::to_string(ti.map_index));
        }
        cmd->env.emplace_back(
            std::string(executor::kTryMarkerVariable),
            executor::try_marker(
                options_.owner, ti.dag_id, ti.run_id,
                ti.map_index < 0 ? ti.task_id : fmt::format("{}[{}]", ti.task_id, ti.map_index),
                ti.try_number));
    }
    tr.rendered_json = masker->apply(describe_attempt(*attempt));
    changes.tasks.push_back(ti);
    changes.tries.push_back(tr);
    Dispatch d;
    d.key = {ar.run.dag_id, ar.run.run_id};
    d.task_id = ti.task_id;
    d.map_index = ti.map_index;
    d.attempt = std::move(*attempt);
    d.decided = std::chrono::steady_clock::now();
    if (!masker->empty()) d.masker = std::move(masker);
    d.log.push_back(fmt::format("try {} of {} started on {} ({} task, timeout {} ms)",
                                ti.try_number, ti.max_tries, hostname_, task.kind_name(),
                                d.attempt.timeout.count()));
    dispatches.push_back(std::move(d));
    return true;
}

void Engine::fail_try(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti, Millis now,
                      const std::string& error, store::Changes& changes) {
    ti.end_date = now;
    if (ti.try_number < ti.max_tries) {
        ti.state = TaskState::kUpForRetry;
        ti.next_try_at = now + retry_delay(task, ti.try_number + 1);
    } else {
        ti.state = TaskState::kFailed;
        ti.next_try_at.reset();
    }
    changes.tasks.push_back(ti);
    store::TaskTry tr = try_record(ti, TaskState::kFailed, ti.queued_when.value_or(now));
    tr.end_date = now;
    tr.error = error;
    changes.tries.push_back(tr);
    metrics_->tries.add(label_pairs({{"kind", ti.operator_name}, {"state", "failed"}}));
    stage_task_callback(ar, task, ti, error);
}

void Engine::evaluate(ActiveRun& ar, Millis now, store::Changes& changes,
                      std::vector<Dispatch>& dispatches) {
    const dag::Dag& dag = *ar.dag;
    const RunKey key{ar.run.dag_id, ar.run.run_id};
    if (!ar.retired.empty()) {
        if (ar.run.state == RunState::kQueued) {
            // Never started: it ends now (flush() sees every task finished).
            ar.run.state = RunState::kRunning;
            ar.run.start_date = now;
        }
        return;
    }
    // A DAG whose file is broken holds its runs until it loads again.
    if (!dags_.contains(dag.dag_id)) return;
    if (ar.run.state == RunState::kQueued) {
        if (is_paused(dag.dag_id)) return;
        int& running = running_runs_[dag.dag_id];
        if (running >= dag.max_active_runs) return;  // woken when a run of the DAG ends
        ++running;
        ar.run.state = RunState::kRunning;
        ar.run.start_date = now;
        ar.run.last_scheduling_decision = now;
        changes.runs.push_back(ar.run);
        metrics_->runs_started.add(label_pairs({{"dag_id", dag.dag_id}}));
    }
    if (ar.run.state != RunState::kRunning) return;
    if (!ar.params_ready) {
        boost::system::error_code ec;
        auto conf = json::parse(ar.run.conf_json, ec);
        auto params = dag::resolve_params(dag, !ec && conf.is_object() ? conf.as_object()
                                                                       : json::object());
        if (params) {
            ar.params = std::move(*params);
            ar.params_ready = true;
        } else {
            ar.run.note = "conf no longer valid for the DAG: " + params.error().message;
        }
    }
    int& busy = busy_tasks_[dag.dag_id];
    for (const auto& task : dag.tasks) {
        auto it = ar.tis.find(task.task_id);
        if (it == ar.tis.end()) continue;
        store::TaskInstance& ti = it->second;
        if (ar.mapped.contains(task.task_id)) {
            evaluate_mapped(ar, task, ti, busy, now, changes, dispatches);
            continue;
        }
        if (ti.state == TaskState::kNone) {
            std::vector<TaskState> upstream;
            upstream.reserve(task.upstream.size());
            for (const auto& up : task.upstream) upstream_states(ar, up, upstream);
            Readiness r = ar.params_ready ? evaluate_trigger(task.trigger_rule, upstream)
                                          : Readiness::kUpstreamFailed;
            if (r == Readiness::kWait) continue;
            if (r == Readiness::kSkip || r == Readiness::kUpstreamFailed) {
                ti.state = r == Readiness::kSkip ? TaskState::kSkipped : TaskState::kUpstreamFailed;
                ti.start_date = now;
                ti.end_date = now;
                changes.tasks.push_back(ti);
                continue;
            }
            if (task.is_mapped()) {
                expand_task(ar, task, ti, now, changes);
                if (ar.mapped.contains(task.task_id)) {
                    evaluate_mapped(ar, task, ti, busy, now, changes, dispatches);
                }
                continue;
            }
            consider_start(ar, task, ti, busy, now, changes, dispatches);
        } else if ((ti.state == TaskState::kUpForRetry && ti.next_try_at &&
                    *ti.next_try_at <= now) ||
                   ti.state == TaskState::kScheduled) {  // kScheduled: waits for a pool slot
            start_if_free(ar, task, ti, busy, now, changes, dispatches);
        }
    }
}

void Engine::consider_start(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti,
                            int& busy, Millis now, store::Changes& changes,
                            std::vector<Dispatch>& dispatches) {
    if (task.condition) {
        auto ctx = context(ar);
        add_instance_context(ar, ti, ctx);
        Masker masker;
        std::vector<std::string> missing;
        Result<json::value> v = json::value();
        if (auto added = add_secret_inputs(task, ctx, &secrets_, masker, &missing); !added) {
            v = added.error();
        } else {
            v = task.condition->render(ctx);
            if (!v && !missing.empty()) {
                v = Error{v.error().code, fmt::format("{}: {}", fmt::join(missing, "; "),
                                                      v.error().message)};
            }
        }
        if (!v) {
            v = Error{v.error().code, masker.apply(v.error().message)};
            ti.try_number = 1;
            ti.queued_when = now;
            ti.start_date = now;
            ti.max_tries = 1;  // a condition that cannot be evaluated is not retried
            std::string error =
                "condition `" + task.condition->source() + "` failed: " + v.error().message;
            fail_try(ar, task, ti, now, error, changes);
            write_log({ar.run.dag_id, ar.run.run_id}, ti.task_id, 1, {error}, ti.map_index);
            return;
        }
        if (!dag::truthy(*v)) {
            ti.state = TaskState::kSkipped;
            ti.start_date = now;
            ti.end_date = now;
            ti.note = "skipped: condition `" + task.condition->source() + "` is false";
            changes.tasks.push_back(ti);
            return;
        }
    }
    start_if_free(ar, task, ti, busy, now, changes, dispatches);
}

void Engine::start_if_free(ActiveRun& ar, const dag::Task& task, store::TaskInstance& ti,
                           int& busy, Millis now, store::Changes& changes,
                           std::vector<Dispatch>& dispatches) {
    if (busy >= ar.dag->max_active_tasks) {
        waiting_for_slot_[ar.run.dag_id].insert({ar.run.dag_id, ar.run.run_id});
        return;
    }
    if (start_in_pool(ar, task, ti, now, changes, dispatches)) ++busy;
}

void Engine::on_result(const RunKey& key, const std::string& task_id, int map_index,
                       int try_number, executor::AttemptResult result) {
    results_.push_back(Pending{key, task_id, try_number, std::move(result), map_index});
    mark(key);
}

void Engine::on_started(const RunKey& key, const std::string& task_id, int map_index,
                        int try_number, const executor::StartedProcess& process) {
    auto run = runs_.find(key);
    if (run == runs_.end()) return;
    store::TaskInstance* found = find_instance(run->second, task_id, map_index);
    if (found == nullptr) return;
    store::TaskInstance& ti = *found;
    if (ti.state != TaskState::kQueued || ti.try_number != try_number) return;
    ti.state = TaskState::kRunning;
    ti.pid = process.group;
    ti.process_identity = process.identity;
    carried_.tasks.push_back(ti);
    carried_.tries.push_back(try_record(ti, TaskState::kRunning, ti.queued_when.value_or(0)));
    request_flush();
}

void Engine::flush() {
    if (flush_posted_) metrics_->loop_lag.observe(seconds_since(flush_asked_at_));
    flush_posted_ = false;
    if (stopped_) return;
    Millis now = clock_.now_ms();
    store::Changes changes = std::move(carried_);
    carried_ = store::Changes{};
    std::vector<Dispatch> dispatches;
    std::set<std::string, std::less<>> freed;  // DAGs where a try ended: a slot is free
    std::set<std::string, std::less<>> freed_pools;  // pools where a try ended
    std::vector<std::tuple<RunKey, std::string, int, std::vector<std::string>, int>> logs;

    for (auto& p : results_) {
        auto run = runs_.find(p.key);
        if (run == runs_.end()) continue;
        ActiveRun& ar = run->second;
        store::TaskInstance* found = find_instance(ar, p.task_id, p.map_index);
        if (found == nullptr) continue;
        store::TaskInstance& ti = *found;
        if (!is_busy(ti.state) || ti.try_number != p.try_number) {
            spdlog::debug("ignoring a stale result for {} try {}", p.task_id, p.try_number);
            continue;
        }
        const dag::Task* task = ar.dag->find_task(p.task_id);
        ti.served_by = p.result.served_by;
        auto& lines = p.result.log;
        if (p.result.success) {
            ti.state = TaskState::kSuccess;
            ti.end_date = now;
            ti.output_json = p.result.output_json;
            if (p.result.output_json && ti.map_index < 0) {
                boost::system::error_code ec;
                auto v = json::parse(*p.result.output_json, ec);
                if (!ec) ar.outputs[ti.task_id] = std::move(v);
            }
            changes.tasks.push_back(ti);
            store::TaskTry tr = try_record(ti, TaskState::kSuccess, ti.queued_when.value_or(now));
            tr.end_date = now;
            tr.output_json = p.result.output_json;
            changes.tries.push_back(std::move(tr));
            metrics_->tries.add(
                label_pairs({{"kind", ti.operator_name}, {"state", "success"}}));
            if (task != nullptr) stage_task_callback(ar, *task, ti, "");
            lines.push_back(fmt::format("outcome: success{}",
                                        p.result.output_json ? ", output: " + *p.result.output_json
                                                             : ""));
        } else if (task != nullptr) {
            fail_try(ar, *task, ti, now, p.result.error, changes);
            lines.push_back("outcome: failed: " + p.result.error);
            lines.push_back(ti.state == TaskState::kUpForRetry
                                ? fmt::format("up for retry at {}",
                                              dag::format_datetime(*ti.next_try_at))
                                : "no tries left: the task failed");
        }
        logs.emplace_back(p.key, p.task_id, p.try_number, std::move(lines), p.map_index);
        // A mapped task's summary follows its instances even in a run that evaluates nothing
        // more (retired).
        if (p.map_index >= 0 && task != nullptr) {
            summarize_mapped(ar, *task, ar.tis[p.task_id], now);
        }
        dirty_.insert(p.key);
        freed.insert(p.key.first);
        freed_pools.insert(ti.pool);
    }
    results_.clear();
    wake_pool_waiters(freed_pools);
    for (const auto& dag_id : freed) {
        auto waiting = waiting_for_slot_.find(dag_id);
        if (waiting == waiting_for_slot_.end()) continue;
        dirty_.insert(waiting->second.begin(), waiting->second.end());
        waiting_for_slot_.erase(waiting);
    }
    count_busy();

    std::vector<RunKey> finished;
    for (const auto& key : dirty_) {
        auto run = runs_.find(key);
        if (run == runs_.end()) continue;
        ActiveRun& ar = run->second;
        evaluate(ar, now, changes, dispatches);
        if (ar.run.state != RunState::kRunning) continue;
        bool all_finished = std::all_of(ar.tis.begin(), ar.tis.end(), [](const auto& kv) {
            return store::is_finished(kv.second.state);
        });
        if (!all_finished) continue;
        std::vector<store::TaskInstance> all;
        all.reserve(ar.tis.size());
        for (const auto& [id, ti] : ar.tis) all.push_back(ti);
        auto outcome = ar.retired.empty() ? run_outcome(*ar.dag, all)
                                          : std::optional<RunState>(RunState::kFailed);
        if (outcome) {
            ar.run.state = *outcome;
            ar.run.end_date = now;
            ar.run.last_scheduling_decision = now;
            changes.runs.push_back(ar.run);
            finished.push_back(key);
            stage_run_callback(ar);
        }
    }
    dirty_.clear();
    dirty_.insert(spawned_.begin(), spawned_.end());  // evaluated at the next flush
    spawned_.clear();

    bool durable = true;
    if (!changes.empty()) {
        metrics_->flush_size.observe(
            static_cast<double>(changes.runs.size() + changes.tasks.size() + changes.tries.size()));
        const auto commit_started = std::chrono::steady_clock::now();
        auto committed = store_.commit(changes);
        metrics_->commit_duration.observe(seconds_since(commit_started));
        if (!committed) metrics_->commit_failures.fetch_add(1, std::memory_order_relaxed);
        if (auto& r = committed; !r) {
            // Nothing that depends on these changes may start: keep the tries undispatched
            // and fail them so their retry policy decides.
            spdlog::error("cannot commit scheduler changes: {}", r.error().message);
            durable = false;
            for (auto& d : dispatches) {
                results_.push_back(Pending{d.key, d.task_id, d.attempt.try_number,
                                           executor::AttemptResult{false, std::nullopt,
                                                                   "the store failed: " +
                                                                       r.error().message,
                                                                   "",
                                                                   {}},
                                           d.map_index});
                dirty_.insert(d.key);
            }
            dispatches.clear();
            boost::asio::post(loop_, [this, alive = alive_] {
                if (*alive) request_flush();
            });
        }
    }
    for (auto& [key, task_id, try_number, lines, map_index] : logs) {
        write_log(key, task_id, try_number, lines, map_index);
    }
    fire_staged_callbacks(durable);
    for (const auto& key : finished) {
        auto run = runs_.find(key);
        store::DagRun done = run->second.run;
        runs_.erase(run);
        spdlog::info("run {} / {} finished: {}", done.dag_id, done.run_id,
                     store::to_string(done.state));
        metrics_->runs_finished.add(label_pairs(
            {{"dag_id", done.dag_id}, {"state", store::to_string(done.state)}}));
        for (auto& [k, ar] : runs_) {
            if (k.first == key.first && ar.run.state == RunState::kQueued) dirty_.insert(k);
        }
        for (const auto& l : listeners_) l(done);
    }
    if (!finished.empty()) {
        schedule_runs();  // room for catch-up runs held by max_active_runs
        // One of several schedulers whose last claim was full: more runs wait for a claim, and
        // this one is about to run out of its own.
        if (more_to_claim_ && queued_runs() < std::max(1, options_.claim_batch / 2)) claim_now();
    }
    metrics_->active_runs.store(static_cast<std::int64_t>(runs_.size()), std::memory_order_relaxed);
    if (!dirty_.empty()) request_flush();
    for (auto& d : dispatches) {
        write_log(d.key, d.task_id, d.attempt.try_number, d.log, d.map_index);
        auto key = d.key;
        auto task_id = d.task_id;
        const int map_index = d.map_index;
        int try_number = d.attempt.try_number;
        // Timings go to the metrics from the runner's threads: they outlive the engine.
        auto timing = std::make_shared<TryTiming>();
        timing->decided = d.decided;
        auto metrics = metrics_;
        const std::string kind = kind_labels(attempt_kind(d.attempt));
        if (std::holds_alternative<executor::RenderedCommand>(d.attempt.work)) {
            d.attempt.on_started = [this, &loop = loop_, alive = alive_, key, task_id, map_index,
                                    try_number, timing, metrics,
                                    kind](const executor::StartedProcess& process) {
                const auto running = std::chrono::steady_clock::now();
                timing->started_ns.store(steady_ns(running));
                metrics->queue_wait.observe(
                    kind, std::chrono::duration<double>(running - timing->decided).count());
                boost::asio::post(loop, [this, alive, key, task_id, map_index, try_number,
                                         process] {
                    if (*alive) on_started(key, task_id, map_index, try_number, process);
                });
            };
            // The command's output reaches its log while it runs (through the loop, so that
            // it lands before the lines of the try's end).
            d.attempt.on_log = [this, &loop = loop_, alive = alive_, key, task_id, map_index,
                                try_number, masker = d.masker](std::vector<std::string> lines) {
                if (masker) {
                    for (auto& line : lines) masker->apply_in_place(line);
                }
                boost::asio::post(loop, [this, alive, key, task_id, map_index, try_number,
                                         lines = std::move(lines)] {
                    if (*alive) write_log(key, task_id, try_number, lines, map_index);
                });
            };
        }
        // The runner may call back after the engine is gone (a command ending while the node
        // shuts down): only the loop, which outlives the engine, is touched before `alive`.
        if (!std::holds_alternative<executor::RenderedCommand>(d.attempt.work)) {
            const auto running = std::chrono::steady_clock::now();
            timing->started_ns.store(steady_ns(running));
            metrics->queue_wait.observe(
                kind, std::chrono::duration<double>(running - d.decided).count());
        }
        runner_.run(std::move(d.attempt), [this, &loop = loop_, alive = alive_, key, task_id,
                                           map_index, try_number, timing, metrics, kind,
                                           masker = std::move(d.masker)](
                                              executor::AttemptResult result) {
            // The try's secrets never reach its log, its error or the API.
            if (masker) {
                for (auto& line : result.log) masker->apply_in_place(line);
                masker->apply_in_place(result.error);
            }
            const std::int64_t started = timing->started_ns.load();
            if (started != 0) {
                const auto since = steady_ns(std::chrono::steady_clock::now());
                metrics->task_duration.observe(kind,
                                               static_cast<double>(since - started) / 1e9);
            }
            boost::asio::post(loop, [this, alive, key, task_id, map_index, try_number,
                                     result = std::move(result)]() mutable {
                if (*alive) on_result(key, task_id, map_index, try_number, std::move(result));
            });
        });
    }
    arm_timer();
}

void Engine::arm_timer() {
    std::optional<Millis> earliest;
    Millis now = clock_.now_ms();
    for (const auto& [key, ar] : runs_) {
        if (!ar.retired.empty()) continue;
        const auto waiting = waiting_for_slot_.find(key.first);
        const bool waits = waiting != waiting_for_slot_.end() && waiting->second.contains(key);
        for_each_instance(ar, [&](const store::TaskInstance& ti) {
            if (ti.state != TaskState::kUpForRetry || !ti.next_try_at) return;
            // A retry that is due but has no slot is woken by the end of a try, not a timer.
            if (*ti.next_try_at <= now && waits) return;
            earliest = earliest ? std::min(*earliest, *ti.next_try_at) : *ti.next_try_at;
        });
    }
    if (auto deadline = next_trigger_deadline()) {
        earliest = earliest ? std::min(*earliest, *deadline) : *deadline;
    }
    for (const auto& [id, dag] : dags_) {
        // A DAG at its max_active_runs gets its next scheduled run when one of them ends.
        if (is_paused(id) || options_.only_dag.size() > 0 || at_run_limit(*dag)) continue;
        auto rec = records_.find(id);
        auto upcoming = dag::upcoming_data_interval(
            *dag, rec == records_.end() ? std::nullopt : rec->second.last_scheduled_logical_date,
            now, dag->catchup);
        if (upcoming) earliest = earliest ? std::min(*earliest, upcoming->end) : upcoming->end;
    }
    wake_deadline_ = earliest;
    if (!earliest) {
        wake_timer_.cancel();
        return;
    }
    Millis wait = std::max<Millis>(0, *earliest - now);
    wake_timer_.expires_after(std::chrono::milliseconds(wait));
    wake_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
        if (ec || !*alive || stopped_) return;
        fire_timers();
    });
}

void Engine::fire_timers() {
    Millis now = clock_.now_ms();
    for (const auto& [key, ar] : runs_) {
        bool due = false;
        for_each_instance(ar, [&](const store::TaskInstance& ti) {
            due = due || (ti.state == TaskState::kUpForRetry && ti.next_try_at &&
                          *ti.next_try_at <= now);
        });
        if (due) dirty_.insert(key);
    }
    expire_trigger_waits(now);
    schedule_runs();
    flush();
}

std::vector<Engine::RunView> Engine::inspect() const {
    std::vector<RunView> out;
    out.reserve(runs_.size());
    Millis now = clock_.now_ms();
    for (const auto& [key, ar] : runs_) {
        RunView v;
        v.run = ar.run;
        const auto waiting = waiting_for_slot_.find(key.first);
        v.waits_for_slot = waiting != waiting_for_slot_.end() && waiting->second.contains(key);
        for_each_instance(ar, [&](const store::TaskInstance& ti) {
            if (ti.state == TaskState::kScheduled) v.waits_for_pool = true;
            v.tis.push_back(ti);
            if (ti.state == TaskState::kUpForRetry && ti.next_try_at &&
                (*ti.next_try_at > now || !v.waits_for_slot)) {
                v.wake_at = v.wake_at ? std::min(*v.wake_at, *ti.next_try_at) : *ti.next_try_at;
            }
        });
        out.push_back(std::move(v));
    }
    return out;
}

void Engine::write_log(const RunKey& key, const std::string& task_id, int try_number,
                       const std::vector<std::string>& lines, int map_index) {
    if (options_.log_dir.empty() || lines.empty()) return;
    std::string stamp = "[" + dag::format_datetime(clock_.now_ms()) + "] ";
    std::vector<std::string> stamped;
    stamped.reserve(lines.size());
    for (const auto& line : lines) stamped.push_back(stamp + line);
    logs_.append(log_path(key.first, key.second, task_id, try_number, map_index),
                 std::move(stamped));
}

void Engine::flush_logs() { logs_.drain(); }

}  // namespace orquestra::scheduler
