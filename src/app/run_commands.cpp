// The CLI commands that read or change runs in bulk: dags list-runs, tasks clear, dags
// backfill, db clean. Changes go through an engine that runs nothing (the engine is the only
// writer of runs); a run it puts back in the queue is claimed by a scheduler. Each change is
// recorded in the audit log with the owner "cli".

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <iostream>
#include <map>
#include <regex>

#include "app/commands.hpp"
#include "core/strings.hpp"
#include "dag/time_text.hpp"
#include "dag/dag_folder.hpp"
#include "executor/runners.hpp"
#include "scheduler/engine.hpp"
#include "store/schema.hpp"

namespace orquestra::app {

namespace json = boost::json;

namespace {

int fail(std::string_view what) {
    std::fprintf(stderr, "orquestra: %.*s\n", static_cast<int>(what.size()), what.data());
    return 1;
}

// An engine that runs nothing, over the DAG folder as it is now.
struct CliEngine {
    CliEngine(const HomePaths& paths, store::Store& store)
        : folder(paths.dags, SystemClock::instance()),
          engine(io, store, folder, unused, SystemClock::instance(), options(paths)) {
        engine.load_dags();
    }
    static scheduler::EngineOptions options(const HomePaths& paths) {
        scheduler::EngineOptions o;
        o.log_dir = paths.logs;
        o.execute = false;
        return o;
    }
    boost::asio::io_context io;
    dag::DagFolder folder;
    executor::CommandTaskRunner unused{1};
    scheduler::Engine engine;
};

void audit(store::Store& store, std::string event, const std::string& dag_id,
           const std::string& run_id, const json::object& extra) {
    record_cli_event(store, std::move(event), dag_id, run_id, json::serialize(extra));
}

Result<std::optional<Millis>> optional_date(const std::string& text, std::string_view flag) {
    if (text.empty()) return std::optional<Millis>{};
    auto t = dag::parse_datetime(text);
    if (!t) {
        return Error{ErrorCode::kInvalidArgument,
                     fmt::format("{} '{}': {}", flag, text, t.error().message)};
    }
    return std::optional<Millis>(*t);
}

std::string date_or_dash(std::optional<Millis> t) {
    return t ? dag::format_datetime(*t) : std::string("-");
}

}  // namespace

int cmd_dags_list_runs(const CommonFlags& flags, const std::string& dag_id,
                       const std::vector<std::string>& states) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    store::RunFilter filter;
    filter.dag_id = dag_id;
    for (const auto& text : states) {
        auto state = store::parse_run_state(text);
        if (!state) {
            return fail(fmt::format("--state '{}': use queued, running, success or failed", text));
        }
        filter.states.push_back(*state);
    }
    filter.order_by = "-logical_date";
    filter.limit = store::schema::kMaxPageLimit;
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    auto record = (*s)->get_dag(dag_id);
    if (!record) return fail(record.error().message);
    if (!record->has_value()) {
        return fail(fmt::format("DAG '{}' is not in the database (is its file in {} and has a "
                                "scheduler looked at it?)",
                                dag_id, paths.dags.string()));
    }
    std::printf("%-24s %-40s %-8s %-10s %-26s %-26s %s\n", "dag_id", "run_id", "state",
                "run_type", "logical_date", "start_date", "end_date");
    std::int64_t shown = 0;
    std::int64_t total = 0;
    for (int offset = 0;; offset += filter.limit) {
        filter.offset = offset;
        auto page = (*s)->list_runs(filter);
        if (!page) return fail(page.error().message);
        total = page->total;
        for (const auto& r : page->items) {
            std::printf("%-24s %-40s %-8s %-10s %-26s %-26s %s\n", r.dag_id.c_str(),
                        r.run_id.c_str(), std::string(store::to_string(r.state)).c_str(),
                        std::string(store::to_string(r.run_type)).c_str(),
                        dag::format_datetime(r.logical_date).c_str(),
                        date_or_dash(r.start_date).c_str(), date_or_dash(r.end_date).c_str());
            ++shown;
        }
        if (page->items.empty() || shown >= total) break;
    }
    if (total == 0) std::printf("(no runs)\n");
    return 0;
}

