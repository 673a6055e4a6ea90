#include "app/commands.hpp"
#include "app/application.hpp"
#include "app/run.hpp"
#include "app/web_front.hpp"
#include "app/home_access.hpp"
#include "app/remote_directory.hpp"
#include "app/registry_events.hpp"

#include "api/users.hpp"
#include "dag/loader.hpp"
#include "dag/params.hpp"
#include "dag/time_text.hpp"
#include "core/strings.hpp"
#include "discovery/eureka_client.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <thread>

namespace orquestra::app {

namespace json = boost::json;

namespace {

int fail(std::string_view what) {
    std::fprintf(stderr, "orquestra: %.*s\n", static_cast<int>(what.size()), what.data());
    return 1;
}

Result<json::object> parse_conf(const std::string& text) {
    if (text.empty()) return json::object();
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    if (ec) return Error{ErrorCode::kInvalidArgument, "--conf is not valid JSON: " + ec.message()};
    if (!v.is_object()) return Error{ErrorCode::kInvalidArgument, "--conf must be a JSON object"};
    return v.as_object();
}

// Loads the DAG folder once (what the CLI commands that do not run a scheduler need).
struct Folder {
    explicit Folder(const HomePaths& paths) : folder(paths.dags, SystemClock::instance()) {
        folder.scan();
    }
    dag::DagFolder folder;
};

std::string kind_summary(const dag::Task& t) {
    if (const auto* h = std::get_if<dag::HttpSpec>(&t.kind)) {
        return fmt::format("http {} {}{}", h->method, h->service ? *h->service : *h->url,
                           h->path.source());
    }
    if (const auto* c = std::get_if<dag::CommandSpec>(&t.kind)) {
        if (c->script) return "command: " + *c->script;
        std::vector<std::string> argv;
        for (const auto& a : c->argv) argv.push_back(a.source());
        return "command: " + fmt::format("{}", fmt::join(argv, " "));
    }
    if (const auto* g = std::get_if<dag::TriggerDagSpec>(&t.kind)) {
        return fmt::format("trigger_dag {}{}", g->dag_id.source(), g->wait ? ", waits" : "");
    }
    const auto& w = std::get<dag::WaitForServiceSpec>(t.kind);
    return fmt::format("wait_for_service {} (≥ {} UP)", w.service, w.min_instances);
}

discovery::ChoiceOptions choice_options(const CommonFlags& flags) {
    discovery::ChoiceOptions options;
    options.zone = flags.zone;
    return options;
}

}  // namespace

void record_cli_event(store::Store& store, std::string event, const std::string& dag_id,
                      const std::string& run_id, std::string extra) {
    store::EventLog e;
    e.when = SystemClock::instance().now_ms();
    e.event = std::move(event);
    e.owner = "cli";
    e.dag_id = dag_id;
    e.run_id = run_id;
    e.extra = std::move(extra);
    if (auto r = store.add_event_log(e); !r) {
        std::fprintf(stderr, "orquestra: warning: not recorded in the audit log: %s\n",
                     r.error().message.c_str());
    }
}

int cmd_db(const CommonFlags& flags, const std::string& action) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    auto v = (*s)->schema_version();
    std::error_code ec;
    std::filesystem::create_directories(paths.dags, ec);
    std::printf("%s: database %s at schema version %d\n", action.c_str(),
                paths.database_shown().c_str(), v ? *v : -1);
    return 0;
}

int cmd_dags_list(const CommonFlags& flags) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    Folder f(paths);
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    std::printf("%-32s %-8s %-12s %-10s %s\n", "dag_id", "paused", "owner", "schedule",
                "fileloc");
    for (const auto& d : f.folder.dags()) {
        auto rec = (*s)->get_dag(d->dag_id);
        bool paused = rec && *rec ? (*rec)->is_paused : d->is_paused_upon_creation;
        std::printf("%-32s %-8s %-12s %-10s %s\n", d->dag_id.c_str(), paused ? "True" : "False",
                    d->default_args.owner.c_str(),
                    d->schedule.text().empty() ? "None" : d->schedule.text().c_str(),
                    d->fileloc.c_str());
    }
    // Failed files are named here too: a file that declares a dag_id another file already
    // has is one of them, its message naming the file that keeps the DAG.
    const auto errors = f.folder.import_errors();
    if (!errors.empty()) {
        std::printf("%zu file(s) failed to load (orquestra dags list-import-errors):\n",
                    errors.size());
        for (const auto& e : errors) {
            const auto newline = e.message.find('\n');
            std::printf("  %s: %s\n", e.filename.c_str(), e.message.substr(0, newline).c_str());
        }
    }
    return 0;
}

