#pragma once
// WorkflowNode: the orchestrator as a running service — the store, the DAG folder, the task
// runners and the scheduler Engine on its own loop thread. Used by `orquestra scheduler`,
// `dags test` and standalone. Other threads reach the engine through call().

#include "core/clock.hpp"
#include "dag/dag_folder.hpp"
#include "discovery/instance_choice.hpp"
#include "discovery/service_directory.hpp"
#include "executor/http_runner.hpp"
#include "executor/runners.hpp"
#include "http/io_pool.hpp"
#include "scheduler/engine.hpp"
#include "store/store.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace orquestra::app {

// Where Orquestra keeps its files: $ORQUESTRA_HOME (default ~/.orquestra) or --home.
struct HomePaths {
    std::filesystem::path home;
    std::filesystem::path dags;  // <home>/dags unless --dags
    std::filesystem::path db;    // the SQLite file (<home>/orquestra.db); empty with PostgreSQL
    std::filesystem::path logs;  // <home>/logs
    // --db (main takes $ORQUESTRA_DB into it): a postgresql:// URL, or the SQLite file's path;
    // empty: `db`.
    std::string database = {};
    // What to show of the database: the file, or the URL with its password masked.
    std::string database_shown() const;
    static HomePaths resolve(const std::string& home_flag, const std::string& dags_flag,
                             const std::string& db_flag = {});
};

// Opens the database (store::open_store), migrated when `migrate`; with SQLite, makes the
// private home first.
Result<std::unique_ptr<store::Store>> open_store(const HomePaths& paths, bool migrate);

class WorkflowNode {
public:
    // `choice`: how http tasks choose instances (the zone, breakers, retry budget); one
    // InstanceChoice per node, shared by all its runs.
    WorkflowNode(HomePaths paths, discovery::ServiceDirectory& directory, http::IoPool& pool,
                 const Clock& clock, scheduler::EngineOptions options,
                 discovery::ChoiceOptions choice = {});
    ~WorkflowNode();

    // Opens and migrates the store, then starts the engine on the loop thread.
    Result<void> start();
    void stop();

    // Runs `f` on the loop thread and returns its result (blocks the caller).
    template <class F>
    auto call(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto future = task.get_future();
        boost::asio::post(loop_, [&task] { task(); });
        return future.get();
    }

    // `n` read-only connections to the database (after start()), for the API's reads; they
    // live as long as the node.
    Result<std::vector<store::Store*>> open_readers(int n);

    scheduler::Engine& engine() { return *engine_; }
    // The key of sealed variables and connections: $ORQUESTRA_SECRET_KEY or <home>/secret.key.
    store::SecretKeySource& secret_keys() { return secret_keys_; }
    store::Store& store() { return *store_; }
    discovery::InstanceChoice& choice() { return choice_; }
    boost::asio::io_context& loop() { return loop_; }
    const HomePaths& paths() const { return paths_; }

private:
    HomePaths paths_;
    const Clock& clock_;
    scheduler::EngineOptions options_;
    store::SecretKeySource secret_keys_;
    boost::asio::io_context loop_{1};
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::unique_ptr<store::Store> store_;
    std::vector<std::unique_ptr<store::Store>> readers_;
    dag::DagFolder folder_;
    discovery::InstanceChoice choice_;
    executor::HttpTaskRunner http_runner_;
    executor::CommandTaskRunner command_runner_;
    executor::ServiceWaitRunner wait_runner_;
    executor::RunnerSet runners_;
    std::unique_ptr<scheduler::Engine> engine_;
    std::thread thread_;
};

}  // namespace orquestra::app