int cmd_tasks_clear(const CommonFlags& flags, const TasksClearFlags& clear) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto start = optional_date(clear.start_date, "--start-date");
    if (!start) return fail(start.error().message);
    auto end = optional_date(clear.end_date, "--end-date");
    if (!end) return fail(end.error().message);
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    CliEngine cli(paths, **s);
    auto dag = cli.engine.find_dag(clear.dag_id);
    if (!dag) {
        return fail(fmt::format("DAG '{}' is not loaded from {} (missing, or see `orquestra dags "
                                "list-import-errors`)",
                                clear.dag_id, paths.dags.string()));
    }
    scheduler::ClearRequest request;
    request.dag_id = clear.dag_id;
    request.runs.from = *start;
    request.runs.to = *end;
    request.only_failed = clear.only_failed;
    request.dry_run = true;
    if (!clear.task_regex.empty()) {
        std::vector<std::string> ids;
        try {
            const std::regex pattern(clear.task_regex, std::regex::ECMAScript);
            for (const auto& task : dag->tasks) {
                if (std::regex_search(task.task_id, pattern)) ids.push_back(task.task_id);
            }
        } catch (const std::regex_error& e) {
            return fail(fmt::format("-t '{}' is not a regular expression: {}", clear.task_regex,
                                    e.what()));
        }
        if (ids.empty()) {
            return fail(fmt::format("no task of DAG '{}' matches '{}'", clear.dag_id,
                                    clear.task_regex));
        }
        request.task_ids = std::move(ids);
    }
    auto preview = cli.engine.clear_tasks(request);
    if (!preview) return fail(preview.error().message);
    if (preview->empty()) {
        std::printf("No task instances to clear.\n");
        return 0;
    }
    std::printf("Task instances to clear:\n");
    for (const auto& t : *preview) {
        std::printf("  %s %s %s (%s)\n", t.ti.dag_id.c_str(), t.ti.run_id.c_str(),
                    t.ti.task_id.c_str(), std::string(store::to_string(t.ti.state)).c_str());
    }
    if (!clear.yes) {
        std::printf("Clear these %zu task instance(s)? [y/n] ", preview->size());
        std::fflush(stdout);
        std::string answer;
        if (!std::getline(std::cin, answer) || (answer != "y" && answer != "Y" && answer != "yes")) {
            std::printf("Nothing cleared.\n");
            return 1;
        }
    }
    request.dry_run = false;
    auto cleared = cli.engine.clear_tasks(request);
    if (!cleared) return fail(cleared.error().message);
    std::map<std::string, int> per_run;
    for (const auto& t : *cleared) ++per_run[t.ti.run_id];
    for (const auto& [run_id, n] : per_run) {
        audit(**s, "clear", clear.dag_id, run_id,
              json::object{{"task_instances", n}, {"only_failed", clear.only_failed}});
    }
    std::printf("Cleared %zu task instance(s) in %zu run(s); a scheduler runs them again.\n",
                cleared->size(), per_run.size());
    return 0;
}