int cmd_dags_list_import_errors(const CommonFlags& flags) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    Folder f(paths);
    auto errors = f.folder.import_errors();
    if (errors.empty()) {
        std::printf("No import errors in %s\n", paths.dags.c_str());
        return 0;
    }
    for (const auto& e : errors) {
        if (e.line > 0) {
            std::printf("%s:%d: %s\n", e.filename.c_str(), e.line, e.message.c_str());
        } else {
            std::printf("%s: %s\n", e.filename.c_str(), e.message.c_str());
        }
    }
    return 1;
}

int cmd_dags_trigger(const CommonFlags& flags, const std::string& dag_id,
                     const std::string& conf_text, const std::string& run_id) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto conf = parse_conf(conf_text);
    if (!conf) return fail(conf.error().message);
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    dag::DagFolder folder(paths.dags, SystemClock::instance());
    boost::asio::io_context io;
    executor::CommandTaskRunner unused(1);
    scheduler::EngineOptions opts;
    opts.log_dir = paths.logs;
    opts.execute = false;  // the scheduler claims the run
    scheduler::Engine engine(io, **s, folder, unused, SystemClock::instance(), opts);
    engine.load_dags();
    scheduler::TriggerRequest req;
    req.dag_id = dag_id;
    req.conf = *conf;
    if (!run_id.empty()) req.run_id = run_id;
    auto run = engine.trigger(req);
    if (!run) return fail(run.error().message);
    record_cli_event(**s, "trigger", dag_id, run->run_id,
                     json::serialize(json::object{
                         {"logical_date", dag::format_datetime(run->logical_date)}}));
    std::printf("Created run %s of %s (state %s, logical date %s)\n", run->run_id.c_str(),
                dag_id.c_str(), std::string(store::to_string(run->state)).c_str(),
                dag::format_datetime(run->logical_date).c_str());
    auto rec = (*s)->get_dag(dag_id);
    if (rec && *rec && (*rec)->is_paused) {
        std::printf("The DAG is paused: the run waits until `orquestra dags unpause %s`.\n",
                    dag_id.c_str());
    }
    return 0;
}

int cmd_dags_pause(const CommonFlags& flags, const std::string& dag_id, bool paused) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    dag::DagFolder folder(paths.dags, SystemClock::instance());
    boost::asio::io_context io;
    executor::CommandTaskRunner unused(1);
    scheduler::EngineOptions opts;
    opts.execute = false;
    scheduler::Engine engine(io, **s, folder, unused, SystemClock::instance(), opts);
    engine.load_dags();
    if (auto r = engine.set_paused(dag_id, paused); !r) return fail(r.error().message);
    record_cli_event(**s, paused ? "pause" : "unpause", dag_id, {}, {});
    std::printf("Dag: %s, paused: %s\n", dag_id.c_str(), paused ? "True" : "False");
    return 0;
}

int cmd_dags_show(const CommonFlags& flags, const std::string& dag_id) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    Folder f(paths);
    auto d = f.folder.find(dag_id);
    if (!d) return fail(fmt::format("DAG '{}' not found in {}", dag_id, paths.dags.string()));
    std::printf("%s%s%s\n", d->dag_id.c_str(), d->description.empty() ? "" : " — ",
                d->description.c_str());
    for (const auto& t : d->tasks) {
        std::string line = fmt::format("  {} [{}]", t.task_id, kind_summary(t));
        if (!t.upstream.empty()) {
            line += fmt::format("\n      after {}", fmt::join(t.upstream, ", "));
            if (t.trigger_rule != dag::TriggerRule::kAllSuccess) {
                line += fmt::format(" ({})", dag::to_string(t.trigger_rule));
            }
        }
        if (t.condition) line += fmt::format("\n      when {}", t.condition->source());
        if (!t.downstream.empty()) line += fmt::format("\n      >> {}", fmt::join(t.downstream, ", "));
        std::printf("%s\n", line.c_str());
    }
    return 0;
}

