#pragma once
// Orchestrator: Orquestra's workflow engine in this process — the same scheduler, executor and
// store as `orquestra scheduler` — running the DAGs given to it in code. http tasks find their
// services through a registry (`registry_url`); command tasks run here.
//
//     orquestra::Orchestrator o({.registry_url = "http://127.0.0.1:8761/eureka"});
//     o.add(dag);
//     auto run = o.trigger("usuarios_mensagens", R"({"usuario_id": 1})");
//     run.wait();
//     if (run.state() == orquestra::RunState::kSuccess) use(run.task_output("obter_usuario"));
//
// In memory by default: the database is an SQLite file in a temporary directory, removed with
// the Orchestrator. Durable with `db` (an SQLite file's path or a postgresql:// URL) and
// `home` (where DAG files and task logs go; give both): runs left unfinished are taken up
// again by the next Orchestrator (or `orquestra scheduler`) on the same database and home — a
// run whose DAG file is gone ends failed. With SQLite, one scheduler per database: do not
// point it at a database a scheduler already works on.
//
// Threads: the engine runs on threads of its own; every method may be called from any thread.
// Failures throw RunError (the store cannot be opened, an unknown DAG, a bad conf) or DagError
// (add() of an invalid DAG). The destructor stops the engine; runs not finished stay queued or
// running in a durable store.

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "orquestra/dag.hpp"

namespace orquestra {

class RunError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct OrchestratorOptions {
    // The registry's base URL(s), comma-separated ("http://127.0.0.1:8761/eureka"); the
    // credentials may be in the URL. Empty: no registry (http tasks by service fail).
    std::string registry_url{};
    std::string registry_auth{};     // user:password for a registry whose URL has none
    std::string db{};                // empty: a temporary SQLite file
    std::string home{};              // empty: a temporary directory (removed at the end)
    std::string zone{};              // http tasks prefer instances in this zone
    int threads = 1;                 // HTTP client threads
    std::string log_level = "warn";  // spdlog's: trace, debug, info, warn, error, off
};

enum class RunState { kQueued, kRunning, kSuccess, kFailed };
// "queued", "running", "success", "failed"
const char* to_string(RunState state);

// One task of a run as it is now.
struct TaskResult {
    std::string task_id{};
    std::string state{};  // "" (not yet), queued, running, success, failed, skipped,
                          // upstream_failed, up_for_retry
    int try_number = 0;
    std::optional<std::string> output_json{};  // what it produced, as JSON text
    std::string error{};                       // the last try's error, when it failed
};

class Orchestrator;

// A run of a DAG: a handle (cheap to copy) that reads the run's state from the store. Valid
// as long as its Orchestrator lives.
class Run {
  public:
    const std::string& dag_id() const { return dag_id_; }
    const std::string& run_id() const { return run_id_; }
    // Blocks until the run finishes (success or failed), or the timeout; returns its state.
    RunState wait(std::chrono::milliseconds timeout = std::chrono::hours(24)) const;
    RunState state() const;
    // Each task, in the DAG's order (upstream first).
    std::vector<TaskResult> tasks() const;
    // One task; RunError for an unknown task id.
    TaskResult task(const std::string& task_id) const;
    // The task's output as JSON text (an http task's JSON answer); nullopt when it has none.
    std::optional<std::string> task_output(const std::string& task_id) const;

  private:
    friend class Orchestrator;
    struct Engine;
    Run(std::shared_ptr<Engine> engine, std::string dag_id, std::string run_id)
        : engine_(std::move(engine)), dag_id_(std::move(dag_id)), run_id_(std::move(run_id)) {}
    std::shared_ptr<Engine> engine_{};
    std::string dag_id_{};
    std::string run_id_{};
};

class Orchestrator {
  public:
    // Opens (and migrates) the store and starts the engine; RunError when it cannot.
    explicit Orchestrator(OrchestratorOptions options = {});
    ~Orchestrator();
    Orchestrator(const Orchestrator&) = delete;
    Orchestrator& operator=(const Orchestrator&) = delete;

    // Validates the DAG (DagError) and loads it, replacing a DAG of the same id; it is not
    // paused. Its file is <home>/dags/<dag_id>.yaml.
    void add(const Dag& dag);
    // Creates a run now; `conf_json` is a JSON object checked against the DAG's params.
    // RunError for an unknown DAG, a bad conf or a run id that exists.
    Run trigger(const std::string& dag_id, const std::string& conf_json = "{}",
                const std::string& run_id = "");
    // A handle to an existing run; RunError when there is none.
    Run run(const std::string& dag_id, const std::string& run_id);
    // Where the DAG files, logs and (by default) the database are.
    std::string home() const;

  private:
    std::shared_ptr<Run::Engine> engine_{};
};

}  // namespace orquestra