int cmd_dags_backfill(const CommonFlags& flags, const std::string& dag_id,
                      const std::string& start_date, const std::string& end_date) {
    constexpr std::size_t kMaxBackfillRuns = 10'000;
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto start = optional_date(start_date, "--start-date");
    if (!start) return fail(start.error().message);
    auto end = optional_date(end_date, "--end-date");
    if (!end) return fail(end.error().message);
    if (!*start || !*end) return fail("dags backfill needs --start-date and --end-date");
    if (**end < **start) return fail("--end-date is before --start-date");
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    CliEngine cli(paths, **s);
    auto dag = cli.engine.find_dag(dag_id);
    if (!dag) {
        return fail(fmt::format("DAG '{}' is not loaded from {} (missing, or see `orquestra dags "
                                "list-import-errors`)",
                                dag_id, paths.dags.string()));
    }
    const auto kind = dag->schedule.kind();
    if (kind != dag::ScheduleKind::kInterval && kind != dag::ScheduleKind::kCron) {
        return fail(fmt::format("DAG '{}' has no recurring schedule: nothing to backfill "
                                "(trigger it instead)",
                                dag_id));
    }
    std::vector<Millis> points;
    for (auto t = dag->schedule.next_after(**start - 1); t && *t <= **end;
         t = dag->schedule.next_after(*t)) {
        if (points.size() == kMaxBackfillRuns) {
            return fail(fmt::format("the range holds more than {} schedule points: backfill a "
                                    "shorter range at a time",
                                    kMaxBackfillRuns));
        }
        points.push_back(*t);
    }
    int created = 0;
    int existing = 0;
    for (Millis point : points) {
        store::RunFilter same;
        same.dag_id = dag_id;
        same.logical_date_gte = point;
        same.logical_date_lte = point;
        same.limit = 1;
        auto found = (*s)->list_runs(same);
        if (!found) return fail(found.error().message);
        if (found->total > 0) {
            ++existing;
            continue;
        }
        scheduler::TriggerRequest request;
        request.dag_id = dag_id;
        request.logical_date = point;
        request.run_id = "backfill__" + dag::format_datetime(point);
        request.run_type = store::RunType::kBackfill;
        auto run = cli.engine.trigger(request);
        if (!run) {
            if (run.error().code == ErrorCode::kConflict) {
                ++existing;
                continue;
            }
            return fail(run.error().message);
        }
        std::printf("Queued %s\n", run->run_id.c_str());
        audit(**s, "backfill", dag_id, run->run_id, json::object{});
        ++created;
    }
    std::printf("Backfill of %s from %s to %s: %d run(s) queued, %d already there; the schedulers "
                "run at most %d of them at once (max_active_runs).\n",
                dag_id.c_str(), dag::format_datetime(**start).c_str(),
                dag::format_datetime(**end).c_str(), created, existing, dag->max_active_runs);
    auto record = (*s)->get_dag(dag_id);
    if (record && *record && (*record)->is_paused) {
        std::printf("The DAG is paused: its runs wait until `orquestra dags unpause %s`.\n",
                    dag_id.c_str());
    }
    return 0;
}

int cmd_db_clean(const CommonFlags& flags, const std::string& before_text, bool dry_run) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto before = optional_date(before_text, "--before");
    if (!before) return fail(before.error().message);
    if (!*before) return fail("db clean needs --before DATE");
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    // Finished runs that ended before the date (pages of ids first, deleted after: deleting
    // while paging would shift the pages).
    std::vector<std::pair<std::string, std::string>> doomed;
    std::map<std::string, int> per_dag;
    store::RunFilter filter;
    filter.states = {store::RunState::kSuccess, store::RunState::kFailed};
    filter.end_date_lte = **before - 1;
    filter.limit = store::schema::kMaxPageLimit;
    for (int offset = 0;; offset += filter.limit) {
        filter.offset = offset;
        auto page = (*s)->list_runs(filter);
        if (!page) return fail(page.error().message);
        for (const auto& r : page->items) {
            doomed.emplace_back(r.dag_id, r.run_id);
            ++per_dag[r.dag_id];
        }
        if (page->items.size() < static_cast<std::size_t>(filter.limit)) break;
    }
    std::printf("%s finished runs that ended before %s:\n", dry_run ? "Would delete" : "Deleting",
                dag::format_datetime(**before).c_str());
    for (const auto& [dag_id, n] : per_dag) std::printf("  %-32s %d run(s)\n", dag_id.c_str(), n);
    std::printf("  %zu run(s) in all, with their task instances, tries and log files\n",
                doomed.size());
    if (dry_run || doomed.empty()) return 0;
    CliEngine cli(paths, **s);
    std::size_t deleted = 0;
    std::size_t log_dirs = 0;
    for (const auto& [dag_id, run_id] : doomed) {
        if (auto r = cli.engine.delete_run(dag_id, run_id); !r) {
            std::fprintf(stderr, "orquestra: %s %s not deleted: %s\n", dag_id.c_str(),
                         run_id.c_str(), r.error().message.c_str());
            continue;
        }
        ++deleted;
        // The run's folder of logs: <logs>/<dag>/<run>/<task>/<try>.log.
        const auto dir = cli.engine.log_path(dag_id, run_id, "t", 1).parent_path().parent_path();
        std::error_code ec;
        if (std::filesystem::remove_all(dir, ec) > 0) ++log_dirs;
    }
    audit(**s, "db_clean", "", "",
          json::object{{"before", dag::format_datetime(**before)}, {"runs", deleted}});
    std::printf("Deleted %zu run(s) and %zu log folder(s).\n", deleted, log_dirs);
    return deleted == doomed.size() ? 0 : 1;
}

}  // namespace orquestra::app