int cmd_dags_test(const CommonFlags& flags, const std::string& dag_id,
                  const std::string& conf_text) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto conf = parse_conf(conf_text);
    if (!conf) return fail(conf.error().message);
    RemoteDirectory directory(flags);
    http::IoPool pool(1);
    pool.start();
    scheduler::EngineOptions opts;
    opts.ignore_pause = true;
    opts.only_dag = dag_id;
    // Its heartbeat goes with each look (every second): a scheduler on the same database would
    // take a run whose owner has not beaten for 30 s.
    WorkflowNode node(paths, *directory, pool, SystemClock::instance(), opts,
                      choice_options(flags));
    if (auto r = node.start(); !r) return fail(r.error().message);
    std::promise<store::DagRun> finished;
    auto future = finished.get_future();
    const std::string test_run_id = "test__" + dag::format_datetime(SystemClock::instance().now_ms());
    // The runs its trigger_dag tasks start run here too: the test ends when its own run and
    // every run it started have ended (listeners run on the loop, one at a time).
    std::optional<store::DagRun> own_run;
    bool reported = false;
    auto run = node.call([&]() -> Result<store::DagRun> {
        node.engine().add_run_listener([&](const store::DagRun& r) {
            if (r.dag_id == dag_id && r.run_id == test_run_id) own_run = r;
            if (own_run && !reported && node.engine().active_runs() == 0) {
                reported = true;
                finished.set_value(*own_run);
            }
        });
        scheduler::TriggerRequest req;
        req.dag_id = dag_id;
        req.conf = *conf;
        req.run_id = test_run_id;
        return node.engine().trigger(req);
    });
    if (!run) {
        pool.stop();
        return fail(run.error().message);
    }
    std::printf("Testing %s, run %s\n", dag_id.c_str(), run->run_id.c_str());
    auto done = future.get();
    auto tis = node.store().task_instances(dag_id, done.run_id);
    auto dag = node.call([&] { return node.engine().find_dag(dag_id); });
    if (tis && dag) {
        for (const auto& task : dag->tasks) {
            for (const auto& ti : *tis) {
                if (ti.task_id != task.task_id) continue;
                // A mapped task's instances as task_id[map_index].
                const std::string name =
                    ti.map_index < 0 ? ti.task_id : fmt::format("{}[{}]", ti.task_id, ti.map_index);
                std::printf("  %-28s %-16s", name.c_str(),
                            std::string(store::to_string(ti.state)).c_str());
                if (ti.output_json) std::printf(" output: %s", ti.output_json->c_str());
                if (!ti.note.empty()) std::printf(" (%s)", ti.note.c_str());
                auto tries = node.store().tries(dag_id, done.run_id, ti.task_id, ti.map_index);
                if (tries && !tries->empty() && !tries->back().error.empty()) {
                    std::printf(" error: %s", tries->back().error.c_str());
                }
                std::printf("\n");
            }
        }
    }
    std::printf("Run %s: %s (logs under %s)\n", done.run_id.c_str(),
                std::string(store::to_string(done.state)).c_str(),
                (paths.logs / dag_id / done.run_id).c_str());
    pool.stop();
    node.stop();
    return done.state == store::RunState::kSuccess ? 0 : 1;
}

int cmd_tasks_test(const CommonFlags& flags, const std::string& dag_id,
                   const std::string& task_id, const std::string& conf_text) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto conf = parse_conf(conf_text);
    if (!conf) return fail(conf.error().message);
    Folder f(paths);
    auto d = f.folder.find(dag_id);
    if (!d) return fail(fmt::format("DAG '{}' not found in {}", dag_id, paths.dags.string()));
    const dag::Task* task = d->find_task(task_id);
    if (!task) return fail(fmt::format("DAG '{}' has no task '{}'", dag_id, task_id));
    auto params = dag::resolve_params(*d, *conf);
    if (!params) return fail(params.error().message);
    dag::RenderInputs in;
    in.dag_id = dag_id;
    in.run_id = "tasks_test";
    in.params = *params;
    in.conf = *conf;
    in.logical_date = SystemClock::instance().now_ms();
    // Variables and connections the task reads come from the database (and the environment).
    std::unique_ptr<store::Store> db;
    std::optional<store::SecretKeySource> keys;
    std::optional<store::Secrets> secrets;
    if (!task->secret_reads.empty()) {
        auto s = open_store(paths, true);
        if (!s) return fail(s.error().message);
        db = std::move(*s);
        keys.emplace(paths.home, secret_key_from_environment());
        secrets.emplace(*db, *keys);
    }
    Masker masker;
    auto attempt = scheduler::prepare_attempt(*task, dag::make_context(in),
                                              secrets ? &*secrets : nullptr, masker);
    if (!attempt) return fail("cannot render the task: " + attempt.error().message);
    attempt->dag_id = dag_id;
    attempt->run_id = "tasks_test";
    attempt->task_id = task_id;
    RemoteDirectory directory(flags);
    http::IoPool pool(1);
    pool.start();
    boost::asio::io_context wait_io;
    discovery::InstanceChoice choice(choice_options(flags));
    executor::HttpTaskRunner http_runner(pool, *directory, choice);
    executor::CommandTaskRunner command_runner(1);
    executor::ServiceWaitRunner wait_runner(wait_io, *directory);
    executor::RunnerSet runners(http_runner, command_runner, wait_runner);
    std::promise<executor::AttemptResult> promise;
    auto future = promise.get_future();
    runners.run(std::move(*attempt), [&promise](executor::AttemptResult r) {
        promise.set_value(std::move(r));
    });
    std::thread waiter([&wait_io] {
        auto guard = boost::asio::make_work_guard(wait_io);
        wait_io.run_for(std::chrono::hours(24));
    });
    auto result = future.get();
    wait_io.stop();
    waiter.join();
    pool.stop();
    for (auto& line : result.log) {
        masker.apply_in_place(line);
        std::printf("%s\n", line.c_str());
    }
    masker.apply_in_place(result.error);
    if (result.success) {
        std::printf("Task %s: success%s%s\n", task_id.c_str(),
                    result.output_json ? ", output: " : "",
                    result.output_json ? result.output_json->c_str() : "");
        return 0;
    }
    std::printf("Task %s: failed: %s\n", task_id.c_str(), result.error.c_str());
    return 1;
}

