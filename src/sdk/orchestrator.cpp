// The Orchestrator: a WorkflowNode (the store, the DAG folder, the runners and the Engine on a
// loop thread, as `orquestra scheduler` and `dags test` compose them) over a registry reached
// through a RemoteDirectory. A DAG given in code becomes a file in the node's DAG folder, so
// the engine, the console and `orquestra dags ...` on the same home see it like any other.

#include "orquestra/orchestrator.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "app/remote_directory.hpp"
#include "app/workflow_node.hpp"
#include "dag/loader.hpp"

namespace orquestra {

namespace json = boost::json;

namespace {

// The directory of an Orchestrator without a registry: no service has an instance.
class NoServices final : public discovery::ServiceDirectory {
  public:
    std::vector<discovery::ServiceInstance> up_instances(const std::string&) override { return {}; }
    void subscribe(std::function<void(const std::string&)>) override {}
};

std::filesystem::path make_temp_home() {
    std::error_code ec;
    auto base = std::filesystem::temp_directory_path(ec);
    if (ec) base = "/tmp";
    std::string pattern = (base / "orquestra-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
        throw RunError(fmt::format("cannot create a temporary directory in {}", base.string()));
    }
    return pattern;
}

RunState run_state(store::RunState s) {
    switch (s) {
        case store::RunState::kQueued:
            return RunState::kQueued;
        case store::RunState::kRunning:
            return RunState::kRunning;
        case store::RunState::kSuccess:
            return RunState::kSuccess;
        case store::RunState::kFailed:
            break;
    }
    return RunState::kFailed;
}

bool finished(RunState s) { return s == RunState::kSuccess || s == RunState::kFailed; }

}  // namespace

const char* to_string(RunState state) {
    switch (state) {
        case RunState::kQueued:
            return "queued";
        case RunState::kRunning:
            return "running";
        case RunState::kSuccess:
            return "success";
        case RunState::kFailed:
            break;
    }
    return "failed";
}

struct Run::Engine {
    explicit Engine(OrchestratorOptions options) {
        if (!options.log_level.empty())
            spdlog::set_level(spdlog::level::from_str(options.log_level));
        std::filesystem::path home = options.home;
        if (home.empty()) {
            temp_home = make_temp_home();  // 0700
            home = temp_home;
            // Private from the start (WorkflowNode would make it so, with a warning).
            std::error_code ec;
            std::filesystem::create_directory(temp_home / "dags", ec);
            std::filesystem::permissions(temp_home / "dags", std::filesystem::perms::owner_all, ec);
        }
        paths = app::HomePaths::resolve(home.string(), "", options.db);
        if (options.registry_url.empty()) {
            directory = std::make_unique<NoServices>();
        } else {
            remote =
                std::make_unique<app::RemoteDirectory>(options.registry_url, options.registry_auth);
        }
        pool = std::make_unique<http::IoPool>(std::max(1, options.threads));
        pool->start();
        scheduler::EngineOptions engine_options;
        engine_options.unpause_new_dags = true;
        discovery::ChoiceOptions choice;
        choice.zone = options.zone;
        node = std::make_unique<app::WorkflowNode>(
            paths, remote ? static_cast<discovery::ServiceDirectory&>(**remote) : *directory, *pool,
            SystemClock::instance(), engine_options, choice);
        if (auto r = node->start(); !r) {
            shut_down();
            throw RunError(fmt::format("cannot start the engine: {}", r.error().message));
        }
        node->call([this] {
            node->engine().add_run_listener([this](const store::DagRun& run) {
                std::lock_guard lock(mu);
                done.emplace(run.dag_id, run.run_id);
                cv.notify_all();
            });
            return 0;
        });
    }
    ~Engine() { shut_down(); }

    void shut_down() {
        if (node) node->stop();
        if (pool) pool->stop();
        node.reset();
        remote.reset();
        pool.reset();
        if (!temp_home.empty()) {
            std::error_code ec;
            std::filesystem::remove_all(temp_home, ec);
        }
    }

    // The node while the Orchestrator lives; a Run kept longer gets a RunError.
    app::WorkflowNode& live() {
        if (!node) throw RunError("the Orchestrator this run belongs to has stopped");
        return *node;
    }

    store::DagRun get_run(const std::string& dag_id, const std::string& run_id) {
        auto r = live().store().get_run(dag_id, run_id);
        if (!r) throw RunError(r.error().message);
        if (!r->has_value()) {
            throw RunError(fmt::format("DAG '{}' has no run '{}'", dag_id, run_id));
        }
        return std::move(**r);
    }

