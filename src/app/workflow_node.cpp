#include "app/workflow_node.hpp"

#include "app/home_access.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace orquestra::app {

HomePaths HomePaths::resolve(const std::string& home_flag, const std::string& dags_flag) {
    HomePaths p;
    if (!home_flag.empty()) {
        p.home = home_flag;
    } else if (const char* env = std::getenv("ORQUESTRA_HOME"); env != nullptr && *env != '\0') {
        p.home = env;
    } else {
        const char* user_home = std::getenv("HOME");
        p.home = std::filesystem::path(user_home != nullptr ? user_home : ".") / ".orquestra";
    }
    p.dags = dags_flag.empty() ? p.home / "dags" : std::filesystem::path(dags_flag);
    p.db = p.home / "orquestra.db";
    p.logs = p.home / "logs";
    return p;
}

Result<std::unique_ptr<store::SqliteStore>> open_store(const HomePaths& paths, bool migrate) {
    if (auto r = secure_home(paths); !r) return r.error();
    auto s = store::SqliteStore::open(paths.db);
    if (!s) return s.error();
    if (migrate) {
        if (auto r = (*s)->migrate(); !r) return r.error();
    }
    return std::move(*s);
}

WorkflowNode::WorkflowNode(HomePaths paths, executor::ServiceDirectory& directory,
                           http::IoPool& pool, const Clock& clock,
                           scheduler::EngineOptions options)
    : paths_(std::move(paths)),
      clock_(clock),
      options_(std::move(options)),
      guard_(boost::asio::make_work_guard(loop_)),
      folder_(paths_.dags, clock),
      http_runner_(pool, directory),
      command_runner_(4),
      wait_runner_(loop_, directory),
      runners_(http_runner_, command_runner_, wait_runner_) {
    if (options_.log_dir.empty()) options_.log_dir = paths_.logs;
}

WorkflowNode::~WorkflowNode() { stop(); }

Result<void> WorkflowNode::start() {
    std::error_code ec;
    std::filesystem::create_directories(paths_.dags, ec);
    auto s = open_store(paths_, true);
    if (!s) return s.error();
    store_ = std::move(*s);
    // With SQLite, one scheduler per database: a second one would take the first one's running
    // tries for a crash's. `dags test` (only_dag) touches only the run it makes, and an engine
    // that runs nothing (`webserver`) only the runs it is asked to change.
    if (options_.only_dag.empty() && options_.execute) {
        if (auto claimed = store_->claim_scheduler(); !claimed) return claimed.error();
    }
    engine_ = std::make_unique<scheduler::Engine>(loop_, *store_, folder_, runners_, clock_,
                                                  options_);
    thread_ = std::thread([this] { loop_.run(); });
    return call([this] { return engine_->start(); });
}

void WorkflowNode::stop() {
    if (!thread_.joinable()) return;
    call([this] {
        engine_->stop();
        return 0;
    });
    guard_.reset();
    loop_.stop();
    thread_.join();
}

Result<std::vector<store::Store*>> WorkflowNode::open_readers(int n) {
    std::vector<store::Store*> out;
    store::SqliteOptions options;
    options.query_only = true;
    for (int i = 0; i < n; ++i) {
        auto reader = store::SqliteStore::open(paths_.db, options);
        if (!reader) return reader.error();
        readers_.push_back(std::move(*reader));
        out.push_back(readers_.back().get());
    }
    return out;
}

}  // namespace orquestra::app