int run_scheduler(const CommonFlags& flags, const SchedulerOptions& options) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    RemoteDirectory directory(flags);
    http::IoPool pool(thread_count(0));
    scheduler::EngineOptions engine_options;
    engine_options.scheduler_timeout = std::chrono::seconds(options.timeout_s);
    engine_options.default_pool_slots = options.default_pool_slots;
    WorkflowNode node(paths, *directory, pool, SystemClock::instance(), engine_options,
                      choice_options(flags));
    Application app;
    add_event_loops(app, pool);
    app.add(
        "scheduler",
        [&]() -> Result<void> {
            if (auto r = node.start(); !r) return r.error();
            feed_registry_events(*directory, node.engine());
            return {};
        },
        [&] { node.stop(); });
    if (auto r = app.start(); !r) return fail(r.error().message);
    spdlog::info("scheduler running: DAGs in {}, database {}, services from {}",
                 paths.dags.string(), paths.database_shown(),
                 http::url_without_credentials(flags.registry_url));
    wait_for_signal();
    app.stop();
    return 0;
}

namespace {

// An engine that runs nothing looks no service up.
class NoServices final : public discovery::ServiceDirectory {
public:
    std::vector<discovery::ServiceInstance> up_instances(const std::string&) override { return {}; }
    void subscribe(std::function<void(const std::string&)>) override {}
};

}  // namespace

int run_webserver(const CommonFlags& flags, const WebserverOptions& options) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    NoServices no_services;
    http::IoPool pool(thread_count(options.threads));
    scheduler::EngineOptions engine_options;
    engine_options.execute = false;  // runs are the schedulers' to claim
    WorkflowNode node(paths, no_services, pool, SystemClock::instance(), engine_options);
    std::optional<api::ApiServer> api;
    http::ServerOptions http_options;
    http_options.host = options.host;
    http_options.port = options.port;
    WebFront web(pool, http_options);
    Application app;
    web.add_listener(app);
    add_event_loops(app, pool);
    app.add("DAGs and database", [&] { return node.start(); }, [&] { node.stop(); });
    api::ApiOptions api_options;
    api_options.version = options.version;
    api_options.secure_cookies = options.secure_cookies;
    web.add_api(app, api, node, api_options);
    if (auto r = app.start(); !r) return fail(r.error().message);
    spdlog::info("webserver: REST API and console on http://{}:{}/ (DAGs in {}, database {}); "
                 "runs are started by the schedulers on the same database",
                 options.host, web.port(), paths.dags.string(), paths.database_shown());
    wait_for_signal();
    app.stop();
    return 0;
}

int cmd_users_create(const CommonFlags& flags, const UserFlags& user) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    api::UserSpec spec{user.username, user.password,  user.role,
                       user.email,    user.first_name, user.last_name};
    if (auto r = api::create_user(**s, spec); !r) return fail(r.error().message);
    std::printf("User \"%s\" created with role \"%s\"\n", user.username.c_str(),
                user.role.c_str());
    return 0;
}

int cmd_users_list(const CommonFlags& flags) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    auto users = (*s)->list_users();
    if (!users) return fail(users.error().message);
    std::printf("%-4s %-20s %-8s %-28s %s\n", "id", "username", "role", "email", "name");
    for (const auto& u : *users) {
        std::printf("%-4lld %-20s %-8s %-28s %s %s\n", static_cast<long long>(u.id),
                    u.username.c_str(), u.role.c_str(), u.email.c_str(), u.first_name.c_str(),
                    u.last_name.c_str());
    }
    return 0;
}

int cmd_users_delete(const CommonFlags& flags, const std::string& username) {
    auto paths = HomePaths::resolve(flags.home, flags.dags, flags.db);
    auto s = open_store(paths, true);
    if (!s) return fail(s.error().message);
    if (auto r = (*s)->delete_user(username); !r) return fail(r.error().message);
    std::printf("User \"%s\" deleted\n", username.c_str());
    return 0;
}

}  // namespace orquestra::app