    std::filesystem::path temp_home;
    app::HomePaths paths;
    std::unique_ptr<discovery::ServiceDirectory> directory;
    std::unique_ptr<app::RemoteDirectory> remote;
    std::unique_ptr<http::IoPool> pool;
    std::unique_ptr<app::WorkflowNode> node;
    std::mutex mu;
    std::condition_variable cv;
    std::set<std::pair<std::string, std::string>> done;  // runs finished since the start
};

Orchestrator::Orchestrator(OrchestratorOptions options)
    : engine_(std::make_shared<Run::Engine>(std::move(options))) {}

Orchestrator::~Orchestrator() { engine_->shut_down(); }

std::string Orchestrator::home() const { return engine_->paths.home.string(); }

void Orchestrator::add(const Dag& dag) {
    dag.validate();
    auto& e = *engine_;
    e.live();
    const auto file = e.paths.dags / (dag.id() + ".yaml");
    {
        const auto temp = e.paths.dags / ("." + dag.id() + ".yaml.tmp");
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << "# Written by a program through Orquestra's C++ library (orquestra::Dag).\n"
            << dag.to_yaml();
        out.close();
        std::error_code ec;
        if (!out) throw RunError(fmt::format("cannot write {}", temp.string()));
        std::filesystem::rename(temp, file, ec);
        if (ec) throw RunError(fmt::format("cannot write {}: {}", file.string(), ec.message()));
    }
    auto loaded = e.node->call([&]() -> Result<void> {
        e.node->engine().load_dags();
        if (!e.node->engine().find_dag(dag.id())) {
            return Error{ErrorCode::kInvalidArgument,
                         fmt::format("DAG '{}' did not load from {} (another file in {} "
                                     "defines it?)",
                                     dag.id(), file.string(), e.paths.dags.string())};
        }
        return e.node->engine().set_paused(dag.id(), false);
    });
    if (!loaded) throw RunError(loaded.error().message);
}

Run Orchestrator::trigger(const std::string& dag_id, const std::string& conf_json,
                          const std::string& run_id) {
    scheduler::TriggerRequest request;
    request.dag_id = dag_id;
    if (!conf_json.empty()) {
        boost::system::error_code ec;
        json::value conf = json::parse(conf_json, ec);
        if (ec) throw RunError(fmt::format("the conf is not valid JSON: {}", ec.message()));
        if (!conf.is_object()) throw RunError("the conf must be a JSON object");
        request.conf = std::move(conf.as_object());
    }
    if (!run_id.empty()) request.run_id = run_id;
    auto& e = *engine_;
    e.live();
    auto run = e.node->call([&] { return e.node->engine().trigger(request); });
    if (!run) throw RunError(run.error().message);
    return Run(engine_, run->dag_id, run->run_id);
}

Run Orchestrator::run(const std::string& dag_id, const std::string& run_id) {
    engine_->get_run(dag_id, run_id);
    return Run(engine_, dag_id, run_id);
}

RunState Run::state() const { return run_state(engine_->get_run(dag_id_, run_id_).state); }

RunState Run::wait(std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto key = std::make_pair(dag_id_, run_id_);
    for (;;) {
        // The listener wakes us at once; the store covers a run that finished before this
        // Orchestrator started (a durable store), and the timeout.
        RunState s = state();
        if (finished(s)) return s;
        std::unique_lock lock(engine_->mu);
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return s;
        engine_->cv.wait_for(lock,
                             std::min<std::chrono::steady_clock::duration>(
                                 deadline - now, std::chrono::milliseconds(500)),
                             [&] { return engine_->done.contains(key); });
    }
}

std::vector<TaskResult> Run::tasks() const {
    auto& e = *engine_;
    auto tis = e.live().store().task_instances(dag_id_, run_id_);
    if (!tis) throw RunError(tis.error().message);
    auto dag = e.node->call([&] { return e.node->engine().find_dag(dag_id_); });
    std::vector<TaskResult> out;
    auto add = [&](const store::TaskInstance& ti) {
        TaskResult r;
        r.task_id = ti.task_id;
        if (ti.state != store::TaskState::kNone) r.state = std::string(store::to_string(ti.state));
        r.try_number = ti.try_number;
        r.output_json = ti.output_json;
        if (ti.state == store::TaskState::kFailed || ti.state == store::TaskState::kUpForRetry) {
            auto tries = e.node->store().tries(dag_id_, run_id_, ti.task_id);
            if (tries && !tries->empty()) r.error = tries->back().error;
        }
        out.push_back(std::move(r));
    };
    if (dag) {
        for (const auto& task : dag->tasks) {
            for (const auto& ti : *tis) {
                if (ti.task_id == task.task_id) add(ti);
            }
        }
    } else {
        for (const auto& ti : *tis) add(ti);
    }
    return out;
}

TaskResult Run::task(const std::string& task_id) const {
    for (auto& t : tasks()) {
        if (t.task_id == task_id) return std::move(t);
    }
    throw RunError(fmt::format("run '{}' of DAG '{}' has no task '{}'", run_id_, dag_id_, task_id));
}

std::optional<std::string> Run::task_output(const std::string& task_id) const {
    return task(task_id).output_json;
}

}  // namespace orquestra
