#include "app/workflow_node.hpp"

#include "app/home_access.hpp"
#include "store/db_url.hpp"
#include "store/open.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace orquestra::app {

HomePaths HomePaths::resolve(const std::string& home_flag, const std::string& dags_flag,
                             const std::string& db_flag) {
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
    if (store::is_postgres_url(db_flag)) {
        p.db.clear();
        p.database = db_flag;
    } else if (!db_flag.empty()) {
        p.db = db_flag;
    }
    p.logs = p.home / "logs";
    return p;
}

std::string HomePaths::database_shown() const {
    return database.empty() ? db.string() : store::mask_password(database);
}

Result<std::unique_ptr<store::Store>> open_store(const HomePaths& paths, bool migrate) {
    if (auto r = secure_home(paths); !r) return r.error();
    auto s = store::open_store(paths.database.empty() ? paths.db.string() : paths.database);
    if (!s) return s.error();
    if (migrate) {
        if (auto r = (*s)->migrate(); !r) return r.error();
    }
    return std::move(*s);
}

WorkflowNode::WorkflowNode(HomePaths paths, discovery::ServiceDirectory& directory,
                           http::IoPool& pool, const Clock& clock,
                           scheduler::EngineOptions options, discovery::ChoiceOptions choice)
    : paths_(std::move(paths)),
      clock_(clock),
      options_(std::move(options)),
      secret_keys_(paths_.home, secret_key_from_environment()),
      guard_(boost::asio::make_work_guard(loop_)),
      folder_(paths_.dags, clock),
      choice_([&] {
          if (choice.clock == nullptr) choice.clock = &clock;
          return std::move(choice);
      }()),
      http_runner_(pool, directory, choice_),
      command_runner_(4),
      wait_runner_(loop_, directory),
      runners_(http_runner_, command_runner_, wait_runner_) {
    if (options_.log_dir.empty()) options_.log_dir = paths_.logs;
    if (options_.secret_keys == nullptr) options_.secret_keys = &secret_keys_;
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
    // that runs nothing (`webserver`) only the runs it is asked to change. Several schedulers
    // share a PostgreSQL database (heartbeats and run claims).
    if (!paths_.database.empty()) {
        options_.sole_scheduler = false;
    } else if (options_.only_dag.empty() && options_.execute) {
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
    store::StoreOptions options;
    options.read_only = true;
    options.pool_size = 2;
    const std::string target = paths_.database.empty() ? paths_.db.string() : paths_.database;
    for (int i = 0; i < n; ++i) {
        auto reader = store::open_store(target, options);
        if (!reader) return reader.error();
        readers_.push_back(std::move(*reader));
        out.push_back(readers_.back().get());
    }
    return out;
}

}  // namespace orquestra::app
